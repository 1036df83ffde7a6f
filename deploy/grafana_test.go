package main

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
)

// Grafana's task gets configs/grafana as compose.yaml mounts it: the
// provisioning files and every generated dashboard, gzipped through an
// environment variable, decoding to the committed bytes; the
// provisioning's variables point at the stack's Loki and Alertmanager.
func TestGrafanaGetsProvisioningAndDashboards(t *testing.T) {
	script, env, _ := initScript(t, "GrafanaTask", "grafana-config-init")
	dashboards := 0
	for name, want := range shared.Grafana {
		path := grafanaConfigDir + "/" + name
		if strings.HasSuffix(name, ".json") {
			dashboards++
		}
		v := fileVar(t, script, path)
		raw, err := base64.StdEncoding.DecodeString(env[v])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := io.ReadAll(zr)
		if err != nil || string(got) != want {
			t.Errorf("%s does not decode to configs/grafana/%s (%v)", path, name, err)
		}
	}
	if dashboards < 3 {
		t.Errorf("%d dashboards delivered; want the 3 of configs/grafana/dashboards", dashboards)
	}
	for _, want := range []string{"provisioning/datasources/datasources.yaml", "provisioning/dashboards/dashboards.yaml"} {
		if _, ok := shared.Grafana[want]; !ok {
			t.Errorf("configs/grafana/%s is not delivered", want)
		}
	}

	grafana := doc.container(t, "GrafanaTask", "grafana")
	checkEnv(t, "grafana", grafana, map[string]string{
		"GF_PATHS_PROVISIONING": "/etc/grafana/curated/provisioning",
		"LOKI_URL":              "http://loki.curated.internal:3100",
		"ALERTMANAGER_URL":      "http://alertmanager.curated.internal:9093",
	})
	mounted := false
	for _, m := range grafana["MountPoints"].([]any) {
		m := m.(map[string]any)
		mounted = mounted || (m["ContainerPath"] == grafanaConfigDir && m["ReadOnly"] == true)
	}
	if !mounted {
		t.Errorf("Grafana does not mount %s read-only: %v", grafanaConfigDir, grafana["MountPoints"])
	}
	// ECS refuses a task definition over 64 KiB.
	_, td := doc.taskDefinition(t, "GrafanaTask")
	if b, _ := json.Marshal(td.Properties); len(b) > 60<<10 {
		t.Errorf("Grafana's task definition is %d bytes; ECS accepts at most 64 KiB", len(b))
	}
}

// A first start of Grafana migrates its database on EFS before it listens:
// ECS gives it 10 minutes before load balancer checks count (not the
// default 60 s, which would kill it mid-migration into a rollback), and the
// target group calls it healthy after two answers 15 s apart.
func TestGrafanaHasTimeForItsFirstStart(t *testing.T) {
	_, svc := doc.service(t, "Grafana")
	if g := svc.Properties["HealthCheckGracePeriodSeconds"]; g != float64(grafanaStartMinutes*60) {
		t.Errorf("Grafana's health check grace %v s; want %d", g, grafanaStartMinutes*60)
	}
	found := false
	for id, tg := range doc.ofType("AWS::ElasticLoadBalancingV2::TargetGroup") {
		if tg.Properties["HealthCheckPath"] != grafanaPath+"/api/health" {
			continue
		}
		found = true
		if tg.Properties["HealthCheckIntervalSeconds"] != float64(15) || tg.Properties["HealthyThresholdCount"] != float64(2) {
			t.Errorf("%s: health check every %v s, healthy after %v; want 15 s and 2", id,
				tg.Properties["HealthCheckIntervalSeconds"], tg.Properties["HealthyThresholdCount"])
		}
	}
	if !found {
		t.Error("no target group checks Grafana's /api/health")
	}
	_, alloy := doc.service(t, "Alloy")
	if g, ok := alloy.Properties["HealthCheckGracePeriodSeconds"]; ok && g.(float64) > 60 {
		t.Errorf("alloy-custom's grace %v s: it starts in seconds, and a long grace hides a broken task", g)
	}
}

// Grafana's state (users, preferences, UI-made dashboards) is in PostgreSQL
// on RDS, not SQLite on EFS, whose migrations have been reported to fail
// with "database is locked": encrypted, private, on a port of its own,
// deletion-protected with a week of backups, reached with the password of
// its generated secret over TLS.
func TestGrafanaDatabaseIsPostgres(t *testing.T) {
	id, db := doc.first(t, "AWS::RDS::DBInstance", "GrafanaDb")
	p := db.Properties
	if p["Engine"] != "postgres" || p["StorageEncrypted"] != true || p["DeletionProtection"] != true ||
		p["BackupRetentionPeriod"] != float64(7) || p["Port"] != fmt.Sprint(grafanaDBPort) || p["PubliclyAccessible"] != false ||
		db.DeletionPolicy != "Snapshot" {
		t.Errorf("%s: %v (deletion %s)", id, p, db.DeletionPolicy)
	}
	c := doc.container(t, "GrafanaTask", "grafana")
	env := envOf(c)
	host, _ := json.Marshal(env["GF_DATABASE_HOST"])
	if env["GF_DATABASE_TYPE"] != "postgres" || env["GF_DATABASE_NAME"] != grafanaDBName || env["GF_DATABASE_SSL_MODE"] != "require" ||
		!strings.Contains(string(host), `"`+id+`","Endpoint.Address"`) || !strings.Contains(string(host), `"`+id+`","Endpoint.Port"`) {
		t.Errorf("Grafana's database settings: type %v, name %v, ssl %v, host %s", env["GF_DATABASE_TYPE"], env["GF_DATABASE_NAME"], env["GF_DATABASE_SSL_MODE"], host)
	}
	secrets, _ := json.Marshal(c["Secrets"])
	for _, want := range []string{`"Name":"GF_DATABASE_USER"`, `:username::`, `"Name":"GF_DATABASE_PASSWORD"`, `:password::`, `"Ref":"GrafanaDbSecret`} {
		if !strings.Contains(string(secrets), want) {
			t.Errorf("Grafana's secrets %s lack %s", secrets, want)
		}
	}
	_, td := doc.taskDefinition(t, "GrafanaTask")
	if volumes, _ := json.Marshal(td.Properties["Volumes"]); strings.Contains(string(volumes), "EFSVolumeConfiguration") {
		t.Errorf("Grafana still mounts EFS: %s", volumes)
	}
}
