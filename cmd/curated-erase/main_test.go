package main

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Retention is one setting: the local Loki, the deployment's Loki and the
// command's widest range agree (docs/privacy.md).
func TestRetentionIsTheSameEverywhere(t *testing.T) {
	for _, path := range []string{"../../configs/loki/loki-local.yaml", "../../deploy/loki.yaml"} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?m)^\s+retention_period:\s*(\S+)`).FindSubmatch(b)
		if m == nil {
			t.Fatalf("%s sets no retention_period", path)
		}
		d, err := time.ParseDuration(string(m[1]))
		if err != nil || d != defaultRetention {
			t.Errorf("%s: retention_period %s; the erase command assumes %s", path, m[1], defaultRetention)
		}
		for _, want := range []string{"retention_enabled: true", "deletion_mode: filter-and-delete", "delete_request_cancel_period: 10m"} {
			if !bytes.Contains(b, []byte(want)) {
				t.Errorf("%s lacks %q: erasure is not configured as docs/privacy.md says", path, want)
			}
		}
	}
}

// Refusals happen before anything talks to Loki.
func TestRefusesBeforeAskingLoki(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"-loki", "http://127.0.0.1:1", "-service", "collabmaker", "-user", ".*", "-requested-by", "t"}, strings.NewReader(""), &out, &errOut, time.Now())
	if code != 1 || !strings.Contains(errOut.String(), "refused, nothing deleted") || !strings.Contains(errOut.String(), "pattern") {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
}
