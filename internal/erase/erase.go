// Package erase removes one person's events from one service in Loki: it
// checks the request can only ever match that person's events, counts what
// it will delete, files a delete request with Loki's compactor, and leaves
// an audit event in Loki without the id in clear.
//
// Events are matched on the user_id field the API stores (structured
// metadata, or a label when promoted), by equality: the delete query is
// {service="S"} | user_id="ID", never a regular expression and never a
// substring of a message. What the person did before signing in carries
// only the browser's anonymous_id; the user.identify events the SDKs send
// at sign-in link it to the user, and those anonymous events are erased
// too: {service="S"} | anonymous_id="A" | user_id="" (never an event of
// another user on the same browser).
package erase

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/grafana/alloy/curated/internal/event"
	"github.com/grafana/alloy/curated/internal/rules"
)

// MaxIDLength is the longest user_id the API accepts.
const MaxIDLength = 256

// patternChars mark an id that reads as a pattern ("*", ".*", "[a-z]+",
// "a|b"): such an id is almost always a mistake, and refusing it costs a
// real user nothing (the ids applications use are UUIDs, numbers, emails).
const patternChars = "*?[]{}()|^$\\\"`"

// Request is one person's erasure in one service.
type Request struct {
	Service string
	// UserID is the id as the application sent it.
	UserID string
	// HashSecret is the component's redact hash_secret when user_id is in
	// its hash_fields: events then hold the id's pseudonym.
	HashSecret string
	// Env, when set, limits the erasure to that env label.
	Env string
	// From and To bound the events deleted; To is at most now.
	From, To time.Time
	// Retention is Loki's retention_period: nothing older exists, so a
	// wider range is a mistake.
	Retention time.Duration
	// RequestedBy names who asked (a person, a ticket), for the audit.
	RequestedBy string
}

// Validate refuses every request that could delete more than one person's
// events, or that names nothing real.
func (r *Request) Validate(now time.Time) error {
	var errs []error
	if r.Service == "" || !event.IsToken(r.Service) || len(r.Service) > 128 {
		errs = append(errs, fmt.Errorf("service %q: must be 1-128 characters of A-Z a-z 0-9 _ . : - (a service label value)", r.Service))
	}
	if r.Env != "" && !event.IsToken(r.Env) {
		errs = append(errs, fmt.Errorf("env %q: must be characters of A-Z a-z 0-9 _ . : -", r.Env))
	}
	errs = append(errs, validateID(r.UserID))
	if r.RequestedBy == "" {
		errs = append(errs, errors.New("requested-by: say who asked (a name or a ticket), for the audit"))
	}
	switch {
	case r.Retention <= 0:
		errs = append(errs, errors.New("retention must be positive"))
	case !r.From.Before(r.To):
		errs = append(errs, fmt.Errorf("from (%s) must be before to (%s)", r.From.Format(time.RFC3339), r.To.Format(time.RFC3339)))
	case r.To.After(now.Add(time.Minute)):
		errs = append(errs, fmt.Errorf("to (%s) is in the future: it would delete events this person has not sent yet", r.To.Format(time.RFC3339)))
	case r.To.Sub(r.From) > r.Retention+time.Hour:
		errs = append(errs, fmt.Errorf("the range %s to %s is wider than retention (%s): nothing older is kept, so a wider range is a mistake",
			r.From.Format(time.RFC3339), r.To.Format(time.RFC3339), r.Retention))
	}
	return errors.Join(errs...)
}

func validateID(id string) error {
	switch {
	case id == "":
		return errors.New("user id: empty; it would match every event without one")
	case len(id) > MaxIDLength:
		return fmt.Errorf("user id: %d bytes, longer than any id the API accepts (%d)", len(id), MaxIDLength)
	case !utf8.ValidString(id):
		return errors.New("user id: not valid UTF-8")
	case strings.TrimSpace(id) != id:
		return errors.New("user id: leading or trailing spaces; pass the id exactly as stored")
	case strings.ContainsAny(id, patternChars):
		return fmt.Errorf("user id %q: contains one of %s, which make it read as a pattern; ids are matched exactly, and this one is refused as a likely mistake", id, patternChars)
	}
	for _, r := range id {
		if unicode.IsControl(r) {
			return errors.New("user id: contains control characters")
		}
	}
	return nil
}

// StoredID is the user_id as the events hold it: the id, or its pseudonym
// when the component hashes user_id.
func (r *Request) StoredID() string {
	if r.HashSecret != "" {
		return rules.Pseudonym(r.HashSecret, r.UserID)
	}
	return r.UserID
}

// Selector is the stream selector of the service (and env).
func (r *Request) Selector() string {
	if r.Env != "" {
		return fmt.Sprintf(`{service=%s, env=%s}`, strconv.Quote(r.Service), strconv.Quote(r.Env))
	}
	return fmt.Sprintf(`{service=%s}`, strconv.Quote(r.Service))
}

// Query is the delete query: the service's streams, and among them the
// entries whose user_id equals the stored id.
func (r *Request) Query() string {
	return fmt.Sprintf(`%s | user_id=%s`, r.Selector(), strconv.Quote(r.StoredID()))
}

// LinkQuery finds the person's user.identify events: each holds the
// anonymous_id of a browser they signed in on.
func (r *Request) LinkQuery() string {
	return fmt.Sprintf(`%s | user_id=%s |= %s`, r.Selector(), strconv.Quote(r.StoredID()), strconv.Quote(`"event":"user.identify"`))
}

// AnonymousQuery is the delete query of one anonymous id linked to the
// person: that browser's events without a user, so an event another user
// sent from the same browser (signed in, or after a missing reset) stays.
func (r *Request) AnonymousQuery(id string) string {
	return fmt.Sprintf(`%s | anonymous_id=%s | user_id=""`, r.Selector(), strconv.Quote(id))
}

// Subject is how the audit names the person: a hash of the stored id,
// enough to match a later request for the same person, never the id. (A
// guessed id can be confirmed against it; with hash_fields, the stored id
// is already a keyed pseudonym.)
func (r *Request) Subject() string {
	sum := sha256.Sum256([]byte(r.Service + "\x00" + r.StoredID()))
	return "sha256:" + hex.EncodeToString(sum[:8])
}
