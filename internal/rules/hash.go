package rules

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/grafana/alloy/curated/internal/event"
)

// hasher replaces fields by a keyed hash: pseudonymous ids.
type hasher struct {
	HashConfig
}

func compileHash(cfg Config) (step, error) {
	var errs []error
	for _, f := range cfg.Hash.Fields {
		if f != "user_id" && f != "session_id" && !strings.HasPrefix(f, "attributes.") {
			errs = append(errs, fmt.Errorf("hash: field %q must be user_id, session_id or attributes.KEY", f))
		}
	}
	if len(cfg.Hash.Fields) > 0 && cfg.Hash.Secret == "" {
		errs = append(errs, errors.New("hash: secret must be set to hash fields"))
	}
	if len(cfg.Hash.Fields) == 0 {
		return nil, errors.Join(errs...)
	}
	return &hasher{cfg.Hash}, errors.Join(errs...)
}

func (h *hasher) apply(ev *event.Event, res *Result, trace bool) bool {
	for _, f := range h.Fields {
		switch {
		case f == "user_id" && ev.UserID != "":
			ev.UserID = h.hmac(ev.UserID)
		case f == "session_id" && ev.SessionID != "":
			ev.SessionID = h.hmac(ev.SessionID)
		case strings.HasPrefix(f, "attributes."):
			v := ev.AttrRef(strings.TrimPrefix(f, "attributes."))
			if v == nil || *v == nil {
				continue
			}
			*v = h.hmac(event.ValueText(*v))
		default:
			continue
		}
		res.Redactions = append(res.Redactions, "hash")
		res.fire(trace, "hash:"+f)
	}
	return false
}

func (h *hasher) hmac(v string) string { return Pseudonym(h.Secret, v) }

// Pseudonym is what hash_fields store for v under secret: equal values give
// equal pseudonyms, and without the secret they cannot be reversed or
// recomputed. The erasure command computes it to find a hashed user_id.
func Pseudonym(secret, v string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(v))
	var sum [sha256.Size]byte
	return "hmac:" + hex.EncodeToString(m.Sum(sum[:0])[:16])
}
