package curated

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
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
	// ReplaceAttr, as in slog.HandlerOptions, rewrites or (returning an
	// empty Attr) removes each attribute, with the groups it is in; it
	// runs on With attributes once and on each record's. Groups themselves
	// are not passed, only their members.
	ReplaceAttr func(groups []string, a slog.Attr) slog.Attr
	// AddSource adds attribute "source" with the caller's function, file
	// and line, as slog's own handlers do.
	AddSource bool
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
		h.replace, h.addSource = opts.ReplaceAttr, opts.AddSource
	}
	return h
}

type handler struct {
	c        *Client
	level    slog.Leveler
	eventKey string
	event    string      // set by WithAttrs with the event key
	attrs    []slog.Attr // from WithAttrs, nested under their groups; no key twice at any level
	groups   []string

	replace   func(groups []string, a slog.Attr) slog.Attr
	addSource bool
}

// replaced applies ReplaceAttr to a and, within groups, to their members.
func (h *handler) replaced(groups []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindGroup {
		members := a.Value.Group()
		out := make([]slog.Attr, 0, len(members))
		inner := groups
		if a.Key != "" {
			inner = append(groups[:len(groups):len(groups)], a.Key)
		}
		for _, m := range members {
			if m = h.replaced(inner, m); m.Key != "" || m.Value.Kind() == slog.KindGroup {
				out = append(out, m)
			}
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
	}
	return h.replace(groups, a)
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
		if h.replace != nil {
			if a = h.replaced(h.groups, a); a.Key == "" && a.Value.Kind() != slog.KindGroup {
				return true
			}
		}
		own = appendFlat(own, a)
		return true
	})
	base := h.attrs
	if h.addSource && r.PC != 0 {
		// At the top, outside the handler's groups, as slog's handlers put it.
		f, _ := runtime.CallersFrames([]uintptr{r.PC}).Next()
		base = append(base[:len(base):len(base)], slog.Group(slog.SourceKey, slog.String("function", f.Function), slog.String("file", f.File), slog.Int("line", f.Line)))
	}
	if event == "" {
		event = eventFromMessage(r.Message)
	}
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	// The record's attributes go under the handler's groups, merged with
	// its With attributes at encoding time: no merged copy is built.
	h.c.push(levelOf(r.Level), event, r.Message, t, h.c.ids(ctx), attrSet{base: base, path: h.groups, add: own})
	return nil
}

// appendFlat appends a to list, with a keyless group's members in its
// place (slog inlines them), so keys can be compared at one level.
func appendFlat(list []slog.Attr, a slog.Attr) []slog.Attr {
	if a.Key == "" && a.Value.Kind() == slog.KindGroup {
		for _, g := range a.Value.Group() {
			list = appendFlat(list, g)
		}
		return list
	}
	return append(list, a)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := *h
	var rest []slog.Attr
	for _, a := range attrs {
		if len(h.groups) == 0 && a.Key == h.eventKey && a.Value.Kind() == slog.KindString {
			n.event = a.Value.String()
			continue
		}
		if h.replace != nil {
			if a = h.replaced(h.groups, a); a.Key == "" && a.Value.Kind() != slog.KindGroup {
				continue
			}
		}
		rest = appendFlat(rest, a)
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
// refuses them). It never changes base, which other handlers share.
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
			out[i] = slog.Group(a.Key, attrsAny(mergeAt(a.Value.Group(), path[1:], attrs))...)
			return out
		}
	}
	return append(out, slog.Group(path[0], attrsAny(mergeAt(nil, path[1:], attrs))...))
}

// setAttr adds a, replacing an attribute of the same key (the later wins,
// as in a JSON object read by most tools); two groups of one key merge.
func setAttr(list []slog.Attr, a slog.Attr) []slog.Attr {
	for i := range list {
		if list[i].Key != a.Key {
			continue
		}
		if list[i].Value.Kind() == slog.KindGroup && a.Value.Kind() == slog.KindGroup {
			merged := append([]slog.Attr(nil), list[i].Value.Group()...)
			for _, g := range a.Value.Group() {
				merged = setAttr(merged, g)
			}
			list[i] = slog.Group(a.Key, attrsAny(merged)...)
		} else {
			list[i] = a
		}
		return list
	}
	return append(list, a)
}

func attrsAny(attrs []slog.Attr) []any {
	out := make([]any, len(attrs))
	for i, a := range attrs {
		out[i] = a
	}
	return out
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
