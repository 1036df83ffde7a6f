// Package loadgen generates HTTP load for the event API and for Alloy's own
// log receivers (loki.source.api, faro.receiver) with the same event
// content, and measures throughput and latency. It has no Alloy imports.
package loadgen

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Protocol is the receiver a payload is written for.
type Protocol string

// Protocols.
const (
	// Curated is loki.source.curated_api's POST /v1/events.
	Curated Protocol = "curated"
	// LokiPush is loki.source.api's POST /loki/api/v1/push (JSON).
	LokiPush Protocol = "loki"
	// Faro is faro.receiver's POST /collect with Faro events.
	Faro Protocol = "faro"
)

// Shape is how events are framed in a request of the curated API.
type Shape string

// Shapes.
const (
	Single Shape = "single" // one event object
	Batch  Shape = "batch"  // a JSON array of events
	NDJSON Shape = "ndjson" // one event per line
	Gzip   Shape = "gzip"   // a gzip-compressed JSON array
)

// Event is one Collabmaker-like event: a partner application form, its
// Shopify sync and Google Places lookups, ~0.9 KB as JSON.
type Event struct {
	Name, Level, Service, Message string
	Timestamp                     time.Time
	TraceID, SessionID            string
	Attributes                    map[string]any
}

// Collabmaker returns the i-th event of a deterministic mix: mostly form
// steps, some Places lookups and Shopify syncs, a few failures.
func Collabmaker(i int, now time.Time) Event {
	partner := fmt.Sprintf("p-%07d", 1000000+i%50000)
	ev := Event{
		Service:   "collabmaker",
		Level:     "info",
		Timestamp: now,
		// IDs look like real ones: mixed hex, not long digit runs, which the
		// default redaction would take for card numbers.
		TraceID:   fmt.Sprintf("%016x%016x", mix(uint64(i)+1), mix(uint64(i)+2)),
		SessionID: fmt.Sprintf("sess-%016x", mix(uint64(i/20)+3)),
		Attributes: map[string]any{
			"partner_id":  partner,
			"country":     []string{"KR", "US", "JP", "DE", "BR", "IN"}[i%6],
			"locale":      []string{"ko-KR", "en-US", "ja-JP", "de-DE", "pt-BR", "hi-IN"}[i%6],
			"page":        "https://apply.collabmaker.example/partner?step=" + strconv.Itoa(1+i%5),
			"user_agent":  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
			"latency_ms":  80 + i%900,
			"app_version": "2026.11.3",
		},
	}
	switch {
	case i%50 == 0:
		ev.Name, ev.Level = "shopify.sync", "error"
		// 1 in 50 events carries personal data that the default rules redact.
		ev.Message = "Product sync to Shopify failed after 3 retries for partner contact jane.doe@example.com; the worker retries it later."
		ev.Attributes["http_status"] = 502
		ev.Attributes["shop_domain"] = "collab-partner-store.myshopify.com"
		ev.Attributes["detail"] = map[string]any{"endpoint": "/admin/api/2024-10/products.json", "attempt": 3, "error_code": "THROTTLED"}
	case i%7 == 0:
		ev.Name = "places.lookup"
		ev.Message = "Google Places autocomplete answered for the business address field of the partner form."
		ev.Attributes["places_status"] = "OK"
		ev.Attributes["predictions"] = 5
	default:
		ev.Name = "form.step"
		ev.Message = "Partner completed a step of the application form and moved on to the next one without validation errors."
		ev.Attributes["step"] = 1 + i%5
		ev.Attributes["fields_filled"] = 6 + i%4
	}
	return ev
}

// mix is splitmix64's finalizer: well-spread IDs from a counter.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// curatedJSON is the event in the curated API's v1 format.
func (e Event) curatedJSON() []byte {
	b, _ := json.Marshal(map[string]any{
		"event": e.Name, "level": e.Level, "service": e.Service, "message": e.Message,
		"timestamp": e.Timestamp.UnixMilli(), "trace_id": e.TraceID, "session_id": e.SessionID,
		"attributes": e.Attributes,
	})
	return b
}

