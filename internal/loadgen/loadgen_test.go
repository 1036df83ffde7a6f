package loadgen

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafana/alloy/curated/internal/event"
)

func events(n int) []Event {
	now := time.Now()
	out := make([]Event, n)
	for i := range out {
		out[i] = Collabmaker(i, now)
	}
	return out
}

// Every shape must be a valid request of the curated API: a benchmark of
// rejected events would measure the wrong path.
func TestCuratedBodiesAreValidEvents(t *testing.T) {
	lim := event.Limits{MaxEventsPerRequest: 500, MaxEventBytes: 32 << 10, MaxAttributes: 64}
	for _, shape := range []Shape{Single, Batch, NDJSON, Gzip} {
		n := 50
		if shape == Single {
			n = 1
		}
		body, ct, enc, err := CuratedBody(events(n), shape)
		if err != nil {
			t.Fatal(err)
		}
		format := event.FormatJSON
		if ct == "application/x-ndjson" {
			format = event.FormatNDJSON
		}
		if enc == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		items, err := event.Decode(format, body, lim)
		if err != nil {
			t.Fatalf("%s: %v", shape, err)
		}
		if len(items) != n {
			t.Fatalf("%s: %d events, want %d", shape, len(items), n)
		}
		for i, it := range items {
			if !it.OK() {
				t.Fatalf("%s: event %d rejected: %v", shape, i, it.Errors)
			}
		}
	}
	if _, _, _, err := CuratedBody(events(2), Single); err == nil {
		t.Error("single with 2 events must fail")
	}
}

func TestEventSizeIsRealistic(t *testing.T) {
	var total int
	for _, e := range events(100) {
		total += len(e.curatedJSON())
	}
	if avg := total / 100; avg < 500 || avg > 1024 {
		t.Errorf("average event is %d bytes; want 0.5-1 KB", avg)
	}
}

func TestLokiAndFaroBodiesCarryTheSameEvents(t *testing.T) {
	evs := events(50)
	lb, err := LokiPushBody(evs)
	if err != nil {
		t.Fatal(err)
	}
	var push struct {
		Streams []struct {
			Stream map[string]string `json:"stream"`
			Values [][2]string       `json:"values"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(lb, &push); err != nil || len(push.Streams) != 1 || len(push.Streams[0].Values) != 50 {
		t.Fatalf("loki push body: %v %s", err, lb[:200])
	}
	if push.Streams[0].Values[3][1] != string(evs[3].curatedJSON()) {
		t.Error("loki line differs from the curated event")
	}
	fb, err := FaroBody(evs)
	if err != nil {
		t.Fatal(err)
	}
	var faro struct {
		Events []struct {
			Name       string            `json:"name"`
			Attributes map[string]string `json:"attributes"`
		} `json:"events"`
	}
	if err := json.Unmarshal(fb, &faro); err != nil || len(faro.Events) != 50 {
		t.Fatalf("faro body: %v", err)
	}
	if faro.Events[0].Name != evs[0].Name || faro.Events[0].Attributes["partner_id"] != evs[0].Attributes["partner_id"] ||
		faro.Events[0].Attributes["message"] != evs[0].Message {
		t.Errorf("faro event 0 = %+v", faro.Events[0])
	}
}

func TestRunCountsStatusesAndEvents(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-API-Key") != "k" || r.Header.Get("Content-Encoding") != "gzip" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if n.Add(1)%4 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	target := Target{URL: srv.URL, Header: http.Header{"X-Api-Key": {"k"}},
		Bodies: []Body{{Data: []byte("x"), ContentType: "application/json", Encoding: "gzip", Events: 10}}}

	res, err := Run(context.Background(), NewClient(4), target, Options{Mode: Saturate, Concurrency: 4, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Statuses["202"]+res.Statuses["503"] != res.Requests || res.Accepted != 10*res.Statuses["202"] {
		t.Errorf("saturate: %+v", res)
	}
	if res.Latency.P50 <= 0 || res.Latency.Max < res.Latency.P99 || res.Latency.P99 < res.Latency.P50 {
		t.Errorf("latency %+v", res.Latency)
	}

	res, err = Run(context.Background(), NewClient(4), target, Options{Mode: Fixed, Rate: 200, Concurrency: 4, Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// 200/s for 1s: the scheduler must neither stall nor run away.
	if res.Requests < 100 || res.Requests > 260 {
		t.Errorf("fixed rate 200/s for 1s sent %d requests", res.Requests)
	}
}

func TestRunRefusesBadOptions(t *testing.T) {
	target := Target{URL: "http://127.0.0.1:1", Bodies: []Body{{Data: []byte("x")}}}
	for _, o := range []Options{{Mode: Saturate}, {Mode: Fixed, Concurrency: 1}} {
		if _, err := Run(context.Background(), NewClient(1), target, o); err == nil {
			t.Errorf("%+v: want an error", o)
		}
	}
	if _, err := Run(context.Background(), NewClient(1), Target{}, Options{Mode: Saturate, Concurrency: 1}); err == nil ||
		!strings.Contains(err.Error(), "no request bodies") {
		t.Errorf("empty target: %v", err)
	}
}

func TestPercentiles(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	p := percentiles(lat)
	if p.P50 != 50 || p.P90 != 90 || p.P99 != 99 || p.Max != 100 {
		t.Errorf("percentiles = %+v", p)
	}
}

func TestReadProc(t *testing.T) {
	st, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.RSSBytes <= 0 || st.HWMBytes < st.RSSBytes || st.CPUSeconds < 0 {
		t.Errorf("proc stat = %+v", st)
	}
}
