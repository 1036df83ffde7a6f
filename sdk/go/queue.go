package curated

import "sync"

// queue holds encoded events until the sender takes them: a ring that
// grows by doubling up to maxItems, bounded in count and bytes.
type queue struct {
	mu        sync.Mutex
	ring      [][]byte
	head, n   int // ring[head], ... ring[head+n-1] (mod len) are queued
	bytes     int
	maxItems  int
	maxBytes  int
	policy    DropPolicy
	ready     chan struct{} // signalled when a batch may be due
	batchSize int
	closed    bool // set by Close: nothing is queued after the final drain
}

// pushResult says what became of a pushed event.
type pushResult uint8

const (
	queued  pushResult = iota
	refused            // the queue is full (DropNewest) or the event alone is over its byte bound
	closed             // the client is closed
)

func (q *queue) init(maxItems, maxBytes int, policy DropPolicy) {
	q.maxItems, q.maxBytes, q.policy = maxItems, maxBytes, policy
	q.ready = make(chan struct{}, 1)
}

// push queues item and reports what became of it and how many older events
// it pushed out. Checking closed under the queue's lock means an event is
// either queued before Close's final drain or counted as closed: never lost
// between the two.
func (q *queue) push(item []byte) (res pushResult, evicted int) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return closed, 0
	}
	if len(item) > q.maxBytes {
		q.mu.Unlock()
		return refused, 0
	}
	for q.n > 0 && (q.n >= q.maxItems || q.bytes+len(item) > q.maxBytes) {
		if q.policy == DropNewest {
			q.mu.Unlock()
			return refused, 0
		}
		q.pop()
		evicted++
	}
	if q.n == len(q.ring) {
		q.grow()
	}
	q.ring[(q.head+q.n)%len(q.ring)] = item
	q.n++
	q.bytes += len(item)
	n := q.n
	q.mu.Unlock()
	if n == 1 || n >= q.batchSize {
		select {
		case q.ready <- struct{}{}:
		default:
		}
	}
	return queued, evicted
}

// close refuses every later push.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
}

func (q *queue) grow() {
	size := min(max(2*len(q.ring), 64), q.maxItems)
	ring := make([][]byte, size)
	for i := 0; i < q.n; i++ {
		ring[i] = q.ring[(q.head+i)%len(q.ring)]
	}
	q.ring, q.head = ring, 0
}

// pop removes the oldest event; the caller holds mu and knows n > 0.
func (q *queue) pop() []byte {
	it := q.ring[q.head]
	q.ring[q.head] = nil
	q.head = (q.head + 1) % len(q.ring)
	q.n--
	q.bytes -= len(it)
	return it
}

// take removes up to maxItems events and maxBytes bytes (at least one
// event when any is queued).
func (q *queue) take(maxItems, maxBytes int) [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out [][]byte
	size := 0
	for q.n > 0 && len(out) < maxItems {
		if it := q.ring[q.head]; len(out) > 0 && size+len(it) > maxBytes {
			break
		}
		it := q.pop()
		out = append(out, it)
		size += len(it)
	}
	return out
}

// status returns the queued count and bytes.
func (q *queue) status() (int, int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n, q.bytes
}

// drain empties the queue and returns how many events it held.
func (q *queue) drain() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := q.n
	clear(q.ring)
	q.head, q.n, q.bytes = 0, 0, 0
	return n
}
