package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/grafana/alloy/curated/internal/event"
	"github.com/grafana/alloy/curated/internal/refine"
)

// Response is the JSON body of every /v1/events and /v1/events/validate reply.
type Response struct {
	// Accepted counts events handed to every forward_to receiver (for
	// validate: events that would be accepted).
	Accepted int `json:"accepted"`
	// Rejected counts events that failed validation.
	Rejected int `json:"rejected"`
	// Dropped counts valid events that a drop or sample rule discarded.
	Dropped int `json:"dropped,omitempty"`
	// Errors lists what went wrong; never null.
	Errors []ErrorItem `json:"errors"`
	// Results has one element per event, for validate only.
	Results []Result `json:"results,omitempty"`
}

// ErrorItem is one problem with a request. Index is the event's position in
// the request and absent for problems with the request as a whole.
type ErrorItem struct {
	Index  *int       `json:"index,omitempty"`
	Field  string     `json:"field"`
	Code   event.Code `json:"code"`
	Reason string     `json:"reason"`
}

// Result is what validate reports for one event.
type Result struct {
	Index    int                `json:"index"`
	Accepted bool               `json:"accepted"`
	Errors   []event.FieldError `json:"errors,omitempty"`
	// DroppedBy names the drop or sample rule that discarded the event.
	DroppedBy string     `json:"dropped_by,omitempty"`
	Entry     *EntryView `json:"entry,omitempty"`
	// Rules lists the rules that acted on the event, in order.
	Rules []string `json:"rules,omitempty"`
}

// EntryView shows the Loki entry an event would produce.
type EntryView struct {
	Labels             map[string]string `json:"labels"`
	Line               string            `json:"line"`
	StructuredMetadata map[string]string `json:"structured_metadata,omitempty"`
	Timestamp          string            `json:"timestamp"`
	TimestampSource    string            `json:"timestamp_source"`
}

func viewOf(e *refine.Entry) *EntryView {
	v := &EntryView{
		Labels:          make(map[string]string, len(e.Labels)),
		Line:            e.Entry.Line,
		Timestamp:       e.Entry.Timestamp.UTC().Format(time.RFC3339Nano),
		TimestampSource: e.TimestampSource.String(),
	}
	for k, val := range e.Labels {
		v.Labels[string(k)] = string(val)
	}
	if len(e.Entry.StructuredMetadata) > 0 {
		v.StructuredMetadata = make(map[string]string, len(e.Entry.StructuredMetadata))
		for _, l := range e.Entry.StructuredMetadata {
			v.StructuredMetadata[l.Name] = l.Value
		}
	}
	return v
}

// apiError rejects a whole request.
type apiError struct {
	status int
	field  string
	code   event.Code
	reason string
	header http.Header
}

func (e *apiError) response() Response {
	code := e.code
	if code == "" {
		code = codeForStatus(e.status)
	}
	return Response{Errors: []ErrorItem{{Field: e.field, Code: code, Reason: e.reason}}}
}

func codeForStatus(status int) event.Code {
	switch status {
	case http.StatusRequestEntityTooLarge:
		return event.CodeTooLarge
	case http.StatusUnsupportedMediaType:
		return event.CodeUnsupportedMediaType
	case http.StatusMethodNotAllowed:
		return event.CodeMethodNotAllowed
	default:
		return event.CodeMalformed
	}
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	setJSONHeaders(w.Header())
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(body) // the client may be gone; nothing useful to do
}

// Header values shared by every response: net/http only reads them.
var (
	contentTypeJSON = []string{"application/json"}
	noSniff         = []string{"nosniff"}
)

func setJSONHeaders(h http.Header) {
	h["Content-Type"] = contentTypeJSON
	h["X-Content-Type-Options"] = noSniff
}

// writeResponse writes an API response. The common answer, every event
// accepted, is appended by hand: the same bytes as encoding/json's, without
// its reflection and allocations on the path every request takes.
func writeResponse(w http.ResponseWriter, status int, resp Response) {
	if resp.Rejected != 0 || resp.Dropped != 0 || len(resp.Errors) != 0 || resp.Results != nil {
		writeJSON(w, status, resp)
		return
	}
	setJSONHeaders(w.Header())
	w.WriteHeader(status)
	var buf [48]byte
	b := append(buf[:0], `{"accepted":`...)
	b = strconv.AppendInt(b, int64(resp.Accepted), 10)
	b = append(b, `,"rejected":0,"errors":[]}`+"\n"...)
	_, _ = w.Write(b)
}

func retryAfter(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}
