// Package spool makes an acknowledgement durable: records are appended to
// segment files and fsynced before Append returns, concurrent appends
// sharing one fsync (group commit). Segments are kept for a replay window,
// then deleted. Each process owns a directory under the spool's path, held
// by a file lock; directories whose lock is free belong to processes that
// are gone (a crash, a replaced task), and a spool adopts them: their
// segments still inside the window move into its own directory and are
// handed back, once, through Replay.
//
// Replaying is safe because what is spooled is the refined entry itself:
// the same entry pushed to Loki twice is stored once.
package spool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// ErrFull is returned by Append when the records would take the spool past
// its size cap.
var ErrFull = errors.New("spool full")

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("spool closed")

const (
	lockName      = "lock"
	segmentSuffix = ".seg"
	// staleTemp is how old a half-created owner directory must be before
	// another process removes it.
	staleTemp = time.Minute
	// retryFailedDisk is how long after a failed write the spool refuses
	// without trying the disk again.
	retryFailedDisk = time.Second
	// minChunk is the first space written ahead in a segment: small, so a
	// quiet service writes little more than its records.
	minChunk = 64 << 10
	// A write that follows the last one within busyWithin first waits
	// commitDelay for more requests to share its sync.
	busyWithin  = 2 * time.Millisecond
	commitDelay = 300 * time.Microsecond
)

// Options configure a spool.
type Options struct {
	// Path is the directory that holds the owners' directories; every
	// process sharing it (tasks on one EFS volume) adopts the others'
	// spools when they are gone.
	Path string
	// ReplayWindow is how long a record is kept, and so how old an entry
	// a crash can still bring back.
	ReplayWindow time.Duration
	// MaxSize caps the bytes of the owner's segments, adopted ones
	// included; Append returns ErrFull past it.
	MaxSize int64
	// Owner names this process's directory; "" uses the host name.
	Owner string
	// Logger gets what a crash left behind (torn records, adoptions).
	Logger *slog.Logger
	// Metrics, if not nil, count the spool's outcomes.
	Metrics *Metrics
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Spool is one process's spool directory. Its methods are safe for
// concurrent use.
type Spool struct {
	opts     Options
	dir      string // this owner's directory
	lock     *os.File
	segSize  int64
	segAge   time.Duration
	maxChunk int64
	logger   *slog.Logger
	metrics  *Metrics

	mu        sync.Mutex
	cond      *sync.Cond
	buf       []byte // records waiting for the next write
	spare     []byte
	pending   *group // the appends whose records are in buf
	flushing  bool   // one appender writes at a time, without mu
	cur       *segment
	segs      []*segment // closed and adopted segments
	size      int64      // bytes of cur and segs
	replay    []*segment // adopted segments not replayed yet
	lastErr   error      // of the last write; nil after a good one
	failedAt  time.Time  // of the last failed write
	lastFlush time.Time  // when the last write ended (wall clock)
	seq       int
	closed    bool

	bufs sync.Pool // encoding buffers of AppendEntries
}

type segment struct {
	path    string
	f       *os.File // the segment being written, else nil
	size    int64    // bytes on disk, the zeros written ahead included
	off     int64    // where the next record goes
	chunk   int64    // the next extension's size
	created time.Time
	last    time.Time // last write
	pending bool      // waiting in replay
}

type group struct {
	done bool
	err  error
}

// Open creates this process's directory under opts.Path, locks it, and
// adopts the directories of processes that are gone.
func Open(opts Options) (*Spool, error) {
	if opts.ReplayWindow <= 0 || opts.MaxSize <= 0 {
		return nil, fmt.Errorf("spool: replay window and max size must be positive")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Owner == "" {
		host, _ := os.Hostname()
		opts.Owner = host
	}
	s := &Spool{opts: opts, logger: opts.Logger, metrics: opts.Metrics, pending: &group{}}
	s.cond = sync.NewCond(&s.mu)
	// Segments last at most 1/8 of the window (so what is deleted is at
	// most that much older than the window) and 1/8 of the cap.
	s.segAge = min(max(opts.ReplayWindow/8, time.Second), time.Minute)
	s.segSize = min(max(opts.MaxSize/8, 64<<10), 64<<20)
	// The space written ahead can take the spool past MaxSize by at most
	// one chunk, 1/32 of it.
	s.maxChunk = min(8<<20, max(opts.MaxSize/32, 4<<10))

	if err := os.MkdirAll(opts.Path, 0o755); err != nil {
		return nil, fmt.Errorf("creating spool path: %w", err)
	}
	if networkFS(opts.Path) {
		// On NFS (EFS) a sync is one COMMIT whatever changed, and zeros
		// written ahead would double the bytes written (and EFS's bill).
		s.maxChunk = 0
	}
	if err := s.claim(); err != nil {
		return nil, err
	}
	if _, err := s.Adopt(); err != nil {
		s.lock.Close()
		return nil, err
	}
	return s, nil
}

// claim creates and locks this owner's directory. It is created under a
// hidden name and renamed once locked, so no other process can take it for
// a dead one's in between.
func (s *Spool) claim() error {
	owner := fmt.Sprintf("%s-%x-%08x", safeName(s.opts.Owner), s.opts.Now().UnixNano(), rand.Uint32())
	tmp := filepath.Join(s.opts.Path, "."+owner)
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return fmt.Errorf("creating spool directory: %w", err)
	}
	lf, err := os.OpenFile(filepath.Join(tmp, lockName), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("creating spool lock: %w", err)
	}
	if held, err := tryLock(lf); !held {
		lf.Close()
		return fmt.Errorf("locking spool directory %s: %w", tmp, errors.Join(err, errors.New("lock held by another process")))
	}
	s.dir = filepath.Join(s.opts.Path, owner)
	if err := os.Rename(tmp, s.dir); err != nil {
		lf.Close()
		return fmt.Errorf("naming spool directory: %w", err)
	}
	if err := syncDir(s.opts.Path); err != nil {
		lf.Close()
		return err
	}
	s.lock = lf
	return nil
}

// safeName keeps a host name usable as a directory name.
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, s)
	if s == "" || s[0] == '.' {
		s = "spool" + s
	}
	return s
}

