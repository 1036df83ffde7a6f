package curatedapi

import (
	"context"
	"log/slog"
	"regexp"

	"github.com/grafana/alloy/curated/internal/access"
)

// keyInURI matches the value of the browser key query parameter.
var keyInURI = regexp.MustCompile(`([?&]` + access.QueryAPIKey + `=)[^&\s"]*`)

func redactKeys(s string) string { return keyInURI.ReplaceAllString(s, "${1}REDACTED") }

// redactingLogger wraps l so that API keys sent as query parameters never
// reach the logs: the embedded server logs request URIs.
func redactingLogger(l *slog.Logger) *slog.Logger {
	return slog.New(redactingHandler{l.Handler()})
}

type redactingHandler struct{ inner slog.Handler }

func (h redactingHandler) Enabled(ctx context.Context, lvl slog.Level) bool {
	return h.inner.Enabled(ctx, lvl)
}

func (h redactingHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, redactKeys(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a.Value.Kind() == slog.KindString {
			a.Value = slog.StringValue(redactKeys(a.Value.String()))
		}
		out.AddAttrs(a)
		return true
	})
	return h.inner.Handle(ctx, out)
}

func (h redactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	for i, a := range attrs {
		if a.Value.Kind() == slog.KindString {
			attrs[i].Value = slog.StringValue(redactKeys(a.Value.String()))
		}
	}
	return redactingHandler{h.inner.WithAttrs(attrs)}
}

func (h redactingHandler) WithGroup(name string) slog.Handler {
	return redactingHandler{h.inner.WithGroup(name)}
}
