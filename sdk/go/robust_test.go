package curated

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// The moments an observability SDK exists for: hostile values, a dead or
// hanging API at shutdown, calls racing Close, streaming handlers and
// transports whose errors quote URLs.

type nilErr struct{ msg string }

func (e *nilErr) Error() string { return e.msg } // panics on a nil receiver

type nilStringer struct{ s string }

func (s *nilStringer) String() string { return s.s }

type panicJSON struct{}

func (panicJSON) MarshalJSON() ([]byte, error) { panic("MarshalJSON kaput") }

type panicValuer struct{}

func (panicValuer) LogValue() slog.Value { panic("LogValue kaput") }

type panicString struct{}

func (panicString) String() string { panic("String kaput") }

// A value whose own code panics is left out of the event, reported and
// counted; the caller's goroutine never panics, through Track or slog.
func TestPanickingValuesAreDroppedNotRaised(t *testing.T) {
	stub := newStub(t, nil)
	c, errs := newClient(t, stub.URL, nil)
	var typedNilErr error = (*nilErr)(nil)
	var typedNilStringer fmt.Stringer = (*nilStringer)(nil)
	hostile := []slog.Attr{
		slog.Any("nil_error", typedNilErr),
		slog.Any("nil_stringer", typedNilStringer),
		slog.Any("json", panicJSON{}),
		slog.Any("valuer", panicValuer{}),
		slog.Any("stringer", panicString{}),
		slog.Group("g", slog.Any("deep", panicValuer{}), slog.Int("kept", 1)),
		slog.String("ok", "yes"),
	}
	c.Track(context.Background(), "hostile.track", hostile...)
	slog.New(c.Handler(nil)).LogAttrs(context.Background(), slog.LevelWarn, "hostile", append([]slog.Attr{slog.String("event", "hostile.slog")}, hostile...)...)
	flush(t, c)
	ev := stub.events()
	if len(ev) != 2 {
		t.Fatalf("sent %v", ev)
	}
	for _, e := range ev {
		b, _ := json.Marshal(attrsOf(e))
		if string(b) != `{"g":{"kept":1},"nil_error":null,"nil_stringer":null,"ok":"yes"}` {
			t.Errorf("%s: attributes %s", e["event"], b)
		}
	}
	st := c.Stats()
	if st.DroppedAttributes != 8 || st.Sent != 2 || st.Dropped != 0 {
		t.Errorf("stats %+v, want 8 dropped attributes and both events sent", st)
	}
	if dropped := reported(errs, "attribute_dropped"); dropped != 8 {
		t.Errorf("OnError heard of %d dropped attributes, want 8: %v", dropped, errs.get())
	}
}

// reported sums the counts OnError heard of for code.
func reported(l *errorLog, code string) int {
	n := 0
	for _, e := range l.get() {
		if e.Code == code {
			n += e.Count
		}
	}
	return n
}

// blackHole accepts connections and never answers.
func blackHole(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return "http://" + l.Addr().String()
}

func refusedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// waitGoroutines waits until no more goroutines run than want, and fails
// with their stacks if that never happens.
func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), want, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Close(context.Background()), as the docs write it, ends within the
// default CloseTimeout against a refused port and a black hole, returns
// what it gave up as an error, settles every event, and leaves no
// connection goroutines behind.
func TestCloseIsBoundedAgainstDeadAPIs(t *testing.T) {
	for name, endpoint := range map[string]func(*testing.T) string{"refused": refusedPort, "black hole": blackHole} {
		t.Run(name, func(t *testing.T) {
			url := endpoint(t)
			base := runtime.NumGoroutine()
			log := &errorLog{}
			c, err := New(Config{Endpoint: url, OnError: log.add, BatchEvents: 10, MaxRetries: 1000})
			if err != nil {
				t.Fatal(err)
			}
			trackN(c, 35)
			start := time.Now()
			err = c.Close(context.Background())
			took := time.Since(start)
			var ce Error
			if !errors.As(err, &ce) || ce.Code != "gave_up" || ce.Count != 35 {
				t.Errorf("Close returned %v, want a gave_up Error for 35 events", err)
			}
			// A bound, not a speed target: the default CloseTimeout is 5 s.
			if took > 15*time.Second {
				t.Errorf("Close took %s", took)
			}
			st := c.Stats()
			if st.Tracked != 35 || st.Dropped != 35 || st.Pending != 0 || st.Queued != 0 {
				t.Errorf("stats after Close %+v", st)
			}
			if n := reported(log, "gave_up"); n != 35 {
				t.Errorf("OnError heard of %d given-up events, want 35: %v", n, log.get())
			}
			waitGoroutines(t, base)
		})
	}
}

