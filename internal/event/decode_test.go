package event

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var testLimits = Limits{MaxEventsPerRequest: 5, MaxEventBytes: 512, MaxAttributes: 4}

func decodeOK(t *testing.T, format Format, body string) []Item {
	t.Helper()
	items, err := Decode(format, []byte(body), testLimits)
	if err != nil {
		t.Fatalf("Decode(%q) error: %v", body, err)
	}
	return items
}

func TestDecodeBodyShapes(t *testing.T) {
	ts := time.Date(2026, 11, 25, 9, 30, 0, 123_000_000, time.UTC)
	tests := []struct {
		name   string
		format Format
		body   string
		want   []Event
	}{
		{
			name:   "single object with every field",
			format: FormatJSON,
			body: `{"event":"form.submit","level":"warning","message":"hi","timestamp":"2026-11-25T09:30:00.123Z",
				"service":"collabmaker","attributes":{"step":2,"ok":true,"x":null,"s":"v"},
				"trace_id":"t1","span_id":"s1","session_id":"sess 1","user_id":"u-1"}`,
			want: []Event{{Name: "form.submit", Level: LevelWarn, Message: "hi", Timestamp: ts, Service: "collabmaker",
				Attributes: []Attribute{{"ok", true}, {"s", "v"}, {"step", json.Number("2")}, {"x", nil}},
				TraceID:    "t1", SpanID: "s1", SessionID: "sess 1", UserID: "u-1"}},
		},
		{
			name:   "array with defaults and unix millis",
			format: FormatJSON,
			body:   ` [{"event":"a"},{"event":"b","timestamp":1795599000123}] `,
			want: []Event{{Name: "a", Level: LevelInfo},
				{Name: "b", Level: LevelInfo, Timestamp: time.UnixMilli(1795599000123)}},
		},
		{
			name:   "envelope context applies, event fields win, attributes merge",
			format: FormatJSON,
			body: `{"context":{"service":"web","level":"error","session_id":"s","attributes":{"app":"1.2","step":0}},
				"events":[{"event":"a","attributes":{"step":3}},{"event":"b","level":"debug","service":"api"}]}`,
			want: []Event{
				{Name: "a", Level: LevelError, Service: "web", SessionID: "s",
					Attributes: []Attribute{{"app", "1.2"}, {"step", json.Number("3")}}},
				{Name: "b", Level: LevelDebug, Service: "api", SessionID: "s",
					Attributes: []Attribute{{"app", "1.2"}, {"step", json.Number("0")}}},
			},
		},
		{
			name:   "ndjson skips blank lines and CR",
			format: FormatNDJSON,
			body:   "{\"event\":\"a\"}\r\n\n  {\"event\":\"b\",\"level\":\"ERROR\"}\n",
			want:   []Event{{Name: "a", Level: LevelInfo}, {Name: "b", Level: LevelError}},
		},
		{
			name:   "null fields count as absent",
			format: FormatJSON,
			body:   `{"event":"a","level":null,"message":null,"attributes":null}`,
			want:   []Event{{Name: "a", Level: LevelInfo}},
		},
		{
			name:   "nested attribute values are kept",
			format: FormatJSON,
			body:   `{"event":"a","attributes":{"place":{"country":"KR","ids":[1,"2"]}}}`,
			want: []Event{{Name: "a", Level: LevelInfo, Attributes: []Attribute{{"place",
				map[string]any{"country": "KR", "ids": []any{json.Number("1"), "2"}}}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items := decodeOK(t, tt.format, tt.body)
			if len(items) != len(tt.want) {
				t.Fatalf("got %d items, want %d", len(items), len(tt.want))
			}
			for i, it := range items {
				if !it.OK() {
					t.Fatalf("item %d rejected: %+v", i, it.Errors)
				}
				got, _ := json.Marshal(it.Event)
				want, _ := json.Marshal(tt.want[i])
				if string(got) != string(want) || !it.Event.Timestamp.Equal(tt.want[i].Timestamp) {
					t.Errorf("item %d:\n got %s\nwant %s", i, got, want)
				}
			}
		})
	}
}

func TestDecodeEventErrors(t *testing.T) {
	long := strings.Repeat("a", 129)
	tests := []struct {
		name  string
		body  string
		field string
		code  Code
	}{
		{"missing event", `{"message":"x"}`, "event", CodeRequired},
		{"empty event", `{"event":""}`, "event", CodeInvalidValue},
		{"bad event chars", `{"event":"form submit"}`, "event", CodeInvalidValue},
		{"event too long", `{"event":"` + long + `"}`, "event", CodeTooLong},
		{"event not a string", `{"event":5}`, "event", CodeInvalidType},
		{"unknown field", `{"event":"a","attrs":{}}`, "attrs", CodeUnknownField},
		{"bad level", `{"event":"a","level":"loud"}`, "level", CodeInvalidValue},
		{"level not string", `{"event":"a","level":3}`, "level", CodeInvalidType},
		{"bad timestamp string", `{"event":"a","timestamp":"yesterday"}`, "timestamp", CodeInvalidValue},
		{"fractional millis", `{"event":"a","timestamp":1.5}`, "timestamp", CodeInvalidValue},
		{"negative millis", `{"event":"a","timestamp":-1}`, "timestamp", CodeInvalidValue},
		{"timestamp bool", `{"event":"a","timestamp":true}`, "timestamp", CodeInvalidValue},
		{"attributes not object", `{"event":"a","attributes":[1]}`, "attributes", CodeInvalidType},
		{"too many attributes", `{"event":"a","attributes":{"a":1,"b":2,"c":3,"d":4,"e":5}}`, "attributes", CodeTooMany},
		{"empty attribute key", `{"event":"a","attributes":{"":1}}`, "attributes.", CodeInvalidValue},
		{"nested too deep", `{"event":"a","attributes":{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":1}}}}}}}}}}`,
			"attributes.a.b.c.d.e.f.g.h.i", CodeTooDeep},
		{"arrays count as nesting", `{"event":"a","attributes":{"k":[[[[[[[[1]]]]]]]]}}`,
			"attributes.k[0][0][0][0][0][0][0][0]", CodeTooDeep},
		{"attribute key too long", `{"event":"a","attributes":{"` + long + `":1}}`, "attributes." + long, CodeInvalidValue},
		{"service with space", `{"event":"a","service":"my app"}`, "service", CodeInvalidValue},
		{"control char in session", `{"event":"a","session_id":"a\u0001b"}`, "session_id", CodeInvalidValue},
		{"user id too long", `{"event":"a","user_id":"` + strings.Repeat("u", 257) + `"}`, "user_id", CodeTooLong},
		{"event too large", `{"event":"a","message":"` + strings.Repeat("m", 600) + `"}`, "", CodeTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items := decodeOK(t, FormatJSON, tt.body)
			if len(items) != 1 || items[0].OK() {
				t.Fatalf("want one rejected item, got %+v", items)
			}
			e := items[0].Errors[0]
			if e.Field != tt.field || e.Code != tt.code || e.Reason == "" {
				t.Errorf("got error %+v, want field %q code %q", e, tt.field, tt.code)
			}
		})
	}
}

func TestDecodeReportsEveryBadField(t *testing.T) {
	items := decodeOK(t, FormatJSON, `{"level":"loud","zzz":1,"event":"ok"}`)
	errs := items[0].Errors
	if len(errs) != 2 || errs[0].Field != "level" || errs[1].Field != "zzz" {
		t.Fatalf("want errors for level and zzz in field order, got %+v", errs)
	}
}

func TestDecodeMixedBatchKeepsGoodEvents(t *testing.T) {
	items := decodeOK(t, FormatJSON, `[{"event":"a"}, 7, {"event":"bad name"}, {"event":"b"}]`)
	var ok []string
	for _, it := range items {
		if it.OK() {
			ok = append(ok, it.Event.Name)
		}
	}
	if strings.Join(ok, ",") != "a,b" {
		t.Fatalf("accepted %v, want a,b", ok)
	}
	if items[1].Errors[0].Code != CodeMalformed {
		t.Errorf("non-object element: got %+v", items[1].Errors)
	}
}

func TestDecodeNDJSONBadLineIsPerEvent(t *testing.T) {
	items := decodeOK(t, FormatNDJSON, "{\"event\":\"a\"}\n{not json\n{\"event\":\"b\"}")
	if len(items) != 3 || !items[0].OK() || items[1].OK() || !items[2].OK() {
		t.Fatalf("got %+v", items)
	}
	if items[1].Errors[0].Code != CodeMalformed || !strings.Contains(items[1].Errors[0].Reason, "invalid JSON") {
		t.Errorf("bad line error: %+v", items[1].Errors[0])
	}
}

func TestDecodePayloadErrors(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		body   string
		kind   PayloadErrorKind
		field  string
	}{
		{"empty", FormatJSON, "  ", PayloadMalformed, ""},
		{"not json", FormatJSON, "event=a", PayloadMalformed, ""},
		{"truncated array", FormatJSON, `[{"event":"a"}`, PayloadMalformed, ""},
		{"scalar", FormatJSON, `"a"`, PayloadMalformed, ""},
		{"empty array", FormatJSON, `[]`, PayloadMalformed, ""},
		{"too many", FormatJSON, `[{},{},{},{},{},{}]`, PayloadTooManyEvents, ""},
		{"too many ndjson", FormatNDJSON, strings.Repeat("{\"event\":\"a\"}\n", 6), PayloadTooManyEvents, ""},
		{"empty ndjson", FormatNDJSON, "\n\n", PayloadMalformed, ""},
		{"envelope unknown key", FormatJSON, `{"events":[{"event":"a"}],"meta":1}`, PayloadMalformed, "meta"},
		{"envelope events not array", FormatJSON, `{"events":{"event":"a"}}`, PayloadMalformed, "events"},
		{"envelope context not object", FormatJSON, `{"context":[],"events":[{"event":"a"}]}`, PayloadMalformed, "context"},
		{"envelope bad context field", FormatJSON, `{"context":{"level":"loud"},"events":[{"event":"a"}]}`, PayloadMalformed, "context.level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.format, []byte(tt.body), testLimits)
			var pe *PayloadError
			if !errors.As(err, &pe) {
				t.Fatalf("want *PayloadError, got %v", err)
			}
			if pe.Kind != tt.kind || pe.Field != tt.field || pe.Reason == "" {
				t.Errorf("got %+v, want kind %d field %q", pe, tt.kind, tt.field)
			}
		})
	}
}

func TestParseLevelAliases(t *testing.T) {
	for in, want := range map[string]Level{
		"debug": LevelDebug, "TRACE": LevelDebug, "info": LevelInfo, "Notice": LevelInfo,
		"warn": LevelWarn, "warning": LevelWarn, "err": LevelError, "ERROR": LevelError,
		"fatal": LevelFatal, "critical": LevelFatal, " panic ": LevelFatal,
	} {
		if got, ok := ParseLevel(in); !ok || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	if _, ok := ParseLevel("loud"); ok {
		t.Error("ParseLevel(loud) accepted")
	}
}

func TestMergeAttributes(t *testing.T) {
	got := mergeAttributes(
		[]Attribute{{"b", "own"}, {"d", "own"}},
		[]Attribute{{"a", "ctx"}, {"b", "ctx"}, {"c", "ctx"}, {"e", "ctx"}})
	want := []Attribute{{"a", "ctx"}, {"b", "own"}, {"c", "ctx"}, {"d", "own"}, {"e", "ctx"}}
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("got %s, want %s", g, w)
	}
}
