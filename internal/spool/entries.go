package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/grafana/loki/pkg/push"
	"github.com/prometheus/common/model"

	"github.com/grafana/alloy/curated/internal/entry"
)

// A record's payload holds entries as they are handed to forward_to:
//
//	per entry: labels (count, then name and value), timestamp (Unix
//	nanoseconds, varint), line, structured metadata (count, then pairs)
//
// with counts and lengths as uvarints. Replaying decodes the same labels,
// timestamp, line and metadata, which is what lets Loki store a replayed
// entry once.

// EncodeEntries encodes entries onto dst.
func EncodeEntries(dst []byte, entries []entry.Entry) []byte {
	for i := range entries {
		e := &entries[i]
		dst = binary.AppendUvarint(dst, uint64(len(e.Labels)))
		for name, value := range e.Labels {
			dst = appendString(dst, string(name))
			dst = appendString(dst, string(value))
		}
		dst = binary.AppendVarint(dst, e.Entry.Timestamp.UnixNano())
		dst = appendString(dst, e.Entry.Line)
		dst = binary.AppendUvarint(dst, uint64(len(e.Entry.StructuredMetadata)))
		for _, l := range e.Entry.StructuredMetadata {
			dst = appendString(dst, l.Name)
			dst = appendString(dst, l.Value)
		}
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

var errShort = errors.New("spooled entry cut short")

// DecodeEntries decodes count entries of a payload written by
// EncodeEntries, calling fn with each.
func DecodeEntries(payload []byte, count int, fn func(labels model.LabelSet, entry push.Entry) error) error {
	d := decoder{b: payload}
	for i := 0; i < count; i++ {
		n := d.count()
		labels := make(model.LabelSet, n)
		for j := 0; j < n && d.err == nil; j++ {
			name := d.string()
			labels[model.LabelName(name)] = model.LabelValue(d.string())
		}
		ts := d.varint()
		e := push.Entry{Timestamp: time.Unix(0, ts).UTC(), Line: d.string()}
		if n := d.count(); n > 0 && d.err == nil {
			e.StructuredMetadata = make(push.LabelsAdapter, n)
			for j := range e.StructuredMetadata {
				e.StructuredMetadata[j] = push.LabelAdapter{Name: d.string(), Value: d.string()}
			}
		}
		if d.err != nil {
			return fmt.Errorf("entry %d: %w", i, d.err)
		}
		if err := fn(labels, e); err != nil {
			return err
		}
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%d bytes after the last entry", len(d.b))
	}
	return nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	return d.advance(v, n)
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	return int64(d.advance(uint64(v), n))
}

// advance takes the n bytes a varint read used, or records that it could
// not read one.
func (d *decoder) advance(v uint64, n int) uint64 {
	if d.err != nil {
		return 0
	}
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a count of items, each at least one byte long.
func (d *decoder) count() int {
	v := d.uvarint()
	if v > uint64(len(d.b)) {
		d.err = errShort
		return 0
	}
	return int(v)
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errShort
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// AppendEntries spools entries as one record, returning once it is on disk.
func (s *Spool) AppendEntries(entries []entry.Entry) error {
	bp, _ := s.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	*bp = EncodeEntries((*bp)[:0], entries)
	err := s.Append(len(entries), *bp)
	if cap(*bp) <= 1<<20 { // keep what a usual request needs, not a rare giant
		s.bufs.Put(bp)
	}
	return err
}

// ReplayEntries is Replay, decoding each record's entries for fn.
func (s *Spool) ReplayEntries(ctx context.Context, fn func(labels model.LabelSet, entry push.Entry) error) (int, error) {
	return s.Replay(ctx, func(count int, payload []byte) error {
		return DecodeEntries(payload, count, fn)
	})
}
