package event

// The decoder as it was before scan.go: encoding/json with
// map[string]json.RawMessage. Kept as the oracle that FuzzDecodeMatchesReference
// compares the hand-written reader against.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Decode decodes a request body into one Item per event, in request order.
// An event that fails validation becomes an Item with Errors; only problems
// with the body as a whole return a *PayloadError.
func refDecode(format Format, body []byte, lim Limits) ([]Item, error) {
	switch format {
	case FormatNDJSON:
		return refDecodeNDJSON(body, lim)
	case FormatJSON:
		return refDecodeJSON(body, lim)
	default:
		return nil, &PayloadError{Kind: PayloadMalformed, Reason: "unsupported body format"}
	}
}

func refDecodeJSON(body []byte, lim Limits) ([]Item, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, &PayloadError{Kind: PayloadMalformed, Reason: "request body is empty"}
	}
	switch trimmed[0] {
	case '[':
		var raws []json.RawMessage
		if err := json.Unmarshal(trimmed, &raws); err != nil {
			return nil, malformed("", err)
		}
		return refDecodeEvents(raws, nil, lim)
	case '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(trimmed, &obj); err != nil {
			return nil, malformed("", err)
		}
		if _, ok := obj[envelopeEvents]; ok {
			return refDecodeEnvelope(obj, lim)
		}
		if len(trimmed) > lim.MaxEventBytes && lim.MaxEventBytes > 0 {
			return []Item{{Errors: []FieldError{tooLarge(len(trimmed), lim)}}}, nil
		}
		ev, errs := refDecodeObject(obj, nil, lim)
		return []Item{{Event: ev, Errors: errs}}, nil
	default:
		return nil, &PayloadError{Kind: PayloadMalformed, Reason: "request body must be a JSON object or array of event objects"}
	}
}

func refDecodeEnvelope(obj map[string]json.RawMessage, lim Limits) ([]Item, error) {
	for k := range obj {
		if k != envelopeContext && k != envelopeEvents && k != envelopeSentAt {
			return nil, &PayloadError{Kind: PayloadMalformed, Field: k, Reason: envelopeFieldsReason}
		}
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(obj[envelopeEvents], &raws); err != nil || raws == nil {
		return nil, &PayloadError{Kind: PayloadMalformed, Field: envelopeEvents, Reason: "must be an array of event objects"}
	}
	if raw, ok := obj[envelopeSentAt]; ok && !isNull(raw) {
		if _, ferr := refDecodeTimestamp(raw); ferr != nil {
			return nil, &PayloadError{Kind: PayloadMalformed, Field: envelopeSentAt, Reason: ferr.Reason}
		}
	}
	var ctx *partial
	if raw, ok := obj[envelopeContext]; ok && !isNull(raw) {
		var cobj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &cobj); err != nil || cobj == nil {
			return nil, &PayloadError{Kind: PayloadMalformed, Field: envelopeContext, Reason: "must be an object of event fields"}
		}
		if lim.MaxEventBytes > 0 && len(raw) > lim.MaxEventBytes {
			return nil, &PayloadError{Kind: PayloadMalformed, Field: envelopeContext, Reason: "larger than max_event_bytes"}
		}
		p, errs := refDecodePartial(cobj, lim)
		if len(errs) > 0 {
			return nil, &PayloadError{Kind: PayloadMalformed, Field: join(envelopeContext, errs[0].Field), Reason: errs[0].Reason}
		}
		ctx = &p
	}
	return refDecodeEvents(raws, ctx, lim)
}

func refDecodeEvents(raws []json.RawMessage, ctx *partial, lim Limits) ([]Item, error) {
	if len(raws) == 0 {
		return nil, &PayloadError{Kind: PayloadMalformed, Reason: "no events in request"}
	}
	if lim.MaxEventsPerRequest > 0 && len(raws) > lim.MaxEventsPerRequest {
		return nil, tooMany(lim)
	}
	items := make([]Item, len(raws))
	for i, raw := range raws {
		items[i] = refDecodeRaw(raw, ctx, lim)
	}
	return items, nil
}

func refDecodeNDJSON(body []byte, lim Limits) ([]Item, error) {
	var lines []json.RawMessage
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		if line = bytes.TrimSpace(line); len(line) > 0 {
			lines = append(lines, line)
		}
	}
	return refDecodeEvents(lines, nil, lim)
}

