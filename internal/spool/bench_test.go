package spool

import (
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
