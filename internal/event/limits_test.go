package event

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// The limits of the component's defaults: the shapes below are sized to
// them, as an attacker holding the public browser key would size them.
var defaultLimits = Limits{MaxEventsPerRequest: 500, MaxEventBytes: 32 << 10, MaxAttributes: 64}

const maxBody = 1 << 20 // max_request_bytes' default

// allocated returns the bytes f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// repeatTo repeats unit (joined by sep) inside open...close until the text
// is as close to size bytes as whole units allow.
func repeatTo(open, unit, sep, close string, size int) string {
	n := (size - len(open) - len(close) + len(sep)) / (len(unit) + len(sep))
	return open + strings.Repeat(unit+sep, n-1) + unit + close
}

// eventsOf fills a body of about size bytes with copies of one event.
func eventsOf(ev string, size int) string { return repeatTo("[", ev, ",", "]", size) }

type shape struct {
	name   string
	format Format
	body   string
}

// refusedShapes break a request-wide limit: the scan must stop at the first
// excess, allocating next to nothing whatever the body's size.
func refusedShapes() []shape {
	return []shape{
		{"array of tiny numbers", FormatJSON, repeatTo("[", "1", ",", "]", maxBody)},
		{"array of empty objects", FormatJSON, repeatTo("[", "{}", ",", "]", maxBody)},
		{"array of empty arrays", FormatJSON, repeatTo("[", "[]", ",", "]", maxBody)},
		{"envelope of empty objects", FormatJSON, repeatTo(`{"events":[`, "{}", ",", "]}", maxBody)},
		{"ndjson of one-character lines", FormatNDJSON, repeatTo("", "1", "\n", "", maxBody)},
		{"ndjson of empty objects", FormatNDJSON, repeatTo("", "{}", "\n", "", maxBody)},
	}
}

// acceptedShapes are bodies a request may legally carry, built to cost the
// most memory per byte.
func acceptedShapes() []shape {
	tiny := func(unit string) string { // one event of max_event_bytes holding tiny values
		return repeatTo(`{"event":"e","attributes":{"a":[`, unit, ",", "]}}", int(defaultLimits.MaxEventBytes))
	}
	var manyAttrs strings.Builder
	manyAttrs.WriteString(`{"event":"e","attributes":{`)
	for i := range 64 {
		fmt.Fprintf(&manyAttrs, `"k%02d":1,`, i)
	}
	manyAttrs.WriteString(`"k":1}}`)
	deep := `{"event":"e","attributes":{` + strings.TrimSuffix(strings.Repeat(
		`"d%d":{"a":{"a":{"a":{"a":{"a":{"a":{"a":0}}}}}}},`, 64), ",") + "}}"
	deep = fmt.Sprintf(deep, anyInts(64)...)
	return []shape{
		{"events of tiny numbers", FormatJSON, eventsOf(tiny("1"), maxBody)},
		{"events of empty objects", FormatJSON, eventsOf(tiny("{}"), maxBody)},
		{"events of empty arrays", FormatJSON, eventsOf(tiny("[]"), maxBody)},
		{"events of one-letter strings", FormatJSON, eventsOf(tiny(`"a"`), maxBody)},
		{"events of escaped strings", FormatJSON, eventsOf(tiny(`"\u00e9"`), maxBody)},
		{"many tiny attributes", FormatJSON, eventsOf(manyAttrs.String(), 500*(manyAttrs.Len()+1))},
		{"deep but allowed nesting", FormatJSON, eventsOf(deep, min(maxBody, 500*(len(deep)+1)))},
		{"objects of one tiny member", FormatJSON, eventsOf(tiny(`{"a":0}`), maxBody)},
		{"too many attributes", FormatJSON, eventsOf(uniqueKeys(int(defaultLimits.MaxEventBytes)), maxBody)},
		{"tiny events", FormatJSON, repeatTo("[", `{"event":"e"}`, ",", "]", 500*14)},
		{"ndjson of tiny values", FormatNDJSON, repeatTo("", tiny("1"), "\n", "", maxBody)},
		{"envelope with a full context", FormatJSON, `{"context":` + tiny("1") + `,"events":` +
			repeatTo("[", `{"event":"e"}`, ",", "]", 500*14) + "}"},
	}
}

func TestScanRefusesWorstShapesCheaply(t *testing.T) {
	for _, s := range refusedShapes() {
		t.Run(s.name, func(t *testing.T) {
			body := []byte(s.body)
			var err error
			n := allocated(func() { _, err = Scan(s.format, body, defaultLimits) })
			var pe *PayloadError
			if !errors.As(err, &pe) || pe.Kind != PayloadTooManyEvents {
				t.Fatalf("Scan: %v, want too many events", err)
			}
			// One record per allowed event, with append's growth: nothing
			// in proportion to the body.
			if limit := uint64(defaultLimits.MaxEventsPerRequest) * 1024; n > limit {
				t.Errorf("scanning a %d-byte body allocated %d bytes, more than %d", len(body), n, limit)
			}
			t.Logf("%d-byte body: refused after allocating %d bytes", len(body), n)
		})
	}
}

