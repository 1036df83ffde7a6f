package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// wafRequest is what the web ACL's statements look at.
type wafRequest struct {
	name, method, path, query string
	body                      []byte
	// outside: from an address outside the GrafanaAllowedCidrs IP set.
	outside bool
}

// reaching evaluates the synthesized web ACL for r and returns the rules
// that may act on it: rate-based rules and managed rule groups whose
// scope-down statement matches (the managed groups' own rules are AWS's
// and unknown here, so reaching one means its body checks apply).
func reaching(t *testing.T, rules []any, r wafRequest) []string {
	t.Helper()
	var out []string
	for _, rule := range rules {
		rule := rule.(map[string]any)
		stmt := rule["Statement"].(map[string]any)
		var scope any
		switch {
		case stmt["RateBasedStatement"] != nil:
			scope = stmt["RateBasedStatement"].(map[string]any)["ScopeDownStatement"]
		case stmt["ManagedRuleGroupStatement"] != nil:
			scope = stmt["ManagedRuleGroupStatement"].(map[string]any)["ScopeDownStatement"]
		case rule["Action"] != nil: // a plain rule: its statement decides
			scope = stmt
		default:
			t.Fatalf("rule %v: this evaluator knows rate-based, managed and plain rules only", rule["Name"])
		}
		if scope == nil || wafMatches(t, scope.(map[string]any), r) {
			out = append(out, rule["Name"].(string))
		}
	}
	return out
}

// wafMatches evaluates the statement kinds the stack uses; any other kind
// fails the test rather than guessing.
func wafMatches(t *testing.T, s map[string]any, r wafRequest) bool {
	t.Helper()
	switch {
	case s["NotStatement"] != nil:
		return !wafMatches(t, s["NotStatement"].(map[string]any)["Statement"].(map[string]any), r)
	case s["AndStatement"] != nil, s["OrStatement"] != nil:
		and := s["AndStatement"] != nil
		inner := s["OrStatement"]
		if and {
			inner = s["AndStatement"]
		}
		for _, st := range inner.(map[string]any)["Statements"].([]any) {
			if wafMatches(t, st.(map[string]any), r) != and {
				return !and
			}
		}
		return and
	case s["IPSetReferenceStatement"] != nil:
		return !r.outside
	case s["ByteMatchStatement"] != nil:
		bm := s["ByteMatchStatement"].(map[string]any)
		var field string
		switch f := bm["FieldToMatch"].(map[string]any); {
		case f["UriPath"] != nil:
			field = r.path
		case f["QueryString"] != nil:
			field = r.query
		default:
			t.Fatalf("byte match on %v: unknown to this evaluator", f)
		}
		for _, tr := range bm["TextTransformations"].([]any) {
			switch typ := tr.(map[string]any)["Type"]; typ {
			case "NONE":
			case "LOWERCASE":
				field = strings.ToLower(field)
			default:
				t.Fatalf("text transformation %v: unknown to this evaluator", typ)
			}
		}
		want := bm["SearchString"].(string)
		switch c := bm["PositionalConstraint"]; c {
		case "EXACTLY":
			return field == want
		case "STARTS_WITH":
			return strings.HasPrefix(field, want)
		case "ENDS_WITH":
			return strings.HasSuffix(field, want)
		case "CONTAINS":
			return strings.Contains(field, want)
		default:
			t.Fatalf("positional constraint %v: unknown to this evaluator", c)
		}
	}
	t.Fatalf("statement %v: unknown to this evaluator", s)
	return false
}

// projectRequests are what alloy-curated's senders send: the request bodies
// documented in docs/api.md, a browser error with a stack trace and markup
// in it, a beacon with the key in the URL, the dry-run endpoint, and the
// largest batch the component accepts by default.
func projectRequests(t *testing.T) []wafRequest {
	t.Helper()
	api, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	var reqs []wafRequest
	for i, m := range regexp.MustCompile("(?s)```json\n(.*?)```").FindAllStringSubmatch(string(api), -1) {
		var body map[string]any
		if json.Unmarshal([]byte(m[1]), &body) == nil && (body["event"] != nil || body["events"] != nil) {
			reqs = append(reqs, wafRequest{name: fmt.Sprintf("docs/api.md example %d", i+1), method: "POST", path: "/v1/events", body: []byte(m[1])})
		}
	}
	if len(reqs) < 2 {
		t.Fatalf("found %d request examples in docs/api.md", len(reqs))
	}
	browserError := `{"event":"js.error","level":"error","message":"TypeError: Cannot read properties of undefined (reading 'id')",` +
		`"attributes":{"stack":"at submit (https://apply.collabmaker.example/static/app.js:1:2345)\n    at <anonymous>",` +
		`"page":"/apply/../step/3","input":"<script>alert(1)</script>","url":"http://169.254.169.254/latest/meta-data/"}}`
	var batch []string
	for i, size := 0, 0; size < 900<<10; i++ {
		batch = append(batch, fmt.Sprintf(`{"event":"form.step","attributes":{"step":%d,"country":"KR","browser":"Safari 18"}}`, i%7))
		size += len(batch[i]) + 1
	}
	return append(reqs,
		wafRequest{name: "browser error", method: "POST", path: "/v1/events", body: []byte(browserError)},
		wafRequest{name: "beacon", method: "POST", path: "/v1/events", query: "api_key=pk_live_abc", body: []byte(browserError)},
		wafRequest{name: "validate", method: "POST", path: "/v1/events/validate", body: []byte(browserError)},
		wafRequest{name: "900 KiB batch", method: "POST", path: "/v1/events", body: []byte("[" + strings.Join(batch, ",") + "]")},
	)
}

