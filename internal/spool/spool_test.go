package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// clock is a settable time for the window's arithmetic.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func open(t *testing.T, path string, c *clock, m *Metrics, maxSize int64) *Spool {
	t.Helper()
	s, err := Open(Options{Path: path, ReplayWindow: 10 * time.Minute, MaxSize: maxSize, Now: c.now, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// crash leaves s as a killed process would: files closed by the kernel,
// the lock released, nothing flushed or renamed.
func crash(s *Spool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		s.cur.f.Close()
	}
	s.lock.Close()
	s.closed = true
}

func replayAll(t *testing.T, s *Spool) []string {
	t.Helper()
	var got []string
	if _, err := s.Replay(context.Background(), func(count int, payload []byte) error {
		got = append(got, fmt.Sprintf("%d:%s", count, payload))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestCrashThenAdoptReplaysEveryAcknowledgedRecord(t *testing.T) {
	path := t.TempDir()
	c := &clock{t: time.Now()}
	s1 := open(t, path, c, nil, 1<<30)
	var want []string
	for i := range 300 {
		p := fmt.Sprintf("record-%d", i)
		if err := s1.Append(i%7+1, []byte(p)); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("%d:%s", i%7+1, p))
		c.add(time.Second) // several segments (one per window/8)
	}
	if n := len(segmentFiles(t, s1.Dir())); n < 3 {
		t.Fatalf("%d segments, want several to replay in order", n)
	}
	crash(s1)

	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg, "test")
	if err != nil {
		t.Fatal(err)
	}
	s2 := open(t, path, c, m, 1<<30)
	defer s2.Close()
	if got := replayAll(t, s2); !slices.Equal(got, want) {
		t.Fatalf("replayed %d records, want the %d acknowledged ones in order; first %q", len(got), len(want), got[:min(3, len(got))])
	}
	if got := replayAll(t, s2); len(got) != 0 {
		t.Errorf("a second Replay gave %d records; each adopted segment is replayed once", len(got))
	}
	if _, err := os.Stat(s1.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dead owner's directory is still there (%v)", err)
	}
	if v := testutil.ToFloat64(m.replayedTotal); int(v) != entriesOf(want) {
		t.Errorf("replayed metric %v, want %d", v, entriesOf(want))
	}
	// The adopted segments stay (in s2's directory) for the rest of the
	// window: a crash of s2 replays them again.
	crash(s2)
	s3 := open(t, path, c, nil, 1<<30)
	defer s3.Close()
	if got := replayAll(t, s3); !slices.Equal(got, want) {
		t.Fatalf("after a second crash, replayed %d records, want %d", len(got), len(want))
	}
}

func entriesOf(records []string) int {
	n := 0
	for _, r := range records {
		var c int
		fmt.Sscanf(r, "%d:", &c)
		n += c
	}
	return n
}

func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*"+segmentSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestLiveOwnerIsNotAdopted(t *testing.T) {
	path := t.TempDir()
	c := &clock{t: time.Now()}
	s1 := open(t, path, c, nil, 1<<30)
	defer s1.Close()
	if err := s1.Append(1, []byte("mine")); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, path, c, nil, 1<<30)
	defer s2.Close()
	if got := replayAll(t, s2); len(got) != 0 {
		t.Fatalf("a second process replayed a live one's records: %q", got)
	}
	if n, err := s2.Maintain(); err != nil || n != 0 {
		t.Fatalf("Maintain adopted %d (%v), want 0 while the owner lives", n, err)
	}
	// A clean Close releases the directory: the next one replays it too
	// (loki.write may not have drained it).
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := s2.Maintain(); err != nil || n != 1 {
		t.Fatalf("Maintain adopted %d (%v) after the owner closed, want 1", n, err)
	}
	if got := replayAll(t, s2); !slices.Equal(got, []string{"1:mine"}) {
		t.Fatalf("replayed %q", got)
	}
}

