package curatedapi

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alecthomas/units"
	"github.com/prometheus/common/model"

	"github.com/grafana/alloy/internal/component"
	"github.com/grafana/alloy/internal/component/common/loki"
	"github.com/grafana/alloy/internal/runtime/componenttest"
	"github.com/grafana/alloy/internal/util"
	"github.com/grafana/alloy/syntax"

	"github.com/grafana/alloy/curated/component/internal/alloytest"
	"github.com/grafana/alloy/curated/internal/entry"
	"github.com/grafana/alloy/curated/internal/testutil"
)

func TestArgumentsDefaults(t *testing.T) {
	var args Arguments
	if err := syntax.Unmarshal([]byte(`forward_to = []`), &args); err != nil {
		t.Fatal(err)
	}
	if args.MaxRequestBytes != units.MiB || args.MaxEventsPerRequest != 500 || args.MaxEventBytes != 32*units.KiB ||
		args.MaxAttributes != 64 || args.ForwardTimeout != 5*time.Second || args.MaxPast != time.Hour ||
		args.MaxFuture != 5*time.Second || args.GracefulShutdownTimeout != 30*time.Second {
		t.Errorf("defaults = %+v", args)
	}
	if args.HTTP == nil || args.HTTP.ListenPort != 8080 || args.HTTP.ServerReadTimeout != 30*time.Second {
		t.Errorf("http defaults = %+v", args.HTTP)
	}
}

func TestArgumentsFromConfig(t *testing.T) {
	cfg := `
		http {
			listen_address = "127.0.0.1"
			listen_port    = 9999
		}
		labels                 = {env = "prod", team = "growth"}
		max_request_bytes      = "2MiB"
		max_events_per_request = 100
		max_event_bytes        = "8KiB"
		max_attributes         = 10
		forward_timeout        = "2s"
		max_past               = "30m"
		max_future             = "1m"
		forward_to             = []
	`
	var args Arguments
	if err := syntax.Unmarshal([]byte(cfg), &args); err != nil {
		t.Fatal(err)
	}
	if args.HTTP.ListenAddress != "127.0.0.1" || args.HTTP.ListenPort != 9999 {
		t.Errorf("http = %+v", args.HTTP)
	}
	// A partial http block keeps Alloy's default server timeouts.
	if args.HTTP.ServerReadTimeout != 30*time.Second || args.HTTP.ServerIdleTimeout != 120*time.Second {
		t.Errorf("partial http block lost its default timeouts: %+v", args.HTTP)
	}
	if args.MaxRequestBytes != 2*units.MiB || args.MaxEventsPerRequest != 100 || args.MaxEventBytes != 8*units.KiB ||
		args.MaxAttributes != 10 || args.ForwardTimeout != 2*time.Second || args.MaxPast != 30*time.Minute || args.MaxFuture != time.Minute {
		t.Errorf("args = %+v", args)
	}
	hc, err := args.handlerConfig(entry.NewLabelTracker())
	if err != nil {
		t.Fatal(err)
	}
	if hc.MaxRequestBytes != 2<<20 || hc.Limits.MaxEventBytes != 8<<10 || hc.Limits.MaxEventsPerRequest != 100 || hc.Limits.MaxAttributes != 10 {
		t.Errorf("handler config = %+v", hc)
	}
}

