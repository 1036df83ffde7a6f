package pii

import "strings"

// Key names that mark a secret, compared after NormalizeName: parts that
// mark one anywhere in a name, and short names that must be the whole name
// ("pin" is not "shipping", "pass" is not "passenger").
var secretNameParts = []string{
	"password", "passwort", "passwd", "passphrase", "secret", "token", "apikey", "authorization", "authheader",
	"cookie", "cardnumber", "creditcard", "ccnumber", "privatekey", "accesskey", "sessionkey", "securitycode",
	"pincode", "mfacode", "otpcode", "credential",
}

// partsByFirst indexes secretNameParts by their first letter, so a name is
// read once rather than searched once per part: names are checked for every
// attribute key and every '=' and ':' in text.
var partsByFirst = func() (t [256][]string) {
	for _, p := range secretNameParts {
		t[p[0]] = append(t[p[0]], p)
	}
	return t
}()

// NormalizeName lower-cases name and keeps only its ASCII letters and digits,
// in buf, so "Card-Number", "card_number" and "cardNumber" compare equal.
func NormalizeName(name string, buf *[128]byte) []byte {
	n := 0
	for i := 0; i < len(name) && n < len(buf); i++ {
		c := name[i]
		switch {
		case c >= 'A' && c <= 'Z':
			buf[n] = c + 'a' - 'A'
			n++
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			buf[n] = c
			n++
		}
	}
	return buf[:n]
}

// secretQueryParams are URL query parameter names whose values are secrets
// only there (compared after NormalizeName): "key=" in prose is often not
// one, "?key=" in a URL is an API key (Google Maps, Places). A name that
// ends in one of secretQueryParamSuffixes as a word of its own
// (subscription-key, X-Amz-Signature, confmKey; not monkey) is one too.
var secretQueryParams = []string{"key", "sig", "signature", "code", "sid", "sessionid", "session", "ticket", "hmac"}

var secretQueryParamSuffixes = []string{"key", "signature", "sig", "token", "secret"}

// QueryParamNames lists the built-in secret query parameter names and
// word suffixes (for the documentation).
func QueryParamNames() (names, suffixes []string) { return secretQueryParams, secretQueryParamSuffixes }

// IsSecretQueryParam reports whether the URL query parameter raw (as
// written), whose NormalizeName form is norm, holds a secret there, beside
// IsSecretName's names.
func IsSecretQueryParam(raw string, norm []byte) bool {
	for _, n := range secretQueryParams {
		if string(norm) == n {
			return true
		}
	}
	for _, suf := range secretQueryParamSuffixes {
		i := len(raw) - len(suf)
		if i <= 0 || !strings.EqualFold(raw[i:], suf) {
			continue
		}
		// A word of its own: after a separator, or camelCase.
		if c := raw[i-1]; c == '_' || c == '-' || c == '.' || (raw[i] >= 'A' && raw[i] <= 'Z' && c >= 'a' && c <= 'z') {
			return true
		}
	}
	return false
}

// ParamNames is a set of parameter names compared after NormalizeName.
type ParamNames map[string]bool

// NewParamNames normalizes names into a set.
func NewParamNames(names []string) ParamNames {
	if len(names) == 0 {
		return nil
	}
	out := ParamNames{}
	for _, n := range names {
		var buf [128]byte
		out[string(NormalizeName(n, &buf))] = true
	}
	return out
}

func (n ParamNames) has(norm []byte) bool { return len(n) > 0 && n[string(norm)] }

// IsSecretName reports whether a key or parameter name, normalized by
// NormalizeName, names a secret: password, token, api_key, cvv2, ...
func IsSecretName(norm []byte) bool {
	switch string(norm) { // no allocation: the compiler compares in place
	case "pwd", "pass", "pin", "auth", "cvv", "cvv2", "cvc", "cvc2", "ssn", "otp", "totp", "mfa", "cc", "jwt", "rrn":
		return true
	}
	for k := range norm {
		for _, part := range partsByFirst[norm[k]] {
			if len(norm)-k >= len(part) && string(norm[k:k+len(part)]) == part {
				return true
			}
		}
	}
	return false
}