// decodeRaw decodes one event object; any problem becomes a per-event error.
func refDecodeRaw(raw []byte, ctx *partial, lim Limits) Item {
	if lim.MaxEventBytes > 0 && len(raw) > lim.MaxEventBytes {
		return Item{Errors: []FieldError{tooLarge(len(raw), lim)}}
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		reason := "event must be a JSON object"
		if err != nil && !json.Valid(raw) {
			reason = "invalid JSON: " + err.Error()
		}
		return Item{Errors: []FieldError{{Code: CodeMalformed, Reason: reason}}}
	}
	ev, errs := refDecodeObject(obj, ctx, lim)
	return Item{Event: ev, Errors: errs}
}

// decodeObject decodes one event, fills what it lacks from ctx and applies
// defaults and required-field checks.
func refDecodeObject(obj map[string]json.RawMessage, ctx *partial, lim Limits) (Event, []FieldError) {
	p, errs := refDecodePartial(obj, lim)
	if ctx != nil {
		p.inherit(ctx)
	}
	if !p.set.has(fieldEvent) {
		errs = append(errs, FieldError{Field: "event", Code: CodeRequired, Reason: "event name is required"})
	}
	if p.ev.Level == 0 {
		p.ev.Level = LevelInfo
	}
	if len(errs) > 0 {
		return Event{}, errs
	}
	return p.ev, nil
}

// decodePartial decodes and validates the fields present in obj.
func refDecodePartial(obj map[string]json.RawMessage, lim Limits) (partial, []FieldError) {
	var (
		p    partial
		errs []FieldError
	)
	for key, raw := range obj {
		if isNull(raw) {
			continue // null means "not set", like an absent field
		}
		var err *FieldError
		switch key {
		case "event":
			p.ev.Name, err = refDecodeToken(key, raw, maxNameLen)
			p.set.add(fieldEvent)
		case "level":
			p.ev.Level, err = refDecodeLevel(raw)
			p.set.add(fieldLevel)
		case "message":
			p.ev.Message, err = refDecodeString(key, raw, 0)
			p.set.add(fieldMessage)
		case "service":
			p.ev.Service, err = refDecodeToken(key, raw, maxServiceLen)
			p.set.add(fieldService)
		case timestampField:
			p.ev.Timestamp, err = refDecodeTimestamp(raw)
			p.set.add(fieldTimestamp)
		case "trace_id":
			p.ev.TraceID, err = refDecodeToken(key, raw, maxNameLen)
			p.set.add(fieldTraceID)
		case "span_id":
			p.ev.SpanID, err = refDecodeToken(key, raw, maxNameLen)
			p.set.add(fieldSpanID)
		case "session_id":
			p.ev.SessionID, err = refDecodeString(key, raw, maxIDLen)
			p.set.add(fieldSessionID)
		case "user_id":
			p.ev.UserID, err = refDecodeString(key, raw, maxIDLen)
			p.set.add(fieldUserID)
		case "anonymous_id":
			p.ev.AnonymousID, err = refDecodeString(key, raw, maxIDLen)
			p.set.add(fieldAnonymousID)
		case attributesField:
			p.ev.Attributes, err = refDecodeAttributes(raw, lim)
		default:
			err = &FieldError{Field: key, Code: CodeUnknownField,
				Reason: "unknown field; send custom data inside \"attributes\""}
		}
		if err != nil {
			errs = append(errs, *err)
		}
	}
	if len(errs) > 1 {
		sortErrors(errs) // map order is random; keep responses stable
	}
	return p, errs
}

func refDecodeString(field string, raw json.RawMessage, maxLen int) (string, *FieldError) {
	if raw[0] != '"' {
		return "", &FieldError{Field: field, Code: CodeInvalidType, Reason: "must be a string"}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", &FieldError{Field: field, Code: CodeInvalidType, Reason: "must be a string"}
	}
	if maxLen > 0 && len(s) > maxLen {
		return "", &FieldError{Field: field, Code: CodeTooLong, Reason: fmt.Sprintf("longer than %d bytes", maxLen)}
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			if field == "message" && (r == '\n' || r == '\t' || r == '\r') {
				continue
			}
			return "", &FieldError{Field: field, Code: CodeInvalidValue, Reason: "must not contain control characters"}
		}
	}
	return s, nil
}

// decodeToken decodes a string restricted to letters, digits and _.:- so it
// is safe as a label value and in LogQL without quoting surprises.
func refDecodeToken(field string, raw json.RawMessage, maxLen int) (string, *FieldError) {
	s, err := refDecodeString(field, raw, maxLen)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", &FieldError{Field: field, Code: CodeInvalidValue, Reason: "must not be empty"}
	}
	if !IsToken(s) {
		return "", &FieldError{Field: field, Code: CodeInvalidValue,
			Reason: "may contain only letters, digits and _ . : -"}
	}
	return s, nil
}

