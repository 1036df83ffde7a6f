package pii

import (
	"encoding/base64"
	"net/netip"
	"strings"
)

// The detectors. Each is called at a position where its value may start
// (see matchAt) and returns the match it finds there.

func isLocalPart(c byte) bool {
	return isAlnum(c) || c >= 0x80 || strings.IndexByte("._%+-'", c) >= 0
}

func isDomain(c byte) bool { return isAlnum(c) || c >= 0x80 || c == '-' || c == '.' }

// email matches local@domain.tld around the '@' (or its URL encoding %40)
// at s[at]. Local parts and domains may be Unicode (RFC 6531, IDN); the
// domain may be an IP literal in brackets.
func email(s string, at int) (Match, bool) {
	atLen := 1
	if s[at] == '%' {
		if !strings.HasPrefix(s[at:], "%40") {
			return Match{}, false
		}
		atLen = 3
	}
	start := at
	for start > 0 && isLocalPart(s[start-1]) {
		start--
	}
	if start == at {
		return Match{}, false
	}
	d := at + atLen
	if d < len(s) && s[d] == '[' { // user@[192.0.2.1], user@[IPv6:2001:db8::1]
		end := strings.IndexByte(s[d:], ']')
		if end < 0 {
			return Match{}, false
		}
		lit := strings.TrimPrefix(s[d+1:d+end], "IPv6:")
		if _, err := netip.ParseAddr(lit); err != nil {
			return Match{}, false
		}
		return Match{Start: start, End: d + end + 1, Kind: Email}, true
	}
	end := d
	for end < len(s) && isDomain(s[end]) {
		end++
	}
	for end > d && (s[end-1] == '.' || s[end-1] == '-') { // trailing punctuation
		end--
	}
	lastDot := strings.LastIndexByte(s[d:end], '.')
	if lastDot <= 0 {
		return Match{}, false
	}
	lastDot += d
	if !isTLD(s[lastDot+1 : end]) {
		return Match{}, false
	}
	return Match{Start: start, End: end, Kind: Email}, true
}

// isTLD accepts ASCII letters (2 or more), an IDN's punycode (xn--...) or
// its Unicode form.
func isTLD(t string) bool {
	if len(t) < 2 {
		return false
	}
	if strings.HasPrefix(t, "xn--") {
		return true
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; c < 0x80 && !isAlpha(c) {
			return false
		}
	}
	return true
}

func isB64URL(c byte) bool { return isAlnum(c) || c == '-' || c == '_' }

