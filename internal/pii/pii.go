// Package pii finds personal data and secrets in free text: email
// addresses, phone numbers, payment card numbers, IBANs, Korean resident
// registration numbers, IP addresses, JWTs, bearer and basic credentials,
// AWS keys, provider API tokens and credentials in URLs or key=value text.
// Detectors check structure, not just shape (card issuer ranges and Luhn,
// IBAN mod-97, dates), so timestamps, versions and order IDs survive.
// Scanning a string without a match does not allocate.
package pii

import (
	"fmt"
	"strings"
	"unsafe"
)

// Kind is a kind of sensitive value.
type Kind uint8

// Kinds, in the order they are reported.
const (
	Email Kind = iota
	Phone
	Card
	IPv4
	IPv6
	JWT
	Bearer
	AWSKey
	Token      // provider API tokens: Stripe, GitHub, Slack, Google, Shopify
	IBAN       // international bank account numbers
	NationalID // Korean resident registration numbers
	BasicAuth  // Authorization: Basic credentials
	Credential // secrets in key=value text and in URLs
	numKinds
)

var kindNames = [numKinds]string{"email", "phone", "card", "ipv4", "ipv6", "jwt", "bearer", "aws_key",
	"token", "iban", "national_id", "basic_auth", "credential"}

func (k Kind) String() string { return kindNames[k] }

// Kinds lists every built-in kind.
func Kinds() []Kind {
	ks := make([]Kind, numKinds)
	for i := range ks {
		ks[i] = Kind(i)
	}
	return ks
}

// ParseKind is the kind named name (Kind.String), if any.
func ParseKind(name string) (Kind, bool) {
	for k, n := range kindNames {
		if n == name {
			return Kind(k), true
		}
	}
	return 0, false
}

// ParseSet is the set of the kinds named (Kind.String).
func ParseSet(names []string) (Set, error) {
	var s Set
	for _, name := range names {
		k, ok := ParseKind(name)
		if !ok {
			return 0, fmt.Errorf("unknown builtin %q; use %s", name, strings.Join(Names(), ", "))
		}
		s = s.With(k)
	}
	return s, nil
}

// Names lists the name of every built-in kind.
func Names() []string { return All.Names() }

// Set is a set of kinds.
type Set uint16

// All is every built-in kind.
const All Set = 1<<numKinds - 1

// Has reports whether k is in s.
func (s Set) Has(k Kind) bool { return s&(1<<k) != 0 }

// With is s plus k.
func (s Set) With(k Kind) Set { return s | 1<<k }

// Names lists the names of the kinds in s, in Kinds order.
func (s Set) Names() []string {
	var out []string
	for _, k := range Kinds() {
		if s.Has(k) {
			out = append(out, k.String())
		}
	}
	return out
}

// Match is one finding: s[Start:End] is of the given Kind.
type Match struct {
	Start, End int
	Kind       Kind
}

// Marker returns the replacement text of a kind.
func Marker(k Kind) string { return "[REDACTED:" + k.String() + "]" }

// Redact returns s with every match of the kinds in set replaced by its
// marker, and which kinds matched. It returns s itself when nothing matched.
func Redact(s string, set Set) (string, Set) { return RedactWith(s, set, nil) }

// Options say what the text alone does not.
type Options struct {
	// QueryParams are more URL query parameter names whose values are
	// secrets (Credential), beside the built-in ones (QueryParamNames).
	QueryParams ParamNames
	// Field is the name of the field the text is the value of (an
	// attribute key): a compact number in a field named for a phone number
	// or a resident registration number is one, as it would be after such
	// a word in the text.
	Field string
}

// RedactWith is Redact with options.
func RedactWith(s string, set Set, o *Options) (string, Set) {
	var buf [8]Match
	ms := FindWith(s, set, o, buf[:0])
	if len(ms) == 0 {
		return s, 0
	}
	var b strings.Builder
	b.Grow(len(s))
	var found Set
	last := 0
	for _, m := range ms {
		b.WriteString(s[last:m.Start])
		b.WriteString(Marker(m.Kind))
		last = m.End
		found |= 1 << m.Kind
	}
	b.WriteString(s[last:])
	return b.String(), found
}

// Find appends the non-overlapping matches in s, left to right, to dst.
// Text written with look-alike characters (no-break spaces, dashes,
// fullwidth forms, zero-width characters) is matched as if written plainly;
// offsets are always those of s.
func Find(s string, set Set, dst []Match) []Match { return FindWith(s, set, nil, dst) }

// FindWith is Find with options (nil for none).
func FindWith(s string, set Set, o *Options, dst []Match) []Match {
	if o == nil {
		o = &Options{}
	}
	start := len(dst)
	dst, odd := find(s, set, o, dst)
	if !odd {
		return dst
	}
	n := normalizedPool.Get().(*normalized)
	defer normalizedPool.Put(n)
	if !n.normalize(s) {
		return dst
	}
	dst, _ = find(unsafeString(n.text), set, o, dst[:start])
	for k := start; k < len(dst); k++ {
		dst[k].Start, dst[k].End = n.orig[dst[k].Start], n.orig[dst[k].End]
	}
	return dst
}

