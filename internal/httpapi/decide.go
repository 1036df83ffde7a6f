package httpapi

import (
	"fmt"
	"time"

	"github.com/prometheus/common/model"

	"github.com/grafana/alloy/curated/internal/access"
	"github.com/grafana/alloy/curated/internal/entry"
	"github.com/grafana/alloy/curated/internal/event"
	"github.com/grafana/alloy/curated/internal/rules"
)

// request is what every event of a request shares.
type request struct {
	received time.Time
	// offset corrects the sender's clock (entry.ClockOffset).
	offset time.Duration
	// browser is the sender's browser from its User-Agent
	// (useragent.Browser), "" for other senders.
	browser string
}

// decision is what became of one event of a request.
type decision struct {
	index   int
	item    *event.Item // its Errors say why a rejected event was rejected
	applied rules.Result
	entry   entry.Entry // the entry of an accepted event
}

func (d *decision) rejected() bool { return !d.item.OK() }

func (d *decision) dropped() bool {
	return d.applied.Outcome == rules.Drop || d.applied.Outcome == rules.SampledOut
}

// decide applies the client's restrictions and the rules to every valid
// event and builds the entries, in request order. It decides; it reports
// nothing. summarize tells a reporter each decision, and the reporter is
// also told what was forwarded: every outcome is reported there.
func decide(cfg *Config, client *access.Client, items []event.Item, req request, trace bool) []decision {
	out := make([]decision, len(items))
	for i := range items {
		d := &out[i]
		d.index, d.item = i, &items[i]
		if d.item.OK() {
			restrict(client, d.item)
		}
		if d.item.OK() && cfg.Rules != nil {
			d.applied = cfg.Rules.Apply(&d.item.Event, trace)
			d.item.Errors = append(d.item.Errors, d.applied.Errors...)
		}
		if d.rejected() || d.dropped() {
			continue
		}
		if req.browser != "" && cfg.BrowserAttribute != "" {
			if _, ok := d.item.Event.Attr(cfg.BrowserAttribute); !ok {
				d.item.Event.SetAttr(cfg.BrowserAttribute, req.browser)
			}
		}
		d.entry = cfg.Builder.BuildCorrected(&d.item.Event, req.received, req.offset)
		tenant := cfg.Tenant
		if client != nil {
			tenant = client.Tenant
		}
		if tenant != "" {
			d.entry.Labels[entry.LabelTenant] = model.LabelValue(tenant)
		}
	}
	return out
}

// restrict applies the client's restrictions to a valid event: the key
// decides the service, and only allowed events pass.
func restrict(c *access.Client, it *event.Item) {
	if c == nil {
		return
	}
	if c.Service != "" {
		if it.Event.Service != "" && it.Event.Service != c.Service {
			it.Errors = append(it.Errors, event.FieldError{Field: "service", Code: event.CodeForbidden,
				Reason: fmt.Sprintf("this API key may only write service %q", c.Service)})
		}
		it.Event.Service = c.Service
	}
	if !c.EventAllowed(it.Event.Name) {
		it.Errors = append(it.Errors, event.FieldError{Field: "event", Code: event.CodeForbiddenEvent,
			Reason: fmt.Sprintf("event %q is not allowed for this API key", it.Event.Name)})
	}
}

// summary is a request's decisions as the response counts them, with the
// entries to forward.
type summary struct {
	resp      Response
	entries   []entry.Entry
	indexes   []int // each entry's position in the request
	forbidden bool  // a client restriction rejected an event
}

// reporter is told each decision and, for entries that were to be sent,
// how many the downstream took: /v1/events counts them in metrics and the
// self-report, /v1/events/validate lists them in its results.
type reporter interface {
	rejected(d *decision)
	dropped(d *decision)
	accepted(d *decision)
	// forwarded: the first n of entries were forwarded, the rest not.
	forwarded(entries []entry.Entry, n int)
}

func summarize(decisions []decision, rep reporter) summary {
	s := summary{resp: Response{Errors: []ErrorItem{}}}
	s.entries = make([]entry.Entry, 0, len(decisions))
	s.indexes = make([]int, 0, len(decisions))
	for i := range decisions {
		d := &decisions[i]
		switch {
		case d.rejected():
			s.resp.Rejected++
			for _, fe := range d.item.Errors {
				s.resp.Errors = append(s.resp.Errors, ErrorItem{Index: &d.index, Field: fe.Field, Code: fe.Code, Reason: fe.Reason})
				s.forbidden = s.forbidden || fe.Code == event.CodeForbiddenEvent || fe.Code == event.CodeForbidden
			}
			rep.rejected(d)
		case d.dropped():
			s.resp.Dropped++
			rep.dropped(d)
		default:
			s.entries = append(s.entries, d.entry)
			s.indexes = append(s.indexes, d.index)
			rep.accepted(d)
		}
	}
	return s
}

// eventsReporter counts outcomes in the API's metrics and self-report.
type eventsReporter struct {
	m *Metrics
	t *tally
}

func (r eventsReporter) rejected(d *decision) {
	r.m.rejected.WithLabelValues(string(d.item.Errors[0].Code)).Inc()
	r.t.add("rejected_events", 1)
}

func (r eventsReporter) dropped(d *decision) {
	if d.applied.Outcome == rules.Drop {
		r.m.dropped.WithLabelValues(d.applied.Rule).Inc()
		r.t.add("dropped_events", 1)
		return
	}
	r.m.sampledOut.WithLabelValues(d.applied.Rule).Inc()
}

func (r eventsReporter) accepted(d *decision) {
	for _, pattern := range d.applied.Redactions {
		r.m.redacted.WithLabelValues(pattern).Inc()
	}
	for _, l := range d.entry.LabelOverflow {
		r.m.labelOverflow.WithLabelValues(l).Inc()
	}
}

func (r eventsReporter) forwarded(entries []entry.Entry, n int) {
	r.m.accepted.Add(float64(n))
	r.t.add("accepted", int64(n))
	var bySource [8]int // one series lookup per source, not per entry
	for _, e := range entries[:n] {
		bySource[e.TimestampSource%8]++
	}
	for src, k := range bySource {
		if k > 0 {
			r.m.timestamps.WithLabelValues(entry.TimestampSource(src).String()).Add(float64(k))
		}
	}
	if rest := len(entries) - n; rest > 0 {
		r.m.notForwarded.Add(float64(rest))
		r.t.add("not_forwarded", int64(rest))
	}
}

// validateReporter lists each event's result for a dry run; metrics count
// only real traffic.
type validateReporter struct{ results []Result }

func (r *validateReporter) rejected(d *decision) {
	r.results = append(r.results, Result{Index: d.index, Errors: d.item.Errors, Rules: d.applied.Fired})
}

func (r *validateReporter) dropped(d *decision) {
	r.results = append(r.results, Result{Index: d.index, DroppedBy: d.applied.Rule, Rules: d.applied.Fired})
}

// forwarded is never called: a dry run forwards nothing.
func (r *validateReporter) forwarded([]entry.Entry, int) {}

func (r *validateReporter) accepted(d *decision) {
	fired := d.applied.Fired
	for _, l := range d.entry.LabelOverflow {
		fired = append(fired, "label_overflow:"+l)
	}
	r.results = append(r.results, Result{Index: d.index, Accepted: true, Entry: viewOf(&d.entry), Rules: fired})
}
