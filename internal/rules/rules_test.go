package rules

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/grafana/alloy/curated/internal/event"
)

func decodeOne(t testing.TB, body string) event.Event {
	t.Helper()
	items, err := event.Decode(event.FormatJSON, []byte(body), event.Limits{})
	if err != nil || len(items) != 1 || !items[0].OK() {
		t.Fatalf("decode %s: %v %+v", body, err, items)
	}
	return items[0].Event
}

func mustCompile(t testing.TB, cfg Config) *Pipeline {
	t.Helper()
	p, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func attrsJSON(ev event.Event) string {
	m := map[string]any{}
	for _, a := range ev.Attributes {
		m[a.Key] = a.Value
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestSchema(t *testing.T) {
	p := mustCompile(t, Config{Schema: &SchemaConfig{
		AllowedEvents:   []string{"form.*", "shopify.sync"},
		MaxAttributes:   3,
		MaxStringLength: 10,
		Events: []EventSchema{{Pattern: "form.*", Required: []string{"step"},
			Types: map[string]string{"step": "number", "valid": "bool"}}},
	}})
	tests := []struct {
		body   string
		fields []string
	}{
		{`{"event":"form.step","attributes":{"step":2,"valid":true}}`, nil},
		{`{"event":"shopify.sync"}`, nil},
		{`{"event":"page.view"}`, []string{"event"}},
		{`{"event":"form.step"}`, []string{"attributes.step"}},
		{`{"event":"form.step","attributes":{"step":"two","valid":1}}`, []string{"attributes.step", "attributes.valid"}},
		{`{"event":"form.step","attributes":{"step":1,"a":1,"b":2,"c":3}}`, []string{"attributes"}},
		{`{"event":"form.step","message":"much too long","attributes":{"step":1}}`, []string{"message"}},
		{`{"event":"form.step","attributes":{"step":1,"n":{"deep":"also too long"}}}`, []string{"attributes.n.deep"}},
	}
	for _, tt := range tests {
		ev := decodeOne(t, tt.body)
		res := p.Apply(&ev, true)
		var fields []string
		for _, e := range res.Errors {
			fields = append(fields, e.Field)
		}
		if !slices.Equal(fields, tt.fields) || (len(tt.fields) > 0) != (res.Outcome == Reject) {
			t.Errorf("%s: outcome %v errors %+v, want fields %v", tt.body, res.Outcome, res.Errors, tt.fields)
		}
	}
}

func TestDrop(t *testing.T) {
	p := mustCompile(t, Config{Drops: []DropConfig{
		{Name: "debug_noise", Events: []string{"page.*"}, Levels: []string{"debug"}},
		{Name: "bots", Attribute: "user_agent", Value: "(?i)bot|crawler"},
		{Name: "health", Events: []string{"healthcheck"}},
	}})
	for body, want := range map[string]string{
		`{"event":"page.view","level":"debug"}`:                         "debug_noise",
		`{"event":"page.view","level":"info"}`:                          "",
		`{"event":"form.step","level":"debug"}`:                         "",
		`{"event":"form.step","attributes":{"user_agent":"GoogleBot"}}`: "bots",
		`{"event":"form.step","attributes":{"user_agent":"Firefox"}}`:   "",
		`{"event":"form.step","attributes":{"other":"bot"}}`:            "",
		`{"event":"healthcheck"}`:                                       "health",
	} {
		ev := decodeOne(t, body)
		res := p.Apply(&ev, false)
		if (want == "") != (res.Outcome == Keep) || res.Rule != want {
			t.Errorf("%s: outcome %v rule %q, want %q", body, res.Outcome, res.Rule, want)
		}
	}
}

func TestSampleIsDeterministicPerSession(t *testing.T) {
	p := mustCompile(t, Config{Samples: []SampleConfig{{Name: "views", Events: []string{"page.*"}, Rate: 0.25}}})
	kept := 0
	const sessions = 4000
	for i := 0; i < sessions; i++ {
		var first Outcome
		for j := 0; j < 3; j++ { // every event of a session gets the same decision
			ev := decodeOne(t, fmt.Sprintf(`{"event":"page.view","session_id":"s-%d","attributes":{"n":%d}}`, i, j))
			res := p.Apply(&ev, false)
			if j == 0 {
				first = res.Outcome
			} else if res.Outcome != first {
				t.Fatalf("session s-%d split: %v then %v", i, first, res.Outcome)
			}
		}
		if first == Keep {
			kept++
		}
	}
	if share := float64(kept) / sessions; share < 0.22 || share > 0.28 {
		t.Errorf("kept %.3f of sessions, want about 0.25", share)
	}
	ev := decodeOne(t, `{"event":"form.step","session_id":"s-1"}`)
	if res := p.Apply(&ev, false); res.Outcome != Keep {
		t.Error("sampling applied to an event it does not match")
	}
	all := mustCompile(t, Config{Samples: []SampleConfig{{Name: "all", Rate: 1}, {Name: "none", Rate: 0}}})
	ev = decodeOne(t, `{"event":"x"}`)
	if res := all.Apply(&ev, true); res.Outcome != Keep || !slices.Equal(res.Fired, []string{"sample:all:kept"}) {
		t.Errorf("rate 1: %+v (only the first matching sample rule applies)", res)
	}
}

func TestAttributesAndOrder(t *testing.T) {
	p := mustCompile(t, Config{
		Attributes: AttributesConfig{
			Rename: map[string]string{"e-mail": "contact", "pw": "password"},
			Set:    map[string]string{"app": "collabmaker", "step": "overridden"},
			Remove: []string{"debug"},
		},
		Hash:     HashConfig{Fields: []string{"user_id", "attributes.partner"}, Secret: "s3cret"},
		Redact:   DefaultRedact(),
		Truncate: TruncateConfig{MaxLength: 12, Marker: "…"},
	})
	ev := decodeOne(t, `{"event":"form.step","message":"call me at +82 10-1234-5678 please","user_id":"jane@example.com",
		"attributes":{"e-mail":"jane@example.com","pw":"hunter2","debug":{"x":1},"step":2,"partner":"p-1029",
		"note":"a long note that will be cut"}}`)
	res := p.Apply(&ev, true)
	if res.Outcome != Keep {
		t.Fatalf("outcome %v", res.Outcome)
	}
	// Rename runs before redaction: "pw" became "password", whose value is masked.
	wantAttrs := `{"app":"collabmaker","contact":"[REDACTED:em…","note":"a long note …","partner":"hmac:665dddc…","password":"[REDACTED]","step":"overridden"}`
	if got := attrsJSON(ev); got != wantAttrs {
		t.Errorf("attributes:\n got %s\nwant %s", got, wantAttrs)
	}
	if !strings.HasPrefix(ev.UserID, "hmac:") || len(ev.UserID) != 5+32 {
		t.Errorf("user_id = %q, want an HMAC pseudonym", ev.UserID)
	}
	if ev.Message != "call me at […" {
		t.Errorf("message = %q", ev.Message)
	}
	wantFired := []string{"rename:e-mail", "rename:pw", "set:app", "set:step", "remove:debug", "hash:user_id",
		"hash:attributes.partner", "redact:phone:message", "redact:email:attributes.contact", "redact:key:attributes.password",
		"truncate:message", "truncate:attributes.contact", "truncate:attributes.note", "truncate:attributes.partner"}
	if !slices.Equal(res.Fired, wantFired) {
		t.Errorf("fired:\n got %v\nwant %v", res.Fired, wantFired)
	}
	if !slices.Equal(res.Redactions, []string{"hash", "hash", "phone", "email", "key"}) {
		t.Errorf("redactions = %v", res.Redactions)
	}
}

func TestHashIsStableAndKeyed(t *testing.T) {
	a := mustCompile(t, Config{Hash: HashConfig{Fields: []string{"user_id"}, Secret: "one"}})
	b := mustCompile(t, Config{Hash: HashConfig{Fields: []string{"user_id"}, Secret: "two"}})
	pseudonym := func(p *Pipeline) string {
		ev := decodeOne(t, `{"event":"x","user_id":"partner-42"}`)
		p.Apply(&ev, false)
		return ev.UserID
	}
	if pseudonym(a) != pseudonym(a) || pseudonym(a) == pseudonym(b) || strings.Contains(pseudonym(a), "partner-42") {
		t.Errorf("pseudonyms: %s %s", pseudonym(a), pseudonym(b))
	}
}

func TestRedactKeysAndValues(t *testing.T) {
	remove := DefaultRedact()
	remove.KeyAction = KeyActionRemove
	remove.Keys = []string{"National ID"}
	remove.Patterns = map[string]string{"partner_ref": `PR-[0-9]{6}`}
	p := mustCompile(t, Config{Redact: remove})
	ev := decodeOne(t, `{"event":"x","message":"ref PR-123456 from 203.0.113.9","session_id":"s 4111 1111 1111 1111",
		"attributes":{"Authorization":"Bearer abc","national_id":"123","card":4111111111111111,"amount":125000,
		"nested":{"apiKey":"k","jane@example.com":"key is an email","list":["x@y.io",5500000000000004]},"shipping":"pin ok"}}`)
	p.Apply(&ev, false)
	if ev.Message != "ref [REDACTED:partner_ref] from [REDACTED:ipv4]" {
		t.Errorf("message = %q", ev.Message)
	}
	if ev.SessionID != "s [REDACTED:card]" {
		t.Errorf("session_id = %q", ev.SessionID)
	}
	want := `{"amount":125000,"card":"[REDACTED:card]","nested":{"[REDACTED:email]":"key is an email","list":["[REDACTED:email]","[REDACTED:card]"]},"shipping":"pin ok"}`
	if got := attrsJSON(ev); got != want {
		t.Errorf("attributes:\n got %s\nwant %s", got, want)
	}
}

func TestRedactionOff(t *testing.T) {
	p := mustCompile(t, Config{})
	ev := decodeOne(t, `{"event":"x","message":"a@b.io","attributes":{"password":"p"}}`)
	if res := p.Apply(&ev, false); ev.Message != "a@b.io" || len(res.Redactions) != 0 || attrsJSON(ev) != `{"password":"p"}` {
		t.Errorf("redaction ran although disabled: %+v %s", res, attrsJSON(ev))
	}
}

func TestCompileErrors(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{Schema: &SchemaConfig{AllowedEvents: []string{"[x"}}}, "bad pattern"},
		{Config{Schema: &SchemaConfig{Events: []EventSchema{{Pattern: "a", Types: map[string]string{"k": "int"}}}}}, "must be string, number"},
		{Config{Drops: []DropConfig{{Name: "d"}}}, "needs at least one"},
		{Config{Drops: []DropConfig{{Name: "d", Levels: []string{"loud"}}}}, "unknown level"},
		{Config{Drops: []DropConfig{{Name: "d", Attribute: "a", Value: "("}}}, "value"},
		{Config{Drops: []DropConfig{{Name: "d", Events: []string{"a"}, Value: "x"}}}, "value needs attribute"},
		{Config{Samples: []SampleConfig{{Name: "s", Rate: 1.5}}}, "between 0 and 1"},
		{Config{Hash: HashConfig{Fields: []string{"user_id"}}}, "secret must be set"},
		{Config{Hash: HashConfig{Fields: []string{"message"}, Secret: "s"}}, "must be session_id, user_id, anonymous_id or attributes.KEY"},
		{Config{Redact: RedactConfig{KeyAction: "shred"}}, "key_action"},
		{Config{Redact: RedactConfig{Patterns: map[string]string{"p": "("}}}, "pattern"},
	} {
		if _, err := Compile(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Compile(%+v) = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

// everyKind configures every kind of rule.
func everyKind() Config {
	return Config{
		Schema:     &SchemaConfig{MaxAttributes: 10},
		Drops:      []DropConfig{{Name: "d", Events: []string{"never"}}},
		Samples:    []SampleConfig{{Name: "s", Rate: 1}},
		Attributes: AttributesConfig{Set: map[string]string{"k": "v"}},
		Hash:       HashConfig{Fields: []string{"user_id"}, Secret: "s"},
		Redact:     DefaultRedact(),
		Truncate:   TruncateConfig{MaxLength: 100, Marker: "…"},
	}
}

// TestEveryKindIsApplied compiles a configuration with every kind of rule
// and runs it: a kind missing from apply's switch panics.
func TestEveryKindIsApplied(t *testing.T) {
	p := mustCompile(t, everyKind())
	if len(p.steps) != len(kinds) {
		t.Fatalf("%d steps for %d kinds: configure every kind here", len(p.steps), len(kinds))
	}
	ev := decodeOne(t, `{"event":"x","user_id":"u"}`)
	if res := p.Apply(&ev, true); res.Outcome != Keep || len(res.Fired) == 0 {
		t.Errorf("result %+v", res)
	}
}

// Secrets in URL query parameters are found by name in every text field:
// the built-in names (key, sig, signature, *_token, ...) and those the
// configuration adds; everyday parameters stay.
func TestRedactQueryParams(t *testing.T) {
	cfg := DefaultRedact()
	cfg.QueryParams = []string{"partner_ref"}
	p := mustCompile(t, Config{Redact: cfg})
	ev := decodeOne(t, `{"event":"x","message":"GET https://places.example.com/v1?q=seoul&key=K123SECRET&page=2",
		"attributes":{"url":"/cb?partner_ref=PR9SECRET&lang=ko","err":"https://cdn/a.jpg?Signature=S1SECRET&monkey=1"}}`)
	p.Apply(&ev, false)
	if ev.Message != "GET https://places.example.com/v1?q=seoul&key=[REDACTED:credential]&page=2" {
		t.Errorf("message = %q", ev.Message)
	}
	want := `{"err":"https://cdn/a.jpg?Signature=[REDACTED:credential]\u0026monkey=1","url":"/cb?partner_ref=[REDACTED:credential]\u0026lang=ko"}`
	if got := attrsJSON(ev); got != want {
		t.Errorf("attributes:\n got %s\nwant %s", got, want)
	}
	// Without the configured name, its value stays.
	p = mustCompile(t, Config{Redact: DefaultRedact()})
	ev = decodeOne(t, `{"event":"x","message":"/cb?partner_ref=PR9&lang=ko"}`)
	if p.Apply(&ev, false); ev.Message != "/cb?partner_ref=PR9&lang=ko" {
		t.Errorf("message = %q", ev.Message)
	}
}

// A compact number in a field named for a phone number or a resident
// registration number is one, as it would be after such a word in text;
// the same digits under another name stay.
func TestRedactCompactNumbersByFieldName(t *testing.T) {
	p := mustCompile(t, Config{Redact: DefaultRedact()})
	ev := decodeOne(t, `{"event":"x","attributes":{"phone":"01012345678","주민등록번호":"9001011234568","rrn":"9001011234568",
		"contact":{"mobile":"01098765432"},"phones":["01155501234"],"order_id":"01012345678","ref":"9001011234568","created":"1723102966946"}}`)
	p.Apply(&ev, false)
	want := `{"contact":{"mobile":"[REDACTED:phone]"},"created":"1723102966946","order_id":"01012345678","phone":"[REDACTED:phone]",` +
		`"phones":["[REDACTED:phone]"],"ref":"9001011234568","rrn":"[REDACTED]","주민등록번호":"[REDACTED:national_id]"}`
	if got := attrsJSON(ev); got != want {
		t.Errorf("attributes:\n got %s\nwant %s", got, want)
	}
}

// TestEveryConfigFieldIsAKind: each field of Config, set alone, compiles to
// exactly one step. A new kind's field left out of everyKind, or its
// compiler left out of kinds (written but never run), fails here.
func TestEveryConfigFieldIsAKind(t *testing.T) {
	all := reflect.ValueOf(everyKind())
	typ := all.Type()
	if typ.NumField() != len(kinds) {
		t.Errorf("Config has %d fields and kinds %d entries: one kind per field", typ.NumField(), len(kinds))
	}
	for i := range typ.NumField() {
		name := typ.Field(i).Name
		if all.Field(i).IsZero() {
			t.Errorf("everyKind leaves %s unset: configure every kind there", name)
			continue
		}
		var only Config // the zero Config has no rules at all
		reflect.ValueOf(&only).Elem().Field(i).Set(all.Field(i))
		p, err := Compile(only)
		if err != nil {
			t.Errorf("%s alone: %v", name, err)
			continue
		}
		if len(p.steps) != 1 {
			t.Errorf("%s alone compiles to %d steps, want 1: is its compiler in kinds?", name, len(p.steps))
		}
	}
}

// TestRunOrderIsWrittenOnce: the package doc's numbered list names the
// kinds in kinds' order.
func TestRunOrderIsWrittenOnce(t *testing.T) {
	src, err := os.ReadFile("config.go")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range regexp.MustCompile(`(?m)^//\s+\d+\.\s+(\w+)`).FindAllStringSubmatch(string(src), -1) {
		documented = append(documented, m[1])
	}
	if !slices.Equal(documented, KindNames()) {
		t.Errorf("the package doc lists %v; kinds run %v", documented, KindNames())
	}
}

// TestFieldWideStepsFollowTheTable: every free-text row of
// event.TextFields is refused by max_string_length and cut by truncate, and
// every identifier row can be hashed, without a change here when a row is
// added.
func TestFieldWideStepsFollowTheTable(t *testing.T) {
	long := strings.Repeat("x", 200)
	schema := mustCompile(t, Config{Schema: &SchemaConfig{MaxStringLength: 100}})
	truncate := mustCompile(t, Config{Truncate: TruncateConfig{MaxLength: 100, Marker: "…"}})
	free, ids := 0, 0
	for i := range event.TextFields {
		f := &event.TextFields[i]
		if f.FreeText() {
			free++
			ev := event.Event{Name: "x"}
			*f.Ref(&ev) = long
			if res := schema.Apply(&ev, false); res.Outcome != Reject || res.Errors[0].Field != f.Name {
				t.Errorf("%s: max_string_length let %d bytes through: %+v", f.Name, len(long), res)
			}
			ev = event.Event{Name: "x"}
			*f.Ref(&ev) = long
			truncate.Apply(&ev, false)
			if got := *f.Ref(&ev); got != long[:100]+"…" {
				t.Errorf("%s: truncate left %d bytes", f.Name, len(got))
			}
		}
		if f.Identifier() {
			ids++
			p := mustCompile(t, Config{Hash: HashConfig{Fields: []string{f.Name}, Secret: "s"}})
			ev := event.Event{Name: "x"}
			*f.Ref(&ev) = "id-1"
			p.Apply(&ev, false)
			if got := *f.Ref(&ev); got != Pseudonym("s", "id-1") {
				t.Errorf("%s: hashed to %q", f.Name, got)
			}
		}
	}
	if free == 0 || ids == 0 {
		t.Errorf("%d free-text and %d identifier fields in the table", free, ids)
	}
}
