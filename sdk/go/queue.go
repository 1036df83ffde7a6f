package curated

import "sync"

// queue holds encoded events until the sender takes them, bounded in count
// and bytes.
type queue struct {
	mu        sync.Mutex
	items     [][]byte
	head      int // items[head:] are queued
	bytes     int
	maxItems  int
	maxBytes  int
	policy    DropPolicy
	ready     chan struct{} // signalled when a batch may be due
	batchSize int
}

func (q *queue) init(maxItems, maxBytes int, policy DropPolicy) {
	q.maxItems, q.maxBytes, q.policy = maxItems, maxBytes, policy
	q.ready = make(chan struct{}, 1)
}

// push queues item and reports whether it was kept and how many older
// events it pushed out.
func (q *queue) push(item []byte) (kept bool, evicted int) {
	q.mu.Lock()
	if len(item) > q.maxBytes {
		q.mu.Unlock()
		return false, 0
	}
	for q.len() > 0 && (q.len() >= q.maxItems || q.bytes+len(item) > q.maxBytes) {
		if q.policy == DropNewest {
			q.mu.Unlock()
			return false, 0
		}
		q.bytes -= len(q.items[q.head])
		q.items[q.head] = nil
		q.head++
		evicted++
	}
	if q.head > 0 && q.head >= len(q.items)/2 && len(q.items) == cap(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items = q.items[:n]
		q.head = 0
	}
	q.items = append(q.items, item)
	q.bytes += len(item)
	n := q.len()
	q.mu.Unlock()
	if n == 1 || n >= q.batchSize {
		select {
		case q.ready <- struct{}{}:
		default:
		}
	}
	return true, evicted
}

func (q *queue) len() int { return len(q.items) - q.head }

// take removes up to maxItems events and maxBytes bytes (at least one
// event when any is queued).
func (q *queue) take(maxItems, maxBytes int) [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out [][]byte
	size := 0
	for q.len() > 0 && len(out) < maxItems {
		it := q.items[q.head]
		if len(out) > 0 && size+len(it) > maxBytes {
			break
		}
		out = append(out, it)
		size += len(it)
		q.items[q.head] = nil
		q.head++
		q.bytes -= len(it)
	}
	if q.len() == 0 {
		q.items, q.head = q.items[:0], 0
	}
	return out
}

// status returns the queued count and bytes.
func (q *queue) status() (int, int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.len(), q.bytes
}

// drain empties the queue and returns how many events it held.
func (q *queue) drain() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := q.len()
	clear(q.items)
	q.items, q.head, q.bytes = q.items[:0], 0, 0
	return n
}
