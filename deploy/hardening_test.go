package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// ecrImage is how an image of the account's ECR in the test region renders.
var ecrImage = regexp.MustCompile(`^\{"Ref":"AWS::AccountId"\}\.dkr\.ecr\.` + testRegion + `\.\{"Ref":"AWS::URLSuffix"\}/alloy-curated/([a-z-]+):(.+)$`)

// Every container pulls from the account's ECR, and its task's execution role
// may pull exactly that repository: a private image without the grant fails
// every task with CannotPullContainerError (the first deploy's failure).
func TestEveryImageComesFromECRWithPullPermission(t *testing.T) {
	pulled := 0
	for id, td := range doc.ofType("AWS::ECS::TaskDefinition") {
		role := refOf(t, td.Properties["ExecutionRoleArn"])
		grants := doc.statementsOf(role)
		canPull := func(repo string) bool {
			for _, s := range grants {
				actions := toStrings(asList(s["Action"]))
				if slices.Contains(actions, "ecr:BatchGetImage") && slices.Contains(actions, "ecr:GetDownloadUrlForLayer") &&
					strings.HasSuffix(joined(s["Resource"]), ":repository/"+repo) {
					return true
				}
			}
			return false
		}
		token := false
		for _, s := range grants {
			token = token || (slices.Contains(toStrings(asList(s["Action"])), "ecr:GetAuthorizationToken") && s["Resource"] == "*")
		}
		if !token {
			t.Errorf("%s: execution role %s may not call ecr:GetAuthorizationToken", id, role)
		}
		for _, c := range td.Properties["ContainerDefinitions"].([]any) {
			c := c.(map[string]any)
			img := joined(c["Image"])
			m := ecrImage.FindStringSubmatch(img)
			if m == nil {
				t.Errorf("%s/%s runs %s; want an image of the account's ECR in %s", id, c["Name"], img, testRegion)
				continue
			}
			pulled++
			if !canPull("alloy-curated/" + m[1]) {
				t.Errorf("%s/%s: execution role %s may not pull alloy-curated/%s", id, c["Name"], role, m[1])
			}
		}
	}
	if pulled < 7 {
		t.Errorf("only %d containers checked", pulled)
	}
}

// The third-party images run the versions pinned in images.txt, which are
// the versions the tests build: Loki from the Makefile's LOKI_VERSION.
func TestPinnedImagesAreTheTestedVersions(t *testing.T) {
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^LOKI_VERSION\s*:=\s*v(\S+)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("the Makefile sets no LOKI_VERSION")
	}
	cfg, _ := defaultConfig()
	if got := upstreamTag(cfg.Images[imageLoki]); got != string(m[1]) {
		t.Errorf("images.txt runs Loki %s; the tests build %s", got, m[1])
	}
	for task, want := range map[string]string{
		"LokiTask/loki":                             "loki:" + string(m[1]),
		"GrafanaTask/grafana":                       "grafana:" + upstreamTag(cfg.Images[imageGrafana]),
		"AlertmanagerTask/alertmanager":             "alertmanager:" + upstreamTag(cfg.Images[imageAlertmanager]),
		"LokiTask/loki-config-init":                 "busybox:" + upstreamTag(cfg.Images[imageBusybox]),
		"AlloyTask/alloy":                           `alloy-custom:{"Ref":"AlloyImageTag"}`,
		"AlertmanagerTask/alertmanager-config-init": "busybox:" + upstreamTag(cfg.Images[imageBusybox]),
	} {
		prefix, name, _ := strings.Cut(task, "/")
		if img := joined(doc.container(t, prefix, name)["Image"]); !strings.HasSuffix(img, "/alloy-curated/"+want) {
			t.Errorf("%s runs %s; want .../alloy-curated/%s", task, img, want)
		}
	}
	for _, bad := range []string{"loki no-tag", "loki a:1\nloki b:2", "grafana x:1"} {
		if _, err := parseImages(bad); err == nil {
			t.Errorf("parseImages(%q) accepted a broken images.txt", bad)
		}
	}
}

