package event

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Limits bound what one request may carry. Zero values mean "no limit" and
// are only meant for tests; the component always sets every limit.
type Limits struct {
	MaxEventsPerRequest int
	MaxEventBytes       int
	MaxAttributes       int
}

// Format is the framing of a request body.
type Format uint8

// Body formats.
const (
	// FormatJSON is one event object, an array of events, or an envelope
	// {"context": {...}, "events": [...]}.
	FormatJSON Format = iota + 1
	// FormatNDJSON is one event object per line.
	FormatNDJSON
)

// PayloadErrorKind classifies errors that reject a whole request.
type PayloadErrorKind uint8

// Payload error kinds.
const (
	// PayloadMalformed: the body cannot be read as the API's format.
	PayloadMalformed PayloadErrorKind = iota + 1
	// PayloadTooManyEvents: over Limits.MaxEventsPerRequest.
	PayloadTooManyEvents
)

// PayloadError rejects a whole request body.
type PayloadError struct {
	Kind PayloadErrorKind
	// Field is the JSON path at fault, e.g. "context.level"; empty for the body.
	Field  string
	Reason string
}

func (e *PayloadError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

const (
	maxNameLen      = 128
	maxIDLen        = 256
	maxAttrKeyLen   = 128
	maxAttrDepth    = 8
	maxServiceLen   = 128
	timestampField  = "timestamp"
	attributesField = "attributes"
	envelopeContext = "context"
	envelopeEvents  = "events"
	envelopeSentAt  = "sent_at"
)

// Decode decodes a request body into one Item per event, in request order.
// An event that fails validation becomes an Item with Errors; only problems
// with the body as a whole return a *PayloadError.
func Decode(format Format, body []byte, lim Limits) ([]Item, error) {
	b, err := Scan(format, body, lim)
	if err != nil {
		return nil, err
	}
	return b.Items(), nil
}

// Batch is a request body that passed the scanning pass: valid framing,
// events counted and within the limits, nothing decoded yet. The scan
// allocates little beyond one small record per event, so a body that breaks
// a request limit is refused before it costs memory.
type Batch struct {
	elems []element
	one   [1]element // elems of a single-event body, without a second allocation
	ctx   *partial
	// sentAt is the sender's clock when it sent the request (the
	// envelope's sent_at); zero when it did not say.
	sentAt time.Time
	lim    Limits
	size   int
	n      counts
}

// What decoding allocates at most, in bytes, besides copies of the body's
// strings: per value (an interface slot with its share of slice growth and
// the boxed scalar), per object on top (a Go map, large even when small) and
// per event (its records in the scan and in Items). Measured, with margin,
// by TestBatchCostBoundsAllocations.
const (
	costPerValue  = 96
	costPerObject = 320
	costPerEvent  = 1536
)

// Cost is an upper bound of the bytes Scan and Items allocate for the
// batch. Callers charge it against their memory budget before Items.
func (b *Batch) Cost() int64 {
	return int64(b.size) + int64(b.n.values)*costPerValue + int64(b.n.objects)*costPerObject +
		int64(len(b.elems))*costPerEvent
}

// SentAt is the sender's clock when it sent the request, from the
// envelope's sent_at; zero when the request did not say.
func (b *Batch) SentAt() time.Time { return b.sentAt }

// Items decodes and validates every event, in request order.
func (b *Batch) Items() []Item {
	items := make([]Item, len(b.elems))
	for i := range b.elems {
		items[i] = decodeRaw(&b.elems[i], b.ctx, b.lim)
	}
	return items
}

// Scan checks a request body's framing and request-wide limits without
// decoding its events.
func Scan(format Format, body []byte, lim Limits) (*Batch, error) {
	var (
		b   *Batch
		err error
	)
	switch format {
	case FormatNDJSON:
		b, err = scanNDJSON(body, lim)
	case FormatJSON:
		b, err = scanJSON(body, lim)
	default:
		return nil, &PayloadError{Kind: PayloadMalformed, Reason: "unsupported body format"}
	}
	if err != nil {
		return nil, err
	}
	if len(b.elems) == 0 {
		return nil, &PayloadError{Kind: PayloadMalformed, Reason: "no events in request"}
	}
	b.lim, b.size = lim, len(body)
	return b, nil
}

func scanJSON(body []byte, lim Limits) (*Batch, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, &PayloadError{Kind: PayloadMalformed, Reason: "request body is empty"}
	}
	switch trimmed[0] {
	case '[':
		elems, n, err := readArray(trimmed, lim.MaxEventsPerRequest)
		if err == errTooManyElements {
			return nil, tooMany(lim)
		}
		if err != nil {
			return nil, malformed("", err)
		}
		return &Batch{elems: elems, n: n}, nil
	case '{':
		obj, n, err := readObject(trimmed)
		if err != nil {
			return nil, malformed("", err)
		}
		if obj.has(fieldEvents) {
			return scanEnvelope(obj, n, lim)
		}
		b := &Batch{n: n}
		b.one[0] = element{raw: trimmed, parsed: true, obj: obj}
		b.elems = b.one[:]
		return b, nil
	default:
		return nil, &PayloadError{Kind: PayloadMalformed, Reason: "request body must be a JSON object or array of event objects"}
	}
}

