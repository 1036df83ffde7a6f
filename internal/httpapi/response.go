package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/grafana/alloy/curated/internal/entry"
	"github.com/grafana/alloy/curated/internal/event"
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

func viewOf(e *entry.Entry) *EntryView {
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

// apiError rejects a whole request. refuse is its only constructor.
type apiError struct {
	meaning
	field  string
	code   event.Code
	reason string
	header http.Header
}

// meaning is what a code means on the wire and in the metrics: the
// response status and the outcome label of
// loki_source_curated_api_client_requests_total.
type meaning struct {
	status  int
	outcome string
}

// Outcomes of the per-client metric that no code names.
const (
	outcomeAccepted  = "accepted"
	outcomeValidated = "validated"
	outcomeInvalid   = "invalid"
)

// meanings pairs every code a whole request can be answered with to its
// status and outcome: the one place codes, statuses and outcomes meet. Codes only ever
// given per event (event.Code's first group, minus those here) are absent;
// TestEveryCodeIsClassified keeps the two lists whole.
var meanings = map[event.Code]meaning{
	event.CodeMalformed:            {http.StatusBadRequest, outcomeInvalid},
	event.CodeTooLarge:             {http.StatusRequestEntityTooLarge, outcomeInvalid},
	event.CodeTooMany:              {http.StatusRequestEntityTooLarge, outcomeInvalid},
	event.CodeUnsupportedMediaType: {http.StatusUnsupportedMediaType, outcomeInvalid},
	event.CodeMethodNotAllowed:     {http.StatusMethodNotAllowed, outcomeInvalid},
	event.CodeSlowBody:             {http.StatusRequestTimeout, outcomeInvalid},
	event.CodeUnauthorized:         {http.StatusUnauthorized, "unauthorized"},
	event.CodeForbiddenOrigin:      {http.StatusForbidden, "forbidden"},
	event.CodeForbidden:            {http.StatusForbidden, "forbidden"},
	event.CodeRateLimited:          {http.StatusTooManyRequests, "rate_limited"},
	event.CodeOverloaded:           {http.StatusServiceUnavailable, "unavailable"},
	event.CodeNotForwarded:         {http.StatusServiceUnavailable, "unavailable"},
}

// refuse rejects a whole request with code; the status and the metric's
// outcome follow from it. field names the header, parameter or envelope
// field at fault ("" for none).
func refuse(code event.Code, field, reason string) *apiError {
	m, ok := meanings[code]
	if !ok {
		panic("httpapi: no status for code " + string(code)) // TestEveryCodeIsClassified
	}
	return &apiError{meaning: m, field: field, code: code, reason: reason}
}

// withHeader sets response headers of the refusal.
func (e *apiError) withHeader(h http.Header) *apiError {
	e.header = h
	return e
}

func (e *apiError) response() Response {
	return Response{Errors: []ErrorItem{{Field: e.field, Code: e.code, Reason: e.reason}}}
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
