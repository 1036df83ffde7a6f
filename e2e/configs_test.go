package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestShippedConfigsAreValid checks that every config in configs/ is
// formatted as `alloy fmt` would write it and passes `alloy validate` with
// the real component registered.
func TestShippedConfigsAreValid(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot, "configs", "*.alloy"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no configs found: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if out, err := exec.Command(alloyBin, "fmt", "--test", f).CombinedOutput(); err != nil {
				t.Errorf("alloy fmt --test: %v\n%s", err, out)
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			stability := "public-preview"
			if strings.Contains(string(src), "wal {") { // loki.write's WAL is experimental
				stability = "experimental"
			}
			cmd := exec.Command(alloyBin, "validate", "--stability.level="+stability, f)
			// What ECS injects into configs/fargate.alloy.
			cmd.Env = append(os.Environ(), "COLLABMAKER_API_KEY=k1", "BACKEND_API_KEY=k2",
				"LOKI_PUSH_URL=http://loki.curated.internal:3100/loki/api/v1/push")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("alloy validate: %v\n%s", err, out)
			}
		})
	}
}

// TestDeployLokiConfigIsValid checks the Loki configs that deploy/ runs on
// Fargate, single and HA mode (deploy/testdata/loki-ha.yaml, what deploy/
// makes of loki.yaml with -c lokiMode=ha), with the pinned Loki's own
// -verify-config.
func TestDeployLokiConfigIsValid(t *testing.T) {
	// What deploy/ fills in (services.go, alerting.go): HA mode sends to
	// both Alertmanagers.
	for f, am := range map[string]string{
		filepath.Join("deploy", "loki.yaml"):                "http://alertmanager.curated.internal:9093",
		filepath.Join("deploy", "testdata", "loki-ha.yaml"): "http://alertmanager.curated.internal:9093,http://alertmanager-peer.curated.internal:9093",
	} {
		cmd := exec.Command(lokiBin, "-config.file="+filepath.Join(repoRoot, f), "-config.expand-env=true", "-verify-config")
		cmd.Env = append(os.Environ(), "LOKI_BUCKET=alloy-curated-loki", "AWS_REGION=ap-northeast-2",
			"ALERTMANAGER_URL="+am, "GRAFANA_URL=https://events.example.com/grafana",
			"LOKI_RULES_DIR=/etc/loki/rules")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("loki -verify-config %s: %v\n%s", f, err, out)
		}
	}
}

var alloyBlock = regexp.MustCompile("(?s)```alloy\n(.*?)```")

// TestDocExamplesAreFormatted checks every ```alloy block of the README and
// docs/ with `alloy fmt --test`.
func TestDocExamplesAreFormatted(t *testing.T) {
	docs, _ := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	docs = append(docs, filepath.Join(repoRoot, "README.md"))
	blocks := 0
	for _, doc := range docs {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range alloyBlock.FindAllStringSubmatch(string(b), -1) {
			blocks++
			f := filepath.Join(t.TempDir(), "example.alloy")
			if err := os.WriteFile(f, []byte(m[1]), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(alloyBin, "fmt", "--test", f).CombinedOutput(); err != nil {
				formatted, _ := exec.Command(alloyBin, "fmt", f).CombinedOutput()
				t.Errorf("%s: alloy block %d is not `alloy fmt` clean (%v):\n%s\nformatted:\n%s",
					filepath.Base(doc), i+1, err, strings.TrimSpace(string(out)), formatted)
			}
		}
	}
	if blocks == 0 {
		t.Fatal("no ```alloy blocks found in the docs")
	}
}