func TestArgumentsInvalid(t *testing.T) {
	tests := []struct {
		cfg  string
		want string
	}{
		{`max_events_per_request = 0`, "max_events_per_request must be greater than 0"},
		{`max_attributes = -1`, "max_attributes must be greater than 0"},
		{`max_request_bytes = "0B"`, "max_request_bytes must be greater than 0"},
		{`max_event_bytes = "2MiB"`, "max_event_bytes (2MiB) must not exceed max_request_bytes (1MiB)"},
		{`forward_timeout = "0s"`, "forward_timeout must be greater than 0"},
		{`max_past = "-1m"`, "max_past must not be negative"},
		{`max_future = "-1m"`, "max_future must not be negative"},
		{`labels = {"bad-name" = "x"}`, `"bad-name" is not a valid Loki label name`},
		{`labels = {__tenant_id__ = "x"}`, "reserved"},
		{`labels = {level = "x"}`, "set from each event's level"},
		{`labels = {env = ""}`, "non-empty"},
		{`http { listen_port = 70000 }`, "http.listen_port must be between 0 and 65535"},
		{`max_request_bytes = "lots"`, "lots"},
	}
	for _, tt := range tests {
		t.Run(tt.cfg, func(t *testing.T) {
			var args Arguments
			err := syntax.Unmarshal([]byte("forward_to = []\n"+tt.cfg), &args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	var args Arguments
	if err := syntax.Unmarshal([]byte(`labels = {}`), &args); err == nil || !strings.Contains(err.Error(), "forward_to") {
		t.Errorf("missing forward_to: error = %v", err)
	}
}

// collector drains a real loki.LogsReceiver channel, as loki.write would.
type collector struct {
	recv loki.LogsReceiver
	mu   sync.Mutex
	got  []loki.Entry
}

func newCollector(t *testing.T) *collector {
	c := &collector{recv: loki.NewLogsReceiver()}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case e := <-c.recv.Chan():
				c.mu.Lock()
				c.got = append(c.got, e)
				c.mu.Unlock()
			}
		}
	}()
	return c
}

func (c *collector) wait(t *testing.T, n int) []loki.Entry {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		got := append([]loki.Entry(nil), c.got...)
		c.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) != n {
				t.Fatalf("receiver got %d entries, want %d", len(got), n)
			}
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testArgs(t *testing.T, port int, receivers ...loki.LogsReceiver) Arguments {
	var args Arguments
	args.SetToDefault()
	args.HTTP.ListenAddress = "127.0.0.1"
	args.HTTP.ListenPort = port
	args.ForwardTo = receivers
	args.Labels = map[string]string{"env": "test"}
	args.ForwardTimeout = 200 * time.Millisecond
	args.GracefulShutdownTimeout = time.Second
	args.SelfReportInterval = 0 // the tests count entries; TestSelfReport turns it on
	return args
}

func post(t *testing.T, port int, body string) (int, string) {
	t.Helper()
	resp, err := http.Post("http://127.0.0.1:"+strconv.Itoa(port)+"/v1/events", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// runComponent runs the registered component through Alloy's component
// test controller and returns it once it is running.
func runComponent(t *testing.T, args Arguments) (*componenttest.Controller, *Component) {
	t.Helper()
	return runComponentWithLogger(t, args, util.TestLogger(t))
}

func runComponentWithLogger(t *testing.T, args Arguments, logger *slog.Logger) (*componenttest.Controller, *Component) {
	t.Helper()
	ctrl := alloytest.Run(t, Name, args, logger)
	c, err := ctrl.GetComponent()
	if err != nil {
		t.Fatal(err)
	}
	return ctrl, c.(*Component)
}

func TestForwardsToEveryReceiver(t *testing.T) {
	a, b := newCollector(t), newCollector(t)
	port := testutil.FreePort(t)
	_, _ = runComponent(t, testArgs(t, port, a.recv, b.recv))

	status, body := post(t, port, `[{"event":"form.submit","service":"collabmaker","level":"warning","session_id":"s1"},{"event":"x y"}]`)
	if status != http.StatusAccepted || !strings.Contains(body, `"accepted":1,"rejected":1`) {
		t.Fatalf("got %d %s", status, body)
	}
	for _, c := range []*collector{a, b} {
		e := c.wait(t, 1)[0]
		if want := (model.LabelSet{"env": "test", "service": "collabmaker", "level": "warn"}); !e.Labels.Equal(want) {
			t.Errorf("labels = %v, want %v", e.Labels, want)
		}
		if e.Line != `{"event":"form.submit"}` {
			t.Errorf("line = %s", e.Line)
		}
		if len(e.StructuredMetadata) != 1 || e.StructuredMetadata[0].Name != "session_id" || e.StructuredMetadata[0].Value != "s1" {
			t.Errorf("structured metadata = %v", e.StructuredMetadata)
		}
	}
}

// The component reports itself through its own forward_to, with the
// counts since the last report, once per self_report_interval; Update can
// turn it on.
func TestSelfReport(t *testing.T) {
	a := newCollector(t)
	port := testutil.FreePort(t)
	args := testArgs(t, port, a.recv)
	ctrl, _ := runComponent(t, args)
	if status, body := post(t, port, `{"event":"bad name!"}`); status != http.StatusBadRequest {
		t.Fatalf("got %d %s", status, body)
	}
	args.SelfReportInterval = time.Second
	if err := ctrl.Update(args); err != nil {
		t.Fatal(err)
	}
	// Update re-arms the timer at once: the first report within seconds.
	deadline := time.Now().Add(10 * time.Second)
	for {
		a.mu.Lock()
		got := append([]loki.Entry(nil), a.got...)
		a.mu.Unlock()
		if len(got) >= 2 {
			report, refused := got[0], got[1]
			if want := (model.LabelSet{"env": "test", "service": "alloy-curated", "level": "warn"}); !report.Labels.Equal(want) {
				t.Errorf("report labels = %v, want %v", report.Labels, want)
			}
			if !strings.HasPrefix(report.Line, `{"event":"curated.pipeline","attributes":{`) || !strings.Contains(report.Line, `"refused_400":1`) {
				t.Errorf("report line = %s", report.Line)
			}
			if !strings.Contains(refused.Line, `"client":"anonymous","count":1`) || !strings.Contains(refused.Line, `"status":400`) {
				t.Errorf("refused line = %s", refused.Line)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no self-report within 10 s of turning it on: %v", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestUpdateAppliesWithoutRestartingServer(t *testing.T) {
	a, b := newCollector(t), newCollector(t)
	port := testutil.FreePort(t)
	args := testArgs(t, port, a.recv)
	ctrl, c := runComponent(t, args)
	c.mut.Lock()
	server := c.server
	c.mut.Unlock()

	args.Labels = map[string]string{"env": "staging"}
	args.ForwardTo = []loki.LogsReceiver{b.recv}
	args.MaxEventsPerRequest = 1
	if err := ctrl.Update(args); err != nil {
		t.Fatal(err)
	}
	c.mut.Lock()
	restarted := c.server != server
	c.mut.Unlock()
	if restarted {
		t.Error("server restarted although listen settings did not change")
	}
	if status, body := post(t, port, `[{"event":"a"},{"event":"b"}]`); status != http.StatusRequestEntityTooLarge {
		t.Errorf("new max_events_per_request not applied: %d %s", status, body)
	}
	if status, _ := post(t, port, `{"event":"a"}`); status != http.StatusAccepted {
		t.Fatalf("status = %d", status)
	}
	if e := b.wait(t, 1)[0]; e.Labels["env"] != "staging" {
		t.Errorf("labels = %v, want env=staging", e.Labels)
	}
	a.wait(t, 0)
}

func TestUpdateRestartsServerOnListenChange(t *testing.T) {
	a := newCollector(t)
	oldPort, newPort := testutil.FreePort(t), testutil.FreePort(t)
	args := testArgs(t, oldPort, a.recv)
	ctrl, c := runComponent(t, args)
	args.HTTP.ListenPort = newPort
	if err := ctrl.Update(args); err != nil {
		t.Fatal(err)
	}
	if got := c.HTTPAddr(); got != "127.0.0.1:"+strconv.Itoa(newPort) {
		t.Errorf("listening on %s, want port %d", got, newPort)
	}
	if status, _ := post(t, newPort, `{"event":"a"}`); status != http.StatusAccepted {
		t.Errorf("new port: status %d", status)
	}
	if _, err := http.Get("http://127.0.0.1:" + strconv.Itoa(oldPort) + "/healthz"); err == nil {
		t.Error("old port still serving")
	}
	a.wait(t, 1)
}

// TestHealthShowsAServerThatCannotStart: an update to a port that is taken
// leaves the component unhealthy, with the reason, until an update works.
func TestHealthShowsAServerThatCannotStart(t *testing.T) {
	a := newCollector(t)
	port := testutil.FreePort(t)
	args := testArgs(t, port, a.recv)
	ctrl, c := runComponent(t, args)
	if h := c.CurrentHealth(); h.Health != component.HealthTypeHealthy || !strings.Contains(h.Message, strconv.Itoa(port)) {
		t.Errorf("running: %+v", h)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	args.HTTP.ListenPort = taken.Addr().(*net.TCPAddr).Port
	if err := ctrl.Update(args); err == nil {
		t.Fatal("update to a taken port succeeded")
	}
	if h := c.CurrentHealth(); h.Health != component.HealthTypeUnhealthy || !strings.Contains(h.Message, "address already in use") {
		t.Errorf("after a failed start: %+v", h)
	}
	args.HTTP.ListenPort = port
	if err := ctrl.Update(args); err != nil {
		t.Fatal(err)
	}
	if h := c.CurrentHealth(); h.Health != component.HealthTypeHealthy {
		t.Errorf("after a good update: %+v", h)
	}
}

func TestStalledDownstreamAnswers503(t *testing.T) {
	stalled := loki.NewLogsReceiver() // nobody reads it
	port := testutil.FreePort(t)
	_, _ = runComponent(t, testArgs(t, port, stalled))
	status, body := post(t, port, `{"event":"a"}`)
	if status != http.StatusServiceUnavailable || !strings.Contains(body, `"code":"not_forwarded"`) {
		t.Errorf("got %d %s", status, body)
	}
}

func TestRunStopsServer(t *testing.T) {
	port := testutil.FreePort(t)
	ctrl, err := componenttest.NewControllerFromID(util.TestLogger(t), Name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- ctrl.Run(ctx, testArgs(t, port, newCollector(t).recv)) }()
	if err := ctrl.WaitRunning(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/healthz"); err == nil {
		t.Error("server still answering after Run returned")
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
