package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// haConfigFile is deploy/loki.yaml in HA mode, committed so that e2e can
// run the pinned Loki's -verify-config on it (TestDeployLokiConfigIsValid).
const haConfigFile = "testdata/loki-ha.yaml"

// The committed HA config is what haLokiConfig makes of deploy/loki.yaml:
// UPDATE=1 go test -run TestHALokiConfigIsCommitted rewrites it.
func TestHALokiConfigIsCommitted(t *testing.T) {
	want, err := haLokiConfig(lokiConfig)
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("UPDATE") == "1" {
		if err := os.WriteFile(haConfigFile, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(haConfigFile)
	if err != nil || string(got) != want {
		t.Errorf("%s is stale or missing (%v): run UPDATE=1 go test -run TestHALokiConfigIsCommitted", haConfigFile, err)
	}
	if _, err := haLokiConfig(strings.Replace(lokiConfig, "replication_factor: 1", "replication_factor: 2", 1)); err == nil {
		t.Error("haLokiConfig accepted a deploy/loki.yaml it cannot edit")
	}
}

// haTemplate synthesizes the stack with -c lokiMode=ha, and fails on any
// cdk-nag finding it has that is not suppressed.
func haTemplate(t *testing.T) template {
	t.Helper()
	cfg, err := defaultConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Region, cfg.LokiMode = testRegion, lokiHA
	app := awscdk.NewApp(nil)
	stack := NewCuratedStack(app, "TestHA", cfg, shared, &awscdk.StackProps{Env: &awscdk.Environment{Region: jsii.String(cfg.Region)}})
	checkWithNag(app, false)
	tmpl := assertions.Template_FromStack(stack, nil)
	nag := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
	for _, e := range *assertions.Annotations_FromStack(stack).FindError(jsii.String("*"), nag) {
		t.Errorf("cdk-nag in HA mode: %s: %v", *e.Id, e.Entry.Data)
	}
	raw, err := json.Marshal(tmpl.ToJSON())
	if err != nil {
		t.Fatal(err)
	}
	var d template
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// -c lokiMode=ha: three Loki tasks with no shared WAL and no writer lock,
// their gRPC and memberlist ports open between Loki tasks only, and the
// HA configuration; alloy-custom and Grafana keep the one Cloud Map name.
func TestLokiModeHA(t *testing.T) {
	ha := haTemplate(t)
	_, svc := ha.service(t, "Loki")
	if svc.Properties["DesiredCount"] != float64(lokiHATasks) {
		t.Errorf("Loki desired count %v; want %d", svc.Properties["DesiredCount"], lokiHATasks)
	}
	for id := range ha.ofType("AWS::EFS::FileSystem") {
		if strings.HasPrefix(id, "LokiData") {
			t.Errorf("HA mode keeps an EFS file system for Loki's WAL: %s", id)
		}
	}
	for _, r := range ha.ofType("AWS::ECS::TaskDefinition") {
		b, _ := json.Marshal(r.Properties["ContainerDefinitions"])
		if strings.Contains(string(b), "loki-writer-lock") {
			t.Error("HA mode keeps the single-writer lock")
		}
	}
	rules := strings.Join(ha.ingressRules(t), "\n")
	for _, want := range []string{"LokiSg:9095<-LokiSg", "LokiSg:7946<-LokiSg", "LokiSg:3100<-AlloySg", "LokiSg:3100<-GrafanaSg"} {
		if !strings.Contains(rules, want) {
			t.Errorf("ingress rules lack %s:\n%s", want, rules)
		}
	}
	for _, port := range []string{":9095<-", ":7946<-"} {
		for _, r := range strings.Split(rules, "\n") {
			if strings.Contains(r, port) && !strings.HasPrefix(r, "LokiSg") || strings.Contains(r, port) && !strings.HasSuffix(r, "<-LokiSg") {
				t.Errorf("%s: Loki's internal ports are open to more than Loki", r)
			}
		}
	}
	cfg, _ := json.Marshal(envOf(ha.container(t, "LokiTask", "loki-config-init"))["CONTENT"])
	for _, want := range []string{"replication_factor: 3", "store: memberlist", "enable_sharding: true", "dns+loki.curated.internal:7946"} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("the HA Loki config lacks %q", want)
		}
	}
	checkEnv(t, "alloy", ha.container(t, "AlloyTask", "alloy"), map[string]string{"LOKI_PUSH_URL": lokiPushURL})
}

// The default stays one Loki task; an unknown mode is refused.
func TestLokiModeDefaultsToSingle(t *testing.T) {
	cfg, _ := defaultConfig()
	cfg.Region = testRegion
	if cfg.LokiMode != lokiSingle || cfg.validate() != nil {
		t.Errorf("default lokiMode %q: %v", cfg.LokiMode, cfg.validate())
	}
	cfg.LokiMode = "cluster"
	if err := cfg.validate(); err == nil || !strings.Contains(err.Error(), "lokiMode") {
		t.Errorf("lokiMode=cluster: %v", err)
	}
	if _, svc := doc.service(t, "Loki"); svc.Properties["DesiredCount"] != float64(1) {
		t.Errorf("single mode runs %v Loki tasks", svc.Properties["DesiredCount"])
	}
}
