package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestComposeFileIsPinnedAndComplete checks compose.yaml, which runs where
// Docker does (not here): every mounted file exists, Loki and Grafana are
// the versions the deployment pins (deploy/images.txt), alloy-custom is this
// repository's image, and Grafana gets the provisioning the deployment uses.
func TestComposeFileIsPinnedAndComplete(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Build       string            `yaml:"build"`
			Volumes     []string          `yaml:"volumes"`
			Environment map[string]string `yaml:"environment"`
			Command     []string          `yaml:"command"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	pinned := map[string]string{}
	images, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "images.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(images), "\n") {
		if f := strings.Fields(line); len(f) == 2 && !strings.HasPrefix(f[0], "#") {
			pinned[f[0]] = f[1]
		}
	}
	for name, want := range map[string]string{"loki": pinned["loki"], "grafana": pinned["grafana"], "alertmanager": pinned["alertmanager"]} {
		if got := compose.Services[name].Image; got == "" || got != want {
			t.Errorf("compose.yaml runs %s %q; the deployment runs %q", name, got, want)
		}
	}
	if compose.Services["alloy"].Build != "." {
		t.Errorf("compose.yaml's alloy is %+v; want this repository's Dockerfile (build: .)", compose.Services["alloy"])
	}
	mounted := map[string]bool{}
	for name, svc := range compose.Services {
		for _, v := range svc.Volumes {
			host, container, _ := strings.Cut(v, ":")
			container, _, _ = strings.Cut(container, ":")
			if !strings.HasPrefix(host, ".") {
				mounted[container] = true // a named volume
				continue
			}
			if _, err := os.Stat(filepath.Join(repoRoot, host)); err != nil {
				t.Errorf("%s mounts %s, which does not exist: %v", name, host, err)
			}
			mounted[container] = true
		}
	}
	if !mounted["/etc/grafana/curated"] {
		t.Error("compose.yaml does not mount configs/grafana at /etc/grafana/curated, where the provisioning expects it")
	}
	// Docker users are told too: the ruler has the rules and Alertmanager,
	// which reads what render-alertmanager.sh makes of configs/alertmanager.
	loki := compose.Services["loki"]
	if !slices.Contains(loki.Volumes, "./configs/loki/rules:/loki/rules/fake:ro") || loki.Environment["LOKI_DATA"] != "/loki" ||
		loki.Environment["ALERTMANAGER_URL"] != "http://alertmanager:9093" {
		t.Errorf("compose.yaml's Loki lacks the rules or Alertmanager: %+v", loki)
	}
	if got := compose.Services["alertmanager-config"].Command; !slices.Contains(got, "scripts/render-alertmanager.sh") {
		t.Errorf("compose.yaml does not render Alertmanager's config with scripts/render-alertmanager.sh: %v", got)
	}
	if got := compose.Services["alertmanager"].Command; !slices.Contains(got, "--config.file=/out/alertmanager.yml") {
		t.Errorf("compose.yaml's Alertmanager does not read the rendered config: %v", got)
	}
	// The spool outlives a recreated container: the volume is where
	// configs/fargate.alloy's durable block puts it.
	alloy := compose.Services["alloy"]
	if !slices.Contains(alloy.Volumes, "alloy-spool:"+alloy.Environment["SPOOL_PATH"]) || alloy.Environment["SPOOL_PATH"] == "" {
		t.Errorf("compose.yaml's alloy keeps its durable spool in the container (volumes %v, SPOOL_PATH %q); want a named volume at SPOOL_PATH",
			alloy.Volumes, alloy.Environment["SPOOL_PATH"])
	}
	env := compose.Services["grafana"].Environment
	if env["LOKI_URL"] != "http://loki:3100" || env["GF_PATHS_PROVISIONING"] != "/etc/grafana/curated/provisioning" {
		t.Errorf("Grafana's environment %v; the provisioning needs LOKI_URL and GF_PATHS_PROVISIONING", env)
	}
}