// scripts/push-images.sh puts into ECR every image the stack pulls, under
// the same repository and tag.
func TestPushScriptPushesEveryImageTheStackPulls(t *testing.T) {
	cmd := exec.Command("../scripts/push-images.sh", "alloy-curated:local", "v1.19.0-curated.test")
	cmd.Env = append(os.Environ(), "DRY_RUN=1", "AWS_ACCOUNT_ID=123456789012", "AWS_REGION="+testRegion, "CONTAINER_TOOL=buildah")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("push-images.sh: %v\n%s", err, out)
	}
	pushed := map[string]bool{}
	created := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if m := regexp.MustCompile(`^\+ buildah push \S+ docker://123456789012\.dkr\.ecr\.` + testRegion + `\.amazonaws\.com/alloy-curated/(\S+)$`).FindStringSubmatch(sc.Text()); m != nil {
			pushed[m[1]] = true
		}
		if m := regexp.MustCompile(`--repository-name (alloy-curated/\S+) --image-tag-mutability IMMUTABLE`).FindStringSubmatch(sc.Text()); m != nil {
			created[m[1]] = true
		}
	}
	pulled := map[string]bool{}
	for _, td := range doc.ofType("AWS::ECS::TaskDefinition") {
		for _, c := range td.Properties["ContainerDefinitions"].([]any) {
			if m := ecrImage.FindStringSubmatch(joined(c.(map[string]any)["Image"])); m != nil {
				tag := strings.Replace(m[2], `{"Ref":"AlloyImageTag"}`, "v1.19.0-curated.test", 1)
				pulled[m[1]+":"+tag] = true
				if !created["alloy-curated/"+m[1]] {
					t.Errorf("push-images.sh does not create the repository alloy-curated/%s", m[1])
				}
			}
		}
	}
	if len(pulled) < 5 || !maps.Equal(pulled, pushed) {
		t.Errorf("the stack pulls %v; push-images.sh pushes %v\n%s", slices.Sorted(maps.Keys(pulled)), slices.Sorted(maps.Keys(pushed)), out)
	}
	// The preflight of a fresh account (#27): the service-linked roles the
	// stack's ECS services and their autoscaling need, before the deploy.
	for _, svc := range []string{"ecs.amazonaws.com", "ecs.application-autoscaling.amazonaws.com"} {
		if !bytes.Contains(out, []byte("+ aws iam create-service-linked-role --aws-service-name "+svc+"\n")) {
			t.Errorf("push-images.sh does not make sure the service-linked role of %s exists\n%s", svc, out)
		}
	}
}

// Resources kept when the stack is deleted (or when a first create rolls
// back) must not carry fixed names: the next create would fail with
// "already exists" (the log groups did).
func TestRetainedResourcesHaveNoFixedNames(t *testing.T) {
	retained := 0
	for id, r := range doc.Resources {
		if r.DeletionPolicy != "Retain" {
			continue
		}
		retained++
		for prop, v := range r.Properties {
			if strings.HasSuffix(prop, "Name") && prop != "ServiceName" {
				t.Errorf("%s (%s) is retained and named %s=%v: a second create collides with it", id, r.Type, prop, v)
			}
		}
	}
	// 8 log groups, 2 buckets, the EFS file systems (Loki, Alertmanager, the spool)
	if retained < 12 {
		t.Errorf("only %d retained resources; the log groups, buckets and EFS file systems are kept on delete", retained)
	}
}

