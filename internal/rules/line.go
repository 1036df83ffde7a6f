package rules

// LineRedactor removes personal data and secrets from free text that is
// not a curated event: container log lines (docs/container-logs.md). It
// runs the redact rule's own string step, so a line and an event's message
// lose the same values; key-based rules (secret_keys, keys, hash_fields)
// need attribute names and do not apply to text.
type LineRedactor struct {
	r redactor
}

// NewLineRedactor compiles the text part of cfg: the built-in detectors,
// extra secret query parameters and the named patterns.
func NewLineRedactor(cfg RedactConfig) (*LineRedactor, error) {
	r, err := newRedactor(RedactConfig{Builtins: cfg.Builtins, QueryParams: cfg.QueryParams, Patterns: cfg.Patterns})
	if err != nil {
		return nil, err
	}
	return &LineRedactor{r: r}, nil
}

// Redact returns line with every finding replaced by its marker, and
// appends what it found (a built-in kind's name or a pattern's name, once
// per kind) to found. A line without findings is returned as it is,
// without allocating.
func (l *LineRedactor) Redact(line string, found []string) (string, []string) {
	res := Result{Redactions: found}
	out := l.r.str(line, nil, &res, false)
	return out, res.Redactions
}
