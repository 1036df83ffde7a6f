package pii

import (
	"slices"
	"testing"
)

func TestParseKindRoundTrips(t *testing.T) {
	for _, k := range Kinds() {
		if got, ok := ParseKind(k.String()); !ok || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", k.String(), got, ok)
		}
	}
	if _, ok := ParseKind("ssn"); ok {
		t.Error(`ParseKind("ssn") found a kind`)
	}
	if got := Set(0).With(Email).With(Card).Names(); !slices.Equal(got, []string{"email", "card"}) {
		t.Errorf("Names = %v", got)
	}
	if len(Names()) != len(Kinds()) {
		t.Errorf("Names() = %v", Names())
	}
}
