package event

// Code is a stable machine-readable reason why an event or a request was
// refused: the "code" of an error in a response. Codes are also the values
// of the reason label of the rejection metrics, so the set is small and
// fixed. Every code a client can receive is defined here, and nowhere else;
// docs/api.md's "Error codes" table lists the same set (codes_test.go).
type Code string

// Codes of a single event.
const (
	CodeMalformed      Code = "malformed"       // not a JSON object / bad JSON
	CodeRequired       Code = "required"        // a required field is missing
	CodeUnknownField   Code = "unknown_field"   // a field the API does not define
	CodeInvalidType    Code = "invalid_type"    // wrong JSON type for the field
	CodeInvalidValue   Code = "invalid_value"   // right type, value not allowed
	CodeTooLong        Code = "too_long"        // a string over its length limit
	CodeTooLarge       Code = "too_large"       // the event over max_event_bytes, the body over max_request_bytes
	CodeTooMany        Code = "too_many"        // over max_attributes or max_events_per_request
	CodeTooDeep        Code = "too_deep"        // attributes nested too deeply
	CodeNotAllowed     Code = "not_allowed"     // the schema does not allow the event
	CodeForbiddenEvent Code = "forbidden_event" // the key may not send this event name
	CodeForbidden      Code = "forbidden"       // the event names a service other than the key's
	CodeNotForwarded   Code = "not_forwarded"   // valid, but the downstream did not take it in time (503)
)

// Codes of a request as a whole.
const (
	CodeUnsupportedMediaType Code = "unsupported_media_type" // Content-Type or Content-Encoding (415)
	CodeMethodNotAllowed     Code = "method_not_allowed"     // (405)
	CodeUnauthorized         Code = "unauthorized"           // missing, unknown or misplaced API key (401)
	CodeForbiddenOrigin      Code = "forbidden_origin"       // the Origin is not allowed for the key (403)
	CodeRateLimited          Code = "rate_limited"           // over a rate limit or an in-flight share (429)
	CodeOverloaded           Code = "overloaded"             // the API is at its in-flight limits (503)
	CodeSlowBody             Code = "slow_body"              // slower than min_body_rate or body_timeout allow (408)
)

// Codes lists every code.
func Codes() []Code {
	return []Code{
		CodeMalformed, CodeRequired, CodeUnknownField, CodeInvalidType, CodeInvalidValue, CodeTooLong,
		CodeTooLarge, CodeTooMany, CodeTooDeep, CodeNotAllowed, CodeForbiddenEvent, CodeForbidden,
		CodeNotForwarded, CodeUnsupportedMediaType, CodeMethodNotAllowed, CodeUnauthorized,
		CodeForbiddenOrigin, CodeRateLimited, CodeOverloaded, CodeSlowBody,
	}
}
