package rules

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/grafana/alloy/curated/internal/entry"
	"github.com/grafana/alloy/curated/internal/event"
)

// The corpus in testdata/pii: personal data and secrets per class and
// locale that must never reach Loki (positives.tsv), and values product
// teams send every day that redaction must leave alone (negatives.tsv).

const corpusDir = "../../testdata/pii"

type positive struct{ kind, locale, text, secret string }

func readTSV(t testing.TB, name string, cols int) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join(corpusDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			f := strings.Split(line, "\t")
			if len(f) != cols {
				t.Fatalf("%s: %q has %d columns, want %d", name, line, len(f), cols)
			}
			rows = append(rows, f)
		}
	}
	return rows
}

func positives(t testing.TB) []positive {
	var out []positive
	for _, r := range readTSV(t, "positives.tsv", 4) {
		out = append(out, positive{r[0], r[1], r[2], r[3]})
	}
	return out
}

// defaultRig is the default rules and an entry builder that promotes one
// attribute to a label and one to structured metadata, as plant's fields 6
// and 7 expect.
func defaultRig(t testing.TB) (*Pipeline, *entry.Builder) {
	t.Helper()
	p, err := Compile(Config{Redact: DefaultRedact()})
	if err != nil {
		t.Fatal(err)
	}
	b, err := entry.NewBuilder(entry.Config{MaxPast: time.Hour, MaxFuture: time.Minute,
		LabelFields: []string{"attributes.promoted"}, MaxLabelValueLength: 1024, MaxDistinctValues: 1 << 20,
		MetadataFields: []string{"attributes.meta"}})
	if err != nil {
		t.Fatal(err)
	}
	return p, b
}

// stored returns what Loki would store for body after the default rules:
// the line, label names and values, structured metadata; nil when the
// event is rejected or dropped.
func stored(p *Pipeline, b *entry.Builder, body []byte) ([]string, Result) {
	items, err := event.Decode(event.FormatJSON, body, event.Limits{})
	if err != nil || !items[0].OK() {
		return nil, Result{}
	}
	ev := items[0].Event
	res := p.Apply(&ev, false)
	if res.Outcome != Keep {
		return nil, res
	}
	e := b.Build(&ev, time.Unix(1795599000, 0))
	out := []string{e.Entry.Line}
	for k, v := range e.Labels {
		out = append(out, string(k), string(v))
	}
	for _, md := range e.Entry.StructuredMetadata {
		out = append(out, md.Name, md.Value)
	}
	return out, res
}

// leaked reports whether secret survives in any stored string, as written
// or JSON-escaped (the line is JSON).
func leaked(out []string, secret string) bool {
	esc, _ := json.Marshal(secret)
	for _, s := range out {
		if strings.Contains(s, secret) || strings.Contains(s, string(esc[1:len(esc)-1])) {
			return true
		}
	}
	return false
}

// TestCorpusPositivesNeverLeak plants every positive in every field an
// event has (message, attribute, nested array, attribute key, session and
// user ids, a promoted label, structured metadata) and reports recall per
// class. The goal is no leak at all.
func TestCorpusPositivesNeverLeak(t *testing.T) {
	p, b := defaultRig(t)
	type tally struct{ planted, caught int }
	byKind := map[string]*tally{}
	for _, pos := range positives(t) {
		tl := byKind[pos.kind]
		if tl == nil {
			tl = &tally{}
			byKind[pos.kind] = tl
		}
		for where := range uint8(placements) {
			out, _ := stored(p, b, plant(where, "", pos.text, ""))
			if out == nil {
				continue // rejected (such as a key over 128 bytes): nothing stored
			}
			tl.planted++
			if leaked(out, pos.secret) {
				t.Errorf("%s (%s) leaked in field %d: %q -> %q", pos.kind, pos.locale, where, pos.text, out[0])
				continue
			}
			tl.caught++
		}
	}
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		tl := byKind[k]
		t.Logf("recall %-12s %5.1f%% (%d of %d placements)", k, 100*float64(tl.caught)/float64(tl.planted), tl.caught, tl.planted)
	}
}

// TestCorpusNegativesUntouched runs every negative through the default
// rules as an attribute and as the message; a negative is touched when any
// redaction fires on it. The goal is fewer than 0.5 % touched.
func TestCorpusNegativesUntouched(t *testing.T) {
	p, b := defaultRig(t)
	rows := readTSV(t, "negatives.tsv", 2)
	touched := map[string]int{}
	total := 0
	for _, r := range rows {
		total++
		for _, where := range []uint8{0, placeOf("message")} {
			out, res := stored(p, b, plant(where, "", r[1], ""))
			if out == nil {
				t.Fatalf("negative %q (%s) was rejected", r[1], r[0])
			}
			if len(res.Redactions) > 0 {
				touched[r[0]]++
				t.Logf("touched %s %q: %v -> %s", r[0], r[1], res.Redactions, out[0])
				break
			}
		}
	}
	n := 0
	for _, c := range touched {
		n += c
	}
	rate := 100 * float64(n) / float64(total)
	t.Logf("false positives: %d of %d negatives (%.2f%%), by category %v", n, total, rate, touched)
	if rate >= 0.5 {
		t.Errorf("%.2f%% of negatives touched, want < 0.5%%", rate)
	}
}
