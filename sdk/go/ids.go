package curated

import "context"

// ids are the high-cardinality IDs the API keeps as structured metadata.
type ids struct{ session, user, trace, span string }

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

// WithSession returns a context whose events carry session_id.
func WithSession(ctx context.Context, id string) context.Context {
	return withIDs(ctx, func(v *ids) { v.session = id })
}

// WithUser returns a context whose events carry user_id.
func WithUser(ctx context.Context, id string) context.Context {
	return withIDs(ctx, func(v *ids) { v.user = id })
}

// WithTrace returns a context whose events carry trace_id and span_id
// (for example from an OpenTelemetry span: span.SpanContext().TraceID().String()).
func WithTrace(ctx context.Context, traceID, spanID string) context.Context {
	return withIDs(ctx, func(v *ids) { v.trace, v.span = traceID, spanID })
}

func (v ids) append(b []byte) []byte {
	for _, f := range [...]struct{ key, val string }{
		{`,"session_id":`, v.session}, {`,"user_id":`, v.user}, {`,"trace_id":`, v.trace}, {`,"span_id":`, v.span},
	} {
		if f.val != "" {
			b = append(b, f.key...)
			b = appendString(b, f.val)
		}
	}
	return b
}
