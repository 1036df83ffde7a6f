package main

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// joined renders a CloudFormation value (a string or an Fn::Join of strings
// and tokens) as text, tokens as {"Ref":...} JSON, so content can be
// compared with the files it came from.
func joined(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case map[string]any:
		if parts, ok := v["Fn::Join"].([]any); ok && len(parts) == 2 && parts[0] == "" {
			var sb strings.Builder
			list, ok := parts[1].([]any)
			if !ok {
				break
			}
			for _, p := range list {
				sb.WriteString(joined(p))
			}
			return sb.String()
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// initScript returns the init container's command and its variables,
// content by name and secrets by name.
func initScript(t *testing.T, task, container string) (script string, env map[string]string, secrets map[string]string) {
	t.Helper()
	c := doc.container(t, task, container)
	cmd := c["Command"].([]any)
	script = cmd[len(cmd)-1].(string)
	env = map[string]string{}
	for k, v := range envOf(c) {
		env[k] = joined(v)
	}
	secrets = map[string]string{}
	if list, ok := c["Secrets"].([]any); ok {
		for _, s := range list {
			s := s.(map[string]any)
			b, _ := json.Marshal(s["ValueFrom"])
			secrets[s["Name"].(string)] = string(b)
		}
	}
	return script, env, secrets
}

// fileVar finds the variable whose content the script writes to path,
// directly or (gzipped) through base64 -d | gunzip.
func fileVar(t *testing.T, script, path string) string {
	t.Helper()
	m := regexp.MustCompile(`printf '%s' "\$([A-Z_0-9]+)"(?: \| base64 -d \| gunzip)? > ` + regexp.QuoteMeta(path) + `(;|$)`).FindStringSubmatch(script)
	if m == nil {
		t.Fatalf("the init script writes nothing to %s: %s", path, script)
	}
	return m[1]
}

// The version that tests and `make up` build from tools/alertmanager is the
// one the deployment runs: a bump of one without the other fails here.
func TestAlertmanagerImageMatchesToolsVersion(t *testing.T) {
	mod, err := os.ReadFile("../tools/alertmanager/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^require github.com/prometheus/alertmanager (v\S+)$`).FindSubmatch(mod)
	if m == nil {
		t.Fatalf("tools/alertmanager/go.mod requires no github.com/prometheus/alertmanager version")
	}
	c := doc.container(t, "AlertmanagerTask", "alertmanager")
	if img := joined(c["Image"]); !strings.HasSuffix(img, "/alloy-curated/alertmanager:"+string(m[1])) {
		t.Errorf("Alertmanager image %v; tools/alertmanager builds %s", img, m[1])
	}
	args := strings.Join(toStrings(c["Command"]), " ")
	for _, want := range []string{"--config.file=/etc/alertmanager/alertmanager.yml", "--cluster.listen-address=", "--web.listen-address=:9093"} {
		if !strings.Contains(args, want) {
			t.Errorf("Alertmanager command %q lacks %s", args, want)
		}
	}
	if c["HealthCheck"] == nil {
		t.Error("Alertmanager has no container health check: a hung one would never be replaced")
	}
	if ports := portsOf(c); !ports[alertmanagerPort] || len(ports) != 1 {
		t.Errorf("alertmanager ports %v", ports)
	}
	_, svc := doc.service(t, "Alertmanager")
	if svc.Properties["DesiredCount"] != float64(1) {
		t.Errorf("Alertmanager runs %v tasks; one without clustering", svc.Properties["DesiredCount"])
	}
	for _, subnet := range doc.serviceSubnets(t, svc) {
		if !strings.Contains(subnet, "private") {
			t.Errorf("Alertmanager in subnet %s; want private subnets only", subnet)
		}
	}
}

// Alertmanager's task gets configs/alertmanager/ with every placeholder
// filled from a parameter, its templates, and the messenger's secret from
// Secrets Manager into a file only Alertmanager's user can read.
func TestAlertmanagerConfigAndSecretAreDelivered(t *testing.T) {
	script, env, secrets := initScript(t, "AlertmanagerTask", "alertmanager-config-init")
	cfg := env[fileVar(t, script, "/etc/alertmanager/alertmanager.yml")]
	if regexp.MustCompile(`\$\{[A-Z_]+\}`).MatchString(cfg) {
		t.Errorf("Alertmanager's config keeps a placeholder: %s", cfg)
	}
	for _, re := range []string{
		`receiver: heartbeat\n`,
		`topic_arn: '\{"Ref":"AlertHeartbeat[0-9A-F]+"\}'`,
		`region: '\{"Ref":"AWS::Region"\}'`,
		`api_url: ''`,
	} {
		if !regexp.MustCompile(re).MatchString(cfg) {
			t.Errorf("Alertmanager's config lacks the heartbeat receiver's %s", re)
		}
	}
	for _, want := range []string{
		`receiver: {"Ref":"AlertReceiver"}`,
		"url_file: /etc/alertmanager/secrets/target",
		`smarthost: '{"Ref":"AlertSmtpSmarthost"}'`,
		"group_wait: 5s",
		`source_matchers: ['alertname="IntegrationFailing"']`,
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("Alertmanager's config lacks %q", want)
		}
	}
	for name, content := range shared.AMTemplate {
		if env[fileVar(t, script, "/etc/alertmanager/templates/"+name)] != content {
			t.Errorf("template %s is not delivered as in configs/alertmanager/templates", name)
		}
	}
	secretVar := fileVar(t, script, "/etc/alertmanager/secrets/target")
	if !strings.Contains(secrets[secretVar], "AlertTarget") {
		t.Errorf("secrets/target comes from %q; want the AlertTarget secret", secrets[secretVar])
	}
	if _, leaked := env[secretVar]; leaked {
		t.Error("the messenger secret is a plain environment variable")
	}
	if !strings.Contains(script, "chmod 600 /etc/alertmanager/secrets/target && chown 65534:65534 /etc/alertmanager/secrets/target") {
		t.Errorf("the secret file is not private to Alertmanager's user (nobody): %s", script)
	}
	if !strings.Contains(env[fileVar(t, script, "/etc/alertmanager/secrets/telegram_chat_id")], "AlertTelegramChatId") {
		t.Error("telegram_chat_id does not come from the AlertTelegramChatId parameter")
	}
	p := doc.Parameters["AlertReceiver"]
	allowed, _ := json.Marshal(p["AllowedValues"])
	// Required (#27): a deploy without it fails at once; none is typed.
	if _, hasDefault := p["Default"]; hasDefault || string(allowed) != `["none","webhook","slack","msteams","discord","telegram","email"]` {
		t.Errorf("AlertReceiver parameter: %v; want no default and none among the allowed values", p)
	}
}

// Loki's ruler gets every rule file of configs/loki/rules/ as it is, in the
// tenant directory its local storage reads, and sends to Alertmanager's
// Cloud Map name; alert links open the stack's Grafana.
func TestLokiRulerGetsTheRules(t *testing.T) {
	script, env, _ := initScript(t, "LokiTask", "loki-config-init")
	if len(shared.Rules) < 3 {
		t.Fatalf("only %d rule files loaded from configs/loki/rules", len(shared.Rules))
	}
	for name, content := range shared.Rules {
		if env[fileVar(t, script, "/etc/loki/rules/fake/"+name)] != content {
			t.Errorf("rule file %s is not delivered as in configs/loki/rules", name)
		}
	}
	cfg := env[fileVar(t, script, "/etc/loki/config.yaml")]
	for _, want := range []string{
		"alertmanager_url: http://alertmanager.curated.internal:9093",
		"directory: /etc/loki/rules",
		`external_url: https://{"Ref":"DomainName"}/grafana`,
		"enable_api: true",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("Loki's config lacks %q", want)
		}
	}
	if regexp.MustCompile(`\$\{[A-Z_]+\}`).MatchString(cfg) {
		t.Errorf("Loki's config keeps a placeholder: %s", cfg)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, e := range v.([]any) {
		out = append(out, e.(string))
	}
	return out
}

// The dead man's switch: Alertmanager's task role may publish to the
// heartbeat topic (and only that), and an alarm outside the alert path,
// on the topic's message count, tells the alarm topic when two 5-minute
// periods pass without one, missing data counting as silence.
func TestAlertPathHasADeadMansSwitch(t *testing.T) {
	topicID, topic := doc.first(t, "AWS::SNS::Topic", "AlertHeartbeat")
	if k := joined(topic.Properties["KmsMasterKeyId"]); !strings.Contains(k, "alias/aws/sns") {
		t.Errorf("heartbeat topic key %s; want SNS's own (publishers need no key grant)", k)
	}
	_, td := doc.taskDefinition(t, "AlertmanagerTask")
	role := refOf(t, td.Properties["TaskRoleArn"])
	published := false
	for _, s := range doc.statementsOf(role) {
		actions := toStrings(asList(s["Action"]))
		if slices.Contains(actions, "sns:Publish") {
			published = joined(s["Resource"]) == `{"Ref":"`+topicID+`"}`
			if !published {
				t.Errorf("Alertmanager may publish to %s; want the heartbeat topic only", joined(s["Resource"]))
			}
		}
	}
	if !published {
		t.Error("Alertmanager's task role may not publish to the heartbeat topic")
	}
	found := false
	for id, a := range doc.ofType("AWS::CloudWatch::Alarm") {
		if a.Properties["MetricName"] != "NumberOfMessagesPublished" {
			continue
		}
		found = true
		dims, _ := json.Marshal(a.Properties["Dimensions"])
		actions, _ := json.Marshal(a.Properties["AlarmActions"])
		if a.Properties["Namespace"] != "AWS/SNS" || !strings.Contains(string(dims), topicID) ||
			a.Properties["ComparisonOperator"] != "LessThanThreshold" || a.Properties["Threshold"] != float64(1) ||
			a.Properties["TreatMissingData"] != "breaching" || a.Properties["EvaluationPeriods"] != float64(2) ||
			a.Properties["Period"] != float64(300) || !strings.Contains(string(actions), `"Ref":"AlarmTopic`) {
			t.Errorf("alarm %s: %v", id, a.Properties)
		}
	}
	if !found {
		t.Error("no alarm watches the heartbeat topic")
	}
}

// Alertmanager keeps its silences and notification log (--storage.path) on
// EFS: a replaced task neither forgets the silences people set nor sends
// again what it already sent.
func TestAlertmanagerStateIsOnEFS(t *testing.T) {
	c := doc.container(t, "AlertmanagerTask", "alertmanager")
	if args := strings.Join(toStrings(c["Command"]), " "); !strings.Contains(args, "--storage.path=/alertmanager") {
		t.Fatalf("Alertmanager command %q; want --storage.path=/alertmanager", args)
	}
	mounts, _ := json.Marshal(c["MountPoints"])
	if !strings.Contains(string(mounts), `"ContainerPath":"/alertmanager"`) || !strings.Contains(string(mounts), `"SourceVolume":"alertmanager-data"`) {
		t.Fatalf("Alertmanager mounts %s; want its state volume at /alertmanager", mounts)
	}
	_, td := doc.taskDefinition(t, "AlertmanagerTask")
	volumes, _ := json.Marshal(td.Properties["Volumes"])
	if !regexp.MustCompile(`\{"EFSVolumeConfiguration":\{"AuthorizationConfig":\{"AccessPointId":\{"Ref":"AlertmanagerDataAlertmanagerDataAccessPoint[0-9A-F]{8}"\},"IAM":"ENABLED"\},` +
		`"FilesystemId":\{"Ref":"AlertmanagerData[0-9A-F]{8}"\},"TransitEncryption":"ENABLED"\},"Name":"alertmanager-data"\}`).Match(volumes) {
		t.Errorf("Alertmanager's volumes %s; want alertmanager-data on its encrypted EFS through an access point", volumes)
	}
}
