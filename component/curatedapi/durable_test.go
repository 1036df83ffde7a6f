package curatedapi

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"
	"github.com/prometheus/common/model"

	"github.com/grafana/alloy/internal/component"
	"github.com/grafana/alloy/syntax"

	"github.com/grafana/alloy/curated/internal/entry"
	"github.com/grafana/alloy/curated/internal/spool"
	"github.com/grafana/alloy/curated/internal/testutil"
)

func TestDurableArguments(t *testing.T) {
	var args Arguments
	if err := syntax.Unmarshal([]byte(`forward_to = []`), &args); err != nil {
		t.Fatal(err)
	}
	if d := args.Durable; !d.Enabled || d.ReplayWindow != DefaultReplayWindow || d.MaxSize != DefaultSpoolMaxSize || d.Path != "" {
		t.Errorf("durable defaults = %+v, want on, 30m, 1GiB, the data path", d)
	}
	if err := syntax.Unmarshal([]byte("forward_to = []\ndurable {\n\tpath = \"/mnt/efs/spool\"\n}"), &args); err != nil ||
		!args.Durable.Enabled || args.Durable.ReplayWindow != DefaultReplayWindow || args.Durable.Path != "/mnt/efs/spool" {
		t.Errorf("a partial durable block: %+v (%v), want the other defaults kept", args.Durable, err)
	}
	for cfg, want := range map[string]string{
		"durable {\n\treplay_window = \"2h\"\n}": "durable.replay_window must be between 1m0s and 1h0m0s",
		"durable {\n\tmax_size = \"64KiB\"\n}":   "durable.max_size must be at least",
	} {
		err := syntax.Unmarshal([]byte("forward_to = []\n"+cfg), &args)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", cfg, err, want)
		}
	}
	if err := syntax.Unmarshal([]byte("forward_to = []\ndurable {\n\tenabled = false\n\treplay_window = \"2h\"\n}"), &args); err != nil {
		t.Errorf("an off spool's settings are not checked: %v", err)
	}
}

// A spool left by an earlier process on the same path is replayed through
// forward_to when the component starts, and only once.
func TestDurableReplaysAnEarlierProcessSpool(t *testing.T) {
	path := t.TempDir()
	// The earlier process's spool of the same component (the test
	// controller's ID).
	earlier, err := spool.Open(spool.Options{Path: filepath.Join(path, Name+".test"), ReplayWindow: time.Hour, MaxSize: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	left := []entry.Entry{
		{Labels: model.LabelSet{"service": "collabmaker", "env": "test"}, Entry: push.Entry{Timestamp: time.Now().Add(-time.Minute).UTC(), Line: `{"event":"a"}`}},
		{Labels: model.LabelSet{"service": "collabmaker", "env": "test"}, Entry: push.Entry{Timestamp: time.Now().UTC(), Line: `{"event":"b"}`}},
	}
	if err := earlier.AppendEntries(left); err != nil {
		t.Fatal(err)
	}
	earlier.Close()

	recv := newCollector(t)
	port := testutil.FreePort(t)
	args := testArgs(t, port, recv.recv)
	args.Durable.Path = path
	_, c := runComponent(t, args)
	got := recv.wait(t, 2)
	for i, e := range got {
		if !e.Labels.Equal(left[i].Labels) || e.Line != left[i].Entry.Line || !e.Timestamp.Equal(left[i].Entry.Timestamp) {
			t.Errorf("replayed entry %d = %v %q %s, want %v", i, e.Labels, e.Line, e.Timestamp, left[i])
		}
	}
	// New events are spooled in the component's own directory and
	// forwarded once.
	if status, body := post(t, port, `{"event":"c","service":"collabmaker"}`); status != http.StatusAccepted {
		t.Fatalf("post: %d %s", status, body)
	}
	recv.wait(t, 3)
	if !strings.HasPrefix(c.currentSpool().Dir(), path) {
		t.Errorf("spool directory %s is not under durable.path %s", c.currentSpool().Dir(), path)
	}
}

func TestDurableFullSpoolAnswers503(t *testing.T) {
	recv := newCollector(t)
	port := testutil.FreePort(t)
	args := testArgs(t, port, recv.recv)
	args.Durable.MaxSize = minSpoolMaxSize
	_, c := runComponent(t, args)
	// 2 KiB lines: the 1 MiB spool holds a few hundred.
	body := `{"event":"x","service":"s","message":"` + strings.Repeat("m", 2000) + `"}`
	var status int
	var resp string
	accepted := 0
	for i := 0; i < 2000; i++ {
		if status, resp = post(t, port, body); status != http.StatusAccepted {
			break
		}
		accepted++
	}
	if status != http.StatusServiceUnavailable || !strings.Contains(resp, "durable spool is full (durable.max_size)") || !strings.Contains(resp, `"code":"not_forwarded"`) {
		t.Fatalf("after %d accepted: %d %s, want 503 naming durable.max_size", accepted, status, resp)
	}
	if accepted < 100 {
		t.Errorf("only %d events accepted before the 1 MiB spool was full", accepted)
	}
	recv.wait(t, accepted) // every acknowledged one was forwarded
	if h := c.CurrentHealth(); h.Health != component.HealthTypeHealthy {
		t.Errorf("health %v: a full spool is a refusal, not a fault", h)
	}
}

// A reload that moves the spool opens the new one and releases the old
// directory, which the next process on the old path adopts and replays.
func TestDurableUpdateMovesTheSpool(t *testing.T) {
	first, second := t.TempDir(), t.TempDir()
	recv := newCollector(t)
	port := testutil.FreePort(t)
	args := testArgs(t, port, recv.recv)
	args.Durable.Path = first
	ctrl, c := runComponent(t, args)
	if status, body := post(t, port, `{"event":"before","service":"s"}`); status != http.StatusAccepted {
		t.Fatalf("post: %d %s", status, body)
	}
	args.Durable.Path = second
	if err := ctrl.Update(args); err != nil {
		t.Fatal(err)
	}
	if dir := c.currentSpool().Dir(); !strings.HasPrefix(dir, second) {
		t.Fatalf("after the reload the spool is %s, want under %s", dir, second)
	}
	if status, body := post(t, port, `{"event":"after","service":"s"}`); status != http.StatusAccepted {
		t.Fatalf("post: %d %s", status, body)
	}
	recv.wait(t, 2)

	next, err := spool.Open(spool.Options{Path: filepath.Join(first, Name+".test"), ReplayWindow: time.Hour, MaxSize: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	var lines []string
	if _, err := next.ReplayEntries(t.Context(), func(_ model.LabelSet, e push.Entry) error {
		lines = append(lines, e.Line)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || !strings.Contains(lines[0], `"event":"before"`) {
		t.Errorf("the old path's spool replays %q, want the one event accepted before the reload", lines)
	}
	args.Durable.Enabled = false
	if err := ctrl.Update(args); err != nil {
		t.Fatal(err)
	}
	if c.currentSpool() != nil {
		t.Error("durable turned off, but a spool is still open")
	}
	if status, body := post(t, port, `{"event":"off","service":"s"}`); status != http.StatusAccepted {
		t.Fatalf("post without the spool: %d %s", status, body)
	}
	recv.wait(t, 3)
}
