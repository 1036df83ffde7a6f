// Command curated-erase deletes one person's events from one service in
// Loki, as a data subject's erasure request asks (GDPR art. 17, PIPA art.
// 36). It refuses anything that could delete more, prints what it will
// delete, asks for confirmation (or -yes), files a delete request with
// Loki's compactor and stores an audit event in Loki. docs/privacy.md has
// the procedure and its timings.
//
//	curated-erase -loki http://loki:3100 -service collabmaker -user u-1042 -requested-by "ticket 77"
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/grafana/alloy/curated/internal/erase"
)

// defaultRetention is Loki's retention_period in configs/loki/loki-local.yaml
// and deploy/loki.yaml (a test keeps the three equal).
const defaultRetention = 744 * time.Hour

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, time.Now()))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer, now time.Time) int {
	fs := flag.NewFlagSet("curated-erase", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		r          erase.Request
		l          erase.Loki
		from, to   string
		secretFile string
		yes        bool
	)
	fs.StringVar(&l.URL, "loki", envOr("LOKI_URL", "http://127.0.0.1:3100"), "Loki's HTTP address (its compactor's, when they differ); env LOKI_URL")
	fs.StringVar(&l.Tenant, "tenant", os.Getenv("LOKI_TENANT"), "Loki tenant (X-Scope-OrgID) of the service's events; env LOKI_TENANT")
	fs.StringVar(&r.Service, "service", "", "service whose events to delete (required)")
	fs.StringVar(&r.UserID, "user", "", "the user_id as the application sent it (required)")
	fs.StringVar(&r.Env, "env", "", "only events with this env label")
	fs.StringVar(&secretFile, "hash-secret-file", "", "file holding the component's redact hash_secret, when user_id is in hash_fields")
	fs.DurationVar(&r.Retention, "retention", defaultRetention, "Loki's retention_period: the widest range allowed")
	fs.StringVar(&from, "from", "", "start of the range (RFC 3339; default: now minus retention)")
	fs.StringVar(&to, "to", "", "end of the range (RFC 3339; default: now)")
	fs.StringVar(&r.RequestedBy, "requested-by", defaultRequester(), "who asked: a person or a ticket, for the audit event")
	fs.BoolVar(&yes, "yes", false, "file the deletion without asking")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "curated-erase: refused, nothing deleted:", err)
		return 1
	}
	var err error
	r.To, err = parseTime(to, now)
	if err != nil {
		return fail(fmt.Errorf("to: %w", err))
	}
	r.From, err = parseTime(from, r.To.Add(-r.Retention))
	if err != nil {
		return fail(fmt.Errorf("from: %w", err))
	}
	if secretFile != "" {
		b, err := os.ReadFile(secretFile)
		if err != nil {
			return fail(fmt.Errorf("hash secret: %w", err))
		}
		r.HashSecret = strings.TrimRight(string(b), "\r\n")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	plan, err := erase.Prepare(ctx, l, &r, now)
	if err != nil {
		return fail(err)
	}
	pending := false
	for i, part := range plan.Parts {
		what := "Delete query:"
		if i > 0 {
			what = "Before sign-in:" // a browser's anonymous events, linked by user.identify
		}
		fmt.Fprintf(stdout, "%-15s %s (%d events now)\n", what, part.Query, part.Matched)
		if part.Existing != nil {
			fmt.Fprintf(stdout, "                Loki already holds this request (%s, %s): not filed again.\n", part.Existing.RequestID, part.Existing.Status)
		} else {
			pending = true
		}
	}
	fmt.Fprintf(stdout, "Range:          %s to %s\nMatches:        %d events\n",
		plan.From.UTC().Format(time.RFC3339), plan.To.UTC().Format(time.RFC3339), plan.Matched())
	if !yes && pending {
		fmt.Fprintf(stdout, "Type the user id again to delete these events: ")
		answer, _ := bufio.NewReader(stdin).ReadString('\n')
		if strings.TrimRight(answer, "\r\n") != r.UserID {
			return fail(errors.New("not confirmed"))
		}
	}
	outcome, err := erase.Execute(ctx, l, &r, plan, now)
	if err != nil {
		fmt.Fprintln(stderr, "curated-erase:", err)
		return 1
	}
	fmt.Fprintf(stdout, "Outcome:        %s. Queries stop returning these events within 5 minutes; Loki's compactor\n"+
		"                removes them from storage after its cancel period (docs/privacy.md).\n", outcome)
	return 0
}

func parseTime(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	return time.Parse(time.RFC3339, s)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func defaultRequester() string {
	host, _ := os.Hostname()
	if u, err := user.Current(); err == nil {
		return u.Username + "@" + host
	}
	return ""
}
