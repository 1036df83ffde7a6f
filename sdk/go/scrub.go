package curated

import "strings"

// scrubURLs returns s with the userinfo, query string and fragment of every
// URL in it removed: error texts of HTTP clients quote the whole URL
// (*url.Error: `Get "https://user:pw@host/p?key=SECRET": ...`), and keys
// travel in queries. Every text the SDK builds from an error passes here.
// Without a URL in s it returns s itself and does not allocate.
func scrubURLs(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i >= 0 {
		host := i + 3
		b.WriteString(s[:host])
		s = s[host:]
		end := urlEnd(s)
		// Userinfo: up to an '@' before the path starts.
		if at := strings.IndexByte(s[:end], '@'); at >= 0 {
			if slash := strings.IndexAny(s[:end], "/?#"); slash < 0 || at < slash {
				s, end = s[at+1:], end-at-1
			}
		}
		cut := end
		if q := strings.IndexAny(s[:end], "?#"); q >= 0 {
			cut = q
		}
		b.WriteString(s[:cut])
		s = s[end:]
		i = strings.Index(s, "://")
	}
	b.WriteString(s)
	return b.String()
}

// urlEnd is where the URL at the start of s ends: at white space, a quote,
// or a bracket that cannot be part of it.
func urlEnd(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\r', '"', '\'', '<', '>', '`', '{', '}', '|', '\\', '^':
			return i
		}
	}
	return len(s)
}

// routeTemplate replaces the path segments that look like IDs (numbers,
// UUIDs, long hex, and long mixed letter-digit tokens such as Places IDs
// "ChIJN1t_tDeuEmsRUsoyG83frY4") with ":id", so routes stay a bounded set.
func routeTemplate(path string) string {
	var b strings.Builder
	for i, seg := range strings.Split(path, "/") {
		if i > 0 {
			b.WriteByte('/')
		}
		if looksLikeID(seg) {
			b.WriteString(":id")
		} else {
			b.WriteString(seg)
		}
	}
	return b.String()
}

func looksLikeID(seg string) bool {
	if seg == "" {
		return false
	}
	digits, hex, dash := 0, true, false
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c|0x20 >= 'a' && c|0x20 <= 'f':
		case c|0x20 >= 'g' && c|0x20 <= 'z', c == '_':
			hex = false
		case c == '-':
			dash = true
		default:
			return false
		}
	}
	// 42; a UUID or hex digest; an opaque token with digits and no words
	// joined by dashes ("partner-applications-2024" stays).
	return digits == len(seg) || len(seg) >= 16 && digits > 0 && (hex || !dash)
}
