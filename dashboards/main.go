// Command dashboards writes alloy-curated's Grafana dashboards, built with
// the Grafana Foundation SDK, as JSON for Grafana's file provisioning
// (configs/grafana/dashboards). `make dashboards` runs it; a test fails when
// the committed JSON is stale, e2e/dashboards_test.go runs every query on Loki.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// all are the dashboards, by file name.
func all() map[string]*dashboard.DashboardBuilder {
	return map[string]*dashboard.DashboardBuilder{
		"events-overview.json": overview(),
		"collabmaker.json":     collabmaker(),
		"pipeline.json":        pipeline(),
	}
}

// render builds every dashboard as indented JSON.
func render() (map[string][]byte, error) {
	out := map[string][]byte{}
	for name, b := range all() {
		d, err := b.Build()
		if err != nil {
			return nil, fmt.Errorf("building %s: %w", name, err)
		}
		j, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("encoding %s: %w", name, err)
		}
		out[name] = append(j, '\n')
	}
	return out, nil
}

func main() {
	dir := flag.String("out", "../configs/grafana/dashboards", "directory to write the dashboards to")
	flag.Parse()
	files, err := render()
	if err == nil {
		err = os.MkdirAll(*dir, 0o755)
	}
	for name, b := range files {
		if err != nil {
			break
		}
		err = os.WriteFile(filepath.Join(*dir, name), b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dashboards:", err)
		os.Exit(1)
	}
}
