package curated

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// modulePath is where the SDK is published; docs/sdk-go.md tells users to
// point it at a checkout until then. The test runs those exact commands in
// a fresh module, offline.
const modulePath = "github.com/alloy-curated/alloy-curated/sdk/go"

func TestUsableFromACheckout(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module")
	}
	sdk, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	// The go command that runs this test (-trimpath hides GOROOT from runtime.GOROOT).
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	app := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(goBin, args...)
		cmd.Dir = app
		cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	main := `package main

import (
	"context"
	"log/slog"

	curated "` + modulePath + `"
)

func main() {
	c, err := curated.New(curated.Config{Endpoint: "http://127.0.0.1:1", Service: "app"})
	if err != nil {
		panic(err)
	}
	c.Track(context.Background(), "app.start", slog.Int("n", 1))
	_ = c.Close(context.Background())
}
`
	if err := os.WriteFile(filepath.Join(app, "main.go"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	// The commands of docs/sdk-go.md, "From a checkout".
	run("mod", "init", "example.com/app")
	run("mod", "edit", "-require="+modulePath+"@v0.0.0", "-replace="+modulePath+"="+sdk)
	run("build", "-o", filepath.Join(app, "app"), ".")
	if _, err := os.Stat(filepath.Join(app, "app")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(sdk, "go.mod")); !strings.HasPrefix(string(got), "module "+modulePath+"\n") {
		t.Errorf("go.mod does not declare %s", modulePath)
	}
}