func refDecodeLevel(raw json.RawMessage) (Level, *FieldError) {
	s, err := refDecodeString("level", raw, 32)
	if err != nil {
		return 0, err
	}
	l, ok := ParseLevel(s)
	if !ok {
		return 0, &FieldError{Field: "level", Code: CodeInvalidValue,
			Reason: fmt.Sprintf("unknown level %q; use debug, info, warn, error or fatal", s)}
	}
	return l, nil
}

// decodeTimestamp accepts an RFC 3339 string or integer Unix milliseconds
// (what Date.now() returns).
func refDecodeTimestamp(raw json.RawMessage) (time.Time, *FieldError) {
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil && t.Unix() > 0 {
				return t, nil
			}
		}
		return time.Time{}, &FieldError{Field: timestampField, Code: CodeInvalidValue,
			Reason: "must be an RFC 3339 string after 1970 such as 2026-11-25T09:30:00.123Z or integer Unix milliseconds"}
	}
	ms, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}, &FieldError{Field: timestampField, Code: CodeInvalidValue,
			Reason: "must be an RFC 3339 string or a positive integer of Unix milliseconds"}
	}
	if ms > MaxTimestampMillis {
		return time.Time{}, &FieldError{Field: timestampField, Code: CodeInvalidValue,
			Reason: "is after year 9999 as Unix milliseconds; send milliseconds, not micro- or nanoseconds"}
	}
	return time.UnixMilli(ms), nil
}

func refDecodeAttributes(raw json.RawMessage, lim Limits) ([]Attribute, *FieldError) {
	if raw[0] != '{' {
		return nil, &FieldError{Field: attributesField, Code: CodeInvalidType, Reason: "must be an object"}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, &FieldError{Field: attributesField, Code: CodeInvalidType, Reason: "must be an object"}
	}
	if lim.MaxAttributes > 0 && len(m) > lim.MaxAttributes {
		return nil, &FieldError{Field: attributesField, Code: CodeTooMany,
			Reason: fmt.Sprintf("has %d attributes, more than max_attributes (%d)", len(m), lim.MaxAttributes)}
	}
	attrs := make([]Attribute, 0, len(m))
	for k, v := range m {
		attrs = append(attrs, Attribute{Key: k, Value: v})
	}
	attrs = normalizeAttributes(attrs)
	for _, a := range attrs {
		if err := checkAttribute(a.Key, a.Value); err != nil {
			return nil, err
		}
	}
	return attrs, nil
}