func TestTornTailReplaysWhatPrecedesIt(t *testing.T) {
	path := t.TempDir()
	c := &clock{t: time.Now()}
	s1 := open(t, path, c, nil, 1<<30)
	for _, p := range []string{"a", "b", "c"} {
		if err := s1.Append(1, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	seg, off := s1.cur.path, s1.cur.off
	crash(s1)
	// A write the crash cut short: a header promising more than follows.
	f, err := os.OpenFile(seg, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt(appendRecord(nil, 1, []byte("never acknowledged"))[:20], off)
	f.Close()

	reg := prometheus.NewRegistry()
	m, _ := NewMetrics(reg, "test")
	s2 := open(t, path, c, m, 1<<30)
	defer s2.Close()
	if got := replayAll(t, s2); !slices.Equal(got, []string{"1:a", "1:b", "1:c"}) {
		t.Fatalf("replayed %q, want the three intact records", got)
	}
	if v := testutil.ToFloat64(m.tornTotal); v != 1 {
		t.Errorf("torn segments %v, want 1", v)
	}
}

func TestCorruptRecordStopsItsSegment(t *testing.T) {
	path := t.TempDir()
	c := &clock{t: time.Now()}
	s1 := open(t, path, c, nil, 1<<30)
	s1.Append(1, []byte("first"))
	s1.Append(1, []byte("second"))
	seg, off := s1.cur.path, s1.cur.off
	crash(s1)
	b, _ := os.ReadFile(seg)
	b[off-1] ^= 0xff // the second record's last byte
	os.WriteFile(seg, b, 0o644)
	s2 := open(t, path, c, nil, 1<<30)
	defer s2.Close()
	if got := replayAll(t, s2); !slices.Equal(got, []string{"1:first"}) {
		t.Fatalf("replayed %q, want only the record before the damage", got)
	}
}

func TestOldSegmentsExpireInsteadOfReplaying(t *testing.T) {
	path := t.TempDir()
	c := &clock{t: time.Now()}
	s1 := open(t, path, c, nil, 1<<30)
	s1.Append(5, []byte("old"))
	c.add(2 * time.Minute) // a new segment
	s1.Append(3, []byte("recent"))
	crash(s1)
	// An adopted segment's age is its file's: the last write.
	files := segmentFiles(t, s1.Dir())
	if len(files) != 2 {
		t.Fatalf("%d segments, want 2", len(files))
	}
	// Past the window and a segment's age (1/8 of it, the slack for a
	// file time that lags its last record), and inside it.
	for i, age := range []time.Duration{12 * time.Minute, 9 * time.Minute} {
		at := c.now().Add(-age)
		if err := os.Chtimes(files[i], at, at); err != nil {
			t.Fatal(err)
		}
	}

	reg := prometheus.NewRegistry()
	m, _ := NewMetrics(reg, "test")
	s2 := open(t, path, c, m, 1<<30)
	defer s2.Close()
	if got := replayAll(t, s2); !slices.Equal(got, []string{"3:recent"}) {
		t.Fatalf("replayed %q, want only the record inside the 10-minute window", got)
	}
	if v := testutil.ToFloat64(m.expiredTotal); v != 5 {
		t.Errorf("expired entries %v, want 5", v)
	}
}

func TestMaintainDeletesWhatLeftTheWindow(t *testing.T) {
	path := t.TempDir()
	c := &clock{t: time.Now()}
	s := open(t, path, c, nil, 1<<30)
	defer s.Close()
	for range 20 {
		if err := s.Append(1, make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
		c.add(time.Minute)
	}
	before := s.Size()
	if _, err := s.Maintain(); err != nil {
		t.Fatal(err)
	}
	after := s.Size()
	files := segmentFiles(t, s.Dir())
	var onDisk int64
	for _, f := range files {
		info, _ := os.Stat(f)
		onDisk += info.Size()
	}
	// 20 one-minute segments, window 10 minutes: the 10 written in the
	// last 10 minutes stay.
	if len(files) != 10 || after >= before || after != onDisk {
		t.Fatalf("after Maintain: %d segments, size %d (before %d, on disk %d); want 10 segments and size == disk", len(files), after, before, onDisk)
	}
	// Idle for a whole window: the current segment goes too.
	c.add(11 * time.Minute)
	s.Maintain()
	if files := segmentFiles(t, s.Dir()); len(files) != 0 || s.Size() != 0 {
		t.Fatalf("after an idle window: %d segments, size %d", len(files), s.Size())
	}
	if err := s.Append(1, []byte("again")); err != nil {
		t.Fatalf("append after the sweep: %v", err)
	}
}

func TestFullSpoolRefusesAndKeepsWhatItHas(t *testing.T) {
	path := t.TempDir()
	c := &clock{t: time.Now()}
	reg := prometheus.NewRegistry()
	m, _ := NewMetrics(reg, "test")
	const cap = 64 << 10
	s := open(t, path, c, m, cap)
	accepted := 0
	var err error
	for ; accepted < 1000; accepted++ {
		if err = s.Append(2, make([]byte, 100)); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrFull) || accepted == 0 {
		t.Fatalf("after %d appends: %v, want ErrFull", accepted, err)
	}
	// Over the cap by at most the space written ahead (1/32 of it, at
	// least 4 KiB).
	if s.Size() > cap+4<<10 {
		t.Errorf("size %d over the cap %d by more than one chunk", s.Size(), cap)
	}
	if v := testutil.ToFloat64(m.refusedTotal.WithLabelValues("full")); v != 2 {
		t.Errorf("refused full %v, want 2 (the one refused append)", v)
	}
	crash(s)
	s2 := open(t, path, c, nil, 1<<20)
	defer s2.Close()
	if got := replayAll(t, s2); len(got) != accepted {
		t.Fatalf("replayed %d records, want the %d accepted", len(got), accepted)
	}
}

func TestFailedWriteIsAnErrorThenRecovers(t *testing.T) {
	path := t.TempDir()
	c := &clock{t: time.Now()}
	reg := prometheus.NewRegistry()
	m, _ := NewMetrics(reg, "test")
	s := open(t, path, c, m, 1<<30)
	defer s.Close()
	if err := s.Append(1, []byte("ok")); err != nil {
		t.Fatal(err)
	}
	s.cur.f.Close() // the next write fails, as on a disk that went away
	err := s.Append(1, []byte("lost"))
	if err == nil || !strings.Contains(err.Error(), "writing") {
		t.Fatalf("append to a failing file: %v, want a write error", err)
	}
	if s.Err() == nil {
		t.Error("Err() is nil after a failed write")
	}
	// Within a second the disk is not tried again.
	if err := s.Append(1, []byte("soon")); err == nil {
		t.Fatal("an append right after a failed write succeeded without trying the disk")
	}
	c.add(retryFailedDisk)
	if err := s.Append(1, []byte("next")); err != nil {
		t.Fatalf("append after the failure: %v (a new segment should take it)", err)
	}
	if s.Err() != nil {
		t.Errorf("Err() = %v after a good write", s.Err())
	}
	if v := testutil.ToFloat64(m.writeErrors); v != 1 {
		t.Errorf("write errors %v, want 1", v)
	}
}

func TestConcurrentAppendsShareSyncsAndAllReplay(t *testing.T) {
	path := t.TempDir()
	c := &clock{t: time.Now()}
	s := open(t, path, c, nil, 1<<30)
	var wg sync.WaitGroup
	want := map[string]bool{}
	var mu sync.Mutex
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				p := fmt.Sprintf("w%d-%d", w, i)
				if err := s.Append(1, []byte(p)); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				want["1:"+p] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	crash(s)
	s2 := open(t, path, c, nil, 1<<30)
	defer s2.Close()
	got := replayAll(t, s2)
	if len(got) != len(want) {
		t.Fatalf("replayed %d, want %d", len(got), len(want))
	}
	for _, g := range got {
		if !want[g] {
			t.Fatalf("replayed %q, never appended", g)
		}
	}
}

func TestCloseFlushesAndReleases(t *testing.T) {
	path := t.TempDir()
	c := &clock{t: time.Now()}
	s := open(t, path, c, nil, 1<<30)
	s.Append(1, []byte("x"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(1, []byte("y")); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after Close: %v", err)
	}
}

func TestHalfCreatedDirectoryIsRemovedWhenStale(t *testing.T) {
	path := t.TempDir()
	c := &clock{t: time.Now()}
	stale := filepath.Join(path, ".host-1")
	os.Mkdir(stale, 0o755)
	os.WriteFile(filepath.Join(stale, lockName), nil, 0o644)
	old := time.Now().Add(-2 * staleTemp)
	os.Chtimes(stale, old, old)
	fresh := filepath.Join(path, ".host-2")
	os.Mkdir(fresh, 0o755)
	os.WriteFile(filepath.Join(fresh, lockName), nil, 0o644)
	s := open(t, path, c, nil, 1<<30)
	defer s.Close()
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale half-created directory kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a directory being created right now was removed: %v", err)
	}
}

// On a network file system (EFS) nothing is written ahead: records are
// appended and synced, and replay reads them the same.
func TestAppendWithoutWritingAhead(t *testing.T) {
	path := t.TempDir()
	c := &clock{t: time.Now()}
	s := open(t, path, c, nil, 1<<30)
	s.maxChunk = 0 // what Open chooses on NFS
	var want []string
	for i := range 50 {
		p := fmt.Sprintf("r%d", i)
		if err := s.Append(1, []byte(p)); err != nil {
			t.Fatal(err)
		}
		want = append(want, "1:"+p)
	}
	info, err := os.Stat(s.cur.path)
	if err != nil || info.Size() != s.cur.off || s.Size() != s.cur.off {
		t.Fatalf("segment of %v bytes, written %d, spool size %d: want no zeros ahead", info.Size(), s.cur.off, s.Size())
	}
	crash(s)
	s2 := open(t, path, c, nil, 1<<30)
	defer s2.Close()
	if got := replayAll(t, s2); !slices.Equal(got, want) {
		t.Fatalf("replayed %d records, want %d", len(got), len(want))
	}
}
