// Command example sends events with every part of the Go SDK: Track, the
// slog handler, Do, the HTTP middleware and the RoundTripper, then a paced
// stream of numbered events, and prints the client's counters as JSON.
// The end-to-end tests run it against the real alloy-custom and Loki.
//
//	go run ./example -endpoint http://127.0.0.1:8080 -run demo -stream 100
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	curated "github.com/alloy-curated/alloy-curated/sdk/go"
)

func main() {
	endpoint := flag.String("endpoint", "http://127.0.0.1:8080", "the event API's base URL")
	key := flag.String("key", os.Getenv("CURATED_API_KEY"), "API key")
	service := flag.String("service", "sdk-example", "service label")
	run := flag.String("run", "", "a run ID every event carries as attribute run")
	stream := flag.Int("stream", 0, "numbered events (load.event, attribute seq) to send after the examples")
	every := flag.Duration("every", time.Millisecond, "pause between streamed events")
	flag.Parse()
	if err := example(*endpoint, *key, *service, *run, *stream, *every); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

func example(endpoint, key, service, run string, stream int, every time.Duration) error {
	// The five-line version: a client, an event, Close.
	c, err := curated.New(curated.Config{
		Endpoint:   endpoint,
		Key:        key,
		Service:    service,
		Attributes: []slog.Attr{slog.String("run", run)},
		OnError:    func(e curated.Error) { fmt.Fprintln(os.Stderr, "example:", e) },
	})
	if err != nil {
		return err
	}
	ctx := curated.WithSession(context.Background(), "sess-"+run)
	c.Track(ctx, "form.open", slog.String("country", "KR"))

	// slog: the app keeps its own log, error records also become events.
	log := slog.New(curated.Fanout(slog.NewTextHandler(os.Stderr, nil), c.Handler(&curated.HandlerOptions{Level: slog.LevelWarn})))
	log.ErrorContext(ctx, "Shopify sync failed", "event", "shopify.sync", slog.Group("shopify", "status", 502))

	// A function: outcome, duration and error in one event.
	_ = c.Do(ctx, "places.lookup", func(context.Context) error { return errors.New("ZERO_RESULTS") })

	// An HTTP server with the middleware, called through the RoundTripper.
	mux := http.NewServeMux()
	mux.HandleFunc("GET /partners/{id}", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: c.Middleware("", mux)}
	go func() { _ = srv.Serve(l) }()
	hc := &http.Client{Transport: c.Transport("partner.api", nil)}
	// By host name: the component's default redaction stores IP addresses
	// as [REDACTED:ipv4].
	resp, err := hc.Get(fmt.Sprintf("http://localhost:%d/partners/p-42?token=secret", l.Addr().(*net.TCPAddr).Port))
	if err != nil {
		return err
	}
	resp.Body.Close()
	_ = srv.Close()

	if stream > 0 {
		fmt.Fprintln(os.Stderr, "example: streaming")
	}
	for i := 0; i < stream; i++ {
		c.Track(ctx, "load.event", slog.Int("seq", i))
		time.Sleep(every)
	}

	closeCtx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Close(closeCtx); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(c.Stats())
}
