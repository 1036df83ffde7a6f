// Package access decides who may use the event API: API keys and the
// clients they identify, allowed origins and events, the client address
// behind trusted proxies, and rate limits. It knows nothing of Alloy.
package access

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/grafana/alloy/curated/internal/admission"
	"github.com/grafana/alloy/curated/internal/event"
	"github.com/grafana/alloy/curated/internal/glob"
)

// Where API keys are read from.
const (
	HeaderAPIKey = "X-API-Key"
	// QueryAPIKey carries browser keys, because navigator.sendBeacon cannot
	// set headers.
	QueryAPIKey = "api_key"
)

// ClientConfig configures one client.
type ClientConfig struct {
	Name           string
	APIKey         string
	Service        string   // if set, the only service the client may write as
	Tenant         string   // if set, the Loki tenant of the client's entries
	AllowedEvents  []string // globs; empty allows every event
	AllowedOrigins []string // globs such as https://*.example.com; empty allows none for browsers
	Browser        bool     // a public key shipped to browsers
	Rate           float64  // requests per second; 0 means unlimited
	Burst          int
	// InFlight is the client's share of the requests and bytes in flight;
	// AddressInFlight is each address's share, for browser keys, whose
	// holders are anyone.
	InFlight        admission.Limits
	AddressInFlight admission.Limits
}

// Client is a configured client.
type Client struct {
	ClientConfig
	keyHash [sha256.Size]byte
}

// Policy is an immutable, compiled access configuration.
type Policy struct {
	clients        []*Client
	trustedProxies []netip.Prefix
}

// NewPolicy compiles the client configurations and trusted proxy CIDRs.
func NewPolicy(clients []ClientConfig, trustedProxies []string) (*Policy, error) {
	p := &Policy{}
	seen := map[[sha256.Size]byte]string{}
	for _, cc := range clients {
		if cc.APIKey == "" {
			return nil, fmt.Errorf("client %q: api_key must not be empty", cc.Name)
		}
		c := &Client{ClientConfig: cc, keyHash: sha256.Sum256([]byte(cc.APIKey))}
		if other, dup := seen[c.keyHash]; dup {
			return nil, fmt.Errorf("clients %q and %q have the same api_key", other, cc.Name)
		}
		seen[c.keyHash] = cc.Name
		if err := glob.Check(append(append([]string(nil), cc.AllowedEvents...), cc.AllowedOrigins...)); err != nil {
			return nil, fmt.Errorf("client %q: %w", cc.Name, err)
		}
		if cc.Browser && len(cc.AllowedOrigins) == 0 {
			return nil, fmt.Errorf("client %q: a browser client needs allowed_origins", cc.Name)
		}
		if cc.Rate < 0 || cc.Burst < 0 || (cc.Rate > 0 && cc.Burst == 0) {
			return nil, fmt.Errorf("client %q: rate_limit needs rate >= 0 and, with a rate, burst >= 1", cc.Name)
		}
		p.clients = append(p.clients, c)
	}
	for _, s := range trustedProxies {
		pfx, err := parsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("trusted_proxies: %w", err)
		}
		p.trustedProxies = append(p.trustedProxies, pfx)
	}
	return p, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		pfx, err := netip.ParsePrefix(s)
		return pfx.Masked(), err
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen()), nil
}

// Open reports whether the API has no clients and so needs no key.
func (p *Policy) Open() bool { return len(p.clients) == 0 }

// Clients returns the configured clients.
func (p *Policy) Clients() []*Client { return p.clients }

// Denial is why a request was refused.
type Denial struct {
	Field  string     // the header or parameter at fault
	Code   event.Code // stable code; the API derives the status from it
	Reason string
}

func (d *Denial) Error() string { return d.Reason }

var errNoKey = errors.New("no key")