const envelopeFieldsReason = `unknown envelope field; an envelope has only "context", "events" and "sent_at"`

func scanEnvelope(obj object, n counts, lim Limits) (*Batch, error) {
	if len(obj.unknown) > 0 {
		return nil, &PayloadError{Kind: PayloadMalformed, Field: obj.unknown[0].key,
			Reason: envelopeFieldsReason}
	}
	for id := fieldID(0); id < numFields; id++ {
		if id != fieldEvents && id != fieldContext && id != fieldSentAt && obj.has(id) {
			return nil, &PayloadError{Kind: PayloadMalformed, Field: fieldNames[id], Reason: envelopeFieldsReason}
		}
	}
	raw := obj.fields[fieldEvents]
	if raw[0] != '[' {
		return nil, &PayloadError{Kind: PayloadMalformed, Field: envelopeEvents, Reason: "must be an array of event objects"}
	}
	// Valid JSON already (readObject checked the whole body): only the
	// element limit can stop it.
	elems, _, err := readArray(raw, lim.MaxEventsPerRequest)
	if err != nil {
		return nil, tooMany(lim)
	}
	b := &Batch{elems: elems, n: n}
	if raw, ok := obj.get(fieldSentAt); ok && !isNull(raw) {
		t, ferr := decodeTimestamp(raw)
		if ferr != nil {
			return nil, &PayloadError{Kind: PayloadMalformed, Field: envelopeSentAt, Reason: ferr.Reason}
		}
		b.sentAt = t
	}
	if raw, ok := obj.get(fieldContext); ok && !isNull(raw) {
		if raw[0] != '{' {
			return nil, &PayloadError{Kind: PayloadMalformed, Field: envelopeContext, Reason: "must be an object of event fields"}
		}
		// The context is merged into every event: it is bounded like one.
		if lim.MaxEventBytes > 0 && len(raw) > lim.MaxEventBytes {
			return nil, &PayloadError{Kind: PayloadMalformed, Field: envelopeContext,
				Reason: fmt.Sprintf("context is %d bytes, more than max_event_bytes (%d)", len(raw), lim.MaxEventBytes)}
		}
		cobj, _, _ := readObject(raw)
		p, errs := decodePartial(&cobj, lim)
		if len(errs) > 0 {
			return nil, &PayloadError{Kind: PayloadMalformed, Field: join(envelopeContext, errs[0].Field), Reason: errs[0].Reason}
		}
		b.ctx = &p
	}
	return b, nil
}

// scanNDJSON frames the lines and reads every line that may be an event,
// so the batch's cost is known before any event is decoded.
func scanNDJSON(body []byte, lim Limits) (*Batch, error) {
	b := &Batch{}
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		if line = bytes.TrimSpace(line); len(line) == 0 {
			continue
		}
		if lim.MaxEventsPerRequest > 0 && len(b.elems) == lim.MaxEventsPerRequest {
			return nil, tooMany(lim)
		}
		el := element{raw: line}
		if line[0] == '{' && (lim.MaxEventBytes <= 0 || len(line) <= lim.MaxEventBytes) {
			obj, n, err := readObject(line)
			b.n.add(n)
			if err == nil {
				el.parsed, el.obj = true, obj
			}
		}
		b.elems = append(b.elems, el)
	}
	return b, nil
}

