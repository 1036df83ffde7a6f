package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The attack fault tests hold the public browser key, as anyone can, and
// try to exhaust alloy-custom's memory or starve the API while a server key
// sends at a steady rate. They count what the server key experienced and
// how much memory alloy-custom used.

const (
	attackWebKey    = "web-public-0123456789"
	attackWorkerKey = "worker-secret-0123456789"
	attackOrigin    = "https://apply.example.com"
	// taskMemoryMiB is alloy-custom's Fargate task memory (deploy/services.go).
	taskMemoryMiB = 2048
	// rssBoundMiB is what an attack may add to alloy-custom's RSS.
	rssBoundMiB = 512
)

// attackClients are a browser key (public by design) and a server key,
// behind a proxy on loopback that sets X-Forwarded-For.
var attackClients = fmt.Sprintf(`
	trusted_proxies = ["127.0.0.0/8"]

	client "web" {
		api_key         = %q
		browser         = true
		allowed_origins = [%q]
	}

	client "worker" {
		api_key = %q
	}
`, attackWebKey, attackOrigin, attackWorkerKey)

// startAttackRig starts Loki and alloy-custom with attackClients, puts
// alloy-custom under the task's memory limit, and starts the server key's
// steady load: 4 workers sending 10 events every 50 ms (800 events/s).
func startAttackRig(t *testing.T) (*rig, *memoryLimit) {
	t.Helper()
	r := startRig(t, attackClients, 10)
	r.load.key = attackWorkerKey
	mem := limitMemory(t, r.alloy.cmd.Process.Pid, taskMemoryMiB<<20)
	r.startLoad(4, 50*time.Millisecond)
	return r, mem
}

// memoryLimit is a cgroup (v1 memory controller) holding one process.
type memoryLimit struct {
	dir string
}

// limitMemory moves pid into a new memory cgroup limited to limit bytes,
// as the Fargate task limits alloy-custom: past it the kernel's OOM killer
// ends the process.
func limitMemory(t *testing.T, pid int, limit int64) *memoryLimit {
	t.Helper()
	own, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	parent := ""
	for _, line := range strings.Split(string(own), "\n") {
		if f := strings.SplitN(line, ":", 3); len(f) == 3 && f[1] == "memory" {
			parent = filepath.Join("/sys/fs/cgroup/memory", f[2])
		}
	}
	if parent == "" {
		t.Fatal("no cgroup v1 memory controller for this process: the memory-limit test needs one (run as root on a Linux machine)")
	}
	m := &memoryLimit{dir: filepath.Join(parent, "alloy-curated-"+randomID(t))}
	if err := os.Mkdir(m.dir, 0o755); err != nil {
		t.Fatalf("creating a memory cgroup: %v", err)
	}
	t.Cleanup(func() { _ = os.Remove(m.dir) }) // succeeds once the process has ended
	m.write(t, "memory.limit_in_bytes", strconv.FormatInt(limit, 10))
	m.write(t, "cgroup.procs", strconv.Itoa(pid))
	return m
}

func (m *memoryLimit) write(t *testing.T, file, value string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(m.dir, file), []byte(value), 0o644); err != nil {
		t.Fatalf("cgroup %s: %v", file, err)
	}
}

// peakMiB is the most memory the cgroup has used.
func (m *memoryLimit) peakMiB(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(m.dir, "memory.max_usage_in_bytes"))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n >> 20
}

// ooms is how many times the limit was hit (memory.failcnt counts every
// allocation refused at the limit).
func (m *memoryLimit) ooms(t *testing.T) string {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(m.dir, "memory.failcnt"))
	return strings.TrimSpace(string(b))
}

// alive fails the test if alloy-custom has exited.
func alive(t *testing.T, a *alloy) {
	t.Helper()
	select {
	case <-a.done:
		t.Fatalf("alloy-custom died during the attack (%v)", a.cmd.ProcessState)
	default:
	}
}

