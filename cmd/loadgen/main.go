// Command loadgen sends Collabmaker-like events to an event API (or to
// loki.source.api or faro.receiver) and reports throughput, latency
// percentiles and status codes as JSON and Markdown.
//
//	go run ./cmd/loadgen -url http://127.0.0.1:8080/v1/events -mode fixed -rate 2000 -duration 30s
//	go run ./cmd/loadgen -url https://events.example.com/v1/events -api-key $KEY -mode saturate -concurrency 64
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/grafana/alloy/curated/internal/loadgen"
)

func main() {
	var (
		url         = flag.String("url", "http://127.0.0.1:8080/v1/events", "endpoint to POST to")
		protocol    = flag.String("protocol", "curated", "payload format: curated, loki (loki.source.api JSON push) or faro")
		shape       = flag.String("shape", "batch", "curated framing: single, batch, ndjson or gzip")
		batch       = flag.Int("batch", 50, "events per request (shape single sends 1)")
		mode        = flag.String("mode", "saturate", "saturate (keep -concurrency requests in flight) or fixed (-rate events/s)")
		rate        = flag.Float64("rate", 1000, "events per second in fixed mode")
		concurrency = flag.Int("concurrency", 32, "requests in flight (saturate) or workers (fixed)")
		duration    = flag.Duration("duration", 30*time.Second, "length of the run")
		apiKey      = flag.String("api-key", "", "sent as X-API-Key")
		jsonOut     = flag.String("json", "", "write the result as JSON to this file (- for stdout)")
	)
	flag.Parse()
	if err := run(*url, loadgen.Protocol(*protocol), loadgen.Shape(*shape), *batch, loadgen.Mode(*mode), *rate,
		*concurrency, *duration, *apiKey, *jsonOut); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(url string, protocol loadgen.Protocol, shape loadgen.Shape, batch int, mode loadgen.Mode, rate float64,
	concurrency int, duration time.Duration, apiKey, jsonOut string) error {
	if mode != loadgen.Saturate && mode != loadgen.Fixed {
		return fmt.Errorf("-mode must be saturate or fixed, got %q", mode)
	}
	bodies, err := loadgen.Bodies(protocol, shape, batch, 32, time.Now())
	if err != nil {
		return err
	}
	if shape == loadgen.Single {
		batch = 1
	}
	target := loadgen.Target{URL: url, Header: http.Header{}, Bodies: bodies}
	if apiKey != "" {
		target.Header.Set("X-API-Key", apiKey)
	}
	res, err := loadgen.Run(context.Background(), loadgen.NewClient(concurrency), target, loadgen.Options{
		Mode: mode, Concurrency: concurrency, Rate: rate / float64(batch), Duration: duration,
	})
	if err != nil {
		return err
	}
	fmt.Printf("| protocol | shape | mode | events/s | requests/s | p50 ms | p90 ms | p99 ms | max ms | statuses |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|---|---|\n")
	fmt.Printf("| %s | %s | %s | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f | %v |\n", protocol, shape, mode, res.EPS, res.RPS,
		res.Latency.P50, res.Latency.P90, res.Latency.P99, res.Latency.Max, res.Statuses)
	if res.Missed > 0 {
		fmt.Printf("\n%d scheduled requests were not sent: every worker was busy; raise -concurrency.\n", res.Missed)
	}
	if jsonOut == "" {
		return nil
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if jsonOut == "-" {
		_, err = os.Stdout.Write(append(b, '\n'))
		return err
	}
	return os.WriteFile(jsonOut, append(b, '\n'), 0o644)
}