// Loki's WAL, TSDB head and compactor state live on encrypted EFS through
// an access point for Loki's user; one Loki at a time writes them; a hung
// Loki is replaced by its health check.
func TestLokiKeepsItsStateOnEFS(t *testing.T) {
	_, td := doc.taskDefinition(t, "LokiTask")
	var volume string
	for _, v := range td.Properties["Volumes"].([]any) {
		v := v.(map[string]any)
		efs, ok := v["EFSVolumeConfiguration"].(map[string]any)
		if !ok {
			continue
		}
		volume = v["Name"].(string)
		auth := efs["AuthorizationConfig"].(map[string]any)
		if efs["TransitEncryption"] != "ENABLED" || auth["IAM"] != "ENABLED" ||
			!strings.HasPrefix(refOf(t, efs["FilesystemId"]), "LokiData") || !strings.HasPrefix(refOf(t, auth["AccessPointId"]), "LokiData") {
			t.Errorf("Loki's EFS volume: %v; want transit encryption, IAM and the LokiData access point", efs)
		}
	}
	loki := doc.container(t, "LokiTask", "loki")
	mounted := false
	for _, m := range loki["MountPoints"].([]any) {
		m := m.(map[string]any)
		mounted = mounted || (m["SourceVolume"] == volume && m["ContainerPath"] == "/loki" && m["ReadOnly"] == false)
	}
	if volume == "" || !mounted {
		t.Errorf("Loki does not mount an EFS volume read-write at /loki: %v", loki["MountPoints"])
	}
	for _, want := range []string{"path_prefix: /loki\n", "dir: /loki/wal\n", "working_directory: /loki/compactor\n", "rule_path: /loki/rules-temp\n"} {
		if !strings.Contains(lokiConfig, want) {
			t.Errorf("deploy/loki.yaml lacks %q: that state would not be on EFS", strings.TrimSpace(want))
		}
	}
	for id, fs := range doc.ofType("AWS::EFS::FileSystem") {
		if fs.Properties["Encrypted"] != true {
			t.Errorf("%s is not encrypted at rest", id)
		}
	}
	for id, ap := range doc.ofType("AWS::EFS::AccessPoint") {
		if !strings.HasPrefix(id, "LokiData") {
			continue
		}
		user, _ := json.Marshal(ap.Properties["PosixUser"])
		root, _ := json.Marshal(ap.Properties["RootDirectory"])
		if string(user) != `{"Gid":"10001","Uid":"10001"}` || !strings.Contains(string(root), `"Path":"/loki"`) {
			t.Errorf("access point user %s root %s; want Loki's 10001 at /loki", user, root)
		}
	}
	_, svc := doc.service(t, "Loki")
	dc := svc.Properties["DeploymentConfiguration"].(map[string]any)
	if dc["MaximumPercent"] != float64(100) || svc.Properties["DesiredCount"] != float64(1) {
		t.Errorf("Loki deployment %v, %v tasks: two Lokis would write one WAL", dc, svc.Properties["DesiredCount"])
	}
	hc, _ := loki["HealthCheck"].(map[string]any)
	if got := strings.Join(toStrings(hc["Command"]), " "); got != "CMD /usr/bin/loki -health -health.url=http://localhost:3100/ready" {
		t.Errorf("Loki health check %q", got)
	}
	if sp, _ := hc["StartPeriod"].(float64); sp < 120 {
		t.Errorf("Loki health check start period %v s: a WAL replay would get the task killed", hc["StartPeriod"])
	}
}

// S3 traffic goes through a gateway endpoint in the private subnets' route
// tables, and Loki's bucket cleans up incomplete uploads.
func TestS3GatewayEndpointAndUploadCleanup(t *testing.T) {
	found := false
	for _, r := range doc.ofType("AWS::EC2::VPCEndpoint") {
		name := joined(r.Properties["ServiceName"])
		if r.Properties["VpcEndpointType"] == "Gateway" && strings.HasSuffix(name, ".s3") {
			found = true
			tables, _ := json.Marshal(r.Properties["RouteTableIds"])
			if n := strings.Count(string(tables), "privateSubnet"); n != 2 {
				t.Errorf("S3 endpoint in route tables %s; want both private subnets'", tables)
			}
		}
	}
	if !found {
		t.Error("no S3 gateway endpoint: Loki's S3 traffic pays NAT charges")
	}
	_, bucket := doc.first(t, "AWS::S3::Bucket", "LokiBucket")
	rules, _ := json.Marshal(bucket.Properties["LifecycleConfiguration"])
	if !strings.Contains(string(rules), `"AbortIncompleteMultipartUpload":{"DaysAfterInitiation":1}`) {
		t.Errorf("Loki's bucket lifecycle %s; want incomplete uploads aborted after a day", rules)
	}
}

// The ALB writes access logs to an encrypted, private bucket.
func TestAlbAccessLogs(t *testing.T) {
	_, lb := doc.first(t, "AWS::ElasticLoadBalancingV2::LoadBalancer", "Alb")
	attrs := map[string]string{}
	for _, a := range lb.Properties["LoadBalancerAttributes"].([]any) {
		a := a.(map[string]any)
		attrs[a["Key"].(string)] = joined(a["Value"])
	}
	if attrs["access_logs.s3.enabled"] != "true" || !strings.Contains(attrs["access_logs.s3.bucket"], "LogBucket") {
		t.Errorf("ALB attributes %v; want access logs in LogBucket", attrs)
	}
	_, bucket := doc.first(t, "AWS::S3::Bucket", "LogBucket")
	enc, _ := json.Marshal(bucket.Properties["BucketEncryption"])
	block, _ := json.Marshal(bucket.Properties["PublicAccessBlockConfiguration"])
	if !strings.Contains(string(enc), "AES256") || strings.Count(string(block), "true") != 4 || bucket.DeletionPolicy != "Retain" {
		t.Errorf("log bucket encryption %s, public access %s, deletion %s", enc, block, bucket.DeletionPolicy)
	}
}

