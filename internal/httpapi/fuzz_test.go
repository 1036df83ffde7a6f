package httpapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// FuzzHandler sends arbitrary bodies and headers through the whole handler:
// it must never panic, must answer one of the documented statuses with a
// JSON body, and must forward only what it acknowledges.
func FuzzHandler(f *testing.F) {
	for _, seed := range []struct{ body, ct, enc, key, origin string }{
		{`{"event":"shopify.sync"}`, "application/json", "", serverKey, ""},
		{`[{"event":"form.submit"},{"event":"x y"}]`, "text/plain", "", webKey, appOrigin},
		{"{\"event\":\"a\"}\n{\"event\":\"b\"}", "application/x-ndjson", "", serverKey, ""},
		{`{"context":{"service":"collabmaker"},"events":[{"event":"places.lookup"}]}`, "application/json", "", serverKey, ""},
		{"\x1f\x8b\x08\x00", "application/json", "gzip", serverKey, ""},
		{`{"event":"a"}`, "application/json", "br", "nope", "https://evil.example"},
		{``, "", "", "", ""},
	} {
		f.Add(seed.body, seed.ct, seed.enc, seed.key, seed.origin)
	}
	allowed := map[int]bool{200: true, 202: true, 400: true, 401: true, 403: true, 413: true, 415: true, 429: true}
	f.Fuzz(func(t *testing.T, body, contentType, encoding, key, origin string) {
		m, err := NewMetrics(prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		fwd := &recorder{capacity: -1}
		h := New(accessConfig(t), fwd, m, slog.New(slog.NewTextHandler(io.Discard, nil)))
		req := httptest.NewRequest(http.MethodPost, PathEvents, strings.NewReader(body))
		for k, v := range map[string]string{"Content-Type": contentType, "Content-Encoding": encoding, "X-API-Key": key, "Origin": origin} {
			if v != "" && !strings.ContainsAny(v, "\r\n\x00") {
				req.Header.Set(k, v)
			}
		}
		rec := httptest.NewRecorder()
		h.Events().ServeHTTP(rec, req)
		if !allowed[rec.Code] {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		var resp Response
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("body is not JSON: %q", rec.Body)
		}
		if n := len(fwd.got()); n != resp.Accepted || (rec.Code != 202 && n != 0) {
			t.Fatalf("status %d, accepted %d, forwarded %d", rec.Code, resp.Accepted, n)
		}
	})
}
