package lokisink

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"
)

func pushBody(t *testing.T, streams ...push.Stream) []byte {
	t.Helper()
	raw, err := (&push.PushRequest{Streams: streams}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return snappy.Encode(nil, raw)
}

func entries(n int, line string) []push.Entry {
	out := make([]push.Entry, n)
	for i := range out {
		out[i] = push.Entry{Timestamp: time.Unix(0, int64(i)), Line: line}
	}
	return out
}

func TestSinkCountsEntriesByLabel(t *testing.T) {
	s := &Sink{CountLabel: "source"}
	srv := httptest.NewServer(s)
	defer srv.Close()
	body := pushBody(t,
		push.Stream{Labels: `{level="info", source="curated"}`, Entries: entries(3, "abc")},
		push.Stream{Labels: `{source="faro", xsource="no"}`, Entries: entries(2, "de")},
	)
	for i := 0; i < 2; i++ {
		resp, err := http.Post(srv.URL+PushPath, "application/x-protobuf", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("push = %d", resp.StatusCode)
		}
	}
	st := s.Stats()
	if st.Requests != 2 || st.Entries != 10 || st.LineBytes != 2*(9+4) || st.BadRequest != 0 {
		t.Errorf("stats = %+v", st)
	}
	if st.ByLabel["curated"] != 6 || st.ByLabel["faro"] != 4 || len(st.ByLabel) != 2 {
		t.Errorf("by label = %v", st.ByLabel)
	}
}

func TestSinkRejectsWhatLokiWouldReject(t *testing.T) {
	s := &Sink{}
	srv := httptest.NewServer(s)
	defer srv.Close()
	for name, tc := range map[string]struct {
		ct   string
		body []byte
		want int
	}{
		"not snappy":   {"application/x-protobuf", []byte("plain"), http.StatusBadRequest},
		"not protobuf": {"application/x-protobuf", snappy.Encode(nil, []byte{0xff, 0xff, 0xff}), http.StatusBadRequest},
		"json":         {"application/json", []byte(`{"streams":[]}`), http.StatusUnsupportedMediaType},
	} {
		resp, err := http.Post(srv.URL+PushPath, tc.ct, bytes.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", name, resp.StatusCode, tc.want)
		}
	}
	if st := s.Stats(); st.BadRequest != 3 || st.Entries != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestLabelValue(t *testing.T) {
	for labels, want := range map[string]string{
		`{source="a"}`:               "a",
		`{level="info", source="b"}`: "b",
		`{xsource="no", source="c"}`: "c",
		`{xsource="no"}`:             "",
		`{level="info",source="d"}`:  "d",
		`{}`:                         "",
	} {
		if got := labelValue(labels, "source"); got != want {
			t.Errorf("labelValue(%s) = %q, want %q", labels, got, want)
		}
	}
}