// find scans s as it is; odd reports whether s holds a character that
// normalize would rewrite, so Find scans again only then.
func find(s string, set Set, o *Options, dst []Match) (_ []Match, odd bool) {
	start := len(dst)
	awsKeyFound := false
	for i := 0; i < len(s); {
		// Most bytes can't start a match: skip them without a call.
		switch f := starts[s[i]]; {
		case f == 0:
			i++
			continue
		case f == startsNormalizable:
			odd = true
			i++
			continue
		case f == startsAtBoundary && !boundaryBefore(s, i),
			f == startsPrefix && (!boundaryBefore(s, i) || i+1 == len(s) || !prefixPair[s[i]][s[i+1]&0x7f]):
			i++
			continue
		}
		m, ok := matchAt(s, i, set, o)
		if !ok {
			i++
			continue
		}
		awsKeyFound = awsKeyFound || m.Kind == AWSKey
		dst = appendMerged(dst, start, m)
		i = m.End
	}
	if awsKeyFound {
		// An AWS secret key has no shape of its own, but next to its key
		// ID a 40-character base64 word is one.
		for _, m := range awsSecrets(s) {
			dst = appendMerged(dst, start, m)
		}
	}
	return dst, odd
}

// appendMerged appends m to the matches from dst[start:], merging any it
// overlaps (an email's local part is found after its '@'; a secret after
// the matches around it), so the union is redacted and order kept.
func appendMerged(dst []Match, start int, m Match) []Match {
	k := len(dst)
	for k > start && dst[k-1].Start >= m.End {
		k--
	}
	for k > start && dst[k-1].End > m.Start {
		prev := dst[k-1]
		m.Start, m.End = min(m.Start, prev.Start), max(m.End, prev.End)
		dst = append(dst[:k-1], dst[k:]...)
		k--
	}
	dst = append(dst, Match{})
	copy(dst[k+1:], dst[k:])
	dst[k] = m
	return dst
}

// starts classifies the bytes matchAt may match at: startsAnywhere for the
// bytes detectors anchor on inside words ('@', '%', '=', ':'),
// startsAtBoundary for those that begin a word, startsPrefix for letters
// that begin a word only as the first of a pair in prefixPair (token
// prefixes, IBAN country codes), and startsNormalizable for the lead bytes
// of characters normalize rewrites.
var starts = func() (t [256]uint8) {
	for _, c := range []byte("0123456789+(abcdefABCDEF") {
		t[c] = startsAtBoundary
	}
	for c := 'G'; c <= 'Z'; c++ {
		t[c] = startsPrefix
	}
	for _, c := range []byte("grswx") {
		t[c] = startsPrefix
	}
	for _, c := range []byte("@%=:") {
		t[c] = startsAnywhere
	}
	for c := range normalizable {
		if normalizable[c] {
			t[c] = startsNormalizable
		}
	}
	return t
}()

const (
	startsAnywhere = iota + 1
	startsAtBoundary
	startsPrefix
	startsNormalizable
)

// prefixPair[c][d] is true when a word starting c, d may be a token prefix
// or an IBAN.
var prefixPair = func() (t [256][128]bool) {
	for _, ts := range tokenShapes {
		t[ts.prefix[0]][ts.prefix[1]] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		for d := 'A'; d <= 'Z'; d++ {
			if _, ok := ibanLengths[string([]rune{c, d})]; ok {
				t[c][d] = true
			}
		}
	}
	return t
}()

// matchAt tries the detectors whose first character can start at s[i].
func matchAt(s string, i int, set Set, o *Options) (Match, bool) {
	c := s[i]
	switch c {
	case '@', '%':
		if set.Has(Email) {
			return email(s, i)
		}
		return Match{}, false
	case '=', ':':
		if set.Has(Credential) {
			if m, ok := credential(s, i, o.QueryParams); ok {
				return m, true
			}
		}
		if c == ':' && set.Has(IPv6) && boundaryBefore(s, i) {
			return ipv6(s, i)
		}
		return Match{}, false
	}
	// Every other detector starts a word.
	switch {
	case c == 'e' && set.Has(JWT) && strings.HasPrefix(s[i:], "eyJ"):
		if m, ok := jwt(s, i); ok {
			return m, true
		}
	case (c == 'B' || c == 'b') && (set.Has(Bearer) || set.Has(BasicAuth)):
		if m, ok := authScheme(s, i, set); ok {
			return m, true
		}
	case c == 'A' && set.Has(AWSKey):
		if m, ok := awsKey(s, i); ok {
			return m, true
		}
	}
	if set.Has(Token) && tokenStart[c] {
		if m, ok := token(s, i); ok {
			return m, true
		}
	}
	if set.Has(IBAN) && c >= 'A' && c <= 'Z' {
		if m, ok := iban(s, i); ok {
			return m, true
		}
	}
	if isDigit(c) || c == '+' || c == '(' {
		if isDigit(c) {
			if set.Has(NationalID) {
				if m, ok := rrn(s, i, o.Field); ok {
					return m, true
				}
			}
			if set.Has(IPv4) {
				if m, ok := ipv4(s, i); ok {
					return m, true
				}
			}
			if set.Has(Card) {
				if m, ok := card(s, i); ok {
					return m, true
				}
			}
		}
		if set.Has(Phone) {
			if m, ok := phone(s, i, o.Field); ok {
				return m, true
			}
		}
	}
	if set.Has(IPv6) && (isHex(c) || c == ':') {
		if m, ok := ipv6(s, i); ok {
			return m, true
		}
	}
	return Match{}, false
}

// unsafeString views b as a string for scanning; the matches keep only
// offsets, never the string.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }
func isHex(c byte) bool   { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') }

func boundaryBefore(s string, i int) bool { return i == 0 || !isAlnum(s[i-1]) }
func boundaryAfter(s string, i int) bool  { return i >= len(s) || !isAlnum(s[i]) }