// An event tracked after Close is counted and OnError hears of it.
func TestTrackAfterCloseIsReported(t *testing.T) {
	stub := newStub(t, nil)
	c, errs := newClient(t, stub.URL, nil)
	trackN(c, 2)
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.Track(context.Background(), "late.event")
	st := c.Stats()
	if st.Tracked != 3 || st.Sent != 2 || st.Dropped != 1 || st.Pending != 0 {
		t.Errorf("stats %+v", st)
	}
	got := errs.get()
	if len(got) != 1 || got[0].Code != "closed" || got[0].Count != 1 {
		t.Errorf("OnError heard %v, want one closed event", got)
	}
}

// Events tracked while Close drains are either sent or dropped as closed:
// Tracked = Sent + Dropped once Close and the trackers are done.
func TestNoEventFallsBetweenCloseAndItsDrain(t *testing.T) {
	for round := 0; round < 20; round++ {
		stub := newStub(t, nil)
		log := &errorLog{}
		c, err := New(Config{Endpoint: stub.URL, OnError: log.add, FlushInterval: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 200; i++ {
					c.Track(context.Background(), "race.event", slog.Int("seq", i))
				}
			}()
		}
		_ = c.Close(context.Background())
		wg.Wait()
		st := c.Stats()
		if st.Tracked != 800 || st.Sent+st.Dropped+st.Rejected != 800 || st.Pending != 0 {
			t.Fatalf("round %d: %+v", round, st)
		}
		if closedN := reported(log, "closed"); uint64(closedN) != st.Dropped {
			t.Fatalf("round %d: %d dropped, OnError heard of %d: %v", round, st.Dropped, closedN, log.get())
		}
		if got := len(stub.events()); uint64(got) != st.Sent {
			t.Fatalf("round %d: the API got %d events, Sent %d", round, got, st.Sent)
		}
	}
}

// Rejected counts events, not error entries: an event refused for two
// fields is one event.
func TestRejectedCountsEventsNotErrors(t *testing.T) {
	stub := newStub(t, func(n int, req stubRequest, w http.ResponseWriter) {
		answer(w, http.StatusAccepted, map[string]any{"accepted": 1, "rejected": 1, "errors": []any{
			map[string]any{"index": 0, "field": "message", "code": "invalid_value"},
			map[string]any{"index": 0, "field": "attributes.x", "code": "invalid_value"},
		}})
	})
	c, _ := newClient(t, stub.URL, nil)
	trackN(c, 2)
	flush(t, c)
	if st := c.Stats(); st.Rejected != 1 || st.Sent != 1 || st.Pending != 0 {
		t.Errorf("stats %+v, want 1 rejected and 1 sent", st)
	}
}

// A handler that streams (Server-Sent Events) through the middleware still
// finds an http.Flusher; requests no pattern matched are one route value.
func TestMiddlewareStreamsAndBoundsRoutes(t *testing.T) {
	stub := newStub(t, nil)
	c, _ := newClient(t, stub.URL, nil)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		f, ok := w.(http.Flusher)
		if !ok {
			http.Error(w, "streaming unsupported", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, "data: %d\n\n", i)
			f.Flush()
		}
	})
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: close\r\n\r\n")
		_ = buf.Flush()
	})
	srv := httptest.NewServer(c.Middleware("", mux))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(resp.Body)
	first, _ := rd.ReadString('\n')
	resp.Body.Close()
	if resp.StatusCode != 200 || first != "data: 0\n" {
		t.Fatalf("SSE through the middleware: %d %q", resp.StatusCode, first)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n")
	status, _ := bufio.NewReader(conn).ReadString('\n')
	conn.Close()
	if !strings.Contains(status, "101") {
		t.Fatalf("hijack through the middleware: %q", status)
	}
	for _, p := range []string{"/random/probe/1", "/wp-login.php?user=admin"} {
		r, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
	}
	r, err := http.Post(srv.URL+"/events", "text/plain", nil) // 405
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	flush(t, c)
	var routes []string
	for _, e := range stub.events() {
		a := attrsOf(e)
		routes = append(routes, fmt.Sprintf("%v %v", a["route"], a["status"]))
	}
	want := "GET /events 200|GET /ws 101|unmatched 404|unmatched 404|unmatched 405"
	if got := strings.Join(routes, "|"); got != want {
		t.Errorf("routes %q, want %q", got, want)
	}
}

// secretTransport fails the way wrapping transports do: an *url.Error that
// quotes the whole URL.
type secretTransport struct{}

func (secretTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, &url.Error{Op: "Get", URL: "https://user:pw-SECRET@api.example.com/v1/places?key=KEY-SECRET#frag-SECRET", Err: io.ErrUnexpectedEOF}
}

