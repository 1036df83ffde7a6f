package event

import (
	"cmp"
	"slices"
)

func sortAttributes(a []Attribute) {
	slices.SortFunc(a, func(x, y Attribute) int { return cmp.Compare(x.Key, y.Key) })
}

func sortErrors(e []FieldError) {
	slices.SortFunc(e, func(x, y FieldError) int { return cmp.Compare(x.Field, y.Field) })
}
