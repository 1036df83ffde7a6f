package rules

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/grafana/alloy/curated/internal/event"
	"github.com/grafana/alloy/curated/internal/glob"
)

// Outcome is what the pipeline decided for an event.
type Outcome uint8

// Outcomes.
const (
	Keep       Outcome = iota // forward the (refined) event
	Reject                    // schema violation; Result.Errors says why
	Drop                      // a drop rule matched; Result.Rule names it
	SampledOut                // a sample rule did not keep it; Result.Rule names it
)

// Result is the outcome of applying the pipeline to one event.
type Result struct {
	Outcome Outcome
	Rule    string
	Errors  []event.FieldError
	// Redactions names the pattern of every redaction made (email, card,
	// key, a custom pattern's name, hash), for metrics.
	Redactions []string
	// Fired lists every rule that acted, when tracing was asked for.
	Fired []string
}

func (r *Result) fire(trace bool, what string) {
	if trace {
		r.Fired = append(r.Fired, what)
	}
}

// Pipeline is a compiled, immutable rule set.
type Pipeline struct {
	schema   *schema
	drops    []drop
	samples  []sample
	attrs    AttributesConfig
	setKeys  []string
	hash     HashConfig
	redact   redactor
	truncate TruncateConfig
}

type schema struct {
	SchemaConfig
}

type drop struct {
	DropConfig
	levels map[event.Level]bool
	value  *regexp.Regexp
}

type sample struct {
	SampleConfig
	threshold uint64
}

// Compile checks and compiles cfg.
func Compile(cfg Config) (*Pipeline, error) {
	p := &Pipeline{attrs: cfg.Attributes, hash: cfg.Hash, truncate: cfg.Truncate}
	var errs []error
	if cfg.Schema != nil {
		errs = append(errs, checkGlobs("schema.allowed_events", cfg.Schema.AllowedEvents))
		for _, es := range cfg.Schema.Events {
			errs = append(errs, checkGlobs("schema.event", []string{es.Pattern}))
			for k, typ := range es.Types {
				if !slices.Contains([]string{"string", "number", "bool", "object", "array"}, typ) {
					errs = append(errs, fmt.Errorf("schema.event %q: type of %q must be string, number, bool, object or array, got %q", es.Pattern, k, typ))
				}
			}
		}
		p.schema = &schema{*cfg.Schema}
	}
	for _, d := range cfg.Drops {
		cd := drop{DropConfig: d, levels: map[event.Level]bool{}}
		errs = append(errs, checkGlobs("drop "+d.Name+" events", d.Events))
		for _, l := range d.Levels {
			lvl, ok := event.ParseLevel(l)
			if !ok {
				errs = append(errs, fmt.Errorf("drop %q: unknown level %q", d.Name, l))
			}
			cd.levels[lvl] = true
		}
		if d.Value != "" {
			re, err := regexp.Compile(d.Value)
			if err != nil {
				errs = append(errs, fmt.Errorf("drop %q: value: %w", d.Name, err))
			}
			if d.Attribute == "" {
				errs = append(errs, fmt.Errorf("drop %q: value needs attribute", d.Name))
			}
			cd.value = re
		}
		if len(d.Events) == 0 && len(d.Levels) == 0 && d.Attribute == "" {
			errs = append(errs, fmt.Errorf("drop %q: needs at least one of events, levels or attribute", d.Name))
		}
		p.drops = append(p.drops, cd)
	}
	for _, s := range cfg.Samples {
		errs = append(errs, checkGlobs("sample "+s.Name+" events", s.Events))
		if s.Rate < 0 || s.Rate > 1 || math.IsNaN(s.Rate) {
			errs = append(errs, fmt.Errorf("sample %q: rate must be between 0 and 1, got %v", s.Name, s.Rate))
		}
		p.samples = append(p.samples, sample{SampleConfig: s, threshold: rateThreshold(s.Rate)})
	}
	for k := range cfg.Attributes.Set {
		p.setKeys = append(p.setKeys, k)
	}
	slices.Sort(p.setKeys)
	for _, f := range cfg.Hash.Fields {
		if f != "user_id" && f != "session_id" && !strings.HasPrefix(f, "attributes.") {
			errs = append(errs, fmt.Errorf("hash: field %q must be user_id, session_id or attributes.KEY", f))
		}
	}
	if len(cfg.Hash.Fields) > 0 && cfg.Hash.Secret == "" {
		errs = append(errs, errors.New("hash: secret must be set to hash fields"))
	}
	r, err := newRedactor(cfg.Redact)
	errs = append(errs, err)
	p.redact = r
	if cfg.Truncate.MaxLength < 0 {
		errs = append(errs, fmt.Errorf("truncate: max_length must not be negative"))
	}
	return p, errors.Join(errs...)
}

