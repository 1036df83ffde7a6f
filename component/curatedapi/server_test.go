package curatedapi

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/grafana/alloy/internal/util"

	"github.com/grafana/alloy/curated/internal/httpapi"
)

// TestServerRoutesAndInstruments runs the API's server both ways: lean
// (the default) and with dskit's middleware. Either way the three paths
// reach their handlers, anything else is 404, the handler can reach the
// connection through http.ResponseController (the body clock needs it),
// and request durations land in dskit's histogram with its labels.
func TestServerRoutesAndInstruments(t *testing.T) {
	for _, tracing := range []bool{false, true} {
		t.Run(fmt.Sprintf("request_tracing=%v", tracing), func(t *testing.T) {
			reg := prometheus.NewRegistry()
			var args Arguments
			args.SetToDefault()
			cfg := args.serverConfig()
			cfg.HTTP.ListenAddress, cfg.HTTP.ListenPort = "127.0.0.1", 0
			// The API's own routes, each answering with its name.
			var routes []httpapi.Route
			for _, r := range (&httpapi.Handler{}).Routes() {
				r.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
					if err := http.NewResponseController(w).SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
						http.Error(w, "no deadline: "+err.Error(), http.StatusInternalServerError)
						return
					}
					w.WriteHeader(http.StatusAccepted)
					_, _ = io.WriteString(w, r.Name)
				})
				routes = append(routes, r)
			}
			srv, err := startServer(util.TestLogger(t), reg, cfg, tracing, routes)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.stop()
			base := "http://" + srv.addr()
			for _, r := range routes {
				status, body := request(t, http.MethodPost, base+r.Path)
				if status != http.StatusAccepted || body != r.Name {
					t.Errorf("POST %s: %d %q, want 202 %q", r.Path, status, body, r.Name)
				}
			}
			if status, _ := request(t, http.MethodGet, base+"/v1/other"); status != http.StatusNotFound {
				t.Errorf("GET /v1/other: %d, want 404", status)
			}
			if got := histogramCount(t, reg, map[string]string{"method": "POST", "route": "v1_events", "status_code": "202"}); got != 1 {
				t.Errorf("request_duration_seconds for POST v1_events 202: count %d, want 1", got)
			}
			if !tracing {
				if status, _ := request(t, "PROPFIND", base+httpapi.PathEvents); status != http.StatusAccepted {
					t.Errorf("PROPFIND: %d", status)
				}
				// A client cannot mint series with made-up methods or paths.
				for _, c := range []struct {
					labels map[string]string
					want   uint64
				}{
					{map[string]string{"method": "other", "route": "v1_events", "status_code": "202"}, 1},
					{map[string]string{"method": "GET", "route": "notfound", "status_code": "404"}, 1},
					{map[string]string{"method": "POST", "route": "healthz", "status_code": "202"}, 1},
					{map[string]string{"method": "PROPFIND"}, 0},
				} {
					if got := histogramCount(t, reg, c.labels); got != c.want {
						t.Errorf("request_duration_seconds%v: count %d, want %d", c.labels, got, c.want)
					}
				}
			}
		})
	}
}

func request(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// histogramCount is the sample count of the request duration series whose
// labels include want.
func histogramCount(t *testing.T, g prometheus.Gatherer, want map[string]string) uint64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, mf := range mfs {
		if mf.GetName() != "loki_source_curated_api_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabels(m, want) {
				n += m.GetHistogram().GetSampleCount()
			}
		}
	}
	return n
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	found := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			found++
		}
	}
	return found == len(want)
}
