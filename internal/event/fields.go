package event

// TextField is one of an event's top-level string fields. TextFields is the
// one place they are listed: decoding, an envelope's context, redaction,
// label promotion, structured metadata and the line all loop over it, so a new field
// is a row here, its Event member (and its case in text below) and its
// fieldID (object.go).
type TextField struct {
	// Name is the field's JSON name.
	Name string
	// Metadata fields are high-cardinality ids: Loki gets them as
	// structured metadata, never in the line.
	Metadata bool
	// Promotable fields may be named in the component's labels and
	// structured_metadata blocks.
	Promotable bool
	// Line fields are written in the entry's line, in this table's order.
	// (service, the remaining one, is a label.)
	Line bool

	id     fieldID
	rule   textRule
	maxLen int // 0: only the event's size limit
}

// textRule is what a text field may hold.
type textRule uint8

const (
	ruleToken textRule = iota // letters, digits and _ . : -, not empty: safe as a label and in LogQL
	ruleText                  // free text: tab, newline and CR allowed
	ruleID                    // any text without control characters
)

// TextFields are the event's top-level string fields, in the order
// redaction scans them.
var TextFields = [...]TextField{
	{Name: "event", id: fieldEvent, rule: ruleToken, maxLen: maxNameLen, Promotable: true, Line: true},
	{Name: "message", id: fieldMessage, rule: ruleText, Line: true},
	{Name: "service", id: fieldService, rule: ruleToken, maxLen: maxServiceLen},
	{Name: "trace_id", id: fieldTraceID, rule: ruleToken, maxLen: maxNameLen, Metadata: true, Promotable: true},
	{Name: "span_id", id: fieldSpanID, rule: ruleToken, maxLen: maxNameLen, Metadata: true, Promotable: true},
	{Name: "session_id", id: fieldSessionID, rule: ruleID, maxLen: maxIDLen, Metadata: true, Promotable: true},
	{Name: "user_id", id: fieldUserID, rule: ruleID, maxLen: maxIDLen, Metadata: true, Promotable: true},
	{Name: "anonymous_id", id: fieldAnonymousID, rule: ruleID, maxLen: maxIDLen, Metadata: true, Promotable: true},
}

// Ref returns the field's value in e, for reading and for editing in place.
func (f *TextField) Ref(e *Event) *string { return e.text(f.id) }

// text maps a field to its Event member. A switch rather than a function
// in the table: escape analysis sees through it, so decoding keeps its
// events on the stack.
func (e *Event) text(id fieldID) *string {
	switch id {
	case fieldEvent:
		return &e.Name
	case fieldMessage:
		return &e.Message
	case fieldService:
		return &e.Service
	case fieldTraceID:
		return &e.TraceID
	case fieldSpanID:
		return &e.SpanID
	case fieldSessionID:
		return &e.SessionID
	case fieldUserID:
		return &e.UserID
	case fieldAnonymousID:
		return &e.AnonymousID
	}
	panic("event: no text field " + fieldNames[id])
}

// textField returns the text field read into id, or nil.
func textField(id fieldID) *TextField {
	for i := range TextFields {
		if TextFields[i].id == id {
			return &TextFields[i]
		}
	}
	return nil
}

// decode decodes and checks the field's raw JSON value.
func (f *TextField) decode(raw []byte) (string, *FieldError) {
	if f.rule == ruleToken {
		return decodeToken(f.Name, raw, f.maxLen)
	}
	return decodeString(f.Name, raw, f.maxLen, f.rule == ruleText)
}

// FreeText reports whether the field holds free text (message): truncate
// and the schema's max_string_length apply to it as to string attributes.
func (f *TextField) FreeText() bool { return f.rule == ruleText }

// Identifier reports whether the field holds an opaque id of a person or a
// visit (session_id, user_id, anonymous_id): hash_fields may replace it by
// a pseudonym.
func (f *TextField) Identifier() bool { return f.rule == ruleID }
