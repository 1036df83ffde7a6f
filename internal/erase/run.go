package erase

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Plan is what an erasure will do, found before anything is filed: one
// delete request for the person's events, and one for each browser's
// anonymous events linked to them.
type Plan struct {
	From  time.Time
	To    time.Time
	Parts []Part
}

// Part is one delete query of a plan.
type Part struct {
	Query   string
	Matched int // entries the query matches now
	// Existing is a delete request Loki already holds for the same query
	// and range: filing again is then skipped.
	Existing *DeleteRequest
}

// Matched is how many entries the plan deletes now.
func (p Plan) Matched() int {
	n := 0
	for _, part := range p.Parts {
		n += part.Matched
	}
	return n
}

// Prepare validates r, checks the service exists, finds the anonymous ids
// linked to the person (their user.identify events), counts the entries
// each delete query matches and looks for earlier requests. It changes
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
	anonymous, err := l.Values(ctx, r.LinkQuery(), "anonymous_id", r.From, r.To)
	if err != nil {
		return Plan{}, fmt.Errorf("finding the browsers the person signed in on: %w", err)
	}
	deletes, err := l.Deletes(ctx)
	if err != nil {
		return Plan{}, fmt.Errorf("listing delete requests (is deletion enabled in Loki?): %w", err)
	}
	p := Plan{From: r.From, To: r.To}
	queries := []string{r.Query()}
	for _, id := range anonymous {
		queries = append(queries, r.AnonymousQuery(id))
	}
	for _, q := range queries {
		part := Part{Query: q, Existing: covering(deletes, q, r.From, r.To)}
		if part.Matched, err = l.Count(ctx, q, r.From, r.To); err != nil {
			return Plan{}, fmt.Errorf("counting the events to delete: %w", err)
		}
		p.Parts = append(p.Parts, part)
	}
	return p, nil
}

// Outcome is what Execute did.
type Outcome string

const (
	Filed            Outcome = "filed"
	AlreadyRequested Outcome = "already_requested"
)

// Execute files the plan's delete requests (those Loki does not hold
// already) and stores the audit event: service alloy-curated, event
// curated.erasure, with who asked, the service, the range, the count, how
// many browsers' anonymous events went too, and the subject's hash, never
// the id.
func Execute(ctx context.Context, l Loki, r *Request, p Plan, now time.Time) (Outcome, error) {
	outcome := AlreadyRequested
	for _, part := range p.Parts {
		if part.Existing != nil {
			continue
		}
		if err := l.FileDelete(ctx, part.Query, p.From, p.To); err != nil {
			return "", fmt.Errorf("filing the delete request %s: %w", part.Query, err)
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
			"matched":      p.Matched(),
			"browsers":     len(p.Parts) - 1,
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
