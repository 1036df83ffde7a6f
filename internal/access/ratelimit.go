package access

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxTrackedIPs bounds the per-IP buckets kept in memory.
const DefaultMaxTrackedIPs = 100_000

// Limiter holds request token buckets per client and per client IP. Its
// state survives reconfiguration, so a config reload does not refill every
// bucket.
type Limiter struct {
	mu      sync.Mutex
	clients map[string]*rate.Limiter
	ips     map[netip.Addr]*rate.Limiter
	ipRate  rate.Limit
	ipBurst int
	maxIPs  int
}

// NewLimiter returns a Limiter with no limits configured.
func NewLimiter() *Limiter {
	return &Limiter{
		clients: map[string]*rate.Limiter{},
		ips:     map[netip.Addr]*rate.Limiter{},
		maxIPs:  DefaultMaxTrackedIPs,
	}
}

// Configure sets the per-client limits from clients and the per-IP limit
// (ipRate requests per second, 0 for none), keeping existing bucket levels.
func (l *Limiter) Configure(clients []*Client, ipRate float64, ipBurst int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	keep := make(map[string]*rate.Limiter, len(clients))
	for _, c := range clients {
		if c.Rate <= 0 {
			continue
		}
		lim, ok := l.clients[c.Name]
		switch {
		case !ok:
			lim = rate.NewLimiter(rate.Limit(c.Rate), c.Burst)
		case lim.Limit() != rate.Limit(c.Rate) || lim.Burst() != c.Burst:
			lim.SetLimit(rate.Limit(c.Rate))
			lim.SetBurst(c.Burst)
		}
		keep[c.Name] = lim
	}
	l.clients = keep
	if rate.Limit(ipRate) != l.ipRate || ipBurst != l.ipBurst {
		l.ips = map[netip.Addr]*rate.Limiter{}
	}
	l.ipRate, l.ipBurst = rate.Limit(ipRate), ipBurst
}

// AllowClient takes a token from c's bucket. When none is left it returns
// false and how long until one is.
func (l *Limiter) AllowClient(c *Client, now time.Time) (bool, time.Duration) {
	if c == nil {
		return true, 0
	}
	l.mu.Lock()
	lim := l.clients[c.Name]
	l.mu.Unlock()
	return take(lim, now)
}

// AllowIP takes a token from ip's bucket.
func (l *Limiter) AllowIP(ip netip.Addr, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	if l.ipRate <= 0 {
		l.mu.Unlock()
		return true, 0
	}
	lim, ok := l.ips[ip]
	if !ok {
		if len(l.ips) >= l.maxIPs {
			l.evictIdle(now)
		}
		lim = rate.NewLimiter(l.ipRate, l.ipBurst)
		l.ips[ip] = lim
	}
	l.mu.Unlock()
	return take(lim, now)
}

// evictIdle drops buckets that have refilled completely: forgetting them
// changes nothing. If every bucket is busy (a flood from many addresses),
// it starts over rather than grow without bound.
func (l *Limiter) evictIdle(now time.Time) {
	for ip, lim := range l.ips {
		if lim.TokensAt(now) >= float64(l.ipBurst) {
			delete(l.ips, ip)
		}
	}
	if len(l.ips) >= l.maxIPs {
		l.ips = make(map[netip.Addr]*rate.Limiter, l.maxIPs/2)
	}
}

// TrackedIPs returns how many per-IP buckets are held.
func (l *Limiter) TrackedIPs() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ips)
}

func take(lim *rate.Limiter, now time.Time) (bool, time.Duration) {
	if lim == nil {
		return true, 0
	}
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}