// The event API's requests meet only the per-IP rate limit: AWS's common
// rule set, whose body checks would block large batches (8 KB limit) and
// error reports with markup or URLs in them, never sees them. Everything
// else (Grafana) gets the common rule set.
func TestWAFLetsTheProjectsPayloadsThrough(t *testing.T) {
	var acl resource
	for _, r := range doc.ofType("AWS::WAFv2::WebACL") {
		acl = r
	}
	if acl.Properties == nil || acl.Properties["Scope"] != "REGIONAL" {
		t.Fatalf("no regional web ACL: %v", acl.Properties)
	}
	assoc := doc.ofType("AWS::WAFv2::WebACLAssociation")
	if len(assoc) != 1 {
		t.Fatalf("%d web ACL associations; want the ALB's", len(assoc))
	}
	for _, a := range assoc {
		if !strings.HasPrefix(refOf(t, a.Properties["ResourceArn"]), "Alb") {
			t.Errorf("the web ACL protects %v, not the ALB", a.Properties["ResourceArn"])
		}
	}
	rules := acl.Properties["Rules"].([]any)

	large := false
	for _, r := range projectRequests(t) {
		large = large || len(r.body) > 8<<10
		if got := reaching(t, rules, r); !slices.Equal(got, []string{wafEventRate}) {
			t.Errorf("%s (%s %s): reaches %v; want only %s", r.name, r.method, r.path, got, wafEventRate)
		}
	}
	if !large {
		t.Error("no project payload above 8 KB: the test would not show why the common rule set must not see event bodies")
	}
	for _, c := range []struct {
		r    wafRequest
		want []string
	}{
		{wafRequest{name: "dashboard", method: "GET", path: "/grafana/d/overview"}, []string{wafCommonRules}},
		{wafRequest{name: "sign-in", method: "POST", path: "/grafana/login"}, []string{wafLoginRate, wafCommonRules}},
		{wafRequest{name: "scanner", method: "GET", path: "/.env"}, []string{wafCommonRules}},
		// Grafana from elsewhere is answered 404; the event API is for
		// browsers everywhere.
		{wafRequest{name: "dashboard from elsewhere", method: "GET", path: "/grafana/d/overview", outside: true}, []string{wafCommonRules, wafGrafanaSources}},
		{wafRequest{name: "sign-in from elsewhere", method: "POST", path: "/grafana/login", outside: true}, []string{wafLoginRate, wafCommonRules, wafGrafanaSources}},
		{wafRequest{name: "events from elsewhere", method: "POST", path: "/v1/events", outside: true}, []string{wafEventRate}},
	} {
		if got := reaching(t, rules, c.r); !slices.Equal(got, c.want) {
			t.Errorf("%s: reaches %v; want %v", c.r.name, got, c.want)
		}
	}

	for _, rule := range rules {
		rule := rule.(map[string]any)
		raw, _ := json.Marshal(rule)
		switch rule["Name"] {
		case wafEventRate, wafLoginRate:
			// Blocked like the API's own 429: Retry-After and its error body.
			block, _ := json.Marshal(rule["Action"])
			if !strings.Contains(string(block), `"ResponseCode":429`) || !strings.Contains(string(block), `{"Name":"Retry-After","Value":"60"}`) {
				t.Errorf("%s answers %s; want 429 with Retry-After", rule["Name"], block)
			}
			if rule["Name"] == wafEventRate && !strings.Contains(string(raw), `"Limit":{"Ref":"EventRateLimit"}`) {
				t.Errorf("%s limit does not come from the EventRateLimit parameter: %s", wafEventRate, raw)
			}
		case wafGrafanaSources:
			block, _ := json.Marshal(rule["Action"])
			if !strings.Contains(string(block), `"ResponseCode":404`) ||
				!regexp.MustCompile(`"IPSetReferenceStatement":\{"Arn":\{"Fn::GetAtt":\["GrafanaAllowedSources","Arn"\]\}\}`).Match(raw) {
				t.Errorf("%s: %s; want 404 for sources outside the GrafanaAllowedSources IP set", wafGrafanaSources, raw)
			}
		case wafCommonRules:
			if !strings.Contains(string(raw), `"RuleActionOverrides":[{"ActionToUse":{"Count":{}},"Name":"SizeRestrictions_BODY"}]`) {
				t.Errorf("the common rule set blocks bodies over 8 KB (saving a dashboard): %s", raw)
			}
		}
	}
	var body struct {
		Errors []struct{ Code string } `json:"errors"`
	}
	bodies, _ := json.Marshal(acl.Properties["CustomResponseBodies"])
	if err := json.Unmarshal([]byte(wafRateLimitedBody), &body); err != nil || len(body.Errors) != 1 ||
		body.Errors[0].Code != "rate_limited" || !strings.Contains(string(bodies), "APPLICATION_JSON") {
		t.Errorf("the WAF's 429 body %s is not the API's rate_limited error (%v)", wafRateLimitedBody, err)
	}
}
