// Package useragent names the browser of a User-Agent header: its family
// and major version ("Chrome 131", "Safari 17"), a dimension low enough in
// cardinality to group errors and conversion by, as alert rules and
// dashboards do. It knows the browsers that matter for a web form, not
// every agent: anything else, and every bot, is "".
package useragent

import "strings"

// A browser's token in the User-Agent, in the order they are tried: the
// derived browsers name themselves besides the engine they build on
// (Edge and Opera say Chrome, Chrome says Safari).
var families = [...]struct{ token, name string }{
	{"EdgiOS/", "Edge"},
	{"EdgA/", "Edge"},
	{"Edg/", "Edge"},
	{"OPR/", "Opera"},
	{"SamsungBrowser/", "Samsung Internet"},
	{"YaBrowser/", "Yandex"},
	{"CriOS/", "Chrome"},
	{"FxiOS/", "Firefox"},
	{"Firefox/", "Firefox"},
	{"Chrome/", "Chrome"},
	{"Version/", "Safari"}, // Safari's own version; "Safari/" is WebKit's
}

// Browser returns "Family Major" for a known browser, or "".
func Browser(ua string) string {
	if len(ua) > 512 || !strings.HasPrefix(ua, "Mozilla/5.0") || isBot(ua) {
		return ""
	}
	for _, f := range families {
		i := strings.Index(ua, f.token)
		if i < 0 {
			continue
		}
		if f.name == "Safari" && !strings.Contains(ua, "Safari/") {
			continue
		}
		major := ua[i+len(f.token):]
		n := 0
		for n < len(major) && n < 4 && major[n] >= '0' && major[n] <= '9' {
			n++
		}
		if n == 0 {
			return ""
		}
		return f.name + " " + major[:n]
	}
	return ""
}

func isBot(ua string) bool {
	l := strings.ToLower(ua)
	return strings.Contains(l, "bot") || strings.Contains(l, "spider") || strings.Contains(l, "crawl") ||
		strings.Contains(l, "headlesschrome") || strings.Contains(l, "lighthouse")
}
