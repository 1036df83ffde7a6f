package erase

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// Loki is the HTTP API of the Loki that holds the events (its compactor
// serves the delete endpoints; in a single process, the same address).
type Loki struct {
	URL    string
	Tenant string // X-Scope-OrgID; "" for a single-tenant Loki
	Client *http.Client
}

// DeleteRequest is one delete request as Loki lists it.
type DeleteRequest struct {
	RequestID string  `json:"request_id"`
	StartTime float64 `json:"start_time"` // Unix seconds
	EndTime   float64 `json:"end_time"`
	Query     string  `json:"query"`
	Status    string  `json:"status"` // received, processed
	CreatedAt float64 `json:"created_at"`
}

func (l Loki) do(ctx context.Context, method, path string, q url.Values, body []byte, out any) error {
	u := l.URL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if l.Tenant != "" {
		req.Header.Set("X-Scope-OrgID", l.Tenant)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := l.Client
	if client == nil {
		client = &http.Client{Timeout: time.Minute}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: Loki answered %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
		}
	}
	return nil
}

// spans yields [from, to) as consecutive ranges of at most step, newest
// first: Loki limits how long one query may span.
func spans(from, to time.Time, step time.Duration) iter.Seq2[time.Time, time.Time] {
	return func(yield func(start, end time.Time) bool) {
		for end := to; end.After(from); end = end.Add(-step) {
			if !yield(maxTime(end.Add(-step), from), end) {
				return
			}
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// HasService reports whether Loki holds events of service between from and
// to, asking a week at a time from the newest (Loki limits how long one
// query may span: 30 days and an hour by default, under a 31-day
// retention).
func (l Loki) HasService(ctx context.Context, service string, from, to time.Time) (bool, error) {
	for start, end := range spans(from, to, 7*24*time.Hour) {
		var r struct{ Data []string }
		q := url.Values{"start": {strconv.FormatInt(start.UnixNano(), 10)}, "end": {strconv.FormatInt(end.UnixNano(), 10)}}
		if err := l.do(ctx, http.MethodGet, "/loki/api/v1/label/service/values", q, nil, &r); err != nil {
			return false, err
		}
		if slices.Contains(r.Data, service) {
			return true, nil
		}
	}
	return false, nil
}

// Count counts the entries of a log query between from and to, a day at a
// time (Loki limits how long one query may span).
func (l Loki) Count(ctx context.Context, logQuery string, from, to time.Time) (int, error) {
	total := 0
	for start, end := range spans(from, to, 24*time.Hour) {
		span := end.Sub(start)
		q := url.Values{
			"query": {fmt.Sprintf("sum(count_over_time(%s [%ds]))", logQuery, int((span+time.Second-1)/time.Second))},
			"time":  {strconv.FormatInt(end.UnixNano(), 10)},
		}
		var r struct {
			Data struct {
				Result []struct {
					Value [2]any
				}
			}
		}
		if err := l.do(ctx, http.MethodGet, "/loki/api/v1/query", q, nil, &r); err != nil {
			return 0, err
		}
		if len(r.Data.Result) > 0 {
			n, err := strconv.ParseFloat(fmt.Sprint(r.Data.Result[0].Value[1]), 64)
			if err != nil {
				return 0, fmt.Errorf("count: %w", err)
			}
			total += int(n)
		}
	}
	return total, nil
}

// Values returns the distinct values of name (a label or structured
// metadata) among the entries of a log query between from and to, a day at
// a time, at most 5,000 entries a day: user.identify events, which come
// once per sign-in.
func (l Loki) Values(ctx context.Context, logQuery, name string, from, to time.Time) ([]string, error) {
	seen := map[string]bool{}
	for start, end := range spans(from, to, 24*time.Hour) {
		q := url.Values{"query": {logQuery}, "limit": {"5000"},
			"start": {strconv.FormatInt(start.UnixNano(), 10)}, "end": {strconv.FormatInt(end.UnixNano(), 10)}}
		var r struct {
			Data struct {
				Result []struct {
					Stream map[string]string
				}
			}
		}
		// Without categorize-labels, Loki returns structured metadata among
		// the stream's labels.
		if err := l.do(ctx, http.MethodGet, "/loki/api/v1/query_range", q, nil, &r); err != nil {
			return nil, err
		}
		for _, s := range r.Data.Result {
			if v := s.Stream[name]; v != "" {
				seen[v] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen)), nil
}

// Deletes lists the delete requests Loki holds.
func (l Loki) Deletes(ctx context.Context) ([]DeleteRequest, error) {
	var r []DeleteRequest
	if err := l.do(ctx, http.MethodGet, "/loki/api/v1/delete", nil, nil, &r); err != nil {
		return nil, err
	}
	return r, nil
}

// FileDelete asks Loki to delete the entries of query between from and to.
func (l Loki) FileDelete(ctx context.Context, query string, from, to time.Time) error {
	q := url.Values{"query": {query}, "start": {from.UTC().Format(time.RFC3339)}, "end": {to.UTC().Format(time.RFC3339)}}
	return l.do(ctx, http.MethodPost, "/loki/api/v1/delete", q, nil, nil)
}

// Push stores one entry in Loki.
func (l Loki) Push(ctx context.Context, labels map[string]string, at time.Time, line string) error {
	body, err := json.Marshal(map[string]any{"streams": []any{map[string]any{
		"stream": labels,
		"values": [][]string{{strconv.FormatInt(at.UnixNano(), 10), line}},
	}}})
	if err != nil {
		return err
	}
	return l.do(ctx, http.MethodPost, "/loki/api/v1/push", nil, body, nil)
}

// covering returns a delete request with the same query whose range covers
// [from, to], if Loki holds one.
func covering(reqs []DeleteRequest, query string, from, to time.Time) *DeleteRequest {
	i := slices.IndexFunc(reqs, func(d DeleteRequest) bool {
		return d.Query == query && d.StartTime <= float64(from.Unix()) && d.EndTime >= float64(to.Add(-time.Minute).Unix())
	})
	if i < 0 {
		return nil
	}
	return &reqs[i]
}