// sampleRSS records alloy-custom's peak RSS until ctx ends.
func sampleRSS(ctx context.Context, t *testing.T, pid int) func() int {
	peak := 0
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if rss := rssMiB(t, pid); rss > 0 {
				mu.Lock()
				peak = max(peak, rss)
				mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return func() int { <-done; mu.Lock(); defer mu.Unlock(); return peak }
}

// worstShapes are bodies just under max_request_bytes (1 MiB) built to cost
// the most memory per byte, and what each is to get.
func worstShapes(t *testing.T) []attackShape {
	t.Helper()
	const size = 1 << 20
	fill := func(open, unit, sep, close string) []byte {
		n := (size - len(open) - len(close) + len(sep)) / (len(unit) + len(sep))
		return []byte(open + strings.Repeat(unit+sep, n-1) + unit + close)
	}
	oneEvent := func(unit string) string { // an event of max_event_bytes (32 KiB) of tiny values
		n := (32<<10 - 40) / (len(unit) + 1)
		return `{"event":"e","attributes":{"a":[` + strings.Repeat(unit+",", n-1) + unit + `]}}`
	}
	manyEvents := func(ev string) []byte {
		n := min(size/(len(ev)+1), 500) // max_events_per_request
		return []byte("[" + strings.Repeat(ev+",", n-1) + ev + "]")
	}
	var attrs strings.Builder
	attrs.WriteString(`{"event":"e","attributes":{`)
	for i := range 65 { // one over max_attributes
		fmt.Fprintf(&attrs, `"k%02d":1,`, i)
	}
	attrs.WriteString(`"z":1}}`)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(fill("[", "1", ",", "]"))
	_ = zw.Close()
	return []attackShape{
		{name: "array of tiny numbers", body: fill("[", "1", ",", "]"), want: "413"},
		{name: "array of empty objects", body: fill("[", "{}", ",", "]"), want: "413"},
		{name: "ndjson of one-character lines", body: fill("", "1", "\n", ""), ndjson: true, want: "413"},
		{name: "events of tiny numbers", body: manyEvents(oneEvent("1")), want: "413"},
		{name: "events of empty objects", body: manyEvents(oneEvent("{}")), want: "413"},
		{name: "events over max_attributes", body: manyEvents(attrs.String()), want: "400"},
		{name: "gzip inflating to the cap", body: gz.Bytes(), gzip: true, want: "413"},
		{name: "nesting past the cap", body: []byte(strings.Repeat("[", 1000) + strings.Repeat("]", 1000)), want: "400"},
	}
}

type attackShape struct {
	name   string
	body   []byte
	ndjson bool
	gzip   bool
	want   string // the status it must get
}

// browserRequest is a POST with the public key from addr, behind the proxy.
func browserRequest(ctx context.Context, apiURL, addr string, body []byte, ndjson, gzipped bool) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, apiURL+"/v1/events?api_key="+attackWebKey, bytes.NewReader(body))
	req.Header.Set("Content-Type", map[bool]string{false: "application/json", true: "application/x-ndjson"}[ndjson])
	if gzipped {
		req.Header.Set("Content-Encoding", "gzip")
	}
	req.Header.Set("Origin", attackOrigin)
	req.Header.Set("X-Forwarded-For", addr)
	return req
}

// TestFaultWorstShapeFlood: (a) and (c) of the per-request memory bound.
// 16 attackers from 16 addresses post the worst shapes with the public key
// as fast as they can for 20 s, while the server key sends at a steady
// rate and alloy-custom runs under the task's memory limit. The server
// key's requests must all succeed, every event it had acknowledged must
// reach Loki, alloy-custom must not die, and its RSS must stay within
// rssBoundMiB of where it started.
func TestFaultWorstShapeFlood(t *testing.T) {
	r, mem := startAttackRig(t)
	pid := r.alloy.cmd.Process.Pid
	time.Sleep(2 * time.Second) // let the steady load settle before the baseline
	baseline := rssMiB(t, pid)
	shapes := worstShapes(t)

	ctx, stop := context.WithTimeout(context.Background(), 20*time.Second)
	defer stop()
	peak := sampleRSS(ctx, t, pid)
	var (
		mu       sync.Mutex
		byShape  = map[string]map[string]int{}
		attackWG sync.WaitGroup
		client   = &http.Client{Timeout: 30 * time.Second}
	)
	for i := range 16 {
		attackWG.Add(1)
		go func() {
			defer attackWG.Done()
			addr := fmt.Sprintf("198.51.100.%d", i+1)
			for n := i; ctx.Err() == nil; n++ {
				s := shapes[n%len(shapes)]
				resp, err := client.Do(browserRequest(ctx, r.alloy.apiURL, addr, s.body, s.ndjson, s.gzip))
				status := "error"
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					status = strconv.Itoa(resp.StatusCode)
				}
				if ctx.Err() != nil && err != nil {
					return
				}
				mu.Lock()
				if byShape[s.name] == nil {
					byShape[s.name] = map[string]int{}
				}
				byShape[s.name][status]++
				mu.Unlock()
			}
		}()
	}
	attackWG.Wait()
	peakRSS := peak()
	alive(t, r.alloy)
	o := r.settle(t, "e worst-shape flood", 2*time.Minute)
	o.Note = fmt.Sprintf("16 attackers with the browser key for 20 s under a %d MiB memory cgroup; server key: %v; "+
		"alloy-custom RSS %d MiB before, %d MiB peak (+%d); cgroup peak %d MiB, allocations refused at the limit %s; attack answers by shape: %v",
		taskMemoryMiB, o.ByStatus, baseline, peakRSS, peakRSS-baseline, mem.peakMiB(t), mem.ooms(t), byShape)
	record(t, o)
	alive(t, r.alloy)

	if o.Missing != 0 || len(o.ByStatus) != 1 || o.ByStatus["202"] == 0 {
		t.Errorf("server key: %+v; want every request answered 202 and every event in Loki", o)
	}
	if peakRSS-baseline > rssBoundMiB {
		t.Errorf("RSS rose by %d MiB under the flood, more than %d MiB", peakRSS-baseline, rssBoundMiB)
	}
	for _, s := range shapes {
		got := byShape[s.name]
		if len(got) == 0 {
			t.Errorf("%s: never sent", s.name)
		}
		for status := range got {
			if status != s.want && status != "429" {
				t.Errorf("%s: answered %s (%v), want %s (or 429 for the address's share)", s.name, status, got, s.want)
			}
		}
	}
}

