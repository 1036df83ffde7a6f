package pii

import "bytes"

// Key names that mark a secret, compared after NormalizeName: parts that
// mark one anywhere in a name, and short names that must be the whole name
// ("pin" is not "shipping", "pass" is not "passenger").
var (
	secretNameParts = [][]byte{
		[]byte("password"), []byte("passwort"), []byte("passwd"), []byte("passphrase"), []byte("secret"),
		[]byte("token"), []byte("apikey"), []byte("authorization"), []byte("authheader"), []byte("cookie"),
		[]byte("cardnumber"), []byte("creditcard"), []byte("ccnumber"), []byte("privatekey"), []byte("accesskey"),
		[]byte("sessionkey"), []byte("securitycode"), []byte("pincode"), []byte("mfacode"), []byte("otpcode"),
		[]byte("credential"),
	}
	secretNames = []string{"pwd", "pass", "pin", "auth", "cvv", "cvv2", "cvc", "cvc2", "ssn", "otp", "totp", "mfa",
		"cc", "jwt", "rrn"}
)

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
	for _, part := range secretNameParts {
		if bytes.Contains(norm, part) {
			return true
		}
	}
	for _, s := range secretNames {
		if string(norm) == s {
			return true
		}
	}
	return false
}
