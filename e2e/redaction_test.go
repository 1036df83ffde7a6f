package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCorpusRedactionOnLoki sends every positive of testdata/pii through
// the built binary with the default rules, as the message, an attribute, a
// promoted label and structured metadata, and reads Loki back: no secret
// may be stored anywhere. Negatives sent the same way must be stored
// exactly as sent.
func TestCorpusRedactionOnLoki(t *testing.T) {
	lokiURL := startLoki(t, false)
	run := randomID(t)
	a := startAlloy(t, func(apiPort int) string {
		return curatedConfig("pii", apiPort, lokiURL, fmt.Sprintf(`
	labels = {run = %q}

	promote_labels {
		fields              = ["attributes.promoted"]
		max_value_length    = 1024
		max_distinct_values = 10000
	}
	structured_metadata = ["attributes.meta"]`, run))
	})

	read := func(name string, cols int) [][]string {
		b, err := os.ReadFile(filepath.Join(repoRoot, "testdata", "pii", name))
		if err != nil {
			t.Fatal(err)
		}
		var rows [][]string
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Split(line, "\t"); len(f) == cols && !strings.HasPrefix(line, "#") {
				rows = append(rows, f)
			}
		}
		return rows
	}
	positives := read("positives.tsv", 4)
	negatives := read("negatives.tsv", 2)
	negatives = negatives[:min(len(negatives), 300)]

	send := func(kind string, texts []string) {
		events := make([]map[string]any, len(texts))
		for i, text := range texts {
			events[i] = map[string]any{"event": kind, "message": text,
				"attributes": map[string]any{"note": text, "promoted": text, "meta": text, "i": i}}
		}
		body, _ := json.Marshal(events)
		status, resp := a.post(t, "/v1/events", map[string]string{"Content-Type": "application/json"}, body)
		if status != http.StatusAccepted || !strings.Contains(resp, fmt.Sprintf(`"accepted":%d`, len(texts))) {
			t.Fatalf("%s: %d %s", kind, status, resp)
		}
	}
	var posTexts, negTexts []string
	for _, p := range positives {
		posTexts = append(posTexts, p[2])
	}
	for _, n := range negatives {
		negTexts = append(negTexts, n[1])
	}
	send("pii.positive", posTexts)
	send("pii.negative", negTexts)

	from, to := time.Now().Add(-time.Minute), time.Now().Add(time.Minute)
	got := waitForEntries(t, lokiURL, "", fmt.Sprintf(`{run=%q}`, run), from, to, len(posTexts)+len(negTexts))
	if len(got) != len(posTexts)+len(negTexts) {
		t.Fatalf("Loki holds %d entries, want %d", len(got), len(posTexts)+len(negTexts))
	}
	positivesSeen := 0
	for _, e := range got {
		// Where the text travels: the line, the promoted label and the
		// structured metadata. Not the run label or the timestamp, whose
		// random digits may hold a short secret such as a CVV by chance.
		stored := strings.Join([]string{e.Line, e.Labels["promoted"], e.Metadata["meta"]}, "\n")
		var line struct {
			Event      string
			Message    string
			Attributes struct {
				Note string
				I    int
			}
		}
		if err := json.Unmarshal([]byte(e.Line), &line); err != nil {
			t.Fatalf("line %s: %v", e.Line, err)
		}
		if line.Event == "pii.positive" {
			// Each entry against its own secret: short ones such as a CVV
			// may stand inside unrelated values.
			positivesSeen++
			p := positives[line.Attributes.I]
			esc, _ := json.Marshal(p[3])
			if strings.Contains(stored, p[3]) || strings.Contains(stored, string(esc[1:len(esc)-1])) {
				t.Errorf("%s (%s) stored in Loki: %s", p[0], p[1], e)
			}
			continue
		}
		if line.Message != line.Attributes.Note || e.Labels["promoted"] != line.Message || e.Metadata["meta"] != line.Message ||
			strings.Contains(stored, "[REDACTED") {
			t.Errorf("a negative was changed on its way to Loki: %s", e)
		}
	}
	if positivesSeen != len(positives) {
		t.Errorf("%d positives in Loki, want %d", positivesSeen, len(positives))
	}
	negSeen := map[string]bool{}
	for _, e := range got {
		negSeen[e.Labels["promoted"]] = true
	}
	for _, n := range negTexts {
		if !negSeen[n] {
			t.Errorf("negative %q not stored as sent", n)
		}
	}
}