// Grafana is reachable from the allowed addresses only, needs a sign-in,
// and links to the stack's own domain.
func TestGrafanaOnlyFromAllowedAddressesAndSignedIn(t *testing.T) {
	found := false
	for _, r := range doc.ofType("AWS::ElasticLoadBalancingV2::ListenerRule") {
		conds, _ := json.Marshal(r.Properties["Conditions"])
		if !strings.Contains(string(conds), grafanaPath) {
			continue
		}
		found = true
		// The allow-list is the WAF's IP set (TestWAFLetsTheProjectsPayloadsThrough
		// evaluates it): a listener rule holds 5 values, two of them paths.
		if strings.Contains(string(conds), "source-ip") {
			t.Errorf("Grafana's listener rule %s limits source addresses itself", conds)
		}
	}
	if !found {
		t.Fatal("no listener rule for Grafana")
	}
	_, ipSet := doc.first(t, "AWS::WAFv2::IPSet", "GrafanaAllowedSources")
	if addrs, _ := json.Marshal(ipSet.Properties["Addresses"]); string(addrs) != `{"Ref":"GrafanaAllowedCidrs"}` || ipSet.Properties["IPAddressVersion"] != "IPV4" {
		t.Errorf("Grafana's IP set: %v; want the GrafanaAllowedCidrs addresses", ipSet.Properties)
	}
	if d := doc.Parameters["GrafanaAllowedCidrs"]["Default"]; d != grafanaAnywhere {
		t.Errorf("GrafanaAllowedCidrs defaults to %v; want %s (WAF takes no /0)", d, grafanaAnywhere)
	}
	slashZero, _ := json.Marshal(doc.Rules["GrafanaCidrsWithoutSlashZero"])
	if !strings.Contains(string(slashZero), `"Fn::Contains":[{"Ref":"GrafanaAllowedCidrs"},"0.0.0.0/0"]`) {
		t.Errorf("no template rule refuses 0.0.0.0/0 in GrafanaAllowedCidrs: %s", slashZero)
	}
	checkEnv(t, "grafana", doc.container(t, "GrafanaTask", "grafana"), map[string]string{
		"GF_AUTH_ANONYMOUS_ENABLED": "false",
		"GF_METRICS_ENABLED":        "false",
		"GF_SECURITY_COOKIE_SECURE": "true",
		"GF_SERVER_ROOT_URL":        `https://{"Ref":"DomainName"}/grafana/`,
		// With SSO the password form goes (#27).
		"GF_AUTH_DISABLE_LOGIN_FORM": `{"Fn::If":["GrafanaOAuthEnabled","true","false"]}`,
	})
	// SSO without allowed domains lets anyone at the identity provider in
	// as a Viewer: the template refuses that combination (#27).
	rule, _ := json.Marshal(doc.Rules["GrafanaSsoNeedsAllowedDomains"])
	for _, want := range []string{
		`"RuleCondition":{"Fn::Not":[{"Fn::Equals":[{"Ref":"GrafanaOAuthClientId"},""]}]}`,
		`"Assert":{"Fn::Not":[{"Fn::Equals":[{"Ref":"GrafanaOAuthAllowedDomains"},""]}]}`,
	} {
		if !strings.Contains(string(rule), want) {
			t.Errorf("rule GrafanaSsoNeedsAllowedDomains %s lacks %s", rule, want)
		}
	}
}

