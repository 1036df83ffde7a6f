package event

import "bytes"

// fieldID numbers the fields of an event (and of an envelope).
type fieldID uint8

const (
	fieldEvent fieldID = iota
	fieldLevel
	fieldMessage
	fieldService
	fieldTimestamp
	fieldTraceID
	fieldSpanID
	fieldSessionID
	fieldUserID
	fieldAnonymousID
	fieldAttributes
	fieldContext // envelope only
	fieldEvents  // envelope only
	fieldSentAt  // envelope only
	numFields
)

var fieldNames = [numFields]string{"event", "level", "message", "service", timestampField, "trace_id", "span_id",
	"session_id", "user_id", "anonymous_id", attributesField, envelopeContext, envelopeEvents, envelopeSentAt}

func lookupField(key []byte) (fieldID, bool) {
	switch string(key) { // no allocation: the compiler compares in place
	case "event":
		return fieldEvent, true
	case "level":
		return fieldLevel, true
	case "message":
		return fieldMessage, true
	case "service":
		return fieldService, true
	case timestampField:
		return fieldTimestamp, true
	case "trace_id":
		return fieldTraceID, true
	case "span_id":
		return fieldSpanID, true
	case "session_id":
		return fieldSessionID, true
	case "user_id":
		return fieldUserID, true
	case "anonymous_id":
		return fieldAnonymousID, true
	case attributesField:
		return fieldAttributes, true
	case envelopeContext:
		return fieldContext, true
	case envelopeEvents:
		return fieldEvents, true
	case envelopeSentAt:
		return fieldSentAt, true
	}
	return 0, false
}

// maxUnknown bounds the unknown members an object remembers: each one is an
// error in the response, and finding duplicates is quadratic in their number.
const maxUnknown = 16

// object is a JSON object's members by field; like a Go map, the last of
// duplicate keys wins.
type object struct {
	fields  [numFields][]byte // raw values; nil when absent
	unknown []member
	// moreUnknown counts unknown members past maxUnknown; they are reported
	// together.
	moreUnknown int
}

type member struct {
	key string
	raw []byte
}

func (o *object) has(id fieldID) bool { return o.fields[id] != nil }

func (o *object) get(id fieldID) ([]byte, bool) { return o.fields[id], o.fields[id] != nil }

// counts is what a scanned text holds: values, objects among them.
type counts struct{ values, objects int }

func (c *counts) add(o counts) { c.values += o.values; c.objects += o.objects }

func (r *reader) counts() counts { return counts{r.values, r.objects} }

// readObject reads a whole JSON text that must be one object and returns
// it with what it holds, itself included.
func readObject(data []byte) (object, counts, error) {
	var o object
	r := reader{data: data}
	r.ws()
	if r.pos >= len(data) || data[r.pos] != '{' {
		if _, err := r.skip(0); err != nil {
			return o, r.counts(), err
		}
		return o, r.counts(), &syntaxError{"not an object"}
	}
	r.values++
	if err := r.object(&o, 0); err != nil {
		return o, r.counts(), err
	}
	return o, r.counts(), r.end()
}

// object reads the object at r.pos (its '{') into o, validating it.
func (r *reader) object(o *object, depth int) error {
	data := r.data
	r.pos++
	r.ws()
	if r.pos < len(data) && data[r.pos] == '}' {
		r.pos++
		return nil
	}
	for {
		r.ws()
		if r.pos >= len(data) || data[r.pos] != '"' {
			return r.errAt("looking for beginning of object key string")
		}
		start := r.pos
		if err := r.skipString(); err != nil {
			return err
		}
		key := unquote(data[start:r.pos])
		if err := r.colon(); err != nil {
			return err
		}
		raw, err := r.skip(depth + 1)
		if err != nil {
			return err
		}
		if id, ok := lookupField(key); ok {
			o.fields[id] = raw
		} else {
			o.setUnknown(key, raw)
		}
		done, err := r.next('}', "object key:value pair")
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

func (o *object) setUnknown(key []byte, raw []byte) {
	for i := range o.unknown {
		if o.unknown[i].key == string(key) {
			o.unknown[i].raw = raw
			return
		}
	}
	if len(o.unknown) == maxUnknown {
		if !isNull(raw) {
			o.moreUnknown++
		}
		return
	}
	o.unknown = append(o.unknown, member{string(key), raw})
}

// element is one event of a request: its bytes and, when it was read as an
// element of a JSON array and is an object, its members, read in the same
// pass that validated the body.
type element struct {
	raw    []byte
	parsed bool
	obj    object
}

// errTooManyElements stops readArray at the first element past its limit.
var errTooManyElements = &syntaxError{"too many elements"}

// eventKey is how readArray estimates a batch's length: one per event.
var eventKey = []byte(`"event"`)

// readArray reads a whole JSON text that must be one array of at most
// maxElems elements (0 for any number), returning them with what the
// array holds. It stops at the first element past maxElems with
// errTooManyElements, so an array of tiny elements costs no more than the
// limit allows.
func readArray(data []byte, maxElems int) ([]element, counts, error) {
	r := reader{data: data}
	r.ws()
	if r.pos >= len(data) || data[r.pos] != '[' {
		return nil, counts{}, r.errAt("looking for beginning of value")
	}
	r.pos++
	r.values++
	r.ws()
	// Elements are large (a slot per known field): size the slice from
	// the events the body names, not a fixed guess a one-event request
	// would pay for sixteen times over.
	est := max(bytes.Count(data[r.pos:], eventKey), 1)
	if maxElems > 0 {
		est = min(est, maxElems)
	}
	out := make([]element, 0, min(est, 512))
	if r.pos < len(data) && data[r.pos] == ']' {
		r.pos++
		return out, r.counts(), r.end()
	}
	for {
		r.ws()
		if maxElems > 0 && len(out) == maxElems {
			return nil, r.counts(), errTooManyElements
		}
		if r.pos < len(data) && data[r.pos] == '{' {
			r.values++
			out = append(out, element{parsed: true})
			el := &out[len(out)-1]
			start := r.pos
			if err := r.object(&el.obj, 1); err != nil {
				return nil, r.counts(), err
			}
			el.raw = data[start:r.pos]
		} else {
			raw, err := r.skip(1)
			if err != nil {
				return nil, r.counts(), err
			}
			out = append(out, element{raw: raw})
		}
		done, err := r.next(']', "array element")
		if err != nil {
			return nil, r.counts(), err
		}
		if done {
			return out, r.counts(), r.end()
		}
	}
}
