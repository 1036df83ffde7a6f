package event

import (
	"bytes"
	"fmt"
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
)

// Decode decodes a request body into one Item per event, in request order.
// An event that fails validation becomes an Item with Errors; only problems
// with the body as a whole return a *PayloadError.
func Decode(format Format, body []byte, lim Limits) ([]Item, error) {
	switch format {
	case FormatNDJSON:
		return decodeNDJSON(body, lim)
	case FormatJSON:
		return decodeJSON(body, lim)
	default:
		return nil, &PayloadError{Kind: PayloadMalformed, Reason: "unsupported body format"}
	}
}

func decodeJSON(body []byte, lim Limits) ([]Item, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, &PayloadError{Kind: PayloadMalformed, Reason: "request body is empty"}
	}
	switch trimmed[0] {
	case '[':
		raws, err := readArray(trimmed)
		if err != nil {
			return nil, malformed("", err)
		}
		return decodeEvents(raws, nil, lim)
	case '{':
		obj, err := readObject(trimmed)
		if err != nil {
			return nil, malformed("", err)
		}
		if obj.has(fieldEvents) {
			return decodeEnvelope(obj, lim)
		}
		if len(trimmed) > lim.MaxEventBytes && lim.MaxEventBytes > 0 {
			return []Item{{Errors: []FieldError{tooLarge(len(trimmed), lim)}}}, nil
		}
		ev, errs := decodeObject(&obj, nil, lim)
		return []Item{{Event: ev, Errors: errs}}, nil
	default:
		return nil, &PayloadError{Kind: PayloadMalformed, Reason: "request body must be a JSON object or array of event objects"}
	}
}

func decodeEnvelope(obj object, lim Limits) ([]Item, error) {
	if len(obj.unknown) > 0 {
		return nil, &PayloadError{Kind: PayloadMalformed, Field: obj.unknown[0].key,
			Reason: `unknown envelope field; an envelope has only "context" and "events"`}
	}
	for id := fieldID(0); id < numFields; id++ {
		if id != fieldEvents && id != fieldContext && obj.has(id) {
			return nil, &PayloadError{Kind: PayloadMalformed, Field: fieldNames[id],
				Reason: `unknown envelope field; an envelope has only "context" and "events"`}
		}
	}
	raw := obj.fields[fieldEvents]
	if raw[0] != '[' {
		return nil, &PayloadError{Kind: PayloadMalformed, Field: envelopeEvents, Reason: "must be an array of event objects"}
	}
	raws, _ := readArray(raw) // valid: readObject checked the whole body
	var ctx *partial
	if raw, ok := obj.get(fieldContext); ok && !isNull(raw) {
		if raw[0] != '{' {
			return nil, &PayloadError{Kind: PayloadMalformed, Field: envelopeContext, Reason: "must be an object of event fields"}
		}
		cobj, _ := readObject(raw)
		p, errs := decodePartial(&cobj, lim)
		if len(errs) > 0 {
			return nil, &PayloadError{Kind: PayloadMalformed, Field: join(envelopeContext, errs[0].Field), Reason: errs[0].Reason}
		}
		ctx = &p
	}
	return decodeEvents(raws, ctx, lim)
}

func decodeEvents(raws []element, ctx *partial, lim Limits) ([]Item, error) {
	if len(raws) == 0 {
		return nil, &PayloadError{Kind: PayloadMalformed, Reason: "no events in request"}
	}
	if lim.MaxEventsPerRequest > 0 && len(raws) > lim.MaxEventsPerRequest {
		return nil, tooMany(len(raws), lim)
	}
	items := make([]Item, len(raws))
	for i := range raws {
		items[i] = decodeRaw(&raws[i], ctx, lim)
	}
	return items, nil
}

func decodeNDJSON(body []byte, lim Limits) ([]Item, error) {
	var lines []element
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		if line = bytes.TrimSpace(line); len(line) > 0 {
			lines = append(lines, element{raw: line})
		}
	}
	return decodeEvents(lines, nil, lim)
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
		obj, err := readObject(raw)
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

type fieldSet uint16

const (
	hasName fieldSet = 1 << iota
	hasLevel
	hasMessage
	hasService
	hasTimestamp
	hasTraceID
	hasSpanID
	hasSessionID
	hasUserID
)

