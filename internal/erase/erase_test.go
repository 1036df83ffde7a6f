package erase

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

func valid(now time.Time) Request {
	return Request{Service: "collabmaker", UserID: "u-1042", From: now.Add(-744 * time.Hour), To: now,
		Retention: 744 * time.Hour, RequestedBy: "privacy@collabmaker (ticket 77)"}
}

func TestValidateRefusesWhatCouldDeleteMore(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		change func(*Request)
		want   string
	}{
		"empty id":             {func(r *Request) { r.UserID = "" }, "user id: empty"},
		"wildcard":             {func(r *Request) { r.UserID = "*" }, "read as a pattern"},
		"regex":                {func(r *Request) { r.UserID = ".*" }, "read as a pattern"},
		"regex class":          {func(r *Request) { r.UserID = "u-[0-9]+" }, "read as a pattern"},
		"alternation":          {func(r *Request) { r.UserID = "u-1|u-2" }, "read as a pattern"},
		"quote injection":      {func(r *Request) { r.UserID = `u-1" or user_id=~".+` }, "read as a pattern"},
		"backslash":            {func(r *Request) { r.UserID = `u\-1` }, "read as a pattern"},
		"over long":            {func(r *Request) { r.UserID = strings.Repeat("u", MaxIDLength+1) }, "longer than any id"},
		"spaces around":        {func(r *Request) { r.UserID = " u-1 " }, "leading or trailing spaces"},
		"control":              {func(r *Request) { r.UserID = "u-1\n" }, "leading or trailing spaces"},
		"control inside":       {func(r *Request) { r.UserID = "u\x001" }, "control characters"},
		"invalid utf8":         {func(r *Request) { r.UserID = "u\xff" }, "not valid UTF-8"},
		"empty service":        {func(r *Request) { r.Service = "" }, "service"},
		"service pattern":      {func(r *Request) { r.Service = "collab.*" }, "service"},
		"service label escape": {func(r *Request) { r.Service = `x"}` }, "service"},
		"wider than retention": {func(r *Request) { r.From = now.Add(-745*time.Hour - time.Minute) }, "wider than retention"},
		"future":               {func(r *Request) { r.To = now.Add(time.Hour) }, "in the future"},
		"reversed":             {func(r *Request) { r.From, r.To = r.To, r.From }, "must be before"},
		"no requester":         {func(r *Request) { r.RequestedBy = "" }, "requested-by"},
		"env pattern":          {func(r *Request) { r.Env = "prod|dev" }, "env"},
	} {
		t.Run(name, func(t *testing.T) {
			r := valid(now)
			tc.change(&r)
			err := r.Validate(now)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	for _, id := range []string{"u-1042", "8f14e45f-ceea-467f-a2b8-a3c2e6d2a1b0", "partner+kr@example.com", "1234567890", "사용자-7", "hmac-like:abc"} {
		r := valid(now)
		r.UserID = id
		if err := r.Validate(now); err != nil {
			t.Errorf("id %q refused: %v", id, err)
		}
	}
}

func TestQueryMatchesTheFieldExactly(t *testing.T) {
	r := valid(time.Now())
	r.UserID = "partner+kr@example.com"
	if got, want := r.Query(), `{service="collabmaker"} | user_id="partner+kr@example.com"`; got != want {
		t.Errorf("query %s, want %s", got, want)
	}
	r.Env = "prod"
	if got, want := r.Query(), `{service="collabmaker", env="prod"} | user_id="partner+kr@example.com"`; got != want {
		t.Errorf("query %s, want %s", got, want)
	}
	// With hash_fields = ["user_id"], events hold the pseudonym.
	r.HashSecret = "pepper"
	if got := r.Query(); !strings.Contains(got, `user_id="hmac:`) || strings.Contains(got, "example.com") {
		t.Errorf("query %s, want the pseudonym and not the id", got)
	}
	if s := r.Subject(); !strings.HasPrefix(s, "sha256:") || strings.Contains(s, "example") {
		t.Errorf("subject %q", s)
	}
}

func TestCoveringReadsLokisList(t *testing.T) {
	// As Loki v3.7 lists them: times in seconds with a fraction.
	var reqs []DeleteRequest
	if err := json.Unmarshal([]byte(`[{"request_id":"a1","start_time":1762000000,"end_time":1764680000.5,"query":"{service=\"collabmaker\"} | user_id=\"u-1042\"","status":"received","created_at":1764680000.68,"user_id":"fake"}]`), &reqs); err != nil {
		t.Fatal(err)
	}
	q := `{service="collabmaker"} | user_id="u-1042"`
	if c := covering(reqs, q, time.Unix(1762000000, 0), time.Unix(1764680030, 0)); c == nil || c.RequestID != "a1" {
		t.Errorf("covering = %+v, want the request for the same query and range", c)
	}
	if c := covering(reqs, q, time.Unix(1762000000, 0), time.Unix(1764690000, 0)); c != nil {
		t.Errorf("a request ending hours before the new range's end covers it: %+v", c)
	}
	if c := covering(reqs, `{service="collabmaker"} | user_id="u-1043"`, time.Unix(1762000000, 0), time.Unix(1764680000, 0)); c != nil {
		t.Errorf("another user's request covers: %+v", c)
	}
}

// What the person's browser sent before sign-in is found through their
// user.identify events and erased only where it carries no user: another
// user on the same browser keeps their events.
func TestAnonymousEventsAreLinkedByIdentifyAndKeepOtherUsers(t *testing.T) {
	r := valid(time.Now())
	if got, want := r.LinkQuery(), `{service="collabmaker"} | user_id="u-1042" |= "\"event\":\"user.identify\""`; got != want {
		t.Errorf("link query %s, want %s", got, want)
	}
	if got, want := r.AnonymousQuery(`a-7"x`), `{service="collabmaker"} | anonymous_id="a-7\"x" | user_id=""`; got != want {
		t.Errorf("anonymous query %s, want %s", got, want)
	}
	r.HashSecret = "pepper"
	if got := r.LinkQuery(); !strings.Contains(got, `user_id="hmac:`) {
		t.Errorf("link query %s, want the pseudonym", got)
	}
}

// Queries span at most a step each, newest first, and together cover
// [from, to) exactly.
func TestSpansCoverTheRangeNewestFirst(t *testing.T) {
	to := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	var got []string
	for start, end := range spans(to.Add(-60*time.Hour), to, day) {
		got = append(got, start.Format("02T15")+"-"+end.Format("02T15"))
	}
	if want := []string{"04T12-05T12", "03T12-04T12", "03T00-03T12"}; !slices.Equal(got, want) {
		t.Errorf("spans %v, want %v", got, want)
	}
	for range spans(to, to, day) {
		t.Error("an empty range yields a span")
	}
	n := 0
	for range spans(to.Add(-3*day), to, day) {
		n++
		break
	}
	if n != 1 {
		t.Errorf("break after one span: %d", n)
	}
}
