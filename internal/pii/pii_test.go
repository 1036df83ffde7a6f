package pii

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"contact bob.smith+tag@mail.example.co.kr now", "contact [REDACTED:email] now"},
		{"two: a@b.io, c_d@e-f.com.", "two: [REDACTED:email], [REDACTED:email]."},
		{"card 4111 1111 1111 1111 ok", "card [REDACTED:card] ok"},
		{"card 4111-1111-1111-1111", "card [REDACTED:card]"},
		{"amex 378282246310005;", "amex [REDACTED:card];"},
		{"call +82 10-1234-5678 or (555) 123-4567", "call [REDACTED:phone] or [REDACTED:phone]"},
		{"kr 010-1234-5678", "kr [REDACTED:phone]"},
		{"from 203.0.113.9:443", "from [REDACTED:ipv4]:443"},
		{"v6 2001:db8::8a2e:370:7334 here", "v6 [REDACTED:ipv6] here"},
		{"tok eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl end", "tok [REDACTED:jwt] end"},
		{"Authorization: Bearer abcdEFGH1234.xyz", "Authorization: Bearer [REDACTED:bearer]"},
		{"key AKIAIOSFODNN7EXAMPLE used", "key [REDACTED:aws_key] used"},
		{"mixed 4111111111111111 and x@y.dev", "mixed [REDACTED:card] and [REDACTED:email]"},
	}
	for _, tt := range tests {
		got, found := Redact(tt.in, All)
		if got != tt.want || found == 0 {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedactLeavesOrdinaryText(t *testing.T) {
	for _, s := range []string{
		"", "plain text", "step 3 of 5", "order 1234567890123 shipped", // not Luhn-valid
		"4111111111111112",                       // Luhn fails
		"version 1.2.3.4.5",                      // not an IP
		"trace 4bf92f3577b34da6a3ce929d0e0e4736", // hex ids are not cards
		"2026-11-25T09:30:00.123Z", "status 502", "latency 812.5ms", "user@localhost",
		"price 1,234,567", "id 12345678", "bearer of bad news", "AKIA", "a:b:c",
	} {
		if got, found := Redact(s, All); got != s || found != 0 {
			t.Errorf("Redact(%q) = %q, want unchanged", s, got)
		}
	}
}

func TestRedactKindsSubset(t *testing.T) {
	got, found := Redact("a@b.io 203.0.113.9", 1<<IPv4)
	if got != "a@b.io [REDACTED:ipv4]" || found != 1<<IPv4 {
		t.Errorf("got %q %b", got, found)
	}
}

func TestRedactDoesNotAllocateOnCleanText(t *testing.T) {
	s := "Product sync to Shopify failed after 3 retries; partner p-1029384 stays queued (HTTP 502)."
	if n := testing.AllocsPerRun(100, func() { Redact(s, All) }); n != 0 {
		t.Errorf("%v allocations for clean text", n)
	}
}

func TestIsCardNumber(t *testing.T) {
	if !IsCardNumber("4111111111111111") || IsCardNumber("4111111111111112") || IsCardNumber("411111") || IsCardNumber("41111111111111x1") {
		t.Error("IsCardNumber is wrong")
	}
}

var planted = []string{
	"jane.doe@example.com", "x@y.io", "4111111111111111", "5500 0000 0000 0004", "3782-822463-10005",
	"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abcDEF_ghi-123",
}

// FuzzRedactNeverLeaks plants sensitive values between arbitrary texts,
// separated as they would be in prose, and checks none survives.
func FuzzRedactNeverLeaks(f *testing.F) {
	f.Add("before", "after", uint8(0))
	f.Add("", "", uint8(3))
	f.Add("mail me at", ", thanks", uint8(1))
	f.Add("card:", "exp 12/29", uint8(4))
	f.Add("Bearer", "", uint8(5))
	f.Fuzz(func(t *testing.T, before, after string, which uint8) {
		secret := planted[int(which)%len(planted)]
		for _, sep := range []string{" ", "\n", "\t", "(", "\"", ",", ";", "<", "["} {
			in := before + sep + secret + sep + after
			out, _ := Redact(in, All)
			// The secret may only survive if it was already in the
			// surrounding text (then it is caught there, too).
			if strings.Contains(out, secret) {
				t.Fatalf("leaked %q in %q -> %q", secret, in, out)
			}
		}
	})
}