func checkGlobs(what string, globs []string) error {
	if err := glob.Check(globs); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Apply runs the pipeline on ev, changing it in place. With trace, the
// result lists every rule that fired.
func (p *Pipeline) Apply(ev *event.Event, trace bool) Result {
	var res Result
	if p.schema != nil {
		if res.Errors = p.schema.check(ev); len(res.Errors) > 0 {
			res.Outcome = Reject
			res.fire(trace, "schema")
			return res
		}
	}
	for i := range p.drops {
		if d := &p.drops[i]; d.matches(ev) {
			res.Outcome, res.Rule = Drop, d.Name
			res.fire(trace, "drop:"+d.Name)
			return res
		}
	}
	for i := range p.samples {
		s := &p.samples[i]
		if len(s.Events) > 0 && !glob.MatchAny(s.Events, ev.Name) {
			continue
		}
		if !s.keep(ev) {
			res.Outcome, res.Rule = SampledOut, s.Name
			res.fire(trace, "sample:"+s.Name+":dropped")
			return res
		}
		res.fire(trace, "sample:"+s.Name+":kept")
		break
	}
	p.editAttributes(ev, &res, trace)
	p.hashFields(ev, &res, trace)
	p.redact.event(ev, &res, trace)
	if p.truncate.MaxLength > 0 {
		p.truncateEvent(ev, &res, trace)
	}
	return res
}

func (s *schema) check(ev *event.Event) []event.FieldError {
	var errs []event.FieldError
	if len(s.AllowedEvents) > 0 && !glob.MatchAny(s.AllowedEvents, ev.Name) {
		errs = append(errs, event.FieldError{Field: "event", Code: event.CodeNotAllowed,
			Reason: fmt.Sprintf("event %q is not in the schema's allowed events", ev.Name)})
	}
	if s.MaxAttributes > 0 && len(ev.Attributes) > s.MaxAttributes {
		errs = append(errs, event.FieldError{Field: "attributes", Code: event.CodeTooMany,
			Reason: fmt.Sprintf("has %d attributes, more than the schema allows (%d)", len(ev.Attributes), s.MaxAttributes)})
	}
	if s.MaxStringLength > 0 {
		if len(ev.Message) > s.MaxStringLength {
			errs = append(errs, tooLong("message", s.MaxStringLength))
		}
		for _, a := range ev.Attributes {
			if path := longString("attributes."+a.Key, a.Value, s.MaxStringLength); path != "" {
				errs = append(errs, tooLong(path, s.MaxStringLength))
			}
		}
	}
	for _, es := range s.Events {
		if !glob.MatchAny([]string{es.Pattern}, ev.Name) {
			continue
		}
		for _, k := range es.Required {
			if _, ok := attribute(ev, k); !ok {
				errs = append(errs, event.FieldError{Field: "attributes." + k, Code: event.CodeRequired,
					Reason: fmt.Sprintf("required for %s events", es.Pattern)})
			}
		}
		for _, k := range sortedKeys(es.Types) {
			if v, ok := attribute(ev, k); ok && typeOf(v) != es.Types[k] {
				errs = append(errs, event.FieldError{Field: "attributes." + k, Code: event.CodeInvalidType,
					Reason: fmt.Sprintf("must be a %s for %s events, got %s", es.Types[k], es.Pattern, typeOf(v))})
			}
		}
	}
	return errs
}

func tooLong(field string, n int) event.FieldError {
	return event.FieldError{Field: field, Code: event.CodeTooLong, Reason: fmt.Sprintf("longer than the schema's max_string_length (%d)", n)}
}

// longString returns the path of the first string in v longer than n.
func longString(p string, v any, n int) string {
	switch x := v.(type) {
	case string:
		if len(x) > n {
			return p
		}
	case map[string]any:
		for _, k := range sortedKeys(x) {
			if q := longString(p+"."+k, x[k], n); q != "" {
				return q
			}
		}
	case []any:
		for i, c := range x {
			if q := longString(fmt.Sprintf("%s[%d]", p, i), c, n); q != "" {
				return q
			}
		}
	}
	return ""
}

func typeOf(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "bool"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	default:
		return "null"
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// attribute returns the top-level attribute key of ev.
func attribute(ev *event.Event, key string) (any, bool) {
	i, ok := slices.BinarySearchFunc(ev.Attributes, key, func(a event.Attribute, k string) int { return strings.Compare(a.Key, k) })
	if !ok {
		return nil, false
	}
	return ev.Attributes[i].Value, true
}

func (d *drop) matches(ev *event.Event) bool {
	if len(d.Events) > 0 && !glob.MatchAny(d.Events, ev.Name) {
		return false
	}
	if len(d.levels) > 0 && !d.levels[ev.Level] {
		return false
	}
	if d.Attribute != "" {
		v, ok := attribute(ev, d.Attribute)
		if !ok || (d.value != nil && !d.value.MatchString(event.ValueText(v))) {
			return false
		}
	}
	return true
}

// rateThreshold maps a rate in [0, 1] to a 64-bit hash threshold.
func rateThreshold(rate float64) uint64 {
	if rate >= 1 {
		return math.MaxUint64
	}
	return uint64(rate * (1 << 63) * 2)
}

// keep decides by a hash of session_id (else trace_id), so every event of a
// session is kept or dropped together; events with neither are sampled at
// random.
func (s *sample) keep(ev *event.Event) bool {
	if s.threshold == math.MaxUint64 {
		return true
	}
	key := ev.SessionID
	if key == "" {
		key = ev.TraceID
	}
	if key == "" {
		return rand.Uint64() < s.threshold
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	// fnv's low bits are weak for short keys: mix before comparing.
	return mix(h.Sum64()) < s.threshold
}

func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

func (p *Pipeline) editAttributes(ev *event.Event, res *Result, trace bool) {
	a := &p.attrs
	if len(a.Rename) == 0 && len(a.Set) == 0 && len(a.Remove) == 0 {
		return
	}
	changed := false
	for i := range ev.Attributes {
		if to, ok := a.Rename[ev.Attributes[i].Key]; ok {
			res.fire(trace, "rename:"+ev.Attributes[i].Key)
			ev.Attributes[i].Key = to
			changed = true
		}
	}
	if changed {
		ev.Attributes = normalize(ev.Attributes)
	}
	for _, k := range p.setKeys {
		ev.Attributes = put(ev.Attributes, k, a.Set[k])
		res.fire(trace, "set:"+k)
	}
	for _, k := range a.Remove {
		if i, ok := find(ev.Attributes, k); ok {
			ev.Attributes = slices.Delete(ev.Attributes, i, i+1)
			res.fire(trace, "remove:"+k)
		}
	}
}

func find(attrs []event.Attribute, key string) (int, bool) {
	return slices.BinarySearchFunc(attrs, key, func(a event.Attribute, k string) int { return strings.Compare(a.Key, k) })
}

// put sets key to v, keeping attrs sorted.
func put(attrs []event.Attribute, key string, v any) []event.Attribute {
	i, ok := find(attrs, key)
	if ok {
		attrs[i].Value = v
		return attrs
	}
	return slices.Insert(attrs, i, event.Attribute{Key: key, Value: v})
}

// normalize sorts attrs by key and keeps the last of equal keys.
func normalize(attrs []event.Attribute) []event.Attribute {
	slices.SortStableFunc(attrs, func(x, y event.Attribute) int { return strings.Compare(x.Key, y.Key) })
	out := attrs[:0]
	for i, a := range attrs {
		if i+1 < len(attrs) && attrs[i+1].Key == a.Key {
			continue
		}
		out = append(out, a)
	}
	return out
}

func (p *Pipeline) hashFields(ev *event.Event, res *Result, trace bool) {
	for _, f := range p.hash.Fields {
		switch {
		case f == "user_id" && ev.UserID != "":
			ev.UserID = p.hmac(ev.UserID)
		case f == "session_id" && ev.SessionID != "":
			ev.SessionID = p.hmac(ev.SessionID)
		case strings.HasPrefix(f, "attributes."):
			i, ok := find(ev.Attributes, strings.TrimPrefix(f, "attributes."))
			if !ok || ev.Attributes[i].Value == nil {
				continue
			}
			ev.Attributes[i].Value = p.hmac(event.ValueText(ev.Attributes[i].Value))
		default:
			continue
		}
		res.Redactions = append(res.Redactions, "hash")
		res.fire(trace, "hash:"+f)
	}
}

// hmac returns a pseudonym for v: equal values give equal pseudonyms, and
// without the secret they cannot be reversed or recomputed.
func (p *Pipeline) hmac(v string) string {
	m := hmac.New(sha256.New, []byte(p.hash.Secret))
	m.Write([]byte(v))
	var sum [sha256.Size]byte
	return "hmac:" + hex.EncodeToString(m.Sum(sum[:0])[:16])
}

func (p *Pipeline) truncateEvent(ev *event.Event, res *Result, trace bool) {
	t := &p.truncate
	cut := func(s, where string) string {
		if len(s) <= t.MaxLength {
			return s
		}
		n := t.MaxLength
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		res.fire(trace, "truncate:"+where)
		return s[:n] + t.Marker
	}
	ev.Message = cut(ev.Message, "message")
	for i := range ev.Attributes {
		ev.Attributes[i].Value = walkStrings(ev.Attributes[i].Value, func(s string) string {
			return cut(s, "attributes."+ev.Attributes[i].Key)
		})
	}
}

// walkStrings applies f to every string in v, returning the new value.
func walkStrings(v any, f func(string) string) any {
	switch x := v.(type) {
	case string:
		return f(x)
	case map[string]any:
		for k, c := range x {
			x[k] = walkStrings(c, f)
		}
	case []any:
		for i, c := range x {
			x[i] = walkStrings(c, f)
		}
	}
	return v
}
