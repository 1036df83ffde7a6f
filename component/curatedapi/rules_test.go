package curatedapi

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/grafana/alloy/syntax"

	"github.com/grafana/alloy/curated/internal/entry"
	"github.com/grafana/alloy/curated/internal/event"
	"github.com/grafana/alloy/curated/internal/pii"
	"github.com/grafana/alloy/curated/internal/rules"
	"github.com/grafana/alloy/curated/internal/testutil"
)

const rulesConfigText = `
	forward_to = []

	schema {
		allowed_events    = ["form.*", "shopify.*", "places.*"]
		max_string_length = 2048

		event {
			pattern  = "form.*"
			required = ["step"]
			types    = {step = "number"}
		}
	}

	drop "bots" {
		attribute = "user_agent"
		value     = "(?i)bot"
	}

	sample "steps" {
		events = ["form.step"]
		rate   = 0.5
	}

	attributes {
		rename = {"e-mail" = "contact"}
		set    = {app = "collabmaker"}
		remove = ["debug"]
	}

	redact {
		keys        = ["national_id"]
		key_action  = "remove"
		patterns    = {partner_ref = "PR-[0-9]{6}"}
		hash_fields = ["user_id"]
		hash_secret = "pepper"
	}

	truncate {
		max_length = 512
	}

	promote_labels {
		fields = ["event", "attributes.step"]
	}
	structured_metadata = ["attributes.order_id"]
	line_format         = "logfmt"
	timestamp_policy    = "clamp"
`

func TestRuleArguments(t *testing.T) {
	var args Arguments
	if err := syntax.Unmarshal([]byte(rulesConfigText), &args); err != nil {
		t.Fatal(err)
	}
	if len(args.Schema.Events) != 1 || args.Schema.Events[0].Pattern != "form.*" || len(args.Drops) != 1 || args.Drops[0].Name != "bots" ||
		args.Samples[0].Rate != 0.5 || args.Attributes.Set["app"] != "collabmaker" || args.Redact.KeyAction != "remove" ||
		string(args.Redact.HashSecret) != "pepper" || args.Truncate.Marker != DefaultTruncateMarker ||
		args.PromoteLabels.MaxValueLength != DefaultLabelValueLength || args.PromoteLabels.MaxDistinctValues != DefaultMaxDistinctValues {
		t.Fatalf("args = %+v", args)
	}
	// A redact block keeps the defaults it does not override.
	if len(args.Redact.Builtins) != len(pii.Kinds()) || !args.Redact.SecretKeys {
		t.Errorf("redact defaults lost: %+v", args.Redact)
	}
	if _, err := args.handlerConfig(entry.NewLabelTracker()); err != nil {
		t.Fatal(err)
	}
}

func TestDefaultRulesRedact(t *testing.T) {
	var args Arguments
	if err := syntax.Unmarshal([]byte(`forward_to = []`), &args); err != nil {
		t.Fatal(err)
	}
	if len(args.Redact.Builtins) != len(pii.Kinds()) || !args.Redact.SecretKeys || args.LineFormat != "json" || args.TimestampPolicy != "accept" {
		t.Errorf("defaults = %+v", args)
	}
	// The defaults are the core's (which the leak fuzz tests cover) and, as
	// the component compiles them, redact personal data and secrets.
	cfg, err := args.rulesConfig()
	if err != nil {
		t.Fatal(err)
	}
	if d := rules.DefaultRedact(); !reflect.DeepEqual(cfg.Redact, d) {
		t.Errorf("default redaction %+v; the core's default is %+v", cfg.Redact, d)
	}
	p, err := rules.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ev := event.Event{
		Name:    "form.submit",
		Message: "contact jane.doe@example.com",
		Attributes: []event.Attribute{
			{Key: "card", Value: "4111 1111 1111 1111"},
			{Key: "password", Value: "hunter22"},
		},
	}
	res := p.Apply(&ev, false)
	if strings.Contains(ev.Message, "jane.doe") || !strings.Contains(ev.Message, "[REDACTED:email]") {
		t.Errorf("message after the default rules: %q", ev.Message)
	}
	for _, a := range ev.Attributes {
		if v, _ := a.Value.(string); strings.Contains(v, "4111") || strings.Contains(v, "hunter22") {
			t.Errorf("attribute %s after the default rules: %v", a.Key, a.Value)
		}
	}
	if len(res.Redactions) < 3 {
		t.Errorf("redactions %v; want the email, the card and the password", res.Redactions)
	}
}

func TestRuleArgumentsInvalid(t *testing.T) {
	for _, tt := range []struct {
		cfg  string
		want string
	}{
		{`redact {
			builtins = ["email", "ssn"]
		}`, `unknown builtin "ssn"`},
		{`redact {
			hash_fields = ["user_id"]
		}`, "secret must be set"},
		{`sample "s" {
			rate = 2
		}`, "between 0 and 1"},
		{`drop "d" { }`, "needs at least one"},
		{`schema {
			event {
				pattern = "a"
				types   = {x = "int"}
			}
		}`, "must be string, number"},
		{`promote_labels {
			fields = ["message"]
		}`, "must be event"},
		{`promote_labels {
			fields = ["attributes.env"]
		}
		labels = {env = "prod"}`, "which labels already sets"},
		{`line_format = "xml"`, "line_format"},
		{`timestamp_policy = "trust"`, "timestamp_policy"},
	} {
		var args Arguments
		err := syntax.Unmarshal([]byte("forward_to = []\n"+tt.cfg), &args)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("config %s: error %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

func TestUpdateSwapsRules(t *testing.T) {
	c := newCollector(t)
	port := testutil.FreePort(t)
	args := testArgs(t, port, c.recv)
	ctrl, _ := runComponent(t, args)
	if status, _ := post(t, port, `{"event":"page.view","message":"from jane@example.com"}`); status != http.StatusAccepted {
		t.Fatal(status)
	}
	if e := c.wait(t, 1)[0]; e.Line != `{"event":"page.view","message":"from [REDACTED:email]"}` {
		t.Errorf("default redaction: %s", e.Line)
	}
	args.Drops = []DropArguments{{Name: "views", Events: []string{"page.*"}}}
	if err := ctrl.Update(args); err != nil {
		t.Fatal(err)
	}
	if status, body := post(t, port, `{"event":"page.view"}`); status != http.StatusAccepted || !strings.Contains(body, `"dropped":1`) {
		t.Errorf("after update: %d %s", status, body)
	}
	c.wait(t, 1)
}
