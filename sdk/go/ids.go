package curated

import (
	"context"
	"strings"
)

// ids are the high-cardinality IDs the API keeps as structured metadata.
type ids struct{ session, user, trace, span, anonymous string }

type idsKey struct{}

func idsFrom(ctx context.Context) ids {
	if ctx == nil {
		return ids{}
	}
	v, _ := ctx.Value(idsKey{}).(*ids)
	if v == nil {
		return ids{}
	}
	return *v
}

func withIDs(ctx context.Context, f func(*ids)) context.Context {
	v := idsFrom(ctx)
	f(&v)
	return context.WithValue(ctx, idsKey{}, &v)
}

// ids are the IDs of ctx's events: those set with WithSession, WithUser
// and WithTrace, and the trace and span IDs of Config.TraceFunc.
func (c *Client) ids(ctx context.Context) ids {
	v := idsFrom(ctx)
	if v.trace == "" && c.cfg.TraceFunc != nil && ctx != nil {
		v.trace, v.span = c.cfg.TraceFunc(ctx)
	}
	return v
}

// WithSession returns a context whose events carry session_id.
func WithSession(ctx context.Context, id string) context.Context {
	return withIDs(ctx, func(v *ids) { v.session = id })
}

// WithUser returns a context whose events carry user_id.
func WithUser(ctx context.Context, id string) context.Context {
	return withIDs(ctx, func(v *ids) { v.user = id })
}

// WithAnonymous returns a context whose events carry anonymous_id: the
// browser's or device's id before (and beside) a user id, for example the
// one a page's SDK sends along to the backend.
func WithAnonymous(ctx context.Context, id string) context.Context {
	return withIDs(ctx, func(v *ids) { v.anonymous = id })
}

// WithTrace returns a context whose events carry trace_id and span_id
// (for example from an OpenTelemetry span: span.SpanContext().TraceID().String()).
func WithTrace(ctx context.Context, traceID, spanID string) context.Context {
	return withIDs(ctx, func(v *ids) { v.trace, v.span = traceID, spanID })
}

// invalid names the first ID the API would refuse: session, user and
// anonymous IDs over 256 bytes, trace and span IDs that are not names.
func (v ids) invalid() string {
	switch {
	case len(v.session) > maxIDLen:
		return "session_id"
	case len(v.user) > maxIDLen:
		return "user_id"
	case len(v.anonymous) > maxIDLen:
		return "anonymous_id"
	case v.trace != "" && !validName(v.trace):
		return "trace_id"
	case v.span != "" && !validName(v.span):
		return "span_id"
	}
	return ""
}

func (v ids) append(b []byte) []byte {
	for _, f := range [...]struct{ key, val string }{
		{`,"session_id":`, v.session}, {`,"user_id":`, v.user}, {`,"anonymous_id":`, v.anonymous}, {`,"trace_id":`, v.trace}, {`,"span_id":`, v.span},
	} {
		if f.val != "" {
			b = append(b, f.key...)
			b = appendID(b, f.val)
		}
	}
	return b
}

// appendID is appendString for IDs, where the API refuses tab, newline and
// CR too.
func appendID(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\t' || c == '\n' || c == '\r' {
			s = strings.NewReplacer("\t", "\ufffd", "\n", "\ufffd", "\r", "\ufffd").Replace(s)
			break
		}
	}
	return appendString(b, s)
}