// decodeRaw decodes one event object; any problem becomes a per-event error.
func decodeRaw(el *element, ctx *partial, lim Limits) Item {
	raw := el.raw
	if lim.MaxEventBytes > 0 && len(raw) > lim.MaxEventBytes {
		return Item{Errors: []FieldError{tooLarge(len(raw), lim)}}
	}
	if raw[0] != '{' {
		reason := "event must be a JSON object"
		r := reader{data: raw}
		if _, err := r.skip(0); err != nil {
			reason = "invalid JSON: " + err.Error()
		} else if err := r.end(); err != nil {
			reason = "invalid JSON: " + err.Error()
		}
		return Item{Errors: []FieldError{{Code: CodeMalformed, Reason: reason}}}
	}
	if !el.parsed {
		obj, _, err := readObject(raw)
		if err != nil {
			return Item{Errors: []FieldError{{Code: CodeMalformed, Reason: "invalid JSON: " + err.Error()}}}
		}
		el.obj = obj
	}
	ev, errs := decodeObject(&el.obj, ctx, lim)
	return Item{Event: ev, Errors: errs}
}

// partial is an event whose fields may be missing, such as an envelope
// context; set records which fields were present.
type partial struct {
	ev  Event
	set fieldSet
}

// fieldSet has bit 1<<id for each fieldID present.
type fieldSet uint16

func (s fieldSet) has(id fieldID) bool { return s&(1<<id) != 0 }

func (s *fieldSet) add(id fieldID) { *s |= 1 << id }

// decodeObject decodes one event, fills what it lacks from ctx and applies
// defaults and required-field checks.
func decodeObject(obj *object, ctx *partial, lim Limits) (Event, []FieldError) {
	p, errs := decodePartial(obj, lim)
	if ctx != nil {
		p.inherit(ctx)
	}
	if !p.set.has(fieldEvent) {
		errs = append(errs, FieldError{Field: "event", Code: CodeRequired, Reason: "event name is required"})
	}
	if p.ev.Level == 0 {
		p.ev.Level = LevelInfo
	}
	if len(errs) > 0 {
		return Event{}, errs
	}
	return p.ev, nil
}

// decodePartial decodes and validates the fields present in obj.
func decodePartial(obj *object, lim Limits) (partial, []FieldError) {
	var (
		p    partial
		errs []FieldError
	)
	for id, raw := range obj.fields {
		if raw == nil || isNull(raw) {
			continue // null means "not set", like an absent field
		}
		key := fieldNames[id]
		var err *FieldError
		switch fieldID(id) {
		case fieldLevel:
			p.ev.Level, err = decodeLevel(raw)
		case fieldTimestamp:
			p.ev.Timestamp, err = decodeTimestamp(raw)
		case fieldAttributes:
			p.ev.Attributes, err = decodeAttributes(raw, lim)
		default:
			if f := textField(fieldID(id)); f != nil {
				*f.Ref(&p.ev), err = f.decode(raw)
			} else { // context, events and sent_at are envelope fields, unknown in an event
				err = unknownField(key)
			}
		}
		p.set.add(fieldID(id))
		if err != nil {
			errs = append(errs, *err)
		}
	}
	for _, m := range obj.unknown {
		if !isNull(m.raw) {
			errs = append(errs, *unknownField(m.key))
		}
	}
	if obj.moreUnknown > 0 {
		errs = append(errs, FieldError{Code: CodeUnknownField,
			Reason: fmt.Sprintf("%d more unknown fields; send custom data inside \"attributes\"", obj.moreUnknown)})
	}
	if len(errs) > 1 {
		sortErrors(errs) // keep responses stable whatever the field order
	}
	return p, errs
}

func unknownField(key string) *FieldError {
	return &FieldError{Field: key, Code: CodeUnknownField,
		Reason: "unknown field; send custom data inside \"attributes\""}
}

// inherit fills the fields p lacks from ctx and merges attributes, p's
// values winning.
func (p *partial) inherit(ctx *partial) {
	c := &ctx.ev
	for i := range TextFields {
		f := &TextFields[i]
		if !p.set.has(f.id) && ctx.set.has(f.id) {
			*f.Ref(&p.ev) = *f.Ref(c)
			p.set.add(f.id)
		}
	}
	if !p.set.has(fieldLevel) && ctx.set.has(fieldLevel) {
		p.ev.Level = c.Level
		p.set.add(fieldLevel)
	}
	if !p.set.has(fieldTimestamp) && ctx.set.has(fieldTimestamp) {
		p.ev.Timestamp = c.Timestamp
		p.set.add(fieldTimestamp)
	}
	p.ev.Attributes = mergeAttributes(p.ev.Attributes, c.Attributes)
}

