package main

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
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

// The account and AZs HA mode's template is synthesized with.
const testAccount = "123456789012"

var testAZs = []string{testRegion + "a", testRegion + "b", testRegion + "c", testRegion + "d"}

// haTemplate synthesizes the stack with -c lokiMode=ha, and fails on any
// cdk-nag finding it has that is not suppressed.
func haTemplate(t *testing.T) template {
	t.Helper()
	cfg, err := defaultConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Region, cfg.LokiMode = testRegion, lokiHA
	// What the CDK CLI looks up in the account and caches in
	// cdk.context.json: the region's AZs.
	app := awscdk.NewApp(&awscdk.AppProps{Context: &map[string]any{
		"availability-zones:account=" + testAccount + ":region=" + testRegion: testAZs,
	}})
	stack := NewCuratedStack(app, "TestHA", cfg, shared, &awscdk.StackProps{Env: &awscdk.Environment{Account: jsii.String(testAccount), Region: jsii.String(cfg.Region)}})
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
	// One task per AZ: losing an AZ loses one replica of each stream.
	azOf := map[string]string{}
	for id, r := range ha.ofType("AWS::EC2::Subnet") {
		azOf[id], _ = r.Properties["AvailabilityZone"].(string)
	}
	zones := map[string]bool{}
	for _, subnet := range ha.serviceSubnets(t, svc) {
		zones[azOf[subnet]] = true
	}
	if len(zones) != lokiHATasks {
		t.Errorf("Loki's tasks may run in AZs %v; want %d", zones, lokiHATasks)
	}
	// The single-mode subnets keep their ranges: the third AZ is added.
	for id, r := range doc.ofType("AWS::EC2::Subnet") {
		if got := ha.Resources[id].Properties["CidrBlock"]; got != r.Properties["CidrBlock"] {
			t.Errorf("subnet %s: %v in HA mode, %v in single mode", id, got, r.Properties["CidrBlock"])
		}
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
	for _, want := range []string{"replication_factor: 3", "store: memberlist", "enable_sharding: true", "dns+loki.curated.internal:7946", "autoforget_unhealthy: true"} {
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

// -c lokiMode=ha: two Alertmanagers, one per AZ, gossiping with each other
// only, each with its own state; Loki's ruler sends every alert to both.
// Single mode keeps one, with no cluster.
func TestAlertmanagersClusterInHAMode(t *testing.T) {
	ha := haTemplate(t)
	var subnets []string
	for _, id := range []string{"Alertmanager", "AlertmanagerPeer"} {
		c := ha.container(t, id+"Task", "alertmanager")
		args := strings.Join(toStrings(c["Command"]), " ")
		for _, want := range []string{
			"--cluster.listen-address=0.0.0.0:9094",
			"--cluster.peer=alertmanager.curated.internal:9094",
			"--cluster.peer=alertmanager-peer.curated.internal:9094",
			"--storage.path=/alertmanager",
		} {
			if !strings.Contains(args, want) {
				t.Errorf("%s command %q lacks %s", id, args, want)
			}
		}
		_, svc := ha.service(t, id)
		if svc.Properties["DesiredCount"] != float64(1) {
			t.Errorf("%s runs %v tasks; want 1 (its EFS state has one writer)", id, svc.Properties["DesiredCount"])
		}
		s := ha.serviceSubnets(t, svc)
		if len(s) != 1 {
			t.Errorf("%s may run in subnets %v; want the one of its AZ", id, s)
		}
		subnets = append(subnets, s...)
	}
	if len(subnets) == 2 && subnets[0] == subnets[1] {
		t.Errorf("both Alertmanagers in subnet %s: one AZ's loss would take both", subnets[0])
	}
	states := 0
	for id := range ha.ofType("AWS::EFS::FileSystem") {
		if strings.HasPrefix(id, "Alertmanager") {
			states++
		}
	}
	if states != 2 {
		t.Errorf("%d EFS file systems for Alertmanager state; want one each", states)
	}
	rules := ha.ingressRules(t)
	gossip := 0
	for _, r := range rules {
		if !strings.Contains(r, ":9094") {
			continue
		}
		gossip++
		if r != "AlertmanagerSg:9094<-AlertmanagerPeerSg" && r != "AlertmanagerSg:9094/udp<-AlertmanagerPeerSg" &&
			r != "AlertmanagerPeerSg:9094<-AlertmanagerSg" && r != "AlertmanagerPeerSg:9094/udp<-AlertmanagerSg" {
			t.Errorf("%s: the gossip port is open to more than the other Alertmanager", r)
		}
	}
	if gossip != 4 {
		t.Errorf("%d gossip rules; want TCP and UDP each way:\n%s", gossip, strings.Join(rules, "\n"))
	}
	for _, want := range []string{"AlertmanagerPeerSg:9093<-LokiSg", "AlertmanagerSg:9093<-LokiSg"} {
		if !slices.Contains(rules, want) {
			t.Errorf("ingress rules lack %s", want)
		}
	}
	cfg, _ := json.Marshal(envOf(ha.container(t, "LokiTask", "loki-config-init"))["CONTENT"])
	if want := "alertmanager_url: http://alertmanager.curated.internal:9093,http://alertmanager-peer.curated.internal:9093"; !strings.Contains(string(cfg), want) {
		t.Errorf("the HA Loki config lacks %q", want)
	}

	if args := strings.Join(toStrings(doc.container(t, "AlertmanagerTask", "alertmanager")["Command"]), " "); strings.Contains(args, "--cluster.peer") {
		t.Errorf("single mode's Alertmanager has peers: %s", args)
	}
	for id := range doc.ofType("AWS::ECS::Service") {
		if strings.HasPrefix(id, "AlertmanagerPeer") {
			t.Errorf("single mode runs a second Alertmanager: %s", id)
		}
	}
}

// The same settings synthesize the same template, byte for byte: anything
// that follows Go's map order would change a task definition, and so
// replace its tasks, on every deploy.
func TestSynthIsDeterministic(t *testing.T) {
	synth := func() []byte {
		cfg, err := defaultConfig()
		if err != nil {
			t.Fatal(err)
		}
		cfg.Region = testRegion
		app := awscdk.NewApp(nil)
		stack := NewCuratedStack(app, "Test", cfg, shared, &awscdk.StackProps{Env: &awscdk.Environment{Region: jsii.String(cfg.Region)}})
		b, err := json.Marshal(assertions.Template_FromStack(stack, nil).ToJSON())
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	first := synth()
	for range 3 {
		if !bytes.Equal(first, synth()) {
			t.Fatal("two syntheses of the same settings differ")
		}
	}
}
