package erase

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Plan is what an erasure will do, found before anything is filed.
type Plan struct {
	Query   string
	From    time.Time
	To      time.Time
	Matched int // entries the query matches now
	// Existing is a delete request Loki already holds for the same query
	// and range: filing again is then skipped.
	Existing *DeleteRequest
}

// Prepare validates r, checks the service exists, counts the entries the
// delete query matches and looks for an earlier request. It changes
// nothing.
func Prepare(ctx context.Context, l Loki, r *Request, now time.Time) (Plan, error) {
	if err := r.Validate(now); err != nil {
		return Plan{}, err
	}
	found, err := l.HasService(ctx, r.Service, r.From, r.To)
	if err != nil {
		return Plan{}, fmt.Errorf("looking for the service: %w", err)
	}
	if !found {
		return Plan{}, fmt.Errorf("service %q: Loki holds no events of it between %s and %s; nothing to erase (a typo?)",
			r.Service, r.From.Format(time.RFC3339), r.To.Format(time.RFC3339))
	}
	p := Plan{Query: r.Query(), From: r.From, To: r.To}
	if p.Matched, err = l.Count(ctx, p.Query, r.From, r.To); err != nil {
		return Plan{}, fmt.Errorf("counting the events to delete: %w", err)
	}
	deletes, err := l.Deletes(ctx)
	if err != nil {
		return Plan{}, fmt.Errorf("listing delete requests (is deletion enabled in Loki?): %w", err)
	}
	p.Existing = covering(deletes, p.Query, r.From, r.To)
	return p, nil
}

// Outcome is what Execute did.
type Outcome string

const (
	Filed            Outcome = "filed"
	AlreadyRequested Outcome = "already_requested"
)

// Execute files the plan's delete request (unless Loki holds one already)
// and stores the audit event: service alloy-curated, event
// curated.erasure, with who asked, the service, the range, the count and
// the subject's hash, never the id.
func Execute(ctx context.Context, l Loki, r *Request, p Plan, now time.Time) (Outcome, error) {
	outcome := AlreadyRequested
	if p.Existing == nil {
		if err := l.FileDelete(ctx, p.Query, p.From, p.To); err != nil {
			return "", fmt.Errorf("filing the delete request: %w", err)
		}
		outcome = Filed
	}
	line, err := json.Marshal(map[string]any{
		"event":   "curated.erasure",
		"message": fmt.Sprintf("erasure of one user's events in %s %s", r.Service, outcome),
		"attributes": map[string]any{
			"service":      r.Service,
			"subject":      r.Subject(),
			"requested_by": r.RequestedBy,
			"from":         p.From.UTC().Format(time.RFC3339),
			"to":           p.To.UTC().Format(time.RFC3339),
			"matched":      p.Matched,
			"outcome":      string(outcome),
		},
	})
	if err != nil {
		return "", err
	}
	labels := map[string]string{"service": "alloy-curated", "level": "info"}
	if r.Env != "" {
		labels["env"] = r.Env
	}
	if err := l.Push(ctx, labels, now, string(line)); err != nil {
		return outcome, fmt.Errorf("the deletion is %s, but its audit event was not stored: %w", outcome, err)
	}
	return outcome, nil
}