// mergeAttributes merges two key-sorted attribute lists; own wins.
func mergeAttributes(own, inherited []Attribute) []Attribute {
	if len(inherited) == 0 {
		return own
	}
	out := make([]Attribute, 0, len(own)+len(inherited))
	i, j := 0, 0
	for i < len(own) && j < len(inherited) {
		switch {
		case own[i].Key < inherited[j].Key:
			out = append(out, own[i])
			i++
		case own[i].Key > inherited[j].Key:
			out = append(out, inherited[j])
			j++
		default:
			out = append(out, own[i])
			i++
			j++
		}
	}
	out = append(out, own[i:]...)
	return append(out, inherited[j:]...)
}

// decodeString decodes a valid JSON value that must be a string.
func decodeString(field string, raw []byte, maxLen int, text bool) (string, *FieldError) {
	if raw[0] != '"' {
		return "", &FieldError{Field: field, Code: CodeInvalidType, Reason: "must be a string"}
	}
	b := unquote(raw)
	if maxLen > 0 && len(b) > maxLen {
		return "", &FieldError{Field: field, Code: CodeTooLong, Reason: fmt.Sprintf("longer than %d bytes", maxLen)}
	}
	if hasControl(b, text) {
		return "", &FieldError{Field: field, Code: CodeInvalidValue, Reason: "must not contain control characters"}
	}
	return string(b), nil
}

// hasControl reports whether s holds an ASCII control character (tab,
// newline and carriage return allowed in text). They are refused rather
// than escaped: NUL and ESC in a stored line break terminals and parsers
// downstream, and no curated event needs them.
func hasControl[T ~string | ~[]byte](s T, text bool) bool {
	for i := 0; i < len(s); i++ { // control characters are ASCII: no need to decode runes
		if c := s[i]; c < 0x20 || c == 0x7f {
			if text && (c == '\n' || c == '\t' || c == '\r') {
				continue
			}
			return true
		}
	}
	return false
}

// decodeToken decodes a string restricted to letters, digits and _.:- so it
// is safe as a label value and in LogQL without quoting surprises.
func decodeToken(field string, raw []byte, maxLen int) (string, *FieldError) {
	s, err := decodeString(field, raw, maxLen, false)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", &FieldError{Field: field, Code: CodeInvalidValue, Reason: "must not be empty"}
	}
	if !IsToken(s) {
		return "", &FieldError{Field: field, Code: CodeInvalidValue,
			Reason: "may contain only letters, digits and _ . : -"}
	}
	return s, nil
}

// IsToken reports whether s consists only of ASCII letters, digits and _.:-.
func IsToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '_', c == '.', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

func decodeLevel(raw []byte) (Level, *FieldError) {
	s, err := decodeString("level", raw, 32, false)
	if err != nil {
		return 0, err
	}
	l, ok := ParseLevel(s)
	if !ok {
		return 0, &FieldError{Field: "level", Code: CodeInvalidValue,
			Reason: fmt.Sprintf("unknown level %q; use debug, info, warn, error or fatal", s)}
	}
	return l, nil
}

// MaxTimestampMillis is the last millisecond of year 9999, the latest time
// RFC 3339 can write. Larger integers are almost always micro- or
// nanoseconds sent where milliseconds belong.
const MaxTimestampMillis = 253402300799999

// decodeTimestamp accepts an RFC 3339 string or integer Unix milliseconds
// (what Date.now() returns), between 1970 and the end of year 9999.
func decodeTimestamp(raw []byte) (time.Time, *FieldError) {
	if raw[0] == '"' {
		if t, err := time.Parse(time.RFC3339Nano, string(unquote(raw))); err == nil && t.Unix() > 0 {
			return t, nil
		}
		return time.Time{}, &FieldError{Field: timestampField, Code: CodeInvalidValue,
			Reason: "must be an RFC 3339 string after 1970 such as 2026-11-25T09:30:00.123Z or integer Unix milliseconds"}
	}
	ms, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}, &FieldError{Field: timestampField, Code: CodeInvalidValue,
			Reason: "must be an RFC 3339 string or a positive integer of Unix milliseconds"}
	}
	if ms > MaxTimestampMillis {
		return time.Time{}, &FieldError{Field: timestampField, Code: CodeInvalidValue,
			Reason: "is after year 9999 as Unix milliseconds; send milliseconds, not micro- or nanoseconds"}
	}
	return time.UnixMilli(ms), nil
}

