package curatedtest_test

import (
	"context"
	"log/slog"
	"testing"

	curated "github.com/alloy-curated/alloy-curated/sdk/go"
	"github.com/alloy-curated/alloy-curated/sdk/go/curatedtest"
)

// An application's test sees what its code sent, as the API would get it.
func TestRecorderCapturesWhatTheAPIWouldGet(t *testing.T) {
	c, rec := curatedtest.New(t, curated.Config{Service: "collabmaker"})
	ctx := curated.WithSession(context.Background(), "s-1")
	c.Track(ctx, "form.submit", slog.Int("step", 3))
	_ = c.Do(ctx, "shopify.sync", func(context.Context) error { return nil })
	got := rec.Events()
	if len(got) != 2 {
		t.Fatalf("events %+v", got)
	}
	e := got[0]
	if e.Name != "form.submit" || e.Level != "info" || e.SessionID != "s-1" || e.Attributes["step"] != 3.0 || e.Context["service"] != "collabmaker" || e.Timestamp == 0 {
		t.Errorf("event %+v", e)
	}
	if s := rec.Named("shopify.sync"); len(s) != 1 || s[0].Attributes["outcome"] != "ok" {
		t.Errorf("Named: %+v", s)
	}
	rec.Reset()
	if len(rec.Events()) != 0 {
		t.Error("Reset kept events")
	}
}
