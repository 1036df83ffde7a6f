package rules

import (
	"slices"
	"strings"
	"testing"

	"github.com/grafana/alloy/curated/internal/pii"
)

func TestLineRedactorDefault(t *testing.T) {
	l, err := NewLineRedactor(DefaultRedact())
	if err != nil {
		t.Fatal(err)
	}
	line := "ERROR charge failed for jane.doe@example.com card 4111 1111 1111 1111 " +
		"GET /cb?token=abc123secret&order=77 took 12ms"
	out, found := l.Redact(line, nil)
	for _, leak := range []string{"jane.doe@example.com", "4111 1111 1111 1111", "abc123secret"} {
		if strings.Contains(out, leak) {
			t.Errorf("%q survived: %s", leak, out)
		}
	}
	for _, keep := range []string{"ERROR charge failed", "order=77", "took 12ms"} {
		if !strings.Contains(out, keep) {
			t.Errorf("%q was lost: %s", keep, out)
		}
	}
	for _, kind := range []string{"email", "card", "credential"} {
		if !slices.Contains(found, kind) {
			t.Errorf("found = %v, want %s in it", found, kind)
		}
	}
}

func TestLineRedactorPatternsAndSubset(t *testing.T) {
	l, err := NewLineRedactor(RedactConfig{
		Builtins: pii.Set(0).With(pii.Email),
		Patterns: map[string]string{"order": `ORD-\d+`},
		// Key rules need attribute names: ignored for text.
		BuiltinKeys: true, Keys: []string{"x"}, KeyAction: "bogus",
	})
	if err != nil {
		t.Fatal(err)
	}
	out, found := l.Redact("a@b.example 4111111111111111 ORD-42", nil)
	if want := "[REDACTED:email] 4111111111111111 [REDACTED:order]"; out != want {
		t.Errorf("got %q, want %q", out, want)
	}
	if !slices.Equal(found, []string{"email", "order"}) {
		t.Errorf("found = %v", found)
	}
	if _, err := NewLineRedactor(RedactConfig{Patterns: map[string]string{"bad": "("}}); err == nil {
		t.Error("an invalid pattern compiled")
	}
}

func TestLineRedactorCleanLineDoesNotAllocate(t *testing.T) {
	l, err := NewLineRedactor(DefaultRedact())
	if err != nil {
		t.Fatal(err)
	}
	line := `level=info msg="request served" route=/v1/events status=202 duration=1.2ms`
	found := make([]string, 0, 4)
	if n := testing.AllocsPerRun(100, func() { _, found = l.Redact(line, found[:0]) }); n != 0 {
		t.Errorf("%v allocations per clean line", n)
	}
}

func BenchmarkLineRedactor(b *testing.B) {
	l, err := NewLineRedactor(DefaultRedact())
	if err != nil {
		b.Fatal(err)
	}
	lines := []string{
		`{"level":"info","ts":"2026-12-04T10:00:00Z","msg":"order synced","order":"#1042","ms":87}`,
		`2026-12-04 10:00:01 ERROR shopify sync failed for owner@shop.example: 502 Bad Gateway`,
		"java.lang.IllegalStateException: boom\n\tat com.example.Sync.run(Sync.java:42)\n\tat java.base/java.lang.Thread.run(Thread.java:1583)",
	}
	found := make([]string, 0, 4)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_, found = l.Redact(lines[i%len(lines)], found[:0])
	}
}