// Alarms on what the Loki ruler can't see, each telling the SNS topic when
// it fires and when it clears.
func TestAlarmsNotifyTheTopic(t *testing.T) {
	want := map[string]string{ // logical ID prefix -> threshold
		"Alb5xxRate": "5", "AlloyUnhealthyTargets": "0", "GrafanaUnhealthyTargets": "0",
		"AlloyTasksBelowMinimum": "2", "LokiTasksBelowMinimum": "1", "GrafanaTasksBelowMinimum": "1",
		"AlertmanagerTasksBelowMinimum": "1", "PushBatchesDropped": "1", "AlloyErrors": "5", "LokiPushRateLimited": "1",
		"AlertPathSilent": "1", "LokiLogRouterDroppedChunks": "1", "GrafanaLogRouterDroppedChunks": "1",
		"AlertmanagerLogRouterDroppedChunks": "1", "AlloyLogRouterDroppedChunks": "1",
	}
	got := map[string]resource{}
	for id, r := range doc.ofType("AWS::CloudWatch::Alarm") {
		got[regexp.MustCompile(`[0-9A-F]{8}$`).ReplaceAllString(id, "")] = r
	}
	if len(got) != len(want) {
		t.Errorf("alarms %v; want %v", slices.Sorted(maps.Keys(got)), want)
	}
	for name, threshold := range want {
		r, ok := got[name]
		if !ok {
			t.Errorf("no alarm %s", name)
			continue
		}
		if fmt.Sprint(r.Properties["Threshold"]) != threshold {
			t.Errorf("%s threshold %v; want %s", name, r.Properties["Threshold"], threshold)
		}
		for _, action := range []string{"AlarmActions", "OKActions"} {
			if a, _ := json.Marshal(r.Properties[action]); !strings.Contains(string(a), `"Ref":"AlarmTopic`) {
				t.Errorf("%s %s = %s; want the alarm topic", name, action, a)
			}
		}
		if strings.HasSuffix(name, "TasksBelowMinimum") && r.Properties["TreatMissingData"] != "breaching" {
			t.Errorf("%s treats missing data as %v: a service without tasks reports nothing", name, r.Properties["TreatMissingData"])
		}
	}
	filters := map[string]string{}
	for _, r := range doc.ofType("AWS::Logs::MetricFilter") {
		m := r.Properties["MetricTransformations"].([]any)[0].(map[string]any)
		filters[m["MetricName"].(string)] = refOf(t, r.Properties["LogGroupName"]) + " " + r.Properties["FilterPattern"].(string)
	}
	for metric, want := range map[string]string{
		"PushBatchesDropped":  "alloyLogs " + patternPushDropped,
		"AlloyErrors":         "alloyLogs " + patternAlloyErrors,
		"LokiPushRateLimited": "lokiLogs " + patternLoki429,
	} {
		if got := regexp.MustCompile(`^([a-zA-Z]+?)[0-9A-F]{8} `).ReplaceAllString(filters[metric], "$1 "); got != want {
			t.Errorf("metric filter %s = %q; want %q", metric, got, want)
		}
	}
	for _, r := range doc.ofType("AWS::SNS::Subscription") {
		if r.Condition != "HasAlarmEmail" || r.Properties["Protocol"] != "email" {
			t.Errorf("alarm subscription %v (condition %q); want email, only when AlarmEmail is set", r.Properties, r.Condition)
		}
	}
	// AlarmEmail is required (#27): an address, or none typed on purpose.
	p := doc.Parameters["AlarmEmail"]
	if _, hasDefault := p["Default"]; hasDefault || p["AllowedPattern"] != `none|[^@\s]+@[^@\s]+\.[^@\s]+` {
		t.Errorf("AlarmEmail parameter %v; want required, an address or none", p)
	}
	if cond, _ := json.Marshal(doc.Conditions["HasAlarmEmail"]); !strings.Contains(string(cond), `"none"`) {
		t.Errorf("HasAlarmEmail %s; want true unless AlarmEmail is none", cond)
	}
	// CloudWatch must be able to use the topic's key, or no alarm ever arrives.
	_, topic := doc.first(t, "AWS::SNS::Topic", "AlarmTopic")
	key := refOf(t, topic.Properties["KmsMasterKeyId"])
	policy, _ := json.Marshal(doc.Resources[key].Properties["KeyPolicy"])
	if !regexp.MustCompile(`"Action":\["kms:Decrypt","kms:GenerateDataKey\*"\],"Effect":"Allow","Principal":\{"Service":"cloudwatch.amazonaws.com"\}`).Match(policy) {
		t.Errorf("the alarm topic's key %s does not let CloudWatch publish: %s", key, policy)
	}
}

