package event

import (
	"fmt"
	"strings"
)

// AttributesPrefix starts the path of an attribute: attributes.KEY.
const AttributesPrefix = attributesField + "."

// Path names one value of an event in configuration: a top-level text field
// ("user_id") or a top-level attribute ("attributes.step"). Label
// promotion, structured metadata and hashing all parse their fields here.
type Path struct {
	// Text is the top-level field, or nil for an attribute.
	Text *TextField
	// Attr is the attribute's key, for attributes.KEY.
	Attr string
}

// ParsePath parses s. allowed says which top-level fields the caller
// accepts (nil: every text field); the error lists them.
func ParsePath(s string, allowed func(*TextField) bool) (Path, error) {
	if key, ok := strings.CutPrefix(s, AttributesPrefix); ok {
		if key == "" {
			return Path{}, fmt.Errorf("field %q names no attribute", s)
		}
		return Path{Attr: key}, nil
	}
	var names []string
	for i := range TextFields {
		f := &TextFields[i]
		if allowed != nil && !allowed(f) {
			continue
		}
		if f.Name == s {
			return Path{Text: f}, nil
		}
		names = append(names, f.Name)
	}
	return Path{}, fmt.Errorf("field %q must be %s or %sKEY", s, strings.Join(names, ", "), AttributesPrefix)
}

func (p Path) String() string {
	if p.Text != nil {
		return p.Text.Name
	}
	return AttributesPrefix + p.Attr
}

// Value is the path's value in ev as text ("" and false when unset).
func (p Path) Value(ev *Event) (string, bool) {
	if p.Text != nil {
		v := *p.Text.Ref(ev)
		return v, v != ""
	}
	v, ok := ev.Attr(p.Attr)
	if !ok || v == nil {
		return "", false
	}
	return ValueText(v), true
}
