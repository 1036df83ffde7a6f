package entry

import (
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/grafana/alloy/curated/internal/event"
)

// OverflowValue replaces a promoted label's value once the label has seen
// its maximum number of distinct values.
const OverflowValue = "_overflow"

// LabelTracker remembers the distinct values of promoted labels. It outlives
// configurations, so a reload does not reset the caps.
type LabelTracker struct {
	mu   sync.RWMutex
	seen map[string]map[string]struct{}
}

// NewLabelTracker returns an empty tracker.
func NewLabelTracker() *LabelTracker {
	return &LabelTracker{seen: map[string]map[string]struct{}{}}
}

// admit returns value if label already had it or has room for it, and
// OverflowValue otherwise.
func (t *LabelTracker) admit(label, value string, max int) (string, bool) {
	t.mu.RLock()
	_, known := t.seen[label][value]
	n := len(t.seen[label])
	t.mu.RUnlock()
	if known {
		return value, false
	}
	if n >= max {
		return OverflowValue, true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	vals := t.seen[label]
	if vals == nil {
		vals = map[string]struct{}{}
		t.seen[label] = vals
	}
	if _, ok := vals[value]; !ok && len(vals) >= max {
		return OverflowValue, true
	}
	vals[strings.Clone(value)] = struct{}{}
	return value, false
}

// field is an event field promoted to a label or structured metadata.
type field struct {
	event.Path
	name string // the label or metadata name
}

// parseField parses a field of the labels and structured_metadata blocks:
// a promotable top-level field or an attribute.
func parseField(path string) (field, error) {
	p, err := event.ParsePath(path, func(t *event.TextField) bool { return t.Promotable })
	if err != nil {
		return field{}, err
	}
	name := SanitizeLabelName(p.Attr)
	if p.Text != nil {
		name = p.Text.Name
	}
	return field{Path: p, name: name}, nil
}

// SanitizeLabelName turns s into a valid Loki label name: letters, digits
// and underscores, not starting with a digit, and never starting with "__",
// which Loki and Alloy reserve.
func SanitizeLabelName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	name := strings.TrimLeft(string(b), "_")
	if name == "" || name[0] >= '0' && name[0] <= '9' {
		name = "attr_" + name
	}
	return name
}

// truncateValue cuts s to at most n bytes on a rune boundary.
func truncateValue(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