// Dir is this process's own directory.
func (s *Spool) Dir() string { return s.dir }

// Adopt takes over the directories of processes that are gone: segments
// inside the replay window move here and wait for Replay; older ones are
// deleted (counted as expired). It returns how many directories it took.
func (s *Spool) Adopt() (int, error) {
	names, err := os.ReadDir(s.opts.Path)
	if err != nil {
		return 0, fmt.Errorf("listing spool path: %w", err)
	}
	adopted := 0
	for _, e := range names {
		p := filepath.Join(s.opts.Path, e.Name())
		if !e.IsDir() || p == s.dir {
			continue
		}
		ok, err := s.adopt(p, strings.HasPrefix(e.Name(), "."))
		if err != nil {
			return adopted, err
		}
		if ok {
			adopted++
		}
	}
	if adopted > 0 {
		if err := syncDir(s.dir); err != nil {
			return adopted, err
		}
	}
	return adopted, nil
}

// adopt takes over the directory p if its owner is gone. A hidden (half
// created) directory is only removed, and only once it is stale.
func (s *Spool) adopt(p string, hidden bool) (bool, error) {
	if hidden {
		if info, err := os.Stat(p); err != nil || s.opts.Now().Sub(info.ModTime()) < staleTemp {
			return false, nil
		}
	}
	lf, err := os.OpenFile(filepath.Join(p, lockName), os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		// An adoption that crashed after moving the segments and
		// removing the lock: only an empty directory is left.
		_ = os.Remove(p)
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("opening spool lock of %s: %w", p, err)
	}
	defer lf.Close()
	if held, err := tryLock(lf); err != nil || !held {
		return false, err // alive
	}
	files, err := filepath.Glob(filepath.Join(p, "*"+segmentSuffix))
	if err != nil {
		return false, err
	}
	now := s.opts.Now()
	var took []*segment
	for _, f := range files {
		info, err := os.Stat(f)
		if err != nil {
			return false, fmt.Errorf("adopting %s: %w", f, err)
		}
		// A record synced without its metadata may leave the file's
		// time up to a segment's age behind: keep that much more.
		if now.Sub(info.ModTime()) > s.opts.ReplayWindow+s.segAge {
			n := countEntries(f)
			if err := os.Remove(f); err != nil {
				return false, fmt.Errorf("removing expired segment: %w", err)
			}
			s.metrics.expired(n)
			continue
		}
		dst := filepath.Join(s.dir, s.segmentName(info.ModTime()))
		if err := os.Rename(f, dst); err != nil {
			return false, fmt.Errorf("adopting %s: %w", f, err)
		}
		took = append(took, &segment{path: dst, size: info.Size(), created: info.ModTime(), last: info.ModTime(), pending: true})
	}
	// The segments are ours before the directory goes: a crash from here
	// on leaves them in a directory the next process adopts.
	if err := syncDir(s.dir); err != nil {
		return false, err
	}
	_ = os.Remove(filepath.Join(p, lockName))
	_ = os.Remove(p)
	slices.SortFunc(took, func(a, b *segment) int { return a.last.Compare(b.last) })
	s.mu.Lock()
	for _, seg := range took {
		s.segs = append(s.segs, seg)
		s.size += seg.size
	}
	s.replay = append(s.replay, took...)
	s.mu.Unlock()
	s.metrics.adopted()
	s.metrics.setSize(s.Size())
	s.logger.Info("adopted the spool of a process that is gone", "dir", p, "segments", len(took))
	return true, nil
}