// CuratedBody frames events for POST /v1/events and returns the body and
// its Content-Type and Content-Encoding.
func CuratedBody(events []Event, shape Shape) (body []byte, contentType, encoding string, err error) {
	switch shape {
	case Single:
		if len(events) != 1 {
			return nil, "", "", fmt.Errorf("shape single takes 1 event, got %d", len(events))
		}
		return events[0].curatedJSON(), "application/json", "", nil
	case Batch, Gzip:
		var buf bytes.Buffer
		buf.WriteByte('[')
		for i, e := range events {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.Write(e.curatedJSON())
		}
		buf.WriteByte(']')
		if shape == Batch {
			return buf.Bytes(), "application/json", "", nil
		}
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		if _, err := zw.Write(buf.Bytes()); err != nil {
			return nil, "", "", err
		}
		if err := zw.Close(); err != nil {
			return nil, "", "", err
		}
		return z.Bytes(), "application/json", "gzip", nil
	case NDJSON:
		var buf bytes.Buffer
		for _, e := range events {
			buf.Write(e.curatedJSON())
			buf.WriteByte('\n')
		}
		return buf.Bytes(), "application/x-ndjson", "", nil
	}
	return nil, "", "", fmt.Errorf("unknown shape %q", shape)
}

// LokiPushBody is the same events as loki.source.api's JSON push: one stream
// labeled like the curated entries, each line the event's JSON, so both
// receivers move the same bytes.
func LokiPushBody(events []Event) ([]byte, error) {
	values := make([][2]string, len(events))
	for i, e := range events {
		values[i] = [2]string{strconv.FormatInt(e.Timestamp.UnixNano(), 10), string(e.curatedJSON())}
	}
	return json.Marshal(map[string]any{
		"streams": []any{map[string]any{
			"stream": map[string]string{"service": "collabmaker", "level": "info"},
			"values": values,
		}},
	})
}

// FaroBody is the same events as a Faro payload: each one a Faro event
// whose attributes carry the fields (Faro attributes are strings).
func FaroBody(events []Event) ([]byte, error) {
	faro := make([]map[string]any, len(events))
	for i, e := range events {
		attrs := map[string]string{
			"level": e.Level, "message": e.Message, "trace_id": e.TraceID, "session_id": e.SessionID,
		}
		for k, v := range e.Attributes {
			if s, ok := v.(string); ok {
				attrs[k] = s
			} else {
				b, _ := json.Marshal(v)
				attrs[k] = string(b)
			}
		}
		faro[i] = map[string]any{
			"name": e.Name, "domain": "collabmaker", "timestamp": e.Timestamp.UTC().Format(time.RFC3339Nano),
			"attributes": attrs,
		}
	}
	return json.Marshal(map[string]any{
		"events": faro,
		"meta": map[string]any{
			"app":     map[string]string{"name": "collabmaker", "version": "2026.11.3", "environment": "bench"},
			"session": map[string]string{"id": events[0].SessionID},
		},
	})
}

// Bodies prepares n request bodies of batch distinct events each, in
// protocol's format; shape frames the curated API's requests (Single sends
// one event per body).
func Bodies(protocol Protocol, shape Shape, batch, n int, now time.Time) ([]Body, error) {
	if shape == Single {
		batch = 1
	}
	if batch <= 0 {
		return nil, fmt.Errorf("batch must be positive, got %d", batch)
	}
	out := make([]Body, 0, n)
	for i := 0; i < n; i++ {
		evs := make([]Event, batch)
		for j := range evs {
			evs[j] = Collabmaker(i*batch+j, now)
		}
		body := Body{ContentType: "application/json", Events: batch}
		var err error
		switch protocol {
		case Curated:
			body.Data, body.ContentType, body.Encoding, err = CuratedBody(evs, shape)
		case LokiPush:
			body.Data, err = LokiPushBody(evs)
		case Faro:
			body.Data, err = FaroBody(evs)
		default:
			err = fmt.Errorf("protocol must be curated, loki or faro, got %q", protocol)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, body)
	}
	return out, nil
}
