// Package glob matches names such as event names and web origins against
// shell-style patterns (path.Match syntax: *, ?, [...]).
package glob

import (
	"fmt"
	"path"
)

// Check returns an error naming the first malformed pattern.
func Check(patterns []string) error {
	for _, p := range patterns {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("bad pattern %q: %w", p, err)
		}
	}
	return nil
}

// MatchAny reports whether s matches any of the (checked) patterns.
func MatchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}
