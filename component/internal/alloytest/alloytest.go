// Package alloytest runs a registered component under Alloy's component
// test controller, for the components' own tests.
package alloytest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/grafana/alloy/internal/component"
	"github.com/grafana/alloy/internal/runtime/componenttest"
)

// Run runs the component registered as name with args until the test ends,
// and returns its controller once the component runs.
func Run(t *testing.T, name string, args component.Arguments, logger *slog.Logger) *componenttest.Controller {
	t.Helper()
	ctrl, err := componenttest.NewControllerFromID(logger, name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := ctrl.Run(ctx, args); err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	if err := ctrl.WaitRunning(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	return ctrl
}