// A newcomer finds every secret to fill and every URL to open in the
// stack's outputs.
func TestOutputsForNewcomers(t *testing.T) {
	for _, name := range []string{
		"EventsUrl", "GrafanaUrl", "AlbDnsName", "CollabmakerApiKeySecret", "BackendApiKeySecret",
		"GrafanaAdminPasswordSecret", "GrafanaOAuthSecret", "GrafanaOAuthRedirectUrl", "AlertTargetSecret", "ClusterName", "AlloyServiceName", "AlertmanagerServiceName",
		"AlloyLogGroup", "AlarmTopicArn", "LokiBucketName", "LogBucketName",
	} {
		if _, ok := doc.Outputs[name]; !ok {
			t.Errorf("no stack output %s", name)
		}
	}
	if got := joined(doc.Outputs["EventsUrl"]["Value"]); got != `https://{"Ref":"DomainName"}/v1/events` {
		t.Errorf("EventsUrl = %s", got)
	}
}

// --- helpers ---

func refOf(t *testing.T, v any) string {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		if r, ok := v["Ref"].(string); ok {
			return r
		}
		if ga, ok := v["Fn::GetAtt"].([]any); ok {
			return ga[0].(string)
		}
	}
	t.Fatalf("%v is no reference", v)
	return ""
}

// statementsOf lists the statements of every policy attached to role.
func (d template) statementsOf(role string) []map[string]any {
	var out []map[string]any
	for _, p := range d.ofType("AWS::IAM::Policy") {
		roles, _ := json.Marshal(p.Properties["Roles"])
		if !strings.Contains(string(roles), `"Ref":"`+role+`"`) {
			continue
		}
		for _, s := range p.Properties["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			out = append(out, s.(map[string]any))
		}
	}
	return out
}

func (d template) taskDefinition(t *testing.T, prefix string) (string, resource) {
	return d.first(t, "AWS::ECS::TaskDefinition", prefix)
}

// first finds the resource of a type whose logical ID starts with prefix.
func (d template) first(t *testing.T, typ, prefix string) (string, resource) {
	t.Helper()
	for id, r := range d.ofType(typ) {
		if strings.HasPrefix(id, prefix) {
			return id, r
		}
	}
	t.Fatalf("no %s %s", typ, prefix)
	return "", resource{}
}

// ECS Exec is opt-in (-c ecsExec=true): off, no service allows it; on, the
// Loki, Grafana and Alertmanager services do (alloy-custom's scratch image
// has nothing to run), their task roles get the ssmmessages actions, and
// cdk-nag still finds nothing unsuppressed.
func TestECSExecIsOptIn(t *testing.T) {
	for id, svc := range doc.ofType("AWS::ECS::Service") {
		if svc.Properties["EnableExecuteCommand"] == true {
			t.Errorf("%s allows ECS Exec without -c ecsExec=true", id)
		}
	}
	app := awscdk.NewApp(nil)
	cfg, err := defaultConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Region, cfg.ECSExec = testRegion, true
	stack := NewCuratedStack(app, "ExecTest", cfg, shared, &awscdk.StackProps{Env: &awscdk.Environment{Region: jsii.String(testRegion)}})
	checkWithNag(app, false)
	var withExec template
	raw, _ := json.Marshal(assertions.Template_FromStack(stack, nil).ToJSON())
	if err := json.Unmarshal(raw, &withExec); err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"LokiService", "GrafanaService", "AlertmanagerService", "AlloyService"} {
		_, svc := withExec.first(t, "AWS::ECS::Service", prefix)
		if want := prefix != "AlloyService"; svc.Properties["EnableExecuteCommand"] != want {
			t.Errorf("%s: EnableExecuteCommand %v; want %v", prefix, svc.Properties["EnableExecuteCommand"], want)
		}
	}
	_, td := withExec.taskDefinition(t, "LokiTask")
	grants, _ := json.Marshal(withExec.statementsOf(refOf(t, td.Properties["TaskRoleArn"])))
	if !strings.Contains(string(grants), "ssmmessages:CreateControlChannel") {
		t.Errorf("Loki's task role cannot open an ECS Exec session: %s", grants)
	}
	rule := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
	for _, e := range *assertions.Annotations_FromStack(stack).FindError(jsii.String("*"), rule) {
		t.Errorf("with ECS Exec, cdk-nag: %s: %v", *e.Id, e.Entry.Data)
	}
}