// Decoding a legal body must stay within the cost the batch reports before
// decoding, which the API charges against its in-flight memory budget.
func TestBatchCostBoundsAllocations(t *testing.T) {
	for _, s := range acceptedShapes() {
		t.Run(s.name, func(t *testing.T) {
			body := []byte(s.body)
			if len(body) > maxBody {
				t.Fatalf("body is %d bytes, over max_request_bytes", len(body))
			}
			var (
				b     *Batch
				err   error
				items []Item
			)
			scanned := allocated(func() { b, err = Scan(s.format, body, defaultLimits) })
			if err != nil {
				t.Fatalf("Scan: %v", err)
			}
			decoded := allocated(func() { items = b.Items() })
			if got := scanned + decoded; got > uint64(b.Cost()) {
				t.Errorf("decoding allocated %d bytes (scan %d), more than Cost() = %d", got, scanned, b.Cost())
			}
			rejected := 0
			for _, it := range items {
				if !it.OK() {
					rejected++
				}
			}
			t.Logf("%d-byte body, %d events (%d rejected), %d values: allocated %d bytes (%.1fx body), cost %d (%.1fx body)",
				len(body), len(items), rejected, b.n.values, scanned+decoded, float64(scanned+decoded)/float64(len(body)),
				b.Cost(), float64(b.Cost())/float64(len(body)))
		})
	}
}

func anyInts(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// uniqueKeys is one event of about size bytes with as many distinct tiny
// attributes as fit: far over max_attributes.
func uniqueKeys(size int) string {
	var b strings.Builder
	b.WriteString(`{"event":"e","attributes":{`)
	for i := 0; b.Len() < size-16; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"%x":1`, i)
	}
	b.WriteString("}}")
	return b.String()
}

func TestDecodeRefusesControlCharactersInAttributes(t *testing.T) {
	for _, tt := range []struct{ body, field string }{
		{`{"event":"a","attributes":{"k":"nul\u0000"}}`, "attributes.k"},
		{`{"event":"a","attributes":{"k":{"n":["ok","esc\u001b[31m"]}}}`, "attributes.k.n[1]"},
		{`{"event":"a","attributes":{"bad\u0007key":1}}`, `attributes."bad\akey"`},
		{`{"event":"a","attributes":{"k":"del\u007f"}}`, "attributes.k"},
	} {
		items := decodeOK(t, FormatJSON, tt.body)
		if items[0].OK() || items[0].Errors[0].Field != tt.field || items[0].Errors[0].Code != CodeInvalidValue {
			t.Errorf("%s: got %+v, want invalid_value at %s", tt.body, items[0].Errors, tt.field)
		}
	}
	// Stack traces and multi-line values keep their tabs and newlines.
	items := decodeOK(t, FormatJSON, `{"event":"a","attributes":{"stack":"Error: x\n\tat f (a.js:1:2)\r\n"}}`)
	if !items[0].OK() {
		t.Errorf("tab/newline refused: %+v", items[0].Errors)
	}
}

func TestDecodeTimestampRange(t *testing.T) {
	for _, body := range []string{
		`{"event":"a","timestamp":9223372036854775807}`,               // int64 limit
		`{"event":"a","timestamp":1795599000123000}`,                  // microseconds
		`{"event":"a","timestamp":"1969-12-31T23:59:59Z"}`,            // before 1970
		`{"event":"a","timestamp":"0001-01-01T00:00:00Z"}`,            // Go's zero time
		`{"event":"a","timestamp":253402300800000}`,                   // year 10000
		`{"event":"a","timestamp":-1}`, `{"event":"a","timestamp":0}`, // not positive
	} {
		items := decodeOK(t, FormatJSON, body)
		if items[0].OK() || items[0].Errors[0].Field != "timestamp" {
			t.Errorf("%s accepted: %+v", body, items[0])
		}
	}
	items := decodeOK(t, FormatJSON, `{"event":"a","timestamp":253402300799999}`)
	if !items[0].OK() {
		t.Errorf("last millisecond of 9999 refused: %+v", items[0].Errors)
	}
}

func TestDecodeBoundsUnknownFields(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"event":"a"`)
	for i := range 40 {
		fmt.Fprintf(&b, `,"u%d":1`, i)
	}
	b.WriteString(`,"n":null}`)
	items := decodeOK(t, FormatJSON, b.String())
	errs := items[0].Errors
	if len(errs) != maxUnknown+1 {
		t.Fatalf("got %d errors, want %d named and one summary: %+v", len(errs), maxUnknown, errs)
	}
	if errs[0].Field != "" || !strings.HasPrefix(errs[0].Reason, "24 more unknown fields") {
		t.Errorf("summary error: %+v", errs[0])
	}
}

func TestEnvelopeContextBoundedLikeAnEvent(t *testing.T) {
	ctx := `{"attributes":{"pad":"` + strings.Repeat("x", int(testLimits.MaxEventBytes)) + `"}}`
	_, err := Decode(FormatJSON, []byte(`{"context":`+ctx+`,"events":[{"event":"a"}]}`), testLimits)
	var pe *PayloadError
	if !errors.As(err, &pe) || pe.Field != "context" || !strings.Contains(pe.Reason, "max_event_bytes") {
		t.Errorf("got %v, want a context error naming max_event_bytes", err)
	}
}

func TestDecodeRefusesNestingPastTheCap(t *testing.T) {
	body := `{"event":"a","attributes":{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "}}"
	_, err := Decode(FormatJSON, []byte(body), testLimits)
	var pe *PayloadError
	if !errors.As(err, &pe) || pe.Kind != PayloadMalformed || !strings.Contains(pe.Reason, "max depth") {
		t.Errorf("got %v, want a malformed body over max depth", err)
	}
}