// Authenticate returns the client whose key the request carries, or nil for
// an open API. Keys are compared in constant time against every client.
func (p *Policy) Authenticate(r *http.Request) (*Client, *Denial) {
	if p.Open() {
		return nil, nil
	}
	key, fromQuery, err := requestKey(r)
	if err != nil {
		return nil, &Denial{Field: HeaderAPIKey, Code: event.CodeUnauthorized,
			Reason: "an API key is required: send it in the X-API-Key header, as Authorization: Bearer, or (browser keys) as the api_key query parameter"}
	}
	h := sha256.Sum256([]byte(key))
	var found *Client
	for _, c := range p.clients {
		if subtle.ConstantTimeCompare(h[:], c.keyHash[:]) == 1 {
			found = c
		}
	}
	switch {
	case found == nil:
		return nil, &Denial{Field: HeaderAPIKey, Code: event.CodeUnauthorized, Reason: "unknown API key"}
	case fromQuery && !found.Browser:
		// A server key in a URL ends up in proxy and browser logs: refuse it.
		return nil, &Denial{Field: QueryAPIKey, Code: event.CodeUnauthorized,
			Reason: "this key is not a browser key; send it in the X-API-Key or Authorization header, never in the URL"}
	}
	return found, nil
}

func requestKey(r *http.Request) (key string, fromQuery bool, err error) {
	if k := r.Header.Get(HeaderAPIKey); k != "" {
		return k, false, nil
	}
	if auth := r.Header.Get("Authorization"); auth != "" {
		scheme, token, ok := strings.Cut(auth, " ")
		if ok && strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(token) != "" {
			return strings.TrimSpace(token), false, nil
		}
		return "", false, errNoKey
	}
	if k := r.URL.Query().Get(QueryAPIKey); k != "" {
		return k, true, nil
	}
	return "", false, errNoKey
}

// CheckOrigin enforces the client's allowed origins on an actual request.
// Browser clients must send an allowed Origin; other clients are only
// checked when they send one.
func (c *Client) CheckOrigin(origin string) *Denial {
	if c == nil {
		return nil
	}
	if origin == "" {
		if c.Browser {
			return &Denial{Field: "Origin", Code: event.CodeForbiddenOrigin,
				Reason: "browser keys are only accepted with an Origin header"}
		}
		return nil
	}
	if len(c.AllowedOrigins) > 0 && !glob.MatchAny(c.AllowedOrigins, origin) {
		return &Denial{Field: "Origin", Code: event.CodeForbiddenOrigin,
			Reason: fmt.Sprintf("origin %q is not allowed for this key", origin)}
	}
	return nil
}

// EventAllowed reports whether the client may send events named name.
func (c *Client) EventAllowed(name string) bool {
	return c == nil || len(c.AllowedEvents) == 0 || glob.MatchAny(c.AllowedEvents, name)
}

// OriginAllowed reports whether any client (or, for an open API, anyone)
// may call the API from origin. It answers CORS preflights, which carry no
// key.
func (p *Policy) OriginAllowed(origin string) bool {
	if p.Open() {
		return true
	}
	for _, c := range p.clients {
		if glob.MatchAny(c.AllowedOrigins, origin) {
			return true
		}
	}
	return false
}

// ClientIP returns the address of the client: the peer address, or, when
// the peer is a trusted proxy, the right-most X-Forwarded-For address that
// is not itself a trusted proxy. Forwarded headers from untrusted peers are
// ignored, so they cannot be forged.
func (p *Policy) ClientIP(r *http.Request) netip.Addr {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	ip := peer.Addr().Unmap()
	if !p.trusted(ip) {
		return ip
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return ip // malformed chain: stop at the last address we trust to be real
			}
			ip = hop.Unmap()
			if !p.trusted(ip) {
				return ip
			}
		}
	}
	return ip
}

func (p *Policy) trusted(ip netip.Addr) bool {
	for _, pfx := range p.trustedProxies {
		if pfx.Contains(ip) {
			return true
		}
	}
	return false
}
