package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

const committed = "../configs/grafana/dashboards"

// The committed JSON is what the code generates: run `make dashboards`
// after changing a dashboard.
func TestCommittedDashboardsAreCurrent(t *testing.T) {
	files, err := render()
	if err != nil {
		t.Fatal(err)
	}
	onDisk, _ := filepath.Glob(filepath.Join(committed, "*.json"))
	if len(onDisk) != len(files) {
		t.Errorf("%d dashboards in %s, %d generated: run make dashboards", len(onDisk), committed, len(files))
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(committed, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is stale or missing (%v): run make dashboards", name, err)
		}
	}
}

// Every panel queries the dashboard's datasource variable, every dashboard
// has one and an env variable, and the UIDs (links, provisioning) differ.
func TestDashboardsAreWellFormed(t *testing.T) {
	files, err := render()
	if err != nil {
		t.Fatal(err)
	}
	uids := map[string]string{}
	for name, b := range files {
		var d struct {
			UID        string `json:"uid"`
			Templating struct {
				List []struct{ Name, Type string } `json:"list"`
			} `json:"templating"`
			Panels []struct {
				Type, Title string
				Targets     []struct {
					Expr       string               `json:"expr"`
					Datasource struct{ UID string } `json:"datasource"`
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if other, dup := uids[d.UID]; dup || d.UID == "" {
			t.Errorf("%s: uid %q (also %s)", name, d.UID, other)
		}
		uids[d.UID] = name
		var vars []string
		for _, v := range d.Templating.List {
			vars = append(vars, v.Name)
		}
		if !slices.Contains(vars, "datasource") || !slices.Contains(vars, "env") {
			t.Errorf("%s: variables %v; want datasource and env", name, vars)
		}
		panels := 0
		for _, p := range d.Panels {
			if p.Type == "row" {
				continue
			}
			panels++
			if p.Type == "alertlist" { // Alertmanager's alerts: no query of ours
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", name, p.Title)
			}
			for _, tg := range p.Targets {
				if tg.Expr == "" || tg.Datasource.UID != "${datasource}" {
					t.Errorf("%s: panel %q: query %q on datasource %q", name, p.Title, tg.Expr, tg.Datasource.UID)
				}
			}
		}
		if panels < 6 {
			t.Errorf("%s: %d panels", name, panels)
		}
	}
	if len(files) < 3 {
		t.Errorf("%d dashboards; want at least 3", len(files))
	}
}

// docs/dashboards.md describes every panel.
func TestEveryPanelIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/dashboards.md")
	if err != nil {
		t.Fatal(err)
	}
	files, err := render()
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		var d struct {
			Panels []struct{ Type, Title string } `json:"panels"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		for _, p := range d.Panels {
			if p.Type != "row" && !bytes.Contains(doc, []byte("| "+p.Title+" |")) {
				t.Errorf("%s: panel %q is not in docs/dashboards.md's tables", name, p.Title)
			}
		}
	}
}
