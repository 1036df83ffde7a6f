package curated

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"
)

// HandlerOptions configure Client.Handler.
type HandlerOptions struct {
	// Level is the lowest level sent (default slog.LevelInfo).
	Level slog.Leveler
	// EventKey is the attribute that names the event (default "event"); it
	// is taken out of the attributes. Records without it are named after
	// their message: "log." and the message, lower-cased, with every run of
	// other characters than a-z 0-9 . _ - as one "_" (at most 64 bytes).
	EventKey string
}

// Handler returns a slog.Handler that turns records at or above the level
// into events: message, level, attributes (groups become nested
// attributes). Use it beside the application's own handler with Fanout.
func (c *Client) Handler(opts *HandlerOptions) slog.Handler {
	h := &handler{c: c, level: slog.LevelInfo, eventKey: "event"}
	if opts != nil {
		if opts.Level != nil {
			h.level = opts.Level
		}
		if opts.EventKey != "" {
			h.eventKey = opts.EventKey
		}
	}
	return h
}

type handler struct {
	c        *Client
	level    slog.Leveler
	eventKey string
	event    string      // set by WithAttrs with the event key
	attrs    []slog.Attr // from WithAttrs, nested under their groups
	groups   []string
}

func (h *handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	event := h.event
	var buf [16]slog.Attr
	own := buf[:0]
	r.Attrs(func(a slog.Attr) bool {
		if len(h.groups) == 0 && a.Key == h.eventKey && a.Value.Kind() == slog.KindString {
			event = a.Value.String()
			return true
		}
		own = append(own, a)
		return true
	})
	if event == "" {
		event = eventFromMessage(r.Message)
	}
	// Without With attributes or groups, dedupe in place: only then may
	// buf stay on the stack (through mergeAt it escapes: 2 allocations).
	var attrs []slog.Attr
	if len(h.attrs) > 0 || len(h.groups) > 0 {
		attrs = mergeAt(h.attrs, h.groups, own)
	} else {
		attrs = dedupe(own)
	}
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	h.c.push(levelOf(r.Level), event, r.Message, t, idsFrom(ctx), attrs)
	return nil
}

// dedupe keeps the last attribute of each key, in place: the API refuses
// an event with a key twice.
func dedupe(attrs []slog.Attr) []slog.Attr {
	out := attrs[:0]
	for i, a := range attrs {
		later := false
		for _, b := range attrs[i+1:] {
			if b.Key == a.Key && a.Key != "" {
				later = true
				break
			}
		}
		if !later {
			out = append(out, a)
		}
	}
	return out
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := *h
	var rest []slog.Attr
	for _, a := range attrs {
		if len(h.groups) == 0 && a.Key == h.eventKey && a.Value.Kind() == slog.KindString {
			n.event = a.Value.String()
			continue
		}
		rest = append(rest, a)
	}
	n.attrs = mergeAt(h.attrs, h.groups, rest)
	return &n
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	n := *h
	n.groups = append(append([]string(nil), h.groups...), name)
	return &n
}

// mergeAt returns base with attrs added under the group path, merging with
// groups of the same name so the event has no duplicate keys (the API
// refuses them).
func mergeAt(base []slog.Attr, path []string, attrs []slog.Attr) []slog.Attr {
	if len(attrs) == 0 {
		return base
	}
	out := append([]slog.Attr(nil), base...)
	if len(path) == 0 {
		for _, a := range attrs {
			out = setAttr(out, a)
		}
		return out
	}
	for i, a := range out {
		if a.Key == path[0] && a.Value.Kind() == slog.KindGroup {
			out[i] = slog.Attr{Key: a.Key, Value: slog.GroupValue(mergeAt(a.Value.Group(), path[1:], attrs)...)}
			return out
		}
	}
	return append(out, slog.Attr{Key: path[0], Value: slog.GroupValue(mergeAt(nil, path[1:], attrs)...)})
}

// setAttr adds a, replacing an attribute of the same key (the later wins,
// as in a JSON object read by most tools).
func setAttr(list []slog.Attr, a slog.Attr) []slog.Attr {
	if a.Key == "" {
		if v := a.Value.Resolve(); v.Kind() == slog.KindGroup {
			for _, g := range v.Group() {
				list = setAttr(list, g)
			}
		}
		return list
	}
	for i := range list {
		if list[i].Key == a.Key {
			list[i] = a
			return list
		}
	}
	return append(list, a)
}

func levelOf(l slog.Level) Level {
	switch {
	case l < slog.LevelInfo:
		return LevelDebug
	case l < slog.LevelWarn:
		return LevelInfo
	case l < slog.LevelError:
		return LevelWarn
	case l < slog.LevelError+4:
		return LevelError
	}
	return LevelFatal
}

// eventFromMessage names an event after a message: "Payment failed!" is
// log.payment_failed.
func eventFromMessage(msg string) string {
	var sb strings.Builder
	sb.WriteString("log.")
	under := false
	for i := 0; i < len(msg) && sb.Len() < 64; i++ {
		c := msg[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_' {
			sb.WriteByte(c)
			under = false
		} else if !under && sb.Len() > 4 {
			sb.WriteByte('_')
			under = true
		}
	}
	s := strings.TrimRight(sb.String(), "_")
	if s == "log." || s == "log" {
		return "log.message"
	}
	return s
}

// Fanout returns a handler that passes every record to each handler that
// is enabled for it, so events go to the API beside the application's own
// logs. It returns their errors joined.
func Fanout(handlers ...slog.Handler) slog.Handler {
	return fanout(handlers)
}

type fanout []slog.Handler

func (f fanout) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range f {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, h := range f {
		if h.Enabled(ctx, r.Level) {
			if err := h.Handle(ctx, r.Clone()); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func (f fanout) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(attrs)
	}
	return out
}

func (f fanout) WithGroup(name string) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(name)
	}
	return out
}
