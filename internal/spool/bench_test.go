package spool

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkAppendParallel is the spool's cost per request under concurrent
// requests (one 50-entry record of ~15 KB each), fsync included: the
// number to compare with a request's total time.
func BenchmarkAppendParallel(b *testing.B) {
	s, err := Open(Options{Path: b.TempDir(), ReplayWindow: time.Minute, MaxSize: 1 << 40})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	payload := make([]byte, 15<<10)
	b.SetBytes(int64(len(payload)))
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Append(50, payload); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSegmentWrite is one 15 KB record written and made durable, one
// at a time: into space written ahead and fdatasync'd (a local disk), or
// appended and fsync'd (what the spool does on NFS, and what it did first).
// docs/reliability.md quotes it.
func BenchmarkSegmentWrite(b *testing.B) {
	for _, tc := range []struct {
		name     string
		maxChunk int64
	}{{"ahead+fdatasync", 8 << 20}, {"append+fsync", 0}} {
		b.Run(tc.name, func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "seg"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			seg := &segment{f: f, chunk: minChunk}
			data := make([]byte, 15<<10)
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := seg.write(data, tc.maxChunk); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
