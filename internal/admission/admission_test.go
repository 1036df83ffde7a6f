package admission

import (
	"sync"
	"testing"
)

func TestScopesShareNothingButTheGlobalLimits(t *testing.T) {
	c := NewController()
	global := Limits{Requests: 10, Bytes: 1000}
	client := Limits{Requests: 2, Bytes: 300}

	var browser []*Ticket
	for range 2 {
		tk, r := c.Enter(global)
		if r != nil {
			t.Fatal(r)
		}
		if r := tk.Join(Client, "browser", client); r != nil {
			t.Fatal(r)
		}
		browser = append(browser, tk)
	}
	// A third browser request is over the client's share...
	tk, _ := c.Enter(global)
	r := tk.Join(Client, "browser", client)
	if r == nil || r.Scope != Client || r.Bytes || r.Metric() != "client_concurrency" {
		t.Fatalf("third browser request: %v", r)
	}
	tk.Release()
	// ...while the server key is untouched by it.
	srv, _ := c.Enter(global)
	if r := srv.Join(Client, "server", client); r != nil {
		t.Fatalf("server key refused: %v", r)
	}
	if r := srv.Reserve(300); r != nil {
		t.Fatalf("server key bytes refused: %v", r)
	}

	// Bytes: the browser share is 300.
	if r := browser[0].Reserve(200); r != nil {
		t.Fatal(r)
	}
	r = browser[1].Reserve(200)
	if r == nil || r.Scope != Client || !r.Bytes || r.Never {
		t.Fatalf("over the client's bytes: %+v", r)
	}
	if r := browser[1].Reserve(400); r == nil || !r.Never {
		t.Fatalf("a reservation larger than the share must say it can never fit: %+v", r)
	}
	// A refused reservation leaves nothing behind in any scope.
	if _, b := c.InFlight(); b != 500 {
		t.Fatalf("global bytes %d, want 500", b)
	}
	for _, tk := range append(browser, srv) {
		tk.Release()
	}
	if n, b := c.InFlight(); n != 0 || b != 0 || c.Tracked() != 0 {
		t.Fatalf("after release: %d requests, %d bytes, %d entries tracked", n, b, c.Tracked())
	}
}

func TestJoinCountsBytesAlreadyHeld(t *testing.T) {
	c := NewController()
	tk, _ := c.Enter(Limits{})
	if r := tk.Reserve(100); r != nil {
		t.Fatal(r)
	}
	if r := tk.Join(Address, "k/1.2.3.4", Limits{Bytes: 50}); r == nil || !r.Never || r.Metric() != "address_inflight_bytes" {
		t.Fatalf("join with more bytes than the scope allows: %+v", r)
	}
	tk.Release()
	if n, b := c.InFlight(); n != 0 || b != 0 || c.Tracked() != 0 {
		t.Fatalf("after release: %d requests, %d bytes, %d tracked", n, b, c.Tracked())
	}
}

func TestConcurrentTicketsBalance(t *testing.T) {
	c := NewController()
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 500 {
				tk, r := c.Enter(Limits{Requests: 32, Bytes: 1 << 20})
				if r != nil {
					continue
				}
				if tk.Join(Client, "c", Limits{Requests: 16}) == nil &&
					tk.Join(Address, string(rune('a'+i%4)), Limits{Requests: 4, Bytes: 1 << 16}) == nil {
					_ = tk.Reserve(1 << 12)
				}
				tk.Release()
			}
		}()
	}
	wg.Wait()
	if n, b := c.InFlight(); n != 0 || b != 0 || c.Tracked() != 0 {
		t.Fatalf("after all released: %d requests, %d bytes, %d tracked", n, b, c.Tracked())
	}
}