// TestFaultSlowBodyFlood: slow bodies with the public key, from 150
// addresses behind the trusted proxy and 40 connections from one address,
// each trickling 1 byte per second and reconnecting when cut, for 20 s.
// The server key and a browser user at another address must be unaffected,
// and the trickles must be cut within seconds, not the server's 30 s.
func TestFaultSlowBodyFlood(t *testing.T) {
	r, _ := startAttackRig(t)
	apiAddr := strings.TrimPrefix(r.alloy.apiURL, "http://")
	ctx, stop := context.WithTimeout(context.Background(), 20*time.Second)
	defer stop()

	var (
		mu      sync.Mutex
		answers = map[string]int{}
		cutAt   []time.Duration // how long a trickle lasted before its 408
		wg      sync.WaitGroup
	)
	trickle := func(addr string) {
		defer wg.Done()
		for ctx.Err() == nil {
			conn, err := net.Dial("tcp", apiAddr)
			if err != nil {
				continue
			}
			began := time.Now()
			_ = conn.SetDeadline(time.Now().Add(40 * time.Second))
			fmt.Fprintf(conn, "POST /v1/events?api_key=%s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
				"Origin: %s\r\nX-Forwarded-For: %s\r\nContent-Length: 1000\r\n\r\n", attackWebKey, attackOrigin, addr)
			go func() {
				for i := 0; i < 1000 && ctx.Err() == nil; i++ {
					if _, err := conn.Write([]byte(" ")); err != nil {
						return
					}
					time.Sleep(time.Second)
				}
			}()
			status := "no answer"
			if resp, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil {
				status = strconv.Itoa(resp.StatusCode)
				resp.Body.Close()
			}
			conn.Close()
			mu.Lock()
			answers[status]++
			if status == "408" {
				cutAt = append(cutAt, time.Since(began))
			}
			mu.Unlock()
			if status != "408" && status != "429" && ctx.Err() == nil {
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	for i := range 150 {
		wg.Add(1)
		go trickle(fmt.Sprintf("203.0.113.%d", i+1))
	}
	for range 40 {
		wg.Add(1)
		go trickle("192.0.2.200")
	}

	// A browser user at another address sends a normal event every 200 ms.
	user := map[string]int{}
	client := &http.Client{Timeout: 10 * time.Second}
	for tick := time.NewTicker(200 * time.Millisecond); ctx.Err() == nil; <-tick.C {
		resp, err := client.Do(browserRequest(context.Background(), r.alloy.apiURL, "192.0.2.7",
			[]byte(`{"event":"form.open"}`), false, false))
		if err != nil {
			user["error"]++
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		user[strconv.Itoa(resp.StatusCode)]++
	}
	wg.Wait()
	alive(t, r.alloy)
	o := r.settle(t, "f slow-body flood", 2*time.Minute)
	slices.Sort(cutAt)
	longest := time.Duration(0)
	if len(cutAt) > 0 {
		longest = cutAt[len(cutAt)-1]
	}
	o.Note = fmt.Sprintf("190 trickling connections (150 addresses + 40 from one) for 20 s: answers %v, %d cut with 408, "+
		"the longest after %s; server key %v; browser user at another address %v",
		answers, len(cutAt), longest.Round(10*time.Millisecond), o.ByStatus, user)
	record(t, o)

	if o.Missing != 0 || len(o.ByStatus) != 1 || o.ByStatus["202"] == 0 {
		t.Errorf("server key: %+v; want every request answered 202 and every event in Loki", o)
	}
	if len(user) != 1 || user["202"] == 0 {
		t.Errorf("browser user at another address: %v, want every request answered 202", user)
	}
	if len(cutAt) == 0 || longest > 10*time.Second {
		t.Errorf("trickles: %d cut, the longest after %s: want them cut by min_body_rate, well before body_timeout", len(cutAt), longest)
	}
	if answers["429"] == 0 {
		t.Errorf("40 connections from one address were never refused for the address's share: %v", answers)
	}
}