// Append writes a record of payload, holding count entries, and returns
// once it is on disk (fsynced) or could not be. Appends that arrive while
// a write is under way are written together by the next one.
func (s *Spool) Append(count int, payload []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if len(payload) == 0 {
		return nil // nothing to keep; a zero length marks a segment's end
	}
	if s.size+int64(len(s.buf)+headerSize+len(payload)) > s.opts.MaxSize {
		s.metrics.refused("full", count)
		return ErrFull
	}
	s.buf = appendRecord(s.buf, count, payload)
	g := s.pending
	for !g.done {
		if s.flushing {
			s.cond.Wait()
			continue
		}
		s.flush()
	}
	if g.err != nil {
		s.metrics.refused("write_error", count)
	}
	return g.err
}

// flush writes buf and waits for the disk, without holding mu. Called with
// mu held and no flush under way.
func (s *Spool) flush() {
	s.flushing = true
	// Busy (the last write ended a moment ago): wait a little for the
	// requests on their way, so one sync serves more of them. Each sync
	// costs the kernel about as much CPU as a small request's decoding.
	if time.Since(s.lastFlush) < busyWithin {
		s.mu.Unlock()
		time.Sleep(commitDelay)
		s.mu.Lock()
	}
	data, g := s.buf, s.pending
	s.buf, s.pending = s.spare[:0], &group{}
	seg, err := s.segment()
	if err == nil {
		s.mu.Unlock()
		start := time.Now()
		var grown int64
		grown, err = seg.write(data, s.maxChunk)
		s.metrics.synced(time.Since(start))
		s.mu.Lock()
		s.size += grown
		if err == nil {
			seg.last = s.opts.Now()
		} else {
			err = fmt.Errorf("writing spool segment %s: %w", seg.path, err)
			s.abandon(err)
		}
	}
	s.spare = data[:0]
	g.done, g.err = true, err
	if err != nil && err != s.lastErr {
		s.failedAt = s.opts.Now()
	}
	s.lastErr = err
	s.flushing = false
	s.lastFlush = time.Now()
	s.cond.Broadcast()
	s.metrics.setSize(s.size)
}

// write puts data at the segment's offset and waits for the disk. Space
// is written with zeros ahead of the records, in chunks that double up to
// maxChunk, and synced with the file's size once per chunk: within it, a
// record needs only its data on disk (fdatasync, no journal commit), which
// is what makes an acknowledgement cheap on a local disk. With maxChunk 0
// (a network file system) records are appended and synced. It returns the
// bytes it added to the file. Only the flusher calls it.
func (seg *segment) write(data []byte, maxChunk int64) (grown int64, err error) {
	end := seg.off + int64(len(data))
	if maxChunk == 0 {
		if _, err := seg.f.WriteAt(data, seg.off); err != nil {
			return 0, err
		}
		grown = end - seg.size
		seg.size = end
		if err := seg.f.Sync(); err != nil {
			return grown, err
		}
		seg.off = end
		return grown, nil
	}
	full := false
	if end > seg.size {
		ext := max(seg.chunk, end-seg.size)
		seg.chunk = min(seg.chunk*2, maxChunk)
		if err := writeZeros(seg.f, seg.size, ext); err != nil {
			return 0, err
		}
		seg.size += ext
		grown, full = ext, true
	}
	if _, err := seg.f.WriteAt(data, seg.off); err != nil {
		return grown, err
	}
	if full {
		err = seg.f.Sync()
	} else {
		err = datasync(seg.f)
	}
	if err == nil {
		seg.off = end
	}
	return grown, err
}

var zeros = make([]byte, 64<<10)

func writeZeros(f *os.File, off, n int64) error {
	for n > 0 {
		c := min(n, int64(len(zeros)))
		if _, err := f.WriteAt(zeros[:c], off); err != nil {
			return err
		}
		off, n = off+c, n-c
	}
	return nil
}

// segment returns the segment to write to, rolling to a new one when the
// current one is full or old enough. Called with mu held.
func (s *Spool) segment() (*segment, error) {
	now := s.opts.Now()
	if s.cur != nil && (s.cur.off >= s.segSize || now.Sub(s.cur.created) >= s.segAge) {
		s.closeCurrent()
	}
	if s.cur != nil {
		return s.cur, nil
	}
	// A disk that just failed is not asked again at once: requests are
	// refused for a second instead of each leaving a new broken segment.
	if s.lastErr != nil && now.Sub(s.failedAt) < retryFailedDisk {
		return nil, s.lastErr
	}
	path := filepath.Join(s.dir, s.nextName(now))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("creating spool segment: %w", err)
	}
	if _, err = f.Write([]byte(magic)); err == nil {
		err = f.Sync()
	}
	if err != nil {
		f.Close()
		_ = os.Remove(path)
		return nil, fmt.Errorf("writing spool segment %s: %w", path, err)
	}
	if err := syncDir(s.dir); err != nil {
		f.Close()
		_ = os.Remove(path)
		return nil, err
	}
	s.cur = &segment{path: path, f: f, size: int64(len(magic)), off: int64(len(magic)), chunk: min(minChunk, s.maxChunk), created: now, last: now}
	s.size += s.cur.size
	return s.cur, nil
}

