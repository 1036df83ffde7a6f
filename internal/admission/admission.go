// Package admission bounds what requests hold at once: how many are in
// flight and how many bytes of memory they have reserved, for the whole API,
// for each client and for each address of a client. One client, or one
// address holding a public key, can then take only its share, and memory
// is reserved before it is used, so overload turns into refusals instead of
// growth. It knows nothing of HTTP.
package admission

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Scope is what a limit applies to.
type Scope uint8

// Scopes, widest first.
const (
	Global  Scope = iota // every request
	Client               // one client (API key)
	Address              // one address of one client
	numScopes
)

var scopeNames = [numScopes]string{"global", "client", "address"}

func (s Scope) String() string { return scopeNames[s] }

// Limits caps one scope; zero means no cap.
type Limits struct {
	Requests int64
	Bytes    int64
}

// Controller counts what is in flight. It is safe for concurrent use, and
// outlives configurations: limits come with each request.
type Controller struct {
	global counter

	mu   sync.Mutex
	keys [numScopes]map[string]*shared
}

// NewController returns a Controller with nothing in flight.
func NewController() *Controller {
	c := &Controller{}
	for s := Client; s < numScopes; s++ {
		c.keys[s] = map[string]*shared{}
	}
	return c
}

type counter struct{ requests, bytes atomic.Int64 }

// shared is a counter kept only while a request holds it, so per-address
// state is bounded by the requests in flight, not by the addresses seen.
type shared struct {
	counter
	holders int
}

// Refusal says which limit refused a request.
type Refusal struct {
	Scope Scope
	// Bytes is true for the byte limit, false for the request limit.
	Bytes bool
	// Never is true when the request alone needs more than the limit, so
	// retrying cannot help.
	Never bool
	Limit int64
}

func (r *Refusal) Error() string {
	what := "requests in flight"
	if r.Bytes {
		what = "bytes in flight"
	}
	if r.Never {
		return fmt.Sprintf("the request alone needs more than the %s limit of %d %s", r.Scope, r.Limit, what)
	}
	return fmt.Sprintf("the %s limit of %d %s is reached", r.Scope, r.Limit, what)
}

// Metric is the label the refusal is counted under, such as
// client_inflight_bytes or concurrency.
func (r *Refusal) Metric() string {
	prefix := ""
	if r.Scope != Global {
		prefix = r.Scope.String() + "_"
	}
	if r.Bytes {
		return prefix + "inflight_bytes"
	}
	return prefix + "concurrency"
}

// Ticket is one request's hold on the controller. It is used by one
// goroutine; Release returns everything it holds.
type Ticket struct {
	c      *Controller
	held   [numScopes]*counter
	limits [numScopes]Limits
	keys   [numScopes]string
	bytes  int64
}

// Enter admits a request against the global limits.
func (c *Controller) Enter(lim Limits) (*Ticket, *Refusal) {
	t := &Ticket{c: c}
	if r := t.join(Global, &c.global, lim); r != nil {
		return nil, r
	}
	return t, nil
}

// Join adds a narrower scope, identified by key, once the request is known
// to belong to it. The bytes the ticket holds already count against it.
func (t *Ticket) Join(s Scope, key string, lim Limits) *Refusal {
	c := t.c
	c.mu.Lock()
	sh := c.keys[s][key]
	if sh == nil {
		sh = &shared{}
		c.keys[s][key] = sh
	}
	sh.holders++
	c.mu.Unlock()
	t.keys[s] = key
	if r := t.join(s, &sh.counter, lim); r != nil {
		t.leave(s)
		return r
	}
	if t.bytes > 0 {
		if r := reserve(&sh.counter, t.bytes, lim.Bytes, s); r != nil {
			r.Never = t.bytes > lim.Bytes
			sh.counter.requests.Add(-1)
			t.held[s] = nil
			t.leave(s)
			return r
		}
	}
	return nil
}

func (t *Ticket) join(s Scope, cnt *counter, lim Limits) *Refusal {
	if n := cnt.requests.Add(1); lim.Requests > 0 && n > lim.Requests {
		cnt.requests.Add(-1)
		return &Refusal{Scope: s, Limit: lim.Requests}
	}
	t.held[s], t.limits[s] = cnt, lim
	return nil
}

// leave drops the ticket's hold on a keyed scope's entry.
func (t *Ticket) leave(s Scope) {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	key := t.keys[s]
	if sh := c.keys[s][key]; sh != nil {
		if sh.holders--; sh.holders == 0 {
			delete(c.keys[s], key)
		}
	}
	t.keys[s] = ""
}

// Reserve takes n more bytes in every scope the ticket holds, or none.
// A request that could never fit one of its scopes is told so first,
// whatever the others hold now.
func (t *Ticket) Reserve(n int64) *Refusal {
	for s := len(t.held) - 1; s >= 0; s-- {
		if lim := t.limits[s].Bytes; t.held[s] != nil && lim > 0 && t.bytes+n > lim {
			return &Refusal{Scope: Scope(s), Bytes: true, Never: true, Limit: lim}
		}
	}
	for s := range t.held {
		cnt := t.held[s]
		if cnt == nil {
			continue
		}
		if r := reserve(cnt, n, t.limits[s].Bytes, Scope(s)); r != nil {
			for u := 0; u < s; u++ {
				if t.held[u] != nil {
					t.held[u].bytes.Add(-n)
				}
			}
			return r
		}
	}
	t.bytes += n
	return nil
}

func reserve(cnt *counter, n, limit int64, s Scope) *Refusal {
	if b := cnt.bytes.Add(n); limit > 0 && b > limit {
		cnt.bytes.Add(-n)
		return &Refusal{Scope: s, Bytes: true, Limit: limit}
	}
	return nil
}

// Release returns everything the ticket holds. It may be called once.
func (t *Ticket) Release() {
	for s := range t.held {
		cnt := t.held[s]
		if cnt == nil {
			continue
		}
		cnt.requests.Add(-1)
		cnt.bytes.Add(-t.bytes)
		t.held[s] = nil
		if Scope(s) != Global {
			t.leave(Scope(s))
		}
	}
	t.bytes = 0
}

// InFlight returns the requests and bytes in flight in the global scope.
func (c *Controller) InFlight() (requests, bytes int64) {
	return c.global.requests.Load(), c.global.bytes.Load()
}

// Tracked returns how many client and address entries are held: at most
// one per request in flight.
func (c *Controller) Tracked() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.keys[Client]) + len(c.keys[Address])
}
