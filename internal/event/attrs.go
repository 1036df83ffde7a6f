package event

import (
	"cmp"
	"slices"
	"strings"
)

// An Event's attributes are sorted by key and the keys are unique: decoding
// makes them so, and the methods here keep them so. Code that edits keys in
// place calls Normalize afterwards.

func (e *Event) attrIndex(key string) (int, bool) {
	return slices.BinarySearchFunc(e.Attributes, key, func(a Attribute, k string) int { return strings.Compare(a.Key, k) })
}

// Attr returns the value of the top-level attribute key.
func (e *Event) Attr(key string) (any, bool) {
	if i, ok := e.attrIndex(key); ok {
		return e.Attributes[i].Value, true
	}
	return nil, false
}

// AttrRef returns the top-level attribute key's value for editing in place,
// or nil when there is none.
func (e *Event) AttrRef(key string) *any {
	if i, ok := e.attrIndex(key); ok {
		return &e.Attributes[i].Value
	}
	return nil
}

// SetAttr sets the top-level attribute key to v.
func (e *Event) SetAttr(key string, v any) {
	i, ok := e.attrIndex(key)
	if ok {
		e.Attributes[i].Value = v
		return
	}
	e.Attributes = slices.Insert(e.Attributes, i, Attribute{Key: key, Value: v})
}

// DeleteAttr removes the top-level attribute key and reports whether it
// was there.
func (e *Event) DeleteAttr(key string) bool {
	i, ok := e.attrIndex(key)
	if ok {
		e.Attributes = slices.Delete(e.Attributes, i, i+1)
	}
	return ok
}

// Normalize restores the order of the attributes after keys were changed in
// place: sorted by key, the last of equal keys kept, as decoding into a map
// would.
func (e *Event) Normalize() { e.Attributes = normalizeAttributes(e.Attributes) }

func normalizeAttributes(a []Attribute) []Attribute {
	slices.SortStableFunc(a, func(x, y Attribute) int { return cmp.Compare(x.Key, y.Key) })
	out := a[:0]
	for i := range a {
		if i+1 < len(a) && a[i+1].Key == a[i].Key {
			continue // a later duplicate wins
		}
		out = append(out, a[i])
	}
	return out
}

func sortErrors(e []FieldError) {
	slices.SortFunc(e, func(x, y FieldError) int { return cmp.Compare(x.Field, y.Field) })
}