// segmentName names a segment of this directory, in time order; the
// sequence number keeps names unique. Called without mu.
func (s *Spool) segmentName(t time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextName(t)
}

// nextName is segmentName with mu held.
func (s *Spool) nextName(t time.Time) string {
	s.seq++
	return fmt.Sprintf("%016x-%06d%s", t.UnixNano(), s.seq, segmentSuffix)
}

// closeCurrent closes the segment being written; it stays until it ages
// out. Called with mu held and no flush under way.
func (s *Spool) closeCurrent() {
	if s.cur == nil {
		return
	}
	_ = s.cur.f.Close()
	s.cur.f = nil
	s.segs = append(s.segs, s.cur)
	s.cur = nil
}

// abandon gives up on the current segment after a failed write: what a
// failed fsync left is unknown, so nothing more goes into it. Its intact
// records are kept; the next append starts a new segment.
func (s *Spool) abandon(err error) {
	s.logger.Error("spool write failed; the requests were refused", "err", err)
	s.metrics.writeError()
	if info, serr := s.cur.f.Stat(); serr == nil {
		s.size += info.Size() - s.cur.size
		s.cur.size = info.Size()
	}
	s.closeCurrent()
}

// Maintain deletes segments older than the replay window and adopts the
// directories of processes gone since the last call. Call it periodically.
func (s *Spool) Maintain() (adopted int, err error) {
	now := s.opts.Now()
	s.mu.Lock()
	if s.cur != nil && !s.flushing && now.Sub(s.cur.last) > s.opts.ReplayWindow {
		s.closeCurrent()
	}
	kept := s.segs[:0]
	for _, seg := range s.segs {
		if now.Sub(seg.last) <= s.opts.ReplayWindow {
			kept = append(kept, seg)
			continue
		}
		if seg.pending {
			// Still waiting for replay when its window passed.
			s.metrics.expired(countEntries(seg.path))
			s.replay = slices.DeleteFunc(s.replay, func(r *segment) bool { return r == seg })
		}
		if rerr := os.Remove(seg.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, fmt.Errorf("removing aged-out segment: %w", rerr))
			kept = append(kept, seg)
			continue
		}
		s.size -= seg.size
	}
	clear(s.segs[len(kept):])
	s.segs = kept
	size := s.size
	s.mu.Unlock()
	s.metrics.setSize(size)
	n, aerr := s.Adopt()
	return n, errors.Join(err, aerr)
}

// Replay calls fn with every record of the adopted segments not replayed
// yet, oldest first. Damaged records end their segment's replay (they were
// never acknowledged) and are logged. A segment whose replay fn fails
// stays on disk, and so is replayed by whoever adopts this directory.
func (s *Spool) Replay(ctx context.Context, fn func(count int, payload []byte) error) (int, error) {
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		s.mu.Lock()
		if len(s.replay) == 0 {
			s.mu.Unlock()
			return total, nil
		}
		seg := s.replay[0]
		s.replay = s.replay[1:]
		seg.pending = false
		s.mu.Unlock()
		_, n, err := readSegment(seg.path, fn)
		total += n
		s.metrics.replayed(n)
		switch {
		case errors.Is(err, errTorn):
			s.metrics.torn()
			s.logger.Warn("spool segment ends in a damaged record (a write cut short by a crash); replayed what precedes it", "err", err)
		case errors.Is(err, os.ErrNotExist):
			// Aged out while waiting.
		case err != nil:
			return total, fmt.Errorf("replaying %s: %w", seg.path, err)
		}
	}
}

// Size is the bytes the spool holds on disk.
func (s *Spool) Size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// Err is the error of the last write, nil once a write succeeded again.
func (s *Spool) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// Close waits for a write under way, closes the current segment and
// releases the directory: the next process to open a spool on the same
// path adopts it and replays what is still inside the window.
func (s *Spool) Close() error {
	s.mu.Lock()
	for s.flushing || len(s.buf) > 0 {
		if s.flushing {
			s.cond.Wait()
		} else {
			s.flush()
		}
	}
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.closeCurrent()
	s.cond.Broadcast()
	s.mu.Unlock()
	return s.lock.Close()
}

// syncDir makes a directory's entries (files created, renamed) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}
