package event

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docs/api.md's "Error codes" table is the clients' list of codes: every
// code the API defines is in it, and every code in it exists.
func TestCodesMatchTheAPIDocs(t *testing.T) {
	doc, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "### Error codes\n")
	if !ok {
		t.Fatal(`docs/api.md has no "### Error codes" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var documented []Code
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|").FindAllStringSubmatch(section, -1) {
		documented = append(documented, Code(m[1]))
	}
	defined := Codes()
	for _, c := range defined {
		if !slices.Contains(documented, c) {
			t.Errorf("code %q is not in docs/api.md's table", c)
		}
	}
	for _, c := range documented {
		if !slices.Contains(defined, c) {
			t.Errorf("docs/api.md lists %q, which the API does not define", c)
		}
	}
	seen := map[Code]bool{}
	for _, c := range defined {
		if seen[c] {
			t.Errorf("code %q listed twice", c)
		}
		seen[c] = true
	}
}
