package curatedredact

import (
	"strings"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"
	"github.com/prometheus/common/model"

	"github.com/grafana/alloy/internal/component/common/loki"
	"github.com/grafana/alloy/internal/util"
	"github.com/grafana/alloy/syntax"

	"github.com/grafana/alloy/curated/component/internal/alloytest"
)

// run starts the registered component from Alloy syntax, forwarding to a
// fresh receiver, and returns its input and that receiver.
func run(t *testing.T, config string) (in, out loki.LogsReceiver) {
	t.Helper()
	var args Arguments
	if err := syntax.Unmarshal([]byte(config), &args); err != nil {
		t.Fatal(err)
	}
	out = loki.NewLogsReceiver()
	args.ForwardTo = []loki.LogsReceiver{out}
	ctrl := alloytest.Run(t, Name, args, util.TestLogger(t))
	if err := ctrl.WaitExports(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	return ctrl.Exports().(Exports).Receiver, out
}

func roundTrip(t *testing.T, in, out loki.LogsReceiver, e loki.Entry) loki.Entry {
	t.Helper()
	select {
	case in.Chan() <- e:
	case <-time.After(5 * time.Second):
		t.Fatal("the component did not take the entry")
	}
	select {
	case got := <-out.Chan():
		return got
	case <-time.After(5 * time.Second):
		t.Fatal("the component forwarded nothing")
	}
	return loki.Entry{}
}

func TestRedactsLinesAndMetadataByDefault(t *testing.T) {
	in, out := run(t, `forward_to = []`)
	shared := push.LabelsAdapter{{Name: "user", Value: "kim@example.com"}, {Name: "task", Value: "abc"}}
	labels := model.LabelSet{"service": "collabmaker", "source": "container"}
	got := roundTrip(t, in, out, loki.Entry{Labels: labels, Entry: push.Entry{
		Timestamp:          time.Unix(100, 0),
		Line:               "ERROR payment for kim@example.com failed: Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
		StructuredMetadata: shared,
	}})
	if strings.Contains(got.Line, "kim@example.com") || strings.Contains(got.Line, "eyJhbGci") {
		t.Errorf("line leaks: %s", got.Line)
	}
	if !strings.HasPrefix(got.Line, "ERROR payment for [REDACTED:email] failed") {
		t.Errorf("line = %s", got.Line)
	}
	if got.StructuredMetadata[0].Value != "[REDACTED:email]" || got.StructuredMetadata[1].Value != "abc" {
		t.Errorf("metadata = %v", got.StructuredMetadata)
	}
	if shared[0].Value != "kim@example.com" {
		t.Error("the sender's metadata slice was changed in place")
	}
	if !got.Timestamp.Equal(time.Unix(100, 0)) || got.Labels["service"] != "collabmaker" {
		t.Errorf("timestamp or labels changed: %v %v", got.Timestamp, got.Labels)
	}
}

func TestCleanLinePassesUnchanged(t *testing.T) {
	in, out := run(t, `forward_to = []`)
	line := `{"level":"info","msg":"order 1042 synced","ms":87,"version":"1.4.2","at":"2026-12-04T10:00:00Z"}`
	if got := roundTrip(t, in, out, loki.Entry{Entry: push.Entry{Line: line}}); got.Line != line {
		t.Errorf("got %s", got.Line)
	}
}

func TestConfiguredDetectorsAndPatterns(t *testing.T) {
	in, out := run(t, `
		forward_to = []
		builtins   = ["email"]
		patterns   = {order = "ORD-[0-9]+"}
	`)
	got := roundTrip(t, in, out, loki.Entry{Entry: push.Entry{Line: "a@b.example 10.1.2.3 ORD-77"}})
	if want := "[REDACTED:email] 10.1.2.3 [REDACTED:order]"; got.Line != want {
		t.Errorf("got %q, want %q", got.Line, want)
	}
}

func TestInvalidArgumentsNameTheField(t *testing.T) {
	for config, want := range map[string]string{
		`forward_to = []
		 builtins = ["emial"]`: `builtins: unknown builtin "emial"`,
		`forward_to = []
		 patterns = {x = "("}`: "patterns: redact: pattern \"x\"",
	} {
		var args Arguments
		err := syntax.Unmarshal([]byte(config), &args)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want it to contain %q", config, err, want)
		}
	}
}
