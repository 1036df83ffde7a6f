// Package pii finds personal data and secrets in free text: email
// addresses, phone numbers, payment card numbers (Luhn-checked), IP
// addresses, JWTs, bearer tokens and AWS access keys. Scanning a string
// without a match does not allocate.
package pii

import (
	"net/netip"
	"strings"
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
	numKinds
)

var kindNames = [numKinds]string{"email", "phone", "card", "ipv4", "ipv6", "jwt", "bearer", "aws_key"}

func (k Kind) String() string { return kindNames[k] }

// Kinds lists every built-in kind.
func Kinds() []Kind {
	ks := make([]Kind, numKinds)
	for i := range ks {
		ks[i] = Kind(i)
	}
	return ks
}

// Set is a set of kinds.
type Set uint16

// All is every built-in kind.
const All Set = 1<<numKinds - 1

// Has reports whether k is in s.
func (s Set) Has(k Kind) bool { return s&(1<<k) != 0 }

// Match is one finding: s[Start:End] is of the given Kind.
type Match struct {
	Start, End int
	Kind       Kind
}

// Marker returns the replacement text of a kind.
func Marker(k Kind) string { return "[REDACTED:" + k.String() + "]" }

// Redact returns s with every match of the kinds in set replaced by its
// marker, and which kinds matched. It returns s itself when nothing matched.
func Redact(s string, set Set) (string, Set) {
	var buf [8]Match
	ms := Find(s, set, buf[:0])
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
func Find(s string, set Set, dst []Match) []Match {
	start := len(dst)
	for i := 0; i < len(s); {
		// Most bytes can't start a match: skip them without a call.
		if f := starts[s[i]]; f == 0 || (f == startsAtBoundary && !boundaryBefore(s, i)) {
			i++
			continue
		}
		m, ok := matchAt(s, i, set)
		if !ok {
			i++
			continue
		}
		// A match found later may start earlier (email local parts) and
		// overlap earlier ones: merge them, so the union is redacted.
		for len(dst) > start && dst[len(dst)-1].End > m.Start {
			prev := dst[len(dst)-1]
			dst = dst[:len(dst)-1]
			m.Start = min(m.Start, prev.Start)
			m.End = max(m.End, prev.End)
		}
		dst = append(dst, m)
		i = m.End
	}
	return dst
}

// starts classifies the bytes matchAt may match at: startsAnywhere for the
// first bytes of emails ('@'), JWTs, bearer tokens and AWS keys, and
// startsAtBoundary for those of numbers and IPv6 addresses, which match only
// at a word boundary.
var starts = func() (t [256]uint8) {
	for _, c := range []byte("0123456789+(:abcdefABCDEF") {
		t[c] = startsAtBoundary
	}
	for _, c := range []byte("@eBbA") {
		t[c] = startsAnywhere
	}
	return t
}()

const (
	startsAnywhere = iota + 1
	startsAtBoundary
)

// matchAt tries the detectors whose first character can start at s[i].
func matchAt(s string, i int, set Set) (Match, bool) {
	c := s[i]
	switch {
	case c == '@' && set.Has(Email):
		if m, ok := email(s, i); ok {
			return m, true
		}
	case c == 'e' && set.Has(JWT) && strings.HasPrefix(s[i:], "eyJ"):
		if m, ok := jwt(s, i); ok {
			return m, true
		}
	case (c == 'B' || c == 'b') && set.Has(Bearer):
		if m, ok := bearer(s, i); ok {
			return m, true
		}
	case c == 'A' && set.Has(AWSKey):
		if m, ok := awsKey(s, i); ok {
			return m, true
		}
	}
	if !boundaryBefore(s, i) {
		return Match{}, false
	}
	if isDigit(c) || c == '+' || c == '(' {
		if set.Has(IPv4) && isDigit(c) {
			if m, ok := ipv4(s, i); ok {
				return m, true
			}
		}
		if set.Has(Card) && isDigit(c) {
			if m, ok := card(s, i); ok {
				return m, true
			}
		}
		if set.Has(Phone) {
			if m, ok := phone(s, i); ok {
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

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }
func isHex(c byte) bool   { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') }

func boundaryBefore(s string, i int) bool { return i == 0 || !isAlnum(s[i-1]) }
func boundaryAfter(s string, i int) bool  { return i >= len(s) || !isAlnum(s[i]) }

func isLocalPart(c byte) bool {
	return isAlnum(c) || strings.IndexByte("._%+-'", c) >= 0
}

func isDomain(c byte) bool { return isAlnum(c) || c == '-' || c == '.' }

// email matches local@domain.tld around the '@' at s[at].
func email(s string, at int) (Match, bool) {
	start := at
	for start > 0 && isLocalPart(s[start-1]) {
		start--
	}
	if start == at {
		return Match{}, false
	}
	end := at + 1
	lastDot := -1
	for end < len(s) && isDomain(s[end]) {
		if s[end] == '.' {
			lastDot = end
		}
		end++
	}
	for end > at+1 && (s[end-1] == '.' || s[end-1] == '-') { // trailing punctuation
		end--
	}
	if lastDot >= end-1 {
		lastDot = strings.LastIndexByte(s[at+1:end], '.')
		if lastDot >= 0 {
			lastDot += at + 1
		}
	}
	if lastDot <= at+1 || end-lastDot-1 < 2 {
		return Match{}, false
	}
	for j := lastDot + 1; j < end; j++ {
		if !isAlpha(s[j]) {
			return Match{}, false
		}
	}
	return Match{Start: start, End: end, Kind: Email}, true
}

func isB64URL(c byte) bool { return isAlnum(c) || c == '-' || c == '_' }

// jwt matches header.payload.signature starting with eyJ ('{"' in base64).
func jwt(s string, i int) (Match, bool) {
	if !boundaryBefore(s, i) {
		return Match{}, false
	}
	j := i
	for part := 0; part < 3; part++ {
		n := 0
		for j < len(s) && isB64URL(s[j]) {
			j++
			n++
		}
		if n < 4 && part < 2 || n == 0 {
			return Match{}, false
		}
		if part < 2 {
			if j >= len(s) || s[j] != '.' {
				return Match{}, false
			}
			j++
		}
	}
	return Match{Start: i, End: j, Kind: JWT}, true
}

func isTokenChar(c byte) bool { return isAlnum(c) || strings.IndexByte("-._~+/=", c) >= 0 }

// bearer matches the credential after "Bearer ".
func bearer(s string, i int) (Match, bool) {
	const word = "bearer"
	if len(s)-i < len(word)+9 || !strings.EqualFold(s[i:i+len(word)], word) || !boundaryBefore(s, i) {
		return Match{}, false
	}
	j := i + len(word)
	if s[j] != ' ' && s[j] != ':' && s[j] != '=' {
		return Match{}, false
	}
	for j < len(s) && (s[j] == ' ' || s[j] == ':' || s[j] == '=') {
		j++
	}
	start := j
	for j < len(s) && isTokenChar(s[j]) {
		j++
	}
	if j-start < 8 {
		return Match{}, false
	}
	return Match{Start: start, End: j, Kind: Bearer}, true
}

// awsKey matches AWS access key IDs such as AKIAIOSFODNN7EXAMPLE.
func awsKey(s string, i int) (Match, bool) {
	if len(s)-i < 20 || !boundaryBefore(s, i) || !boundaryAfter(s, i+20) {
		return Match{}, false
	}
	switch s[i : i+4] {
	case "AKIA", "ASIA", "AIDA", "AROA", "AGPA", "ANPA", "ANVA", "AIPA", "ABIA", "ACCA":
	default:
		return Match{}, false
	}
	for j := i + 4; j < i+20; j++ {
		c := s[j]
		if !(c >= 'A' && c <= 'Z' || c >= '2' && c <= '7') {
			return Match{}, false
		}
	}
	return Match{Start: i, End: i + 20, Kind: AWSKey}, true
}

// ipv4 matches a dotted quad that is not part of a longer dotted number.
func ipv4(s string, i int) (Match, bool) {
	if i >= 2 && s[i-1] == '.' && isDigit(s[i-2]) {
		return Match{}, false
	}
	j := i
	for octet := 0; octet < 4; octet++ {
		n, v := 0, 0
		for j < len(s) && isDigit(s[j]) && n < 4 {
			v = v*10 + int(s[j]-'0')
			j++
			n++
		}
		if n == 0 || n > 3 || v > 255 {
			return Match{}, false
		}
		if octet < 3 {
			if j >= len(s) || s[j] != '.' {
				return Match{}, false
			}
			j++
		}
	}
	if !boundaryAfter(s, j) || (j+1 < len(s) && s[j] == '.' && isDigit(s[j+1])) {
		return Match{}, false
	}
	return Match{Start: i, End: j, Kind: IPv4}, true
}

// ipv6 matches an address of hex groups and colons that netip accepts.
func ipv6(s string, i int) (Match, bool) {
	j, colons := i, 0
	for j < len(s) && (isHex(s[j]) || s[j] == ':' || s[j] == '.') && j-i < 45 {
		if s[j] == ':' {
			colons++
		}
		j++
	}
	if colons < 2 || !boundaryAfter(s, j) {
		return Match{}, false
	}
	for end := j; end > i+2; end-- {
		if a, err := netip.ParseAddr(s[i:end]); err == nil && a.Is6() && boundaryAfter(s, end) {
			return Match{Start: i, End: end, Kind: IPv6}, true
		}
		if end < j-8 { // only trim a little trailing punctuation
			break
		}
	}
	return Match{}, false
}

// card matches 13 to 19 digits, optionally grouped by single spaces or
// dashes, that pass the Luhn check. A grouped run may continue into other
// numbers ("card 4111 1111 1111 1111 2 items"), so every group end is a
// candidate; the longest valid one wins.
func card(s string, i int) (Match, bool) {
	var buf [19]byte
	n, j, best := 0, i, -1
	for j < len(s) {
		c := s[j]
		switch {
		case isDigit(c):
			if n == len(buf) {
				j = len(s) // longer than any card: stop
				continue
			}
			buf[n] = c
			n++
			j++
			if n >= 13 && boundaryAfter(s, j) && luhn(buf[:n]) {
				best = j
			}
		case (c == ' ' || c == '-') && j+1 < len(s) && isDigit(s[j+1]):
			j++
		default:
			j = len(s)
		}
	}
	if best < 0 {
		return Match{}, false
	}
	return Match{Start: i, End: best, Kind: Card}, true
}

// IsCardNumber reports whether digits (only digits) look like a card number.
func IsCardNumber(digits string) bool {
	if len(digits) < 13 || len(digits) > 19 {
		return false
	}
	var buf [20]byte
	for k := 0; k < len(digits); k++ {
		if !isDigit(digits[k]) {
			return false
		}
		buf[k] = digits[k]
	}
	return luhn(buf[:len(digits)])
}

func luhn(digits []byte) bool {
	sum, double := 0, false
	for k := len(digits) - 1; k >= 0; k-- {
		d := int(digits[k] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// phone matches international numbers (+82 10-1234-5678) and grouped
// national ones ((555) 123-4567, 010-1234-5678). Plain digit runs are left
// alone: without a + or grouping they are as likely ids or amounts.
func phone(s string, i int) (Match, bool) {
	j := i
	plus := s[j] == '+'
	if plus {
		j++
	}
	paren := j < len(s) && s[j] == '('
	if paren {
		j++
	}
	digits, groups := 0, 1
	for j < len(s) {
		c := s[j]
		switch {
		case isDigit(c):
			digits++
			j++
		case c == ')' && paren:
			paren = false
			groups++
			j++
			if j < len(s) && s[j] == ' ' {
				j++
			}
		case (c == ' ' || c == '-' || c == '.') && j+1 < len(s) && isDigit(s[j+1]) && isDigit(s[j-1]):
			groups++
			j++
		default:
			goto done
		}
	}
done:
	if paren || digits < 9 || digits > 15 || !boundaryAfter(s, j) {
		return Match{}, false
	}
	if !plus && groups < 3 && !(groups == 2 && s[i] == '(') {
		return Match{}, false
	}
	return Match{Start: i, End: j, Kind: Phone}, true
}
