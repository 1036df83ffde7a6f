package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildah runs buildah on a private vfs store: no daemon, no registry, and
// nothing left behind in the machine's own image store.
type buildah struct {
	root, runroot string
}

func newBuildah(t *testing.T) *buildah {
	t.Helper()
	if _, err := exec.LookPath("buildah"); err != nil {
		t.Fatal("buildah is not installed; `make test` installs Debian's buildah package (scripts/ensure-package.sh)")
	}
	dir := t.TempDir()
	return &buildah{root: filepath.Join(dir, "root"), runroot: filepath.Join(dir, "runroot")}
}

func (b *buildah) args(args ...string) []string {
	return append([]string{"--storage-driver", "vfs", "--root", b.root, "--runroot", b.runroot}, args...)
}

func (b *buildah) run(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("buildah", b.args(args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func (b *buildah) must(t *testing.T, args ...string) string {
	t.Helper()
	out, err := b.run(t, nil, args...)
	if err != nil {
		t.Fatalf("buildah %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// TestImageSmoke builds the Dockerfile's final stage around the locally
// built static binary, checks the image's metadata, runs --version and a
// config check inside it, then runs its default command against a real
// Loki and reads an event back.
func TestImageSmoke(t *testing.T) {
	b := newBuildah(t)
	ctxDir := filepath.Join(t.TempDir(), "context")
	if out, err := exec.Command(filepath.Join(repoRoot, "scripts", "image-context.sh"), alloyBin, ctxDir).CombinedOutput(); err != nil {
		t.Fatalf("image-context.sh: %v\n%s", err, out)
	}
	const image = "localhost/alloy-curated:smoke"
	b.must(t, "bud", "--isolation", "chroot", "-t", image, "-f", filepath.Join(ctxDir, "Containerfile"), ctxDir)

	var inspect struct {
		OCIv1 struct {
			Config struct {
				User         string
				Entrypoint   []string
				Cmd          []string
				ExposedPorts map[string]struct{}
				WorkingDir   string
			} `json:"config"`
		}
	}
	if err := json.Unmarshal([]byte(b.must(t, "inspect", "--type", "image", image)), &inspect); err != nil {
		t.Fatal(err)
	}
	cfg := inspect.OCIv1.Config
	if cfg.User != "10001:10001" {
		t.Errorf("image user %q; want the unprivileged 10001:10001", cfg.User)
	}
	if strings.Join(cfg.Entrypoint, " ") != "/bin/alloy-custom" {
		t.Errorf("entrypoint %v", cfg.Entrypoint)
	}
	cmd := strings.Join(cfg.Cmd, " ")
	for _, want := range []string{"run ", "--storage.path=/var/lib/alloy/data", "--stability.level=experimental", "/etc/alloy/config.alloy"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("default command %q lacks %q", cmd, want)
		}
	}
	for _, port := range []string{"8080/tcp", "12345/tcp"} {
		if _, ok := cfg.ExposedPorts[port]; !ok {
			t.Errorf("port %s not exposed (have %v)", port, cfg.ExposedPorts)
		}
	}

	ctr := b.must(t, "from", image)
	t.Cleanup(func() { _, _ = b.run(t, nil, "rm", ctr) })
	inside := func(env []string, args ...string) (string, error) {
		runArgs := []string{"run", "--isolation", "chroot"}
		for _, e := range env {
			runArgs = append(runArgs, "--env", e)
		}
		return b.run(t, nil, append(append(runArgs, ctr, "--"), args...)...)
	}

	out, err := inside(nil, "/bin/alloy-custom", "--version")
	if err != nil || !strings.Contains(out, "v1.19.0-curated") {
		t.Fatalf("--version: %v\n%s", err, out)
	}

	// The erase task of the deployment runs /bin/curated-erase from this
	// image (deploy/erase.go): it is there, static, and refuses a pattern
	// before it asks Loki anything.
	if out, err := inside(nil, "/bin/curated-erase", "-service", "collabmaker", "-user", ".*", "-requested-by", "smoke"); err == nil ||
		!strings.Contains(out, "refused, nothing deleted") {
		t.Errorf("/bin/curated-erase in the image: %v\n%s", err, out)
	}

	keys := []string{"COLLABMAKER_API_KEY=smoke-browser-key", "BACKEND_API_KEY=smoke-backend-key"}
	validate := []string{"/bin/alloy-custom", "validate", "--stability.level=experimental", "/etc/alloy/config.alloy"}
	if out, err := inside(append(keys, "LOKI_PUSH_URL=http://loki.curated.internal:3100/loki/api/v1/push"), validate...); err != nil {
		t.Errorf("the image's config does not validate: %v\n%s", err, out)
	}
	// The CA bundle, time zones and a storage directory the user owns.
	mnt := b.must(t, "mount", ctr)
	t.Cleanup(func() { _, _ = b.run(t, nil, "umount", ctr) })
	for _, f := range []string{"etc/ssl/certs/ca-certificates.crt", "usr/share/zoneinfo/Asia/Seoul", "etc/passwd"} {
		if st, err := os.Stat(filepath.Join(mnt, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing from the image: %v", f, err)
		}
	}
	// The spool's mount point too: a named volume (compose) copies its
	// owner, and the EFS access point (deploy/) writes as the same user.
	for _, dir := range []string{"var/lib/alloy/data", "var/lib/alloy/spool"} {
		if st, err := os.Stat(filepath.Join(mnt, dir)); err != nil || st.Sys().(*syscall.Stat_t).Uid != 10001 {
			t.Errorf("/%s must belong to the alloy user: %v", dir, err)
		}
	}

	// The default command, as ECS runs it.
	defaultCmd := func(name string, env ...string) *process {
		runArgs := []string{"run", "--isolation", "chroot"}
		for _, e := range env {
			runArgs = append(runArgs, "--env", e)
		}
		runArgs = append(append(append(runArgs, ctr, "--"), cfg.Entrypoint...), cfg.Cmd...)
		return start(t, name, nil, "buildah", b.args(runArgs...)...)
	}

	// Without its secrets a task must not start (ECS then rolls back).
	noKey := defaultCmd("image-without-key", "BACKEND_API_KEY=smoke-backend-key", "LOKI_PUSH_URL=http://127.0.0.1:1/loki/api/v1/push")
	select {
	case <-noKey.done:
		if logs, _ := os.ReadFile(noKey.log); !strings.Contains(string(logs), "api_key must not be empty") {
			t.Errorf("without COLLABMAKER_API_KEY the log must name api_key:\n%s", logs)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("alloy-custom kept running without COLLABMAKER_API_KEY")
	}

	// With them, against a real Loki.
	lokiURL := startLoki(t, false)
	proc := defaultCmd("image", append(keys, "LOKI_PUSH_URL="+lokiURL+"/loki/api/v1/push", "ENVIRONMENT=smoke")...)
	proc.waitReady(t, "http://127.0.0.1:8080/healthz", 60*time.Second)

	since := time.Now().Add(-time.Minute)
	api := &alloy{process: proc, apiURL: "http://127.0.0.1:8080"}
	status, body := api.post(t, "/v1/events", map[string]string{"Content-Type": "application/json", "X-API-Key": "smoke-backend-key"},
		[]byte(`{"event":"image.smoke","service":"deploy","attributes":{"step":1}}`))
	if status != http.StatusAccepted {
		t.Fatalf("POST /v1/events = %d %s", status, body)
	}
	if status, body := api.post(t, "/v1/events", map[string]string{"Content-Type": "application/json"},
		[]byte(`{"event":"image.smoke","service":"deploy"}`)); status != http.StatusUnauthorized {
		t.Errorf("without a key: %d %s; want 401", status, body)
	}
	got := waitForEntries(t, lokiURL, "", `{env="smoke", service="deploy"}`, since, time.Now().Add(time.Minute), 1)
	if len(got) != 1 || !strings.Contains(got[0].Line, `"event":"image.smoke"`) {
		t.Fatalf("Loki has %v; want the one smoke event", got)
	}

	// configs/fargate.alloy logs JSON, for CloudWatch Logs Insights.
	logs, _ := os.ReadFile(proc.log)
	lines := 0
	for _, l := range strings.Split(strings.TrimSpace(string(logs)), "\n") {
		if !strings.HasPrefix(l, "{") {
			continue // buildah's own messages
		}
		lines++
		if !json.Valid([]byte(l)) {
			t.Errorf("log line is not JSON: %s", l)
		}
	}
	if lines == 0 {
		t.Errorf("no JSON log lines from alloy-custom:\n%s", logs)
	}
}
