package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/grafana/alloy/curated/internal/loadgen"
	"github.com/grafana/alloy/curated/internal/lokisink"
)

type bench struct {
	o      options
	a      *alloyProc
	sink   *lokisink.Sink
	logger *slog.Logger
	client *http.Client
}

// receiver is one of the compared sources with its prepared requests.
type receiver struct {
	name   string // component
	label  string // value of the source label its entries carry
	shape  loadgen.Shape
	target loadgen.Target
}

// Measurement is one run against one receiver.
type Measurement struct {
	Receiver      string         `json:"receiver"`
	Shape         string         `json:"shape"`
	Round         int            `json:"round,omitempty"`
	Load          loadgen.Result `json:"load"`
	Delivered     int64          `json:"delivered_to_sink"` // entries that reached the sink
	CPUSeconds    float64        `json:"alloy_cpu_seconds"`
	CPUPerMillion float64        `json:"alloy_cpu_seconds_per_million_events"`
	RSSMaxMiB     float64        `json:"alloy_rss_max_mib"`
	// AllocsPerRequest is alloy-custom's heap allocations over the run
	// (go_memstats_mallocs_total: the handler, loki.write and everything
	// else the process did) per request accepted; 0 when not read.
	AllocsPerRequest float64 `json:"alloy_allocs_per_request"`
}

const bodiesPerTarget = 32

func (b *bench) receivers() []receiver {
	all := []receiver{b.curated(loadgen.Batch), b.volatile(), b.lokiAPI(), b.faro(), b.containerLogs()}
	if b.o.only == "" {
		return all
	}
	want := strings.Split(b.o.only, ",")
	return slices.DeleteFunc(all, func(r receiver) bool { return !slices.Contains(want, r.name) })
}

// volatile is curated_api without its durable spool.
func (b *bench) volatile() receiver {
	return b.receiver(volatileName, "curated_volatile", b.a.volatile+"/v1/events", loadgen.Curated, loadgen.Batch)
}

func (b *bench) curated(shape loadgen.Shape) receiver {
	return b.receiver("curated_api", "curated", b.a.curated+"/v1/events", loadgen.Curated, shape)
}

func (b *bench) lokiAPI() receiver {
	return b.receiver("loki.source.api", "loki", b.a.lokiAPI+"/loki/api/v1/push", loadgen.LokiPush, loadgen.Batch)
}

// containerLogs is the container-log path with the events as lines; its
// volume cap is lifted, everything else is as deployed.
func (b *bench) containerLogs() receiver {
	return b.receiver(containerName, "container", b.a.containers+"/loki/api/v1/push", loadgen.LokiPush, loadgen.Batch)
}

func (b *bench) faro() receiver {
	return b.receiver("faro.receiver", "faro", b.a.faro+"/collect", loadgen.Faro, loadgen.Batch)
}

func (b *bench) receiver(name, label, url string, protocol loadgen.Protocol, shape loadgen.Shape) receiver {
	bodies, err := loadgen.Bodies(protocol, shape, b.o.batch, bodiesPerTarget, time.Now())
	if err != nil {
		panic(err) // protocols and shapes are the constants above
	}
	return receiver{name: name, label: label, shape: shape, target: loadgen.Target{URL: url, Bodies: bodies}}
}