// No query string, userinfo or fragment leaves the process through an
// error text: not from Transport, Do, nor an error attribute.
func TestErrorTextsAreScrubbed(t *testing.T) {
	stub := newStub(t, nil)
	c, _ := newClient(t, stub.URL, nil)
	hc := &http.Client{Transport: c.Transport("places.http", secretTransport{})}
	req, _ := http.NewRequest("GET", "https://api.example.com/v1/places?key=KEY-SECRET", nil)
	_, err := hc.Do(req)
	if err == nil {
		t.Fatal("the failing transport succeeded")
	}
	_ = c.Do(context.Background(), "places.lookup", func(ctx context.Context) error { return err })
	c.Track(context.Background(), "places.error", slog.Any("err", err))
	flush(t, c)
	b, _ := json.Marshal(stub.events())
	if strings.Contains(string(b), "SECRET") {
		t.Errorf("a secret left the process: %s", b)
	}
	if !strings.Contains(string(b), "https://api.example.com/v1/places") {
		t.Errorf("the scrubbed URL is gone too: %s", b)
	}
}

func TestScrubURLs(t *testing.T) {
	for in, want := range map[string]string{
		"no url here":                                   "no url here",
		`Get "https://h/p?key=K": EOF`:                  `Get "https://h/p": EOF`,
		"dial https://u:p@h:443/x#f failed":             "dial https://h:443/x failed",
		"a http://h?x=1 and ftp://h/y?z=2 b":            "a http://h and ftp://h/y b",
		"mailto-ish user@host://not?really":             "mailto-ish user@host://not",
		"https://h/p/with@at?sig=S":                     "https://h/p/with@at",
		"postgres://admin:s3cr3t@db:5432/app?ssl=true)": "postgres://db:5432/app",
	} {
		if got := scrubURLs(in); got != want {
			t.Errorf("scrubURLs(%q) = %q, want %q", in, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = scrubURLs("no url in this error") }); n != 0 {
		t.Errorf("%v allocations without a URL", n)
	}
}

func TestRouteTemplate(t *testing.T) {
	for in, want := range map[string]string{
		"/v1/places/ChIJN1t_tDeuEmsRUsoyG83frY4":                   "/v1/places/:id",
		"/partners/42/orders/0f8e2a9c-1d2b-4c3d-9e8f-001122334455": "/partners/:id/orders/:id",
		"/blobs/9f86d081884c7d659a2feaa0c55ad015":                  "/blobs/:id",
		"/partner-applications-2024/new":                           "/partner-applications-2024/new",
		"/v2/apply":                                                "/v2/apply",
	} {
		if got := routeTemplate(in); got != want {
			t.Errorf("routeTemplate(%q) = %q, want %q", in, got, want)
		}
	}
}

// roundTripFunc replaces http.DefaultTransport the way httpmock does.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestNewWithAReplacedDefaultTransport(t *testing.T) {
	orig := http.DefaultTransport
	http.DefaultTransport = roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("mocked") })
	defer func() { http.DefaultTransport = orig }()
	stub := newStub(t, nil)
	c, err := New(Config{Endpoint: stub.URL})
	if err != nil {
		t.Fatal(err)
	}
	trackN(c, 1)
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(stub.events()) != 1 {
		t.Errorf("the client used the replaced default transport: %v", stub.events())
	}
}

// With attributes and the record's own merge into one object: a group set
// by With and the record's group of the same name keep both members, and
// a key given twice inside a group is sent once (the API refuses it twice).
func TestSlogGroupsMergeAndKeysAreUnique(t *testing.T) {
	stub := newStub(t, nil)
	c, _ := newClient(t, stub.URL, nil)
	log := slog.New(c.Handler(nil)).With(slog.Group("g", slog.Int("x", 1)), slog.String("event", "merge.test"))
	log.Info("one", slog.Group("g", slog.Int("y", 2), slog.Int("y", 3)), slog.Int("k", 1), slog.Int("k", 2))
	log.WithGroup("req").With("id", "r-1").Info("two", "id", "r-2", slog.Group("", slog.Int("inline", 1)))
	log.With(slog.Group("g", slog.Int("z", 9))).Info("three", slog.Group("g", slog.Int("x", 5)))
	flush(t, c)
	var got []string
	for _, r := range stub.all() {
		for _, raw := range r.raw {
			var e struct{ Attributes json.RawMessage }
			_ = json.Unmarshal(raw, &e)
			var sorted map[string]any // key order is the API's business (it sorts)
			_ = json.Unmarshal(e.Attributes, &sorted)
			b, _ := json.Marshal(sorted)
			got = append(got, string(b))
			for _, dup := range []string{`"y":2`, `"k":1`, `"id":"r-1"`, `"x":1,"x"`} {
				if strings.Contains(string(raw), dup) {
					t.Errorf("a key sent twice (%s): %s", dup, raw)
				}
			}
		}
	}
	want := []string{
		`{"g":{"x":1,"y":3},"k":2}`,
		`{"g":{"x":1},"req":{"id":"r-2","inline":1}}`,
		`{"g":{"x":5,"z":9}}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("attributes\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
