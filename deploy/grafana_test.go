package main

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
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
		v := fileVarDecoded(t, script, path)
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

// fileVarDecoded finds the variable whose gzipped content the script
// writes to path.
func fileVarDecoded(t *testing.T, script, path string) string {
	t.Helper()
	i := strings.Index(script, `| base64 -d | gunzip > `+path)
	if i < 0 {
		t.Fatalf("the init script does not decode anything to %s", path)
	}
	start := strings.LastIndex(script[:i], `"$`)
	return strings.TrimRight(script[start+2:i], `" `)
}

// Teammates sign in with the team's identity provider and land as Viewers;
// GrafanaAdmins become admins; the OAuth client secret comes from Secrets
// Manager; single sign-on is off while GrafanaOAuthClientId is empty.
func TestGrafanaSingleSignOnMakesViewers(t *testing.T) {
	grafana := doc.container(t, "GrafanaTask", "grafana")
	checkEnv(t, "grafana", grafana, map[string]string{
		"GF_AUTH_GENERIC_OAUTH_ENABLED":             `{"Fn::If":["GrafanaOAuthEnabled","true","false"]}`,
		"GF_AUTH_GENERIC_OAUTH_ALLOW_SIGN_UP":       `{"Fn::If":["GrafanaOAuthEnabled","true","false"]}`,
		"GF_AUTH_GENERIC_OAUTH_CLIENT_ID":           `{"Ref":"GrafanaOAuthClientId"}`,
		"GF_AUTH_GENERIC_OAUTH_AUTH_URL":            `{"Ref":"GrafanaOAuthAuthUrl"}`,
		"GF_AUTH_GENERIC_OAUTH_TOKEN_URL":           `{"Ref":"GrafanaOAuthTokenUrl"}`,
		"GF_AUTH_GENERIC_OAUTH_API_URL":             `{"Ref":"GrafanaOAuthApiUrl"}`,
		"GF_AUTH_GENERIC_OAUTH_ALLOWED_DOMAINS":     `{"Ref":"GrafanaOAuthAllowedDomains"}`,
		"GF_AUTH_GENERIC_OAUTH_ROLE_ATTRIBUTE_PATH": `contains(['{"Fn::Join":["','",{"Fn::Split":[",",{"Ref":"GrafanaAdmins"}]}]}'], email) && 'Admin' || 'Viewer'`,
		"GF_USERS_AUTO_ASSIGN_ORG_ROLE":             "Viewer",
		"GF_USERS_ALLOW_SIGN_UP":                    "false",
	})
	secrets := map[string]string{}
	for _, s := range grafana["Secrets"].([]any) {
		s := s.(map[string]any)
		b, _ := json.Marshal(s["ValueFrom"])
		secrets[s["Name"].(string)] = string(b)
	}
	if !strings.Contains(secrets["GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"], "GrafanaOAuthClientSecret") {
		t.Errorf("the OAuth client secret comes from %q; want the GrafanaOAuthClientSecret secret", secrets["GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"])
	}
	if _, ok := doc.Outputs["GrafanaOAuthRedirectUrl"]; !ok {
		t.Error("no output tells the newcomer which redirect URL to register")
	}
}

// Grafana's users, sessions and preferences (SQLite in /var/lib/grafana)
// live on encrypted EFS, written by one task at a time.
func TestGrafanaStateSurvivesTaskReplacement(t *testing.T) {
	_, td := doc.taskDefinition(t, "GrafanaTask")
	volume := ""
	for _, v := range td.Properties["Volumes"].([]any) {
		v := v.(map[string]any)
		if efs, ok := v["EFSVolumeConfiguration"].(map[string]any); ok && strings.HasPrefix(refOf(t, efs["FilesystemId"]), "GrafanaData") &&
			efs["TransitEncryption"] == "ENABLED" {
			volume = v["Name"].(string)
		}
	}
	mounted := false
	for _, m := range doc.container(t, "GrafanaTask", "grafana")["MountPoints"].([]any) {
		m := m.(map[string]any)
		mounted = mounted || (m["SourceVolume"] == volume && m["ContainerPath"] == "/var/lib/grafana" && m["ReadOnly"] == false)
	}
	if volume == "" || !mounted {
		t.Error("Grafana's /var/lib/grafana is not on its encrypted EFS")
	}
	for id, ap := range doc.ofType("AWS::EFS::AccessPoint") {
		if user, _ := json.Marshal(ap.Properties["PosixUser"]); strings.HasPrefix(id, "GrafanaData") && string(user) != `{"Gid":"0","Uid":"472"}` {
			t.Errorf("Grafana's access point user %s; the image runs as 472:0", user)
		}
	}
	_, svc := doc.service(t, "Grafana")
	if dc := svc.Properties["DeploymentConfiguration"].(map[string]any); dc["MaximumPercent"] != float64(100) {
		t.Errorf("Grafana deployment %v: two tasks would write one SQLite database", dc)
	}
}