// waitDelivered waits up to a minute until the sink holds want more entries
// labeled label than it held at from, and returns how many more it holds.
func (b *bench) waitDelivered(label string, from int64, want int) (int64, error) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := b.sink.Stats().ByLabel[label] - from
		if got >= int64(want) {
			return got, nil
		}
		if time.Now().After(deadline) {
			return got, fmt.Errorf("%d events acknowledged but only %d reached the sink", want, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// measure runs load against rc, waits until what it accepted reached the
// sink, and charges alloy-custom's CPU time over the whole span to it.
func (b *bench) measure(ctx context.Context, rc receiver, opts loadgen.Options, profile bool) (Measurement, error) {
	m := Measurement{Receiver: rc.name, Shape: string(rc.shape)}
	before, err := loadgen.ReadProc(b.a.pid())
	if err != nil {
		return m, err
	}
	delivered0 := b.sink.Stats().ByLabel[rc.label]
	mallocs0, mallocsErr := b.mallocs()

	stopSampling, _ := b.sampleRSS(100 * time.Millisecond)
	var profWG sync.WaitGroup
	if profile {
		profWG.Add(1)
		go func() {
			defer profWG.Done()
			secs := int(opts.Duration.Seconds()) - 2
			if err := b.fetch(fmt.Sprintf("/debug/pprof/profile?seconds=%d", max(secs, 1)), rc.label+".cpu.pprof"); err != nil {
				b.logger.Warn("CPU profile failed", "err", err)
			}
		}()
	}
	res, err := loadgen.Run(ctx, b.client, rc.target, opts)
	if err != nil {
		stopSampling()
		return m, err
	}
	profWG.Wait()
	if profile {
		if err := b.fetch("/debug/pprof/allocs", rc.label+".allocs.pprof"); err != nil {
			b.logger.Warn("heap profile failed", "err", err)
		}
	}
	m.Load = res
	if b.o.lokiURL == "" {
		// Everything acknowledged must reach the sink before the next run.
		if m.Delivered, err = b.waitDelivered(rc.label, delivered0, res.Accepted); err != nil {
			stopSampling()
			return m, fmt.Errorf("%s: %w", rc.name, err)
		}
	}
	m.RSSMaxMiB = mib(stopSampling())
	after, err := loadgen.ReadProc(b.a.pid())
	if err != nil {
		return m, err
	}
	m.CPUSeconds = after.CPUSeconds - before.CPUSeconds
	if res.Accepted > 0 {
		m.CPUPerMillion = m.CPUSeconds / float64(res.Accepted) * 1e6
	}
	if mallocs1, err := b.mallocs(); err == nil && mallocsErr == nil && res.Requests > 0 {
		m.AllocsPerRequest = (mallocs1 - mallocs0) / float64(okRequests(res))
	}
	return m, nil
}

// okRequests is the requests of a run that were accepted (2xx).
func okRequests(res loadgen.Result) int {
	n := 0
	for code, c := range res.Statuses {
		if strings.HasPrefix(code, "2") {
			n += c
		}
	}
	return max(n, 1)
}

// mallocs reads alloy-custom's go_memstats_mallocs_total.
func (b *bench) mallocs() (float64, error) {
	resp, err := http.Get(b.a.ui + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_memstats_mallocs_total "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("GET /metrics: no go_memstats_mallocs_total")
}

// sampleRSS samples alloy-custom's resident memory until the returned stop
// function is called; stop returns the maximum seen.
func (b *bench) sampleRSS(every time.Duration) (stop func() int64, samples *[]int64) {
	var (
		mu   sync.Mutex
		all  []int64
		peak int64
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	record := func() {
		if st, err := loadgen.ReadProc(b.a.pid()); err == nil {
			mu.Lock()
			all = append(all, st.RSSBytes)
			peak = max(peak, st.RSSBytes)
			mu.Unlock()
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			record()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(done)
		wg.Wait()
		record()
		return peak
	}, &all
}

// Overload is the 10x run: memory over time while the API sheds load.
type Overload struct {
	Factor      float64        `json:"factor"`
	TargetEPS   float64        `json:"target_events_per_second"`
	Load        loadgen.Result `json:"load"`
	RSSMiB      []float64      `json:"alloy_rss_mib_each_second"`
	RSSStartMiB float64        `json:"alloy_rss_start_mib"`
	RSSMaxMiB   float64        `json:"alloy_rss_max_mib"`
	RSSEndMiB   float64        `json:"alloy_rss_end_mib"`
	Delivered   int64          `json:"delivered_to_sink"`
}

const overloadWorkers = 2048

func (b *bench) overloadRun(ctx context.Context, rps float64) (Overload, error) {
	rc := b.curated(loadgen.Batch)
	ov := Overload{TargetEPS: rps * float64(b.o.batch)}
	delivered0 := b.sink.Stats().ByLabel[rc.label]
	stop, samples := b.sampleRSS(time.Second)
	// More workers than the component's max_concurrent_requests (1024), so
	// its admission control, not the client, decides what is shed.
	res, err := loadgen.Run(ctx, loadgen.NewClient(overloadWorkers), rc.target,
		loadgen.Options{Mode: loadgen.Fixed, Rate: rps, Concurrency: overloadWorkers, Duration: b.o.overloadFor, Timeout: 10 * time.Second})
	peak := stop()
	if err != nil {
		return ov, err
	}
	ov.Load = res
	for _, s := range *samples {
		ov.RSSMiB = append(ov.RSSMiB, float64(int(mib(s)*10))/10)
	}
	if n := len(ov.RSSMiB); n > 0 {
		ov.RSSStartMiB, ov.RSSEndMiB = ov.RSSMiB[0], ov.RSSMiB[n-1]
	}
	ov.RSSMaxMiB = mib(peak)
	if b.o.lokiURL == "" {
		if ov.Delivered, err = b.waitDelivered(rc.label, delivered0, res.Accepted); err != nil {
			return ov, fmt.Errorf("overload: %w", err)
		}
	}
	return ov, nil
}

// fetch saves a pprof endpoint of alloy-custom's HTTP server to the out dir.
func (b *bench) fetch(path, file string) error {
	resp, err := http.Get(b.a.ui + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	f, err := os.Create(filepath.Join(b.o.out, file))
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}
