package pii

import (
	"os"
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

// corpusPositives reads testdata/pii/positives.tsv: texts and the secret
// in each that must not survive.
func corpusPositives(tb testing.TB) [][2]string {
	b, err := os.ReadFile("../../testdata/pii/positives.tsv")
	if err != nil {
		tb.Fatal(err)
	}
	var out [][2]string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Split(line, "\t"); len(f) == 4 && !strings.HasPrefix(line, "#") {
			out = append(out, [2]string{f[2], f[3]})
		}
	}
	return out
}

// FuzzRedactNeverLeaks plants the corpus's positives between arbitrary
// texts, separated as they would be in prose, and checks none survives.
func FuzzRedactNeverLeaks(f *testing.F) {
	planted := corpusPositives(f)
	for i := range planted {
		f.Add("before", "after", uint8(i))
	}
	f.Add("mail me at", ", thanks", uint8(1))
	f.Add("card:", "exp 12/29", uint8(40))
	f.Fuzz(func(t *testing.T, before, after string, which uint8) {
		p := planted[int(which)%len(planted)]
		for _, sep := range []string{" ", "\n", "\t", "(", "\"", ",", ";", "<", "["} {
			in := before + sep + p[0] + sep + after
			out, _ := Redact(in, All)
			if strings.Contains(out, p[1]) {
				t.Fatalf("leaked %q in %q -> %q", p[1], in, out)
			}
		}
	})
}

// The cases a privacy review found: each must be caught...
func TestRedactReviewLeaks(t *testing.T) {
	for _, tt := range []struct{ in, secret string }{
		{"unsigned eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0. end", "eyJzdWIiOiIxIn0"},
		{"key AKIAI44QH8DHBEXAMPLE", "AKIAI44QH8DHBEXAMPLE"},
		{"Google AIzaSyA-1234567890abcdefghijklmnopqrstu", "AIzaSyA-1234567890abcdefghijklmnopqrstu"},
		{"shopify shpat_0123456789abcdef0123456789abcdef", "shpat_0123456789abcdef0123456789abcdef"},
		{"IBAN DE89 3704 0044 0532 0130 00", "3704 0044 0532"},
		{"주민등록번호 900101-1234567", "900101-1234567"},
		{"https://admin:s3cr3tpw@db.example.com/x", "s3cr3tpw"},
		{"?password=hunter2pass&x=1", "hunter2pass"},
		{"Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="},
		{"phone 010\u00a01234\u00a05678", "1234"},
		{"phone ０１０-１２３４-５６７８", "１２３４"},
		{"kim\u200b@example.com", "example.com"},
	} {
		if out, _ := Redact(tt.in, All); strings.Contains(out, tt.secret) {
			t.Errorf("Redact(%q) = %q: %q survived", tt.in, out, tt.secret)
		}
	}
}

// ...and these values a team needs must survive.
func TestRedactKeepsWhatTeamsNeed(t *testing.T) {
	for _, s := range []string{
		"2026-11-25 09:30:00", "25.11.2026 09:30", "batch 20261125-0930",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"build 10.0.19045.4170", "INV-2026-000123", "SKU-1234-5678-90", "ISBN 978-3-16-148410-0",
		"1795599000123", "1805051636281", // epoch milliseconds, one passing Luhn, one an RRN's checksum
		"order 5123456789016", "variant 36575617870562", "snowflake 1234567890123456789",
		"basic plan", "Basic subscription renewed", "token expired, refreshing",
	} {
		if out, found := Redact(s, All); out != s {
			t.Errorf("Redact(%q) = %q (%b), want unchanged", s, out, found)
		}
	}
}

// Normalizing for detection never changes text with nothing to redact.
func TestNormalizationLeavesCleanTextAlone(t *testing.T) {
	for _, s := range []string{"가격\u00a0₩12,345", "ｆｕｌｌｗｉｄｔｈ ｔｅｘｔ", "a\u200bb", "2026\u201311\u201325", "Ｎｏ．１２３"} {
		if out, found := Redact(s, All); out != s || found != 0 {
			t.Errorf("Redact(%q) = %q, want unchanged", s, out)
		}
	}
	s := "신청서\u00a0제출\u00a0완료"
	if n := testing.AllocsPerRun(100, func() { Redact(s, All) }); n != 0 {
		t.Errorf("%v allocations for clean text that needs normalizing", n)
	}
}
