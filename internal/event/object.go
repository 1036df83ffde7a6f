package event

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
	fieldAttributes
	fieldContext // envelope only
	fieldEvents  // envelope only
	numFields
)

var fieldNames = [numFields]string{"event", "level", "message", "service", timestampField, "trace_id", "span_id",
	"session_id", "user_id", attributesField, envelopeContext, envelopeEvents}

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
	case attributesField:
		return fieldAttributes, true
	case envelopeContext:
		return fieldContext, true
	case envelopeEvents:
		return fieldEvents, true
	}
	return 0, false
}

// object is a JSON object's members by field; like a Go map, the last of
// duplicate keys wins.
type object struct {
	fields  [numFields][]byte // raw values; nil when absent
	unknown []member
}

type member struct {
	key string
	raw []byte
}

func (o *object) has(id fieldID) bool { return o.fields[id] != nil }

func (o *object) get(id fieldID) ([]byte, bool) { return o.fields[id], o.fields[id] != nil }

// readObject reads a whole JSON text that must be one object.
func readObject(data []byte) (object, error) {
	var o object
	r := reader{data: data}
	r.ws()
	if r.pos >= len(data) || data[r.pos] != '{' {
		if _, err := r.skip(0); err != nil {
			return o, err
		}
		return o, &syntaxError{"not an object"}
	}
	if err := r.object(&o, 0); err != nil {
		return o, err
	}
	return o, r.end()
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
			o.setUnknown(string(key), raw)
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

func (o *object) setUnknown(key string, raw []byte) {
	for i := range o.unknown {
		if o.unknown[i].key == key {
			o.unknown[i].raw = raw
			return
		}
	}
	o.unknown = append(o.unknown, member{key, raw})
}

// element is one event of a request: its bytes and, when it was read as an
// element of a JSON array and is an object, its members, read in the same
// pass that validated the body.
type element struct {
	raw    []byte
	parsed bool
	obj    object
}

// readArray reads a whole JSON text that must be one array.
func readArray(data []byte) ([]element, error) {
	r := reader{data: data}
	r.ws()
	if r.pos >= len(data) || data[r.pos] != '[' {
		return nil, r.errAt("looking for beginning of value")
	}
	r.pos++
	r.ws()
	out := make([]element, 0, 16)
	if r.pos < len(data) && data[r.pos] == ']' {
		r.pos++
		return out, r.end()
	}
	for {
		r.ws()
		if r.pos < len(data) && data[r.pos] == '{' {
			out = append(out, element{parsed: true})
			el := &out[len(out)-1]
			start := r.pos
			if err := r.object(&el.obj, 1); err != nil {
				return nil, err
			}
			el.raw = data[start:r.pos]
		} else {
			raw, err := r.skip(1)
			if err != nil {
				return nil, err
			}
			out = append(out, element{raw: raw})
		}
		done, err := r.next(']', "array element")
		if err != nil {
			return nil, err
		}
		if done {
			return out, r.end()
		}
	}
}