// decodeAttributes decodes a valid JSON value that must be an object.
func decodeAttributes(raw []byte, lim Limits) ([]Attribute, *FieldError) {
	if raw[0] != '{' {
		return nil, &FieldError{Field: attributesField, Code: CodeInvalidType, Reason: "must be an object"}
	}
	// Decoding stops after max_attributes+1 members, so an object of many
	// tiny members costs no more than the limit allows. Past it, count its
	// keys alone: duplicates count once, as in a map.
	r := reader{data: raw}
	attrs, over := r.members(lim.MaxAttributes)
	if over {
		r = reader{data: raw}
		keys := r.memberKeys()
		slices.Sort(keys)
		if n := len(slices.Compact(keys)); n > lim.MaxAttributes {
			return nil, &FieldError{Field: attributesField, Code: CodeTooMany,
				Reason: fmt.Sprintf("has %d attributes, more than max_attributes (%d)", n, lim.MaxAttributes)}
		}
		r = reader{data: raw}
		attrs, _ = r.members(0)
	}
	attrs = normalizeAttributes(attrs)
	for _, a := range attrs {
		if err := checkAttribute(a.Key, a.Value); err != nil {
			return nil, err
		}
	}
	return attrs, nil
}

// checkAttribute validates a top-level attribute's key and value; a
// failure's Field is the full path, such as "attributes.place.ids[2]".
func checkAttribute(key string, v any) *FieldError {
	if err := checkMember(key, v, 1); err != nil {
		err.Field = attributesField + "." + err.Field
		return err
	}
	return nil
}

// checkMember validates an object member at depth. Paths are built only on
// failure, from the inside out: a clean event allocates nothing here.
// Keys are valid UTF-8 already: unquote replaces invalid bytes, as
// encoding/json does.
func checkMember(key string, v any, depth int) *FieldError {
	if key == "" || len(key) > maxAttrKeyLen {
		return &FieldError{Field: key, Code: CodeInvalidValue,
			Reason: fmt.Sprintf("attribute keys must be 1 to %d bytes", maxAttrKeyLen)}
	}
	if hasControl(key, false) {
		return &FieldError{Field: strconv.Quote(key), Code: CodeInvalidValue,
			Reason: "attribute keys must not contain control characters"}
	}
	if err := checkNested(v, depth); err != nil {
		err.Field = key + err.Field
		return err
	}
	return nil
}

// checkNested validates a value at depth; a failure's Field is the path
// below the value ("" for the value itself).
func checkNested(v any, depth int) *FieldError {
	if depth > maxAttrDepth {
		return &FieldError{Code: CodeTooDeep, Reason: fmt.Sprintf("attributes may nest at most %d levels", maxAttrDepth)}
	}
	switch x := v.(type) {
	case string:
		if hasControl(x, true) {
			return &FieldError{Code: CodeInvalidValue,
				Reason: "must not contain control characters other than tab, newline and carriage return"}
		}
	case map[string]any:
		for k, c := range x {
			if err := checkMember(k, c, depth+1); err != nil {
				err.Field = "." + err.Field
				return err
			}
		}
	case []any:
		for i, c := range x {
			if err := checkNested(c, depth+1); err != nil {
				err.Field = "[" + strconv.Itoa(i) + "]" + err.Field
				return err
			}
		}
	}
	return nil
}

func isNull(raw []byte) bool { return string(raw) == "null" }

func malformed(field string, err error) *PayloadError {
	return &PayloadError{Kind: PayloadMalformed, Field: field, Reason: "invalid JSON: " + err.Error()}
}

func tooMany(lim Limits) *PayloadError {
	return &PayloadError{Kind: PayloadTooManyEvents,
		Reason: fmt.Sprintf("request has more than max_events_per_request (%d) events", lim.MaxEventsPerRequest)}
}

func tooLarge(n int, lim Limits) FieldError {
	return FieldError{Code: CodeTooLarge,
		Reason: fmt.Sprintf("event is %d bytes, more than max_event_bytes (%d)", n, lim.MaxEventBytes)}
}

func join(prefix, field string) string {
	if field == "" {
		return prefix
	}
	return prefix + "." + field
}
