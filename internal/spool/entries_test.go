package spool

import (
	"reflect"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"
	"github.com/prometheus/common/model"

	"github.com/grafana/alloy/curated/internal/entry"
)

func sampleEntries() []entry.Entry {
	return []entry.Entry{
		{Labels: model.LabelSet{"service": "collabmaker", "level": "error", "__tenant_id__": "team-a"},
			Entry: push.Entry{Timestamp: time.Unix(1_764_000_000, 123456789).UTC(), Line: `{"event":"shopify.sync","attributes":{"error":"502"}}`,
				StructuredMetadata: push.LabelsAdapter{{Name: "session_id", Value: "s-1"}, {Name: "trace_id", Value: ""}}}},
		{Labels: model.LabelSet{"service": "x"}, Entry: push.Entry{Timestamp: time.Unix(0, -5).UTC(), Line: ""}},
		{Labels: model.LabelSet{}, Entry: push.Entry{Timestamp: time.Unix(1, 0).UTC(), Line: "한국어 줄"}},
	}
}

func TestEntriesRoundTrip(t *testing.T) {
	in := sampleEntries()
	payload := EncodeEntries(nil, in)
	var out []entry.Entry
	err := DecodeEntries(payload, len(in), func(l model.LabelSet, e push.Entry) error {
		out = append(out, entry.Entry{Labels: l, Entry: e})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", out, in)
	}
	// Every cut of the payload is an error, never a panic or a short read
	// taken for whole entries.
	for i := 0; i < len(payload); i++ {
		n := 0
		if err := DecodeEntries(payload[:i], len(in), func(model.LabelSet, push.Entry) error { n++; return nil }); err == nil {
			t.Fatalf("payload cut at %d of %d decoded without error (%d entries)", i, len(payload), n)
		}
	}
}

func FuzzDecodeEntries(f *testing.F) {
	f.Add(EncodeEntries(nil, sampleEntries()), 3)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f}, 1)
	f.Fuzz(func(t *testing.T, payload []byte, count int) {
		if count < 0 || count > 1000 {
			return
		}
		var got []entry.Entry
		if err := DecodeEntries(payload, count, func(l model.LabelSet, e push.Entry) error {
			got = append(got, entry.Entry{Labels: l, Entry: e})
			return nil
		}); err != nil {
			return
		}
		// What decodes re-encodes to a payload that decodes the same.
		again := EncodeEntries(nil, got)
		var back []entry.Entry
		if err := DecodeEntries(again, len(got), func(l model.LabelSet, e push.Entry) error {
			back = append(back, entry.Entry{Labels: l, Entry: e})
			return nil
		}); err != nil || !reflect.DeepEqual(back, got) {
			t.Fatalf("re-encoded entries decode differently (%v)", err)
		}
	})
}