// FuzzDecodeMatchesReference checks that the hand-written reader decodes
// every body exactly as the encoding/json decoder above does: same events,
// same per-event error codes and fields, same whole-request failures.
func FuzzDecodeMatchesReference(f *testing.F) {
	for _, seed := range []string{
		`{"event":"a"}`,
		`[{"event":"a","level":"warning","attributes":{"x":{"y":[1,"2",null,true,-0.5e+3]}}},{"event":"b"},7,null]`,
		`{"context":{"service":"s","attributes":{"k":"v"}},"events":[{"event":"c","message":"m\n\"q\" \u00e9\ud83d\ude00\ud800"}]}`,
		`{"event":"t","timestamp":1795599000123,"session_id":"s","user_id":"u","trace_id":"t","span_id":"p"}`,
		"{\"event\":\"n1\"}\n{\"event\":\"n2\",\"message\":\"\\u2028\xff\"}\n[1]\n{\"event\":",
		`{"event":"d","event":null,"x":1,"x":null,"attributes":{"a":1,"a":{"b":[]},"":{}}}`,
		`{"\u0065vent":"e","timestamp":"2026-11-25T09:30:00.123+09:00","level":"ERR"}`,
		`{"events":[{"event":"f"}],"context":null,"other":1}`,
		`{"sent_at":1795599000123,"events":[{"event":"f","timestamp":1795599000000}]}`, `{"sent_at":"yesterday","events":[{"event":"f"}]}`,
		` [ ] `, `{"event":"g"} x`, `{"event":"h",}`, `[01]`, `{"event":tru}`,
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	// Every text field, from the table: valid, over its limit, refused by
	// its rule, and inherited from a context, so a new row is fuzzed from
	// its first run.
	for _, seed := range textFieldSeeds() {
		f.Add([]byte(seed), false)
	}
	lim := Limits{MaxEventsPerRequest: 50, MaxEventBytes: 4096, MaxAttributes: 16}
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool) {
		format := FormatJSON
		if ndjson {
			format = FormatNDJSON
		}
		got, gotErr := Decode(format, body, lim)
		want, wantErr := refDecode(format, body, lim)
		if stoppedEarly(gotErr) {
			// The reader stops at the first excess (too many events, nesting
			// past maxNesting) where encoding/json reads on: the reference may
			// have found something else wrong further on, or, for nesting the
			// API refuses anyway, a per-event too_deep.
			return
		}
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("error %v, reference %v", gotErr, wantErr)
		}
		if gotErr != nil {
			g, w := gotErr.(*PayloadError), wantErr.(*PayloadError)
			// With two unknown envelope fields the reference names a random one.
			if g.Kind != w.Kind || (g.Field != w.Field && !strings.HasPrefix(w.Reason, "unknown envelope field")) {
				t.Fatalf("error %+v, reference %+v", g, w)
			}
			return
		}
		if len(got) != len(want) {
			t.Fatalf("%d items, reference %d", len(got), len(want))
		}
		for i := range got {
			if got[i].OK() != want[i].OK() {
				t.Fatalf("item %d: errors %v, reference %v", i, got[i].Errors, want[i].Errors)
			}
			if got[i].OK() {
				if !reflect.DeepEqual(got[i].Event, want[i].Event) {
					t.Fatalf("item %d:\n%#v\nreference\n%#v", i, got[i].Event, want[i].Event)
				}
				continue
			}
			if unknownErrors(want[i].Errors) > maxUnknown {
				continue // the reader reports the unknown fields past maxUnknown as one
			}
			if len(got[i].Errors) != len(want[i].Errors) {
				t.Fatalf("item %d: errors %v, reference %v", i, got[i].Errors, want[i].Errors)
			}
			for j, g := range got[i].Errors {
				w := want[i].Errors[j]
				// Nested attribute problems are found in map order, so with
				// two of them either may be reported.
				if nestedAttrError(g) && nestedAttrError(w) {
					continue
				}
				// Syntax error wording differs; code and field must not.
				if g.Code != w.Code || g.Field != w.Field || (g.Code != CodeMalformed && g.Reason != w.Reason) {
					t.Fatalf("item %d error %d: %+v, reference %+v", i, j, g, w)
				}
			}
		}
	})
}

func stoppedEarly(err error) bool {
	var pe *PayloadError
	return errors.As(err, &pe) && (pe.Kind == PayloadTooManyEvents || strings.Contains(pe.Reason, "exceeded max depth"))
}

func unknownErrors(errs []FieldError) int {
	n := 0
	for _, e := range errs {
		if e.Code == CodeUnknownField {
			n++
		}
	}
	return n
}

func nestedAttrError(e FieldError) bool {
	return (e.Code == CodeInvalidValue || e.Code == CodeTooDeep) && strings.HasPrefix(e.Field, attributesField+".")
}

// textFieldSeeds are bodies that set each row of TextFields: a plain value,
// one over the field's length limit, one with a character its rule refuses,
// and one inherited from an envelope's context.
func textFieldSeeds() []string {
	var seeds []string
	for _, f := range TextFields {
		long := strings.Repeat("a", max(f.maxLen, 300)+1)
		for _, v := range []string{"v-1", long, "a b", "a\u0000b"} {
			if f.Name == "event" {
				seeds = append(seeds, `{"event":"`+v+`"}`)
				continue
			}
			seeds = append(seeds, `{"event":"x","`+f.Name+`":"`+v+`"}`,
				`{"context":{"`+f.Name+`":"`+v+`"},"events":[{"event":"x"}]}`)
		}
	}
	return seeds
}

// TestReferenceDecoderKnowsEveryTextField: the reference decoder is written
// by hand, independently of the table, and the fuzzer compares the reader
// against it; a row the reference does not know would make the two disagree
// only on inputs the fuzzer happens to build. Every row is checked here.
func TestReferenceDecoderKnowsEveryTextField(t *testing.T) {
	for _, seed := range textFieldSeeds() {
		got, gotErr := Decode(FormatJSON, []byte(seed), Limits{})
		want, wantErr := refDecode(FormatJSON, []byte(seed), Limits{})
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
			t.Errorf("%s:\nreader    %+v %v\nreference %+v %v", seed, got, gotErr, want, wantErr)
		}
	}
}
