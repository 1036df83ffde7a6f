package event

import (
	"cmp"
	"slices"
)

// sortAttributes sorts attributes by key and keeps the last of duplicate
// keys, as decoding into a map would.
func sortAttributes(a []Attribute) []Attribute {
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
