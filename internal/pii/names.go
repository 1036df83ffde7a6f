package pii

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
