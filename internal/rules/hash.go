package rules

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/grafana/alloy/curated/internal/event"
)

// hasher replaces fields by a keyed hash: pseudonymous ids.
type hasher struct {
	secret string
	fields []event.Path
}

// compileHash accepts the identifier fields of event.TextFields (session_id,
// user_id) and attributes.
func compileHash(cfg Config) (step, error) {
	var errs []error
	h := &hasher{secret: cfg.Hash.Secret}
	for _, f := range cfg.Hash.Fields {
		p, err := event.ParsePath(f, (*event.TextField).Identifier)
		if err != nil {
			errs = append(errs, fmt.Errorf("hash: %w", err))
			continue
		}
		h.fields = append(h.fields, p)
	}
	if len(cfg.Hash.Fields) > 0 && cfg.Hash.Secret == "" {
		errs = append(errs, errors.New("hash: secret must be set to hash fields"))
	}
	if len(cfg.Hash.Fields) == 0 {
		return nil, errors.Join(errs...)
	}
	return h, errors.Join(errs...)
}

func (h *hasher) apply(ev *event.Event, res *Result, trace bool) bool {
	for _, p := range h.fields {
		if p.Text != nil {
			v := p.Text.Ref(ev)
			if *v == "" {
				continue
			}
			*v = Pseudonym(h.secret, *v)
		} else {
			v := ev.AttrRef(p.Attr)
			if v == nil || *v == nil {
				continue
			}
			*v = Pseudonym(h.secret, event.ValueText(*v))
		}
		res.Redactions = append(res.Redactions, "hash")
		res.fire(trace, "hash:"+p.String())
	}
	return false
}

// Pseudonym is what hash_fields store for v under secret: equal values give
// equal pseudonyms, and without the secret they cannot be reversed or
// recomputed. The erasure command computes it to find a hashed user_id.
func Pseudonym(secret, v string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(v))
	var sum [sha256.Size]byte
	return "hmac:" + hex.EncodeToString(m.Sum(sum[:0])[:16])
}