// jwt matches header.payload.signature starting with eyJ ('{"' in base64).
// Unsigned tokens (alg none) end with an empty signature; those need a JSON
// payload too (eyJ), so that an ordinary "eyJ... word." is not one.
func jwt(s string, i int) (Match, bool) {
	j := i
	for part := 0; part < 3; part++ {
		n := 0
		for j < len(s) && isB64URL(s[j]) {
			j++
			n++
		}
		switch {
		case part < 2 && n < 4:
			return Match{}, false
		case part == 2 && n == 0 && !strings.HasPrefix(s[strings.IndexByte(s[i:], '.')+i+1:], "eyJ"):
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

// authScheme matches the credential after "Bearer " and the base64 of
// user:password after "Basic ".
func authScheme(s string, i int, set Set) (Match, bool) {
	for _, scheme := range [...]struct {
		word string
		kind Kind
	}{{"bearer", Bearer}, {"basic", BasicAuth}} {
		w := scheme.word
		if !set.Has(scheme.kind) || len(s)-i < len(w)+9 || !strings.EqualFold(s[i:i+len(w)], w) {
			continue
		}
		j := i + len(w)
		if s[j] != ' ' && s[j] != ':' && s[j] != '=' {
			continue
		}
		for j < len(s) && (s[j] == ' ' || s[j] == ':' || s[j] == '=') {
			j++
		}
		start := j
		for j < len(s) && isTokenChar(s[j]) {
			j++
		}
		if j-start < 8 {
			continue
		}
		// "Basic plan" is English; "Basic dXNlcjpwYXNz" decodes to user:pass.
		if scheme.kind == BasicAuth && !decodesToCredentials(s[start:j]) {
			continue
		}
		return Match{Start: start, End: j, Kind: scheme.kind}, true
	}
	return Match{}, false
}

// decodesToCredentials reports whether b64 is standard base64 of text with
// a colon, without allocating.
func decodesToCredentials(b64 string) bool {
	var src [256]byte
	var dst [192]byte
	if len(b64) > len(src) || len(b64)%4 != 0 {
		return false
	}
	n, err := base64.StdEncoding.Decode(dst[:], src[:copy(src[:], b64)])
	if err != nil {
		return false
	}
	for _, c := range dst[:n] {
		if c == ':' {
			return true
		}
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return false
}

// awsKey matches AWS access key IDs such as AKIAIOSFODNN7EXAMPLE.
func awsKey(s string, i int) (Match, bool) {
	if len(s)-i < 20 || !boundaryAfter(s, i+20) {
		return Match{}, false
	}
	switch s[i : i+4] {
	case "AKIA", "ASIA", "AIDA", "AROA", "AGPA", "ANPA", "ANVA", "AIPA", "ABIA", "ACCA":
	default:
		return Match{}, false
	}
	for j := i + 4; j < i+20; j++ {
		if c := s[j]; !(c >= 'A' && c <= 'Z' || isDigit(c)) {
			return Match{}, false
		}
	}
	return Match{Start: i, End: i + 20, Kind: AWSKey}, true
}

func isB64Std(c byte) bool { return isAlnum(c) || c == '/' || c == '+' }

// awsSecrets finds 40-character base64 words with both cases, the shape of
// an AWS secret access key; find calls it only next to a key ID, since a
// word of that shape alone may be anything.
func awsSecrets(s string) []Match {
	var out []Match
	for i := 0; i < len(s); {
		if !isB64Std(s[i]) {
			i++
			continue
		}
		j, upper, lower := i, false, false
		for j < len(s) && isB64Std(s[j]) {
			upper = upper || s[j] >= 'A' && s[j] <= 'Z'
			lower = lower || s[j] >= 'a' && s[j] <= 'z'
			j++
		}
		if j-i == 40 && upper && lower && (j == len(s) || s[j] != '=') {
			out = append(out, Match{Start: i, End: j, Kind: AWSKey})
		}
		i = j
	}
	return out
}

// Provider tokens: a documented prefix, then at least min characters of
// the token's alphabet.
type tokenShape struct {
	prefix string
	min    int
	hex    bool // the body is hexadecimal (else letters, digits, _ and -)
}

var tokenShapes = []tokenShape{
	{"sk_live_", 16, false}, {"sk_test_", 16, false}, {"rk_live_", 16, false}, {"rk_test_", 16, false}, // Stripe
	{"whsec_", 24, false},                                                                                   // Stripe webhook secret
	{"ghp_", 36, false}, {"gho_", 36, false}, {"ghu_", 36, false}, {"ghs_", 36, false}, {"ghr_", 36, false}, // GitHub
	{"github_pat_", 22, false},
	{"xoxb-", 10, false}, {"xoxa-", 10, false}, {"xoxp-", 10, false}, {"xoxr-", 10, false}, {"xoxs-", 10, false}, {"xoxe-", 10, false}, // Slack
	{"AIza", 35, false},                                                                    // Google API key
	{"shpat_", 32, true}, {"shpss_", 32, true}, {"shpca_", 32, true}, {"shppa_", 32, true}, // Shopify
	{"sk-", 32, false}, // OpenAI-style secret keys
}

var tokenStart = func() (t [256]bool) {
	for _, ts := range tokenShapes {
		t[ts.prefix[0]] = true
	}
	return t
}()

func token(s string, i int) (Match, bool) {
	for _, ts := range tokenShapes {
		if !strings.HasPrefix(s[i:], ts.prefix) {
			continue
		}
		j := i + len(ts.prefix)
		for j < len(s) && (ts.hex && isHex(s[j]) || !ts.hex && isB64URL(s[j])) {
			j++
		}
		if j-i-len(ts.prefix) >= ts.min && boundaryAfter(s, j) {
			return Match{Start: i, End: j, Kind: Token}, true
		}
	}
	return Match{}, false
}

// ibanLengths is the length of each country's IBAN (the IBAN registry).
var ibanLengths = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "BY": 28,
	"CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
	"FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
	"IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
	"LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15,
	"PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19,
	"SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}

// iban matches an IBAN, compact or in groups of four, of its country's
// length and with a valid mod-97 check.
func iban(s string, i int) (Match, bool) {
	if len(s)-i < 15 || !(s[i+1] >= 'A' && s[i+1] <= 'Z') || !isDigit(s[i+2]) || !isDigit(s[i+3]) {
		return Match{}, false
	}
	want, ok := ibanLengths[s[i:i+2]]
	if !ok {
		return Match{}, false
	}
	var buf [34]byte
	n, j := 0, i
	for j < len(s) && n < want {
		c := s[j]
		switch {
		case isDigit(c) || c >= 'A' && c <= 'Z':
			buf[n] = c
			n++
			j++
		case c == ' ' && n%4 == 0 && j+1 < len(s) && isAlnum(s[j+1]):
			j++
		default:
			return Match{}, false
		}
	}
	if n != want || !boundaryAfter(s, j) {
		return Match{}, false
	}
	// Move the first four characters to the end, letters as 10..35, mod 97.
	rem := 0
	for k := 0; k < n; k++ {
		c := buf[(k+4)%n]
		if isDigit(c) {
			rem = (rem*10 + int(c-'0')) % 97
		} else {
			rem = (rem*100 + int(c-'A'+10)) % 97
		}
	}
	if rem != 1 {
		return Match{}, false
	}
	return Match{Start: i, End: j, Kind: IBAN}, true
}

// rrn matches a Korean resident registration number, YYMMDD-GNNNNNN: a
// valid date and a sex/century digit 1-8. Numbers issued since October 2020
// have no check digit, so a dashed number needs none; a compact 13-digit
// one must pass the check, or it is as likely an ID.
func rrn(s string, i int, field string) (Match, bool) {
	if len(s)-i < 13 {
		return Match{}, false
	}
	var d [13]int
	j, n, dashed := i, 0, false
	for j < len(s) && n < 13 {
		c := s[j]
		switch {
		case isDigit(c):
			d[n] = int(c - '0')
			n++
		case c == '-' && n == 6 && !dashed:
			dashed = true
		default:
			return Match{}, false
		}
		j++
	}
	if n != 13 || !boundaryAfter(s, j) {
		return Match{}, false
	}
	month, day := d[2]*10+d[3], d[4]*10+d[5]
	if month < 1 || month > 12 || day < 1 || day > 31 || d[6] < 1 || d[6] > 8 {
		return Match{}, false
	}
	if !dashed {
		// Compact, it is one of every ten 13-digit numbers (epoch
		// milliseconds): it needs its name nearby too.
		if !rrnContext(s[max(0, i-32):i]) && !rrnContext(field) {
			return Match{}, false
		}
		sum := 0
		for k, w := range [12]int{2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5} {
			sum += d[k] * w
		}
		if (11-sum%11)%10 != d[12] {
			return Match{}, false
		}
	}
	return Match{Start: i, End: j, Kind: NationalID}, true
}

// rrnContext reports whether text before a number (or the name of its
// field) names a resident registration number.
func rrnContext(before string) bool {
	return containsWord(before, "주민", "등록번호", "rrn", "jumin", "resident")
}

// containsWord reports whether s holds one of words, ASCII case ignored.
func containsWord(s string, words ...string) bool {
	for _, w := range words {
		for k := 0; k+len(w) <= len(s); k++ {
			if strings.EqualFold(s[k:k+len(w)], w) {
				return true
			}
		}
	}
	return false
}

// phoneContext reports whether text before a number (or the name of its
// field) names a phone number.
func phoneContext(before string) bool {
	return containsWord(before, "phone", "mobile", "tel", "cell", "전화", "연락처", "휴대폰", "핸드폰", "휴대전화")
}

// compactMobile matches a Korean mobile number written without separators
// (01012345678): 01 and a carrier digit, then 7 or 8 digits. As bare
// digits it looks like many IDs, so it needs a phone word before it or a
// field named for one.
func compactMobile(s string, i int, field string) (Match, bool) {
	j := i
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	n := j - i
	if (n != 10 && n != 11) || s[i] != '0' || s[i+1] != '1' || strings.IndexByte("016789", s[i+2]) < 0 || !boundaryAfter(s, j) {
		return Match{}, false
	}
	if !phoneContext(s[max(0, i-32):i]) && !phoneContext(field) {
		return Match{}, false
	}
	return Match{Start: i, End: j, Kind: Phone}, true
}

// ipv4 matches a dotted quad that is not part of a longer dotted number or
// of a product token such as Chrome/131.0.0.0.
func ipv4(s string, i int) (Match, bool) {
	if i >= 2 && (s[i-1] == '.' && isDigit(s[i-2]) || s[i-1] == '/' && isAlnum(s[i-2])) {
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

// isSeparator reports whether s[j:] starts a separator between digit
// groups (up to three spaces, dashes or dots, e.g. "010 - 1234") followed
// by a digit, and returns its length.
func separator(s string, j int, allowed string) int {
	k := j
	for k < len(s) && k-j < 3 && strings.IndexByte(allowed, s[k]) >= 0 {
		k++
	}
	if k == j || k >= len(s) || !isDigit(s[k]) {
		return 0
	}
	return k - j
}

// card matches 13 to 19 digits, optionally grouped by spaces or dashes,
// whose issuer prefix and length belong to a card network and that pass
// the Luhn check. A grouped run may continue into other numbers ("card 4111
// 1111 1111 1111 2 items"), so every group end is a candidate; the longest
// valid one wins.
func card(s string, i int) (Match, bool) {
	var buf [19]byte
	n, j, best := 0, i, -1
	for j < len(s) {
		c := s[j]
		if isDigit(c) {
			if n == len(buf) {
				break // longer than any card
			}
			buf[n] = c
			n++
			j++
			if n >= 13 && boundaryAfter(s, j) && IsCardNumber(string(buf[:n])) {
				best = j
			}
			continue
		}
		sep := separator(s, j, " -")
		if sep == 0 {
			break
		}
		j += sep
	}
	if best < 0 {
		return Match{}, false
	}
	return Match{Start: i, End: best, Kind: Card}, true
}

// cardNetworks are the issuer prefix ranges and lengths of the card
// networks (ISO/IEC 7812 IINs as the networks publish them). Epoch
// milliseconds (1...), snowflake IDs (1...) and most order IDs fall in none.
var cardNetworks = []struct {
	lo, hi     int // prefix range, as many digits as lo has
	minL, maxL int
}{
	{4, 4, 16, 19},       // Visa (13-digit cards are no longer issued)
	{51, 55, 16, 16},     // Mastercard
	{2221, 2720, 16, 16}, // Mastercard 2-series
	{34, 34, 15, 15},     // American Express
	{37, 37, 15, 15},     //
	{6011, 6011, 16, 19}, // Discover
	{644, 649, 16, 19},   //
	{65, 65, 16, 19},     //
	{3528, 3589, 16, 19}, // JCB
	{300, 305, 16, 19},   // Diners Club (14-digit numbers share Shopify variant IDs' shape)
	{36, 36, 16, 19},     //
	{38, 39, 16, 19},     //
	{62, 62, 16, 19},     // UnionPay
	{2200, 2204, 16, 19}, // Mir
	{5018, 5018, 16, 19}, // Maestro
	{5020, 5020, 16, 19}, //
	{5038, 5038, 16, 19}, //
	{5893, 5893, 16, 19}, //
	{6304, 6304, 16, 19}, //
	{6759, 6759, 16, 19}, //
	{6761, 6763, 16, 19}, //
	{60, 60, 16, 16},     // RuPay
	{9, 9, 16, 16},       // Korean domestic (BC and others)
}

// IsCardNumber reports whether digits (only digits) are a card number: a
// network's prefix and length, and the Luhn check.
func IsCardNumber(digits string) bool {
	n := len(digits)
	if n < 13 || n > 19 {
		return false
	}
	for k := 0; k < n; k++ {
		if !isDigit(digits[k]) {
			return false
		}
	}
	network := false
	for _, nw := range cardNetworks {
		width := 1
		for x := nw.lo; x >= 10; x /= 10 {
			width++
		}
		p := 0
		for k := 0; k < width; k++ {
			p = p*10 + int(digits[k]-'0')
		}
		if p >= nw.lo && p <= nw.hi && n >= nw.minL && n <= nw.maxL {
			network = true
			break
		}
	}
	return network && luhn(digits)
}

func luhn(digits string) bool {
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
// alone: without a + or grouping they are as likely ids or amounts. A
// national number has 2 to 4 groups of 2 digits or more, so that dates
// (2026-11-25 09:30), versions (10.0.19045.4170), ISBNs (978-3-16-148410-0)
// and dashed IDs (INV-2026-000123) are not taken for one.
func phone(s string, i int, field string) (Match, bool) {
	if i >= 2 && (s[i-1] == '-' || s[i-1] == '/' || s[i-1] == '#') && isAlnum(s[i-2]) || i >= 1 && s[i-1] == '#' {
		return Match{}, false // part of an ID or a path
	}
	if s[i] == '0' {
		if m, ok := compactMobile(s, i, field); ok {
			return m, true
		}
	}
	j := i
	plus := s[j] == '+'
	if plus {
		j++
	}
	paren := j < len(s) && s[j] == '('
	if paren {
		j++
	}
	// A grouped run may continue into other numbers ("010 1234 5678 0 items"),
	// so every group end is a candidate; the longest valid one wins.
	var groups [8]int // digits per group; ng is the current group
	ng, digits, best := 0, 0, -1
	for j < len(s) {
		c := s[j]
		if isDigit(c) {
			groups[ng]++
			digits++
			j++
			if (j == len(s) || !isDigit(s[j])) && !paren && validPhone(s, i, j, plus, groups[:ng+1], digits) {
				best = j
			}
			continue
		}
		sep := 0
		switch {
		case c == ')' && paren:
			paren = false
			for sep = 1; j+sep < len(s) && s[j+sep] == ' '; sep++ {
			}
		case j > i && isDigit(s[j-1]):
			sep = separator(s, j, " -.")
		}
		if sep == 0 || ng+1 == len(groups) {
			break
		}
		ng++
		j += sep
	}
	if best < 0 {
		return Match{}, false
	}
	return Match{Start: i, End: best, Kind: Phone}, true
}

// validPhone reports whether s[i:j], of the given digit groups, is a phone
// number.
func validPhone(s string, i, j int, plus bool, groups []int, digits int) bool {
	if digits < 9 || digits > 15 || !boundaryAfter(s, j) {
		return false
	}
	if plus {
		return true
	}
	ng := len(groups)
	if ng < 2 || ng > 5 {
		return false
	}
	// Two groups: (02) 1234-5678-like, a trunk prefix (07700 900123) or
	// two long halves (98765 43210). Five: the French 01 23 45 67 89.
	twoOK := s[i] == '(' || digits >= 10 && (s[i] == '0' || groups[0] >= 4 && groups[1] >= 4)
	french := ng == 5 && digits == 10 && s[i] == '0'
	if (ng == 5 && !french) || (ng == 2 && !twoOK) {
		return false
	}
	// A North American number after its trunk prefix 1: 1-800-555-0199.
	nanp := ng == 4 && s[i] == '1' && groups[0] == 1 && groups[1] == 3 && groups[2] == 3 && groups[3] == 4
	for k, g := range groups {
		if (g < 2 && !(nanp && k == 0)) || french && g != 2 {
			return false
		}
	}
	// Dotted groups are versions unless shaped like a phone number
	// (555.123.4567, 010.1234.5678, 01.23.45.67.89).
	if strings.IndexByte(s[i:j], '.') >= 0 && groups[ng-1] < 4 && !french {
		return false
	}
	return !looksLikeDate(s[i:j])
}

// looksLikeDate reports whether a run of digit groups holds a year
// (1900-2099) next to a group that could be a month or day.
func looksLikeDate(run string) bool {
	var g [8]string
	n, start := 0, -1
	for k := 0; k <= len(run) && n < len(g); k++ {
		if k < len(run) && isDigit(run[k]) {
			if start < 0 {
				start = k
			}
			continue
		}
		if start >= 0 {
			g[n] = run[start:k]
			n++
			start = -1
		}
	}
	small := func(x string) bool { return len(x) <= 2 && x != "" && (len(x) == 1 || x[0] <= '3') }
	for k := 0; k < n; k++ {
		if len(g[k]) == 8 && (g[k][:2] == "19" || g[k][:2] == "20") && g[k][4] <= '1' && g[k][6] <= '3' {
			return true // YYYYMMDD
		}
		year := len(g[k]) == 4 && (g[k][:2] == "19" || g[k][:2] == "20")
		if year && (k > 0 && small(g[k-1]) || k+1 < n && small(g[k+1])) {
			return true
		}
	}
	return false
}

// credential matches the value of a secret-named parameter or key in text
// (password=..., "api_key": "...", token: ...) and the user:password of a
// URL (https://user:pass@host), around the '=' or ':' at s[p].
func credential(s string, p int, params ParamNames) (Match, bool) {
	if s[p] == ':' && strings.HasPrefix(s[p+1:], "//") {
		j := p + 3
		colon := false
		for j < len(s) && strings.IndexByte("/?#@ \t\n\"'<>", s[j]) < 0 {
			colon = colon || s[j] == ':'
			j++
		}
		if j < len(s) && s[j] == '@' && colon && j > p+3 {
			return Match{Start: p + 3, End: j, Kind: Credential}, true
		}
		return Match{}, false
	}
	// The name before the separator, past spaces and a closing quote.
	k := p
	for k > 0 && s[k-1] == ' ' {
		k--
	}
	if k > 0 && (s[k-1] == '"' || s[k-1] == '\'') {
		k--
		if k > 0 && s[k-1] == '\\' { // JSON inside a string
			k--
		}
	}
	end := k
	for k > 0 && end-k < 64 && (isAlnum(s[k-1]) || s[k-1] == '_' || s[k-1] == '-' || s[k-1] == '.') {
		k--
	}
	if k == end || (k > 0 && isAlnum(s[k-1])) {
		return Match{}, false
	}
	var buf [128]byte
	name := NormalizeName(s[k:end], &buf)
	// In a URL query (?name= or &name=) more names hold secrets: key,
	// sig, signature, ... and those the configuration adds.
	inQuery := k > 0 && (s[k-1] == '?' || s[k-1] == '&') && s[p] == '='
	if !IsSecretName(name) && !(inQuery && (IsSecretQueryParam(s[k:end], name) || params.has(name))) {
		return Match{}, false
	}
	// The value: quoted, or up to a delimiter.
	v := p + 1
	for v < len(s) && s[v] == ' ' {
		v++
	}
	if v >= len(s) {
		return Match{}, false
	}
	stop := "&;, \t\r\n\"'<>)]}"
	switch {
	case s[v] == '"':
		v, stop = v+1, `"`
	case s[v] == '\'':
		v, stop = v+1, `'`
	case s[v] == '\\' && v+1 < len(s) && s[v+1] == '"': // JSON inside a string
		v, stop = v+2, `\"`
	}
	e := v
	for e < len(s) && strings.IndexByte(stop, s[e]) < 0 {
		e++
	}
	if e == v || strings.HasPrefix(s[v:], "[REDACTED") {
		return Match{}, false
	}
	// An Authorization-like value starts with its scheme: the secret is
	// what follows. Bearer and Basic credentials have detectors of their own.
	if e < len(s) && s[e] == ' ' {
		switch strings.ToLower(s[v:e]) {
		case "bearer", "basic":
			if _, ok := authScheme(s, v, All); ok {
				return Match{}, false
			}
			fallthrough
		case "token", "digest", "negotiate", "apikey", "key":
			t := e
			for t < len(s) && s[t] == ' ' {
				t++
			}
			te := t
			for te < len(s) && isTokenChar(s[te]) {
				te++
			}
			if te > t {
				return Match{Start: t, End: te, Kind: Credential}, true
			}
		}
	}
	return Match{Start: v, End: e, Kind: Credential}, true
}
