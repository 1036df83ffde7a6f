package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"testing"
	"time"
)

// lokiEntry is one entry as read back from Loki.
type lokiEntry struct {
	Labels   map[string]string
	Line     string
	Metadata map[string]string
	Time     time.Time
}

// queryRange runs a LogQL log query over [start, end] as tenant (none when
// empty) and returns every entry in timestamp order. It asks Loki to keep
// indexed labels and structured metadata apart (categorize-labels), so both
// can be asserted exactly.
func queryRange(t testing.TB, lokiURL, tenant, query string, start, end time.Time) []lokiEntry {
	t.Helper()
	q := url.Values{
		"query":     {query},
		"start":     {strconv.FormatInt(start.UnixNano(), 10)},
		"end":       {strconv.FormatInt(end.UnixNano(), 10)},
		"limit":     {"5000"},
		"direction": {"forward"},
	}
	req, err := http.NewRequest(http.MethodGet, lokiURL+"/loki/api/v1/query_range?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Loki-Response-Encoding-Flags", "categorize-labels")
	if tenant != "" {
		req.Header.Set("X-Scope-OrgID", tenant)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("query_range %s: %d %s", query, resp.StatusCode, body)
	}
	var r struct {
		Data struct {
			Result []struct {
				Stream map[string]string   `json:"stream"`
				Values [][]json.RawMessage `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("query_range: %v: %s", err, body)
	}
	var out []lokiEntry
	for _, s := range r.Data.Result {
		for _, v := range s.Values {
			var tsText, line string
			if err := json.Unmarshal(v[0], &tsText); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(v[1], &line); err != nil {
				t.Fatal(err)
			}
			ns, err := strconv.ParseInt(tsText, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			e := lokiEntry{Labels: s.Stream, Line: line, Time: time.Unix(0, ns).UTC()}
			if len(v) > 2 {
				var cat struct {
					StructuredMetadata map[string]string `json:"structuredMetadata"`
				}
				if err := json.Unmarshal(v[2], &cat); err != nil {
					t.Fatal(err)
				}
				e.Metadata = cat.StructuredMetadata
			}
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		return out[i].Line < out[j].Line
	})
	return out
}

// waitForEntries polls Loki until at least want entries match query, then
// returns them all.
func waitForEntries(t testing.TB, lokiURL, tenant, query string, start, end time.Time, want int) []lokiEntry {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := queryRange(t, lokiURL, tenant, query, start, end)
		if len(got) >= want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// settledEntries waits for at least want entries, then until Loki gives the
// same entries for three polls in a row (evidence that nothing late, such
// as a wrongly accepted event, is still on its way), and returns them.
func settledEntries(t testing.TB, lokiURL, tenant, query string, start, end time.Time, want int) []lokiEntry {
	t.Helper()
	got := waitForEntries(t, lokiURL, tenant, query, start, end, want)
	same := 0
	for deadline := time.Now().Add(30 * time.Second); same < 3 && time.Now().Before(deadline); {
		time.Sleep(250 * time.Millisecond)
		next := queryRange(t, lokiURL, tenant, query, start, end)
		if fmt.Sprint(next) == fmt.Sprint(got) {
			same++
		} else {
			same = 0
		}
		got = next
	}
	if same < 3 {
		t.Fatalf("Loki's answer to %s never settled", query)
	}
	return got
}

func (e lokiEntry) String() string {
	return fmt.Sprintf("%s %v %s md=%v", e.Time.Format(time.RFC3339Nano), e.Labels, e.Line, e.Metadata)
}