// decodeObject decodes one event, fills what it lacks from ctx and applies
// defaults and required-field checks.
func decodeObject(obj *object, ctx *partial, lim Limits) (Event, []FieldError) {
	p, errs := decodePartial(obj, lim)
	if ctx != nil {
		p.inherit(ctx)
	}
	if p.set&hasName == 0 {
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
		case fieldEvent:
			p.ev.Name, err = decodeToken(key, raw, maxNameLen)
			p.set |= hasName
		case fieldLevel:
			p.ev.Level, err = decodeLevel(raw)
			p.set |= hasLevel
		case fieldMessage:
			p.ev.Message, err = decodeString(key, raw, 0)
			p.set |= hasMessage
		case fieldService:
			p.ev.Service, err = decodeToken(key, raw, maxServiceLen)
			p.set |= hasService
		case fieldTimestamp:
			p.ev.Timestamp, err = decodeTimestamp(raw)
			p.set |= hasTimestamp
		case fieldTraceID:
			p.ev.TraceID, err = decodeToken(key, raw, maxNameLen)
			p.set |= hasTraceID
		case fieldSpanID:
			p.ev.SpanID, err = decodeToken(key, raw, maxNameLen)
			p.set |= hasSpanID
		case fieldSessionID:
			p.ev.SessionID, err = decodeString(key, raw, maxIDLen)
			p.set |= hasSessionID
		case fieldUserID:
			p.ev.UserID, err = decodeString(key, raw, maxIDLen)
			p.set |= hasUserID
		case fieldAttributes:
			p.ev.Attributes, err = decodeAttributes(raw, lim)
		default: // context and events are envelope fields, unknown in an event
			err = unknownField(key)
		}
		if err != nil {
			errs = append(errs, *err)
		}
	}
	for _, m := range obj.unknown {
		if !isNull(m.raw) {
			errs = append(errs, *unknownField(m.key))
		}
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
	take := func(bit fieldSet, dst *string, src string) {
		if p.set&bit == 0 && ctx.set&bit != 0 {
			*dst = src
			p.set |= bit
		}
	}
	take(hasName, &p.ev.Name, c.Name)
	take(hasMessage, &p.ev.Message, c.Message)
	take(hasService, &p.ev.Service, c.Service)
	take(hasTraceID, &p.ev.TraceID, c.TraceID)
	take(hasSpanID, &p.ev.SpanID, c.SpanID)
	take(hasSessionID, &p.ev.SessionID, c.SessionID)
	take(hasUserID, &p.ev.UserID, c.UserID)
	if p.set&hasLevel == 0 && ctx.set&hasLevel != 0 {
		p.ev.Level = c.Level
		p.set |= hasLevel
	}
	if p.set&hasTimestamp == 0 && ctx.set&hasTimestamp != 0 {
		p.ev.Timestamp = c.Timestamp
		p.set |= hasTimestamp
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
func decodeString(field string, raw []byte, maxLen int) (string, *FieldError) {
	if raw[0] != '"' {
		return "", &FieldError{Field: field, Code: CodeInvalidType, Reason: "must be a string"}
	}
	b := unquote(raw)
	if maxLen > 0 && len(b) > maxLen {
		return "", &FieldError{Field: field, Code: CodeTooLong, Reason: fmt.Sprintf("longer than %d bytes", maxLen)}
	}
	for _, c := range b { // control characters are ASCII: no need to decode runes
		if c < 0x20 || c == 0x7f {
			if field == "message" && (c == '\n' || c == '\t' || c == '\r') {
				continue
			}
			return "", &FieldError{Field: field, Code: CodeInvalidValue, Reason: "must not contain control characters"}
		}
	}
	return string(b), nil
}

// decodeToken decodes a string restricted to letters, digits and _.:- so it
// is safe as a label value and in LogQL without quoting surprises.
func decodeToken(field string, raw []byte, maxLen int) (string, *FieldError) {
	s, err := decodeString(field, raw, maxLen)
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
	s, err := decodeString("level", raw, 32)
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

// decodeTimestamp accepts an RFC 3339 string or integer Unix milliseconds
// (what Date.now() returns).
func decodeTimestamp(raw []byte) (time.Time, *FieldError) {
	if raw[0] == '"' {
		if t, err := time.Parse(time.RFC3339Nano, string(unquote(raw))); err == nil {
			return t, nil
		}
		return time.Time{}, &FieldError{Field: timestampField, Code: CodeInvalidValue,
			Reason: "must be an RFC 3339 string such as 2026-11-25T09:30:00.123Z or integer Unix milliseconds"}
	}
	ms, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}, &FieldError{Field: timestampField, Code: CodeInvalidValue,
			Reason: "must be an RFC 3339 string or a positive integer of Unix milliseconds"}
	}
	return time.UnixMilli(ms), nil
}

// decodeAttributes decodes a valid JSON value that must be an object.
func decodeAttributes(raw []byte, lim Limits) ([]Attribute, *FieldError) {
	if raw[0] != '{' {
		return nil, &FieldError{Field: attributesField, Code: CodeInvalidType, Reason: "must be an object"}
	}
	r := reader{data: raw}
	attrs := sortAttributes(r.members())
	if lim.MaxAttributes > 0 && len(attrs) > lim.MaxAttributes {
		return nil, &FieldError{Field: attributesField, Code: CodeTooMany,
			Reason: fmt.Sprintf("has %d attributes, more than max_attributes (%d)", len(attrs), lim.MaxAttributes)}
	}
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

func tooMany(n int, lim Limits) *PayloadError {
	return &PayloadError{Kind: PayloadTooManyEvents,
		Reason: fmt.Sprintf("request has %d events, more than max_events_per_request (%d)", n, lim.MaxEventsPerRequest)}
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
