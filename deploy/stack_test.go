package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// Synthesizing starts CDK's Node.js kernel, which takes seconds: do it once.
var (
	testStack   awscdk.Stack
	tmpl        assertions.Template
	annotations assertions.Annotations
	doc         template
	shared      sharedFiles
)

// testRegion is the Seoul region the seed's team deploys in.
const testRegion = "ap-northeast-2"

type template struct {
	Resources  map[string]resource       `json:"Resources"`
	Parameters map[string]map[string]any `json:"Parameters"`
	Outputs    map[string]map[string]any `json:"Outputs"`
	Conditions map[string]any            `json:"Conditions"`
	Rules      map[string]any            `json:"Rules"`
}

type resource struct {
	Type           string         `json:"Type"`
	Properties     map[string]any `json:"Properties"`
	DeletionPolicy string         `json:"DeletionPolicy"`
	Condition      string         `json:"Condition"`
	DependsOn      any            `json:"DependsOn"`
}

func TestMain(m *testing.M) {
	app := awscdk.NewApp(nil)
	files, err := loadSharedFiles("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared = files
	cfg, err := defaultConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cfg.Region = testRegion
	stack := NewCuratedStack(app, "Test", cfg, files, &awscdk.StackProps{Env: &awscdk.Environment{Region: jsii.String(cfg.Region)}})
	checkWithNag(app, true)
	testStack = stack
	tmpl = assertions.Template_FromStack(stack, nil)
	annotations = assertions.Annotations_FromStack(stack)
	raw, err := json.Marshal(tmpl.ToJSON())
	if err == nil {
		err = json.Unmarshal(raw, &doc)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "reading the synthesized template:", err)
		os.Exit(1)
	}
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

func TestVpcSpansTwoAZsWithPublicAndPrivateSubnets(t *testing.T) {
	check(t, func() {
		tmpl.ResourceCountIs(jsii.String("AWS::EC2::VPC"), jsii.Number(1))
	})
	check(t, func() {
		tmpl.ResourceCountIs(jsii.String("AWS::EC2::NatGateway"), jsii.Number(2))
	})
	var public, private []string
	azs := map[string]bool{}
	for id, r := range doc.ofType("AWS::EC2::Subnet") {
		az, _ := json.Marshal(r.Properties["AvailabilityZone"])
		azs[string(az)] = true
		if r.Properties["MapPublicIpOnLaunch"] == true {
			public = append(public, id)
		} else {
			private = append(private, id)
		}
	}
	if len(public) != 2 || len(private) != 2 || len(azs) != 2 {
		t.Fatalf("subnets: public %v, private %v over %d AZs; want 2 + 2 over 2", public, private, len(azs))
	}
}

// Nothing is looked up at synth time (the stack's environment names no
// account): the subnets' zones come from Fn::GetAZs when CloudFormation
// runs, so there is no cdk.context.json to commit and no cached lookup to
// drift from the account.
func TestAvailabilityZonesAreResolvedAtDeployTime(t *testing.T) {
	for id, r := range doc.ofType("AWS::EC2::Subnet") {
		az, _ := json.Marshal(r.Properties["AvailabilityZone"])
		if !strings.Contains(string(az), "Fn::GetAZs") {
			t.Errorf("subnet %s: zone %s is fixed at synth time", id, az)
		}
	}
}

func TestAlbTerminatesTLSAndRedirectsHTTP(t *testing.T) {
	check(t, func() {
		tmpl.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::LoadBalancer"), map[string]any{
			"Scheme": "internet-facing",
			"Type":   "application",
		})
	})
	check(t, func() {
		tmpl.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::Listener"), map[string]any{
			"Port":     443,
			"Protocol": "HTTPS",
			// The given certificate, or the one the stack creates (TestCertificateAndDNSWhenAsked).
			"Certificates": []any{map[string]any{"CertificateArn": map[string]any{
				"Fn::If": []any{"CreateCertificate", map[string]any{"Ref": "Certificate"}, map[string]any{"Ref": "CertificateArn"}}}}},
			"DefaultActions": []any{assertions.Match_ObjectLike(&map[string]any{
				"Type": "fixed-response",
			})},
		})
	})
	check(t, func() {
		tmpl.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::Listener"), map[string]any{
			"Port":     80,
			"Protocol": "HTTP",
			"DefaultActions": []any{map[string]any{
				"Type": "redirect",
				"RedirectConfig": map[string]any{
					"Port": "443", "Protocol": "HTTPS", "StatusCode": "HTTP_301",
				},
			}},
		})
	})
	if p := doc.Parameters["CertificateArn"]; p["Type"] != "String" || p["Default"] != "" {
		t.Errorf("CertificateArn parameter = %v; want a String, empty by default (the stack creates one)", p)
	}
}

// Without CertificateArn the stack requests DomainName's certificate from
// ACM, validated by DNS in HostedZoneId; with HostedZoneId it points
// DomainName at the ALB; with neither, the template refuses to start.
func TestCertificateAndDNSWhenAsked(t *testing.T) {
	certs := doc.ofType("AWS::CertificateManager::Certificate")
	cert, ok := certs["Certificate"]
	if !ok || len(certs) != 1 {
		t.Fatalf("certificates %v; want one, Certificate", certs)
	}
	validation, _ := json.Marshal(cert.Properties["DomainValidationOptions"])
	if cert.Condition != "CreateCertificate" || cert.Properties["ValidationMethod"] != "DNS" ||
		string(validation) != `[{"DomainName":{"Ref":"DomainName"},"HostedZoneId":{"Ref":"HostedZoneId"}}]` {
		t.Errorf("certificate: condition %q, %v; want DNS validation of DomainName in HostedZoneId, only without CertificateArn", cert.Condition, cert.Properties)
	}
	cond, _ := json.Marshal(doc.Conditions["CreateCertificate"])
	if string(cond) != `{"Fn::Equals":[{"Ref":"CertificateArn"},""]}` {
		t.Errorf("CreateCertificate is %s", cond)
	}
	records := doc.ofType("AWS::Route53::RecordSet")
	alias, ok := records["DomainAlias"]
	if !ok || len(records) != 1 {
		t.Fatalf("record sets %v; want DomainAlias", records)
	}
	target, _ := json.Marshal(alias.Properties["AliasTarget"])
	if alias.Condition != "HasHostedZone" || alias.Properties["Type"] != "A" ||
		!strings.Contains(string(target), `"DNSName":{"Fn::GetAtt":["Alb`) || !strings.Contains(string(target), `"CanonicalHostedZoneID"]}`) {
		t.Errorf("DomainAlias: condition %q, %v; want an A alias of the ALB in HostedZoneId", alias.Condition, alias.Properties)
	}
	if rule, _ := json.Marshal(doc.Rules["CertificateOrHostedZone"]); !strings.Contains(string(rule), `"Fn::Or"`) ||
		!strings.Contains(string(rule), `{"Ref":"CertificateArn"}`) || !strings.Contains(string(rule), `{"Ref":"HostedZoneId"}`) {
		t.Errorf("no template rule requires CertificateArn or HostedZoneId: %s", rule)
	}
}

func TestEventAPIPathGoesToAlloyWithHealthCheck(t *testing.T) {
	check(t, func() {
		tmpl.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::ListenerRule"), map[string]any{
			"Conditions": []any{map[string]any{
				"Field":             "path-pattern",
				"PathPatternConfig": map[string]any{"Values": []any{"/v1/events", "/v1/events/*"}},
			}},
			"Actions": []any{assertions.Match_ObjectLike(&map[string]any{
				"Type":           "forward",
				"TargetGroupArn": map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^AlbHttpsAlloyGroup"))},
			})},
		})
	})
	check(t, func() {
		tmpl.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::TargetGroup"), map[string]any{
			"Port":                       eventsPort,
			"Protocol":                   "HTTP",
			"TargetType":                 "ip",
			"HealthCheckPath":            "/healthz",
			"HealthyThresholdCount":      2,
			"TargetGroupAttributes":      assertions.Match_ArrayWith(&[]any{map[string]any{"Key": "deregistration_delay.timeout_seconds", "Value": "15"}}),
			"HealthCheckIntervalSeconds": 10,
		})
	})
}

func TestAlloyServiceIsHighlyAvailable(t *testing.T) {
	id, svc := doc.service(t, "Alloy")
	if svc.Properties["DesiredCount"] != float64(2) || svc.Properties["LaunchType"] != "FARGATE" {
		t.Errorf("%s: DesiredCount %v, LaunchType %v; want 2 tasks on FARGATE", id, svc.Properties["DesiredCount"], svc.Properties["LaunchType"])
	}
	dc := svc.Properties["DeploymentConfiguration"].(map[string]any)
	if dc["MinimumHealthyPercent"] != float64(100) || dc["DeploymentCircuitBreaker"] == nil {
		t.Errorf("deployment configuration %v: want 100%% healthy during rollouts and a rollback circuit breaker", dc)
	}
	// Spread over AZs: Fargate places tasks across the subnets given, which
	// must be exactly the two private subnets.
	subnets := doc.serviceSubnets(t, svc)
	if len(subnets) != 2 {
		t.Fatalf("subnets %v; want the 2 private subnets", subnets)
	}
	for _, s := range subnets {
		if doc.Resources[s].Properties["MapPublicIpOnLaunch"] != false {
			t.Errorf("subnet %s is public", s)
		}
	}
	for _, name := range []string{"Alloy", "Loki", "Grafana"} {
		_, svc := doc.service(t, name)
		nc := svc.Properties["NetworkConfiguration"].(map[string]any)["AwsvpcConfiguration"].(map[string]any)
		if nc["AssignPublicIp"] != "DISABLED" {
			t.Errorf("%s: AssignPublicIp = %v", name, nc["AssignPublicIp"])
		}
	}
}

func TestAlloyAutoscalesOnCPUAndRequests(t *testing.T) {
	check(t, func() {
		tmpl.HasResourceProperties(jsii.String("AWS::ApplicationAutoScaling::ScalableTarget"), map[string]any{
			"MinCapacity":       2,
			"MaxCapacity":       10,
			"ScalableDimension": "ecs:service:DesiredCount",
		})
	})
	metrics := map[string]bool{}
	for _, r := range doc.ofType("AWS::ApplicationAutoScaling::ScalingPolicy") {
		cfg := r.Properties["TargetTrackingScalingPolicyConfiguration"].(map[string]any)
		spec := cfg["PredefinedMetricSpecification"].(map[string]any)
		metrics[spec["PredefinedMetricType"].(string)] = true
	}
	if !metrics["ECSServiceAverageCPUUtilization"] || !metrics["ALBRequestCountPerTarget"] || len(metrics) != 2 {
		t.Errorf("target tracking on %v; want CPU and ALB request count", metrics)
	}
}

func TestContainersAndEnvironment(t *testing.T) {
	alloy := doc.container(t, "AlloyTask", "alloy")
	env := envOf(alloy)
	if env["LOKI_PUSH_URL"] != "http://loki.curated.internal:3100/loki/api/v1/push" {
		t.Errorf("LOKI_PUSH_URL = %v", env["LOKI_PUSH_URL"])
	}
	secrets := map[string]bool{}
	for _, s := range alloy["Secrets"].([]any) {
		secrets[s.(map[string]any)["Name"].(string)] = true
	}
	if !secrets["COLLABMAKER_API_KEY"] || !secrets["BACKEND_API_KEY"] {
		t.Errorf("alloy secrets %v; want both API keys from Secrets Manager", secrets)
	}
	if ports := portsOf(alloy); !ports[eventsPort] || !ports[alloyUIPort] {
		t.Errorf("alloy ports %v", ports)
	}

	loki := doc.container(t, "LokiTask", "loki")
	if ports := portsOf(loki); !ports[lokiPort] || len(ports) != 1 {
		t.Errorf("loki ports %v", ports)
	}
	if dep := loki["DependsOn"]; dep == nil {
		t.Error("loki must wait for its config file")
	}
	lokiInit := doc.container(t, "LokiTask", "loki-config-init")
	if cfg, _ := json.Marshal(envOf(lokiInit)["CONTENT"]); !strings.Contains(string(cfg), "object_store: s3") ||
		strings.Contains(string(cfg), "${") || !strings.Contains(string(cfg), "LokiBucket") {
		t.Errorf("Loki's config must store on S3 in the stack's bucket, with nothing left to expand: %s", cfg)
	}
}

// The stop timeout must outlast the shutdown that configs/fargate.alloy asks
// for, or ECS kills tasks that still hold acknowledged events.
func TestAlloyStopTimeoutCoversDrain(t *testing.T) {
	cfg, err := os.ReadFile("../configs/fargate.alloy")
	if err != nil {
		t.Fatal(err)
	}
	var total time.Duration
	for _, attr := range []string{"graceful_shutdown_timeout", "drain_timeout"} {
		m := regexp.MustCompile(attr + `\s*=\s*"([^"]+)"`).FindSubmatch(cfg)
		if m == nil {
			t.Fatalf("configs/fargate.alloy sets no %s", attr)
		}
		d, err := time.ParseDuration(string(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		total += d
	}
	stop := doc.container(t, "AlloyTask", "alloy")["StopTimeout"]
	if s, ok := stop.(float64); !ok || time.Duration(s)*time.Second <= total || s > 120 {
		t.Errorf("alloy StopTimeout = %v s; want more than %v (shutdown + drain) and at most Fargate's 120 s", stop, total)
	}
}

func TestCloudMapNamespace(t *testing.T) {
	check(t, func() {
		tmpl.HasResourceProperties(jsii.String("AWS::ServiceDiscovery::PrivateDnsNamespace"), map[string]any{
			"Name": namespace,
		})
	})
	names := map[string]bool{}
	for _, r := range doc.ofType("AWS::ServiceDiscovery::Service") {
		names[r.Properties["Name"].(string)] = true
	}
	for _, n := range []string{"alloy", "loki", "grafana", "alertmanager"} {
		if !names[n] {
			t.Errorf("no Cloud Map service %q (have %v)", n, names)
		}
	}
}

// Only ALB -> alloy, ALB -> Grafana, alloy -> Loki, Grafana -> Loki, Loki ->
// Alertmanager, Grafana -> Alertmanager, Loki and Grafana -> their EFS; the world
// reaches the ALB's 80 and 443 and nothing else.
func TestSecurityGroupsAllowOnlyTheDataPaths(t *testing.T) {
	got := doc.ingressRules(t)
	want := []string{
		"AlbSecurityGroup:443<-0.0.0.0/0",
		"AlbSecurityGroup:80<-0.0.0.0/0",
		"AlertmanagerDataEfsSecurityGroup:2049<-AlertmanagerSg",
		"AlertmanagerSg:9093<-GrafanaSg",
		"AlertmanagerSg:9093<-LokiSg",
		"AlloySg:3500<-" + vpcCidr, // container logs from log routers (configs/container_logs.alloy)
		"AlloySg:8080<-AlbSecurityGroup",
		"AlloySpoolEfsSecurityGroup:2049<-AlloySg",
		"GrafanaDbSecurityGroup:5433<-GrafanaSg",
		"GrafanaSg:3000<-AlbSecurityGroup",
		"LokiDataEfsSecurityGroup:2049<-LokiSg",
		"LokiSg:3100<-AlloySg",
		"LokiSg:3100<-EraseSg",
		"LokiSg:3100<-GrafanaSg",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("ingress rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Loki's task role may do what Loki's S3 client does on its bucket, mount
// its EFS, and nothing else; Alertmanager's may publish its heartbeat and
// mount its EFS; alloy-custom's may mount its spool; the others get nothing.
// Beside that, each service's log router may write the CloudWatch copy of
// its logs into the service's own log group.
func TestLokiTaskRoleIsScopedToItsBucket(t *testing.T) {
	var got []string
	for id, r := range doc.ofType("AWS::IAM::Policy") {
		roles, _ := json.Marshal(r.Properties["Roles"])
		if strings.Contains(string(roles), "AlertmanagerTaskTaskRole") {
			// Publishing the heartbeat (TestAlertPathHasADeadMansSwitch) and
			// mounting its state's EFS, nothing else.
			stmts, _ := json.Marshal(r.Properties["PolicyDocument"])
			if !regexp.MustCompile(`^\{"Statement":\[` + logCopy("alertmanager") + `\{"Action":"sns:Publish","Effect":"Allow","Resource":\{"Ref":"AlertHeartbeat[0-9A-F]{8}"\}\},` +
				`\{"Action":\["elasticfilesystem:ClientMount","elasticfilesystem:ClientWrite"\],"Effect":"Allow","Resource":\{"Fn::GetAtt":\["AlertmanagerData[0-9A-F]{8}","Arn"\]\}\}\],"Version":"2012-10-17"\}$`).Match(stmts) {
				t.Errorf("%s grants Alertmanager's task role %s; want publishing its heartbeat and mounting its EFS only", id, stmts)
			}
		}
		if strings.Contains(string(roles), "AlloyTaskTaskRole") {
			stmts, _ := json.Marshal(r.Properties["PolicyDocument"])
			if !regexp.MustCompile(`^\{"Statement":\[\{"Action":\["elasticfilesystem:ClientMount","elasticfilesystem:ClientWrite"\],"Effect":"Allow","Resource":\{"Fn::GetAtt":\["AlloySpool[0-9A-F]{8}","Arn"\]\}\},` +
				strings.TrimSuffix(logCopy("alloy"), ",") + `\],"Version":"2012-10-17"\}$`).Match(stmts) {
				t.Errorf("alloy-custom's task role: %s; want mounting its spool's EFS and writing its logs' CloudWatch copy only", stmts)
			}
		}
		if strings.Contains(string(roles), "GrafanaTaskTaskRole") {
			stmts, _ := json.Marshal(r.Properties["PolicyDocument"])
			if !regexp.MustCompile(`^\{"Statement":\[` + strings.TrimSuffix(logCopy("grafana"), ",") + `\],"Version":"2012-10-17"\}$`).Match(stmts) {
				t.Errorf("%s grants Grafana's task role %s; want writing its logs' CloudWatch copy only (its database password comes through the execution role)", id, stmts)
			}
		}
		if !strings.Contains(string(roles), "LokiTaskTaskRole") {
			continue
		}
		for _, s := range r.Properties["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			s := s.(map[string]any)
			if s["Effect"] != "Allow" {
				continue
			}
			res, _ := json.Marshal(s["Resource"])
			target := regexp.MustCompile(`"Fn::GetAtt":\["([A-Za-z]+?)[0-9A-F]{8}","Arn"\]`).FindAllStringSubmatch(string(res), -1)
			if len(target) != 1 || strings.Contains(string(res), `"*"`) {
				t.Errorf("%s: statement on %s; want one resource of the stack", id, res)
				continue
			}
			what := target[0][1]
			if strings.Contains(string(res), "/*") {
				what += "/*"
			}
			got = append(got, fmt.Sprintf("%s %s", what, strings.Join(toStrings(asList(s["Action"])), ",")))
		}
	}
	sort.Strings(got)
	want := []string{
		"LokiBucket s3:ListBucket",
		"LokiBucket/* s3:GetObject,s3:PutObject,s3:DeleteObject",
		"LokiData elasticfilesystem:ClientMount,elasticfilesystem:ClientWrite",
		"lokiLogs logs:CreateLogStream,logs:PutLogEvents",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Loki task role:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// Every log group keeps 30 days.
// logCopy is the statement that lets a log router write the CloudWatch
// copy of service's logs into its log group, and nowhere else.
func logCopy(service string) string {
	return `\{"Action":\["logs:CreateLogStream","logs:PutLogEvents"\],"Effect":"Allow","Resource":\{"Fn::GetAtt":\["` + service + `Logs[0-9A-F]{8}","Arn"\]\}\},`
}

func TestLogGroups(t *testing.T) {
	groups := doc.ofType("AWS::Logs::LogGroup")
	// alloy, loki, grafana, alertmanager, erase, three init containers,
	// Loki's writer lock, four log routers, flow logs
	if len(groups) != 14 {
		t.Errorf("%d log groups; want 14", len(groups))
	}
	for id, r := range groups {
		if r.Properties["RetentionInDays"] != float64(30) {
			t.Errorf("log group %s keeps logs %v days; want 30", id, r.Properties["RetentionInDays"])
		}
	}
}

func TestConfigValidation(t *testing.T) {
	def, err := defaultConfig()
	if err != nil {
		t.Fatal(err)
	}
	def.Region = testRegion
	cfg := def
	cfg.AlloyMin = 1
	if err := cfg.validate(); err == nil || !strings.Contains(err.Error(), "alloyMinTasks") {
		t.Errorf("one alloy task must be refused: %v", err)
	}
	cfg = def
	cfg.AlloyMax = 1
	if err := cfg.validate(); err == nil || !strings.Contains(err.Error(), "alloyMaxTasks") {
		t.Errorf("max below min must be refused: %v", err)
	}
	if err := def.validate(); err != nil {
		t.Error(err)
	}
}

// --- template helpers ---

// check turns a failed CDK assertion, which panics, into a test error.
func check(t *testing.T, assertion func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%v", r)
		}
	}()
	assertion()
}

func (d template) ofType(typ string) map[string]resource {
	out := map[string]resource{}
	for id, r := range d.Resources {
		if r.Type == typ {
			out[id] = r
		}
	}
	return out
}

// service finds the ECS service whose logical ID starts with prefix+"Service".
func (d template) service(t *testing.T, prefix string) (string, resource) {
	t.Helper()
	for id, r := range d.ofType("AWS::ECS::Service") {
		if strings.HasPrefix(id, prefix+"Service") {
			return id, r
		}
	}
	t.Fatalf("no %s service", prefix)
	return "", resource{}
}

func (d template) serviceSubnets(t *testing.T, svc resource) []string {
	t.Helper()
	nc := svc.Properties["NetworkConfiguration"].(map[string]any)["AwsvpcConfiguration"].(map[string]any)
	var out []string
	for _, s := range nc["Subnets"].([]any) {
		out = append(out, s.(map[string]any)["Ref"].(string))
	}
	return out
}

func (d template) container(t *testing.T, taskPrefix, name string) map[string]any {
	t.Helper()
	for id, r := range d.ofType("AWS::ECS::TaskDefinition") {
		if !strings.HasPrefix(id, taskPrefix) {
			continue
		}
		for _, c := range r.Properties["ContainerDefinitions"].([]any) {
			if c := c.(map[string]any); c["Name"] == name {
				return c
			}
		}
	}
	t.Fatalf("no container %s in %s", name, taskPrefix)
	return nil
}

// checkEnv compares a container's environment (tokens rendered by joined)
// with want.
func checkEnv(t *testing.T, container string, c map[string]any, want map[string]string) {
	t.Helper()
	env := envOf(c)
	for k, w := range want {
		if got := joined(env[k]); got != w {
			t.Errorf("%s: %s = %s; want %s", container, k, got, w)
		}
	}
}

func envOf(c map[string]any) map[string]any {
	out := map[string]any{}
	for _, e := range c["Environment"].([]any) {
		e := e.(map[string]any)
		out[e["Name"].(string)] = e["Value"]
	}
	return out
}

func portsOf(c map[string]any) map[int]bool {
	out := map[int]bool{}
	for _, p := range c["PortMappings"].([]any) {
		out[int(p.(map[string]any)["ContainerPort"].(float64))] = true
	}
	return out
}

// ingressRules lists every ingress rule, inline or standalone, as
// "GroupPrefix:port<-source", with logical IDs cut before their hash.
func (d template) ingressRules(t *testing.T) []string {
	t.Helper()
	short := func(v any) string {
		b, _ := json.Marshal(v)
		m := regexp.MustCompile(`"Fn::GetAtt":\["([A-Za-z]+?)[0-9A-F]{8}","GroupId"\]`).FindStringSubmatch(string(b))
		if m == nil {
			return string(b)
		}
		return m[1]
	}
	var out []string
	add := func(group string, rule map[string]any) {
		src, ok := rule["CidrIp"].(string)
		if !ok {
			src = short(rule["SourceSecurityGroupId"])
		}
		port := fmt.Sprint(rule["FromPort"])
		if proto := rule["IpProtocol"]; proto != "tcp" {
			port += fmt.Sprintf("/%v", proto)
		}
		out = append(out, fmt.Sprintf("%s:%s<-%s", group, port, src))
		if rule["FromPort"] != rule["ToPort"] {
			t.Errorf("%s: port range %v-%v; want single ports", group, rule["FromPort"], rule["ToPort"])
		}
	}
	for id, r := range d.ofType("AWS::EC2::SecurityGroup") {
		rules, _ := r.Properties["SecurityGroupIngress"].([]any)
		for _, rule := range rules {
			add(regexp.MustCompile(`[0-9A-F]{8}$`).ReplaceAllString(id, ""), rule.(map[string]any))
		}
	}
	for _, r := range d.ofType("AWS::EC2::SecurityGroupIngress") {
		add(short(r.Properties["GroupId"]), r.Properties)
	}
	sort.Strings(out)
	return out
}

// Every alloy-custom task mounts the same EFS spool, where configs/
// fargate.alloy's durable block keeps what it acknowledged, so a task that
// replaces a dead one adopts its spool (docs/reliability.md).
func TestAlloySpoolOnSharedEFS(t *testing.T) {
	alloy := doc.container(t, "AlloyTask", "alloy")
	if got := envOf(alloy)["SPOOL_PATH"]; got != alloySpoolPath {
		t.Errorf("SPOOL_PATH = %v; want %s", got, alloySpoolPath)
	}
	mounted := false
	for _, m := range alloy["MountPoints"].([]any) {
		m := m.(map[string]any)
		if m["ContainerPath"] == alloySpoolPath && m["SourceVolume"] == "alloy-spool" && m["ReadOnly"] == false {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("alloy mounts %v; want alloy-spool read-write at %s", alloy["MountPoints"], alloySpoolPath)
	}
	var volume map[string]any
	for id, r := range doc.ofType("AWS::ECS::TaskDefinition") {
		if !strings.HasPrefix(id, "AlloyTask") {
			continue
		}
		for _, v := range r.Properties["Volumes"].([]any) {
			if v := v.(map[string]any); v["Name"] == "alloy-spool" {
				volume = v
			}
		}
	}
	efs, _ := json.Marshal(volume["EFSVolumeConfiguration"])
	if volume == nil || !strings.Contains(string(efs), `"TransitEncryption":"ENABLED"`) || !strings.Contains(string(efs), "AlloySpool") {
		t.Errorf("alloy-spool volume %s; want the AlloySpool EFS over TLS", efs)
	}
	found := false
	for _, r := range doc.ofType("AWS::EFS::AccessPoint") {
		b, _ := json.Marshal(r.Properties)
		if strings.Contains(string(b), `"Path":"/spool"`) && strings.Contains(string(b), `"Uid":"10001"`) {
			found = true
		}
	}
	if !found {
		t.Error("no EFS access point /spool owned by the image's user 10001")
	}
	cfg, err := os.ReadFile("../configs/fargate.alloy")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`durable \{\s*path = sys\.env\("SPOOL_PATH"\)`).Match(cfg) {
		t.Error(`configs/fargate.alloy does not put the durable spool at sys.env("SPOOL_PATH")`)
	}
}

// The erase task: cmd/curated-erase from the alloy-custom image, reaching
// Loki by its Cloud Map name, with no permissions of its own: who may
// erase is who may run it (docs/privacy.md).
func TestEraseTaskRunsTheCommandAgainstLoki(t *testing.T) {
	c := doc.container(t, "EraseTask", "erase")
	if ep, _ := json.Marshal(c["EntryPoint"]); string(ep) != `["/bin/curated-erase"]` {
		t.Errorf("erase entry point %s; want /bin/curated-erase", ep)
	}
	if got := envOf(c)["LOKI_URL"]; got != "http://loki.curated.internal:3100" {
		t.Errorf("LOKI_URL = %v", got)
	}
	if img, _ := json.Marshal(c["Image"]); !strings.Contains(string(img), "alloy-custom") {
		t.Errorf("erase image %s; want the alloy-custom image, which carries the command", img)
	}
	for id, r := range doc.ofType("AWS::IAM::Policy") {
		if roles, _ := json.Marshal(r.Properties["Roles"]); strings.Contains(string(roles), "EraseTaskTaskRole") {
			t.Errorf("%s grants the erase task's role permissions; it needs none", id)
		}
	}
}

// Every service on EFS waits for its file system's mount targets (#27):
// a task that starts before them cannot mount its volume on a first
// deploy, and the circuit breaker rolls the stack back.
func TestEFSServicesWaitForMountTargets(t *testing.T) {
	targets := map[string][]string{} // file system logical ID prefix -> mount target IDs
	for id, r := range doc.ofType("AWS::EFS::MountTarget") {
		fs, _ := json.Marshal(r.Properties["FileSystemId"])
		m := regexp.MustCompile(`"Ref":"([A-Za-z]+?)[0-9A-F]{8}"`).FindSubmatch(fs)
		if m == nil {
			t.Fatalf("mount target %s: file system %s", id, fs)
		}
		targets[string(m[1])] = append(targets[string(m[1])], id)
	}
	for service, fs := range map[string]string{"LokiService": "LokiData", "AlloyService": "AlloySpool", "AlertmanagerService": "AlertmanagerData"} {
		if len(targets[fs]) < 2 {
			t.Errorf("%s has %d mount targets; want one per AZ", fs, len(targets[fs]))
		}
		found := false
		for id, r := range doc.ofType("AWS::ECS::Service") {
			if !strings.HasPrefix(id, service) {
				continue
			}
			found = true
			deps := map[string]bool{}
			for _, d := range asList(r.DependsOn) {
				deps[fmt.Sprint(d)] = true
			}
			for _, mt := range targets[fs] {
				if !deps[mt] {
					t.Errorf("%s does not depend on %s's mount target %s", id, fs, mt)
				}
			}
		}
		if !found {
			t.Errorf("no %s", service)
		}
	}
}

// One Loki writer on the shared WAL (#27): Loki starts only once its
// sidecar holds the writer lock on the same EFS volume, and the sidecar is
// essential (without it Loki would run unguarded).
func TestLokiStartsOnlyHoldingTheWriterLock(t *testing.T) {
	lock := doc.container(t, "LokiTask", "loki-writer-lock")
	cmd, _ := json.Marshal(lock["Command"])
	if !strings.Contains(string(cmd), "exec flock /loki/.writer.lock") || lock["Essential"] != true {
		t.Errorf("writer lock %s (essential %v); want flock on /loki/.writer.lock, essential", cmd, lock["Essential"])
	}
	mounts, _ := json.Marshal(lock["MountPoints"])
	if !strings.Contains(string(mounts), `"ContainerPath":"/loki"`) || !strings.Contains(string(mounts), `"SourceVolume":"loki-data"`) {
		t.Errorf("writer lock mounts %s; want Loki's EFS volume at /loki", mounts)
	}
	hc, _ := lock["HealthCheck"].(map[string]any)
	if hc["StartPeriod"] != float64(300) {
		t.Errorf("writer lock health check %v; waiting for the old task (up to 120 s) must fall in the start period", hc)
	}
	deps, _ := json.Marshal(doc.container(t, "LokiTask", "loki")["DependsOn"])
	if !strings.Contains(string(deps), `{"Condition":"HEALTHY","ContainerName":"loki-writer-lock"}`) {
		t.Errorf("Loki depends on %s; want the writer lock HEALTHY first", deps)
	}
}

// The sidecar's script, run here with util-linux's flock (the same
// arguments as busybox's): a second holder waits until the first is gone,
// and marks itself held only then.
func TestWriterLockScriptExcludesASecondWriter(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Fatalf("flock (util-linux) is needed: %v", err)
	}
	dir := t.TempDir()
	run := func(name string) (*exec.Cmd, string) {
		marker := filepath.Join(dir, name)
		script := strings.ReplaceAll(fmt.Sprintf(writerLockScript, filepath.Join(dir, "writer.lock")), "/tmp/held", marker)
		cmd := exec.Command("sh", "-c", script)
		// Its own process group: stopping a container ends every process
		// in it, flock's command (which shares the lock) included.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
		return cmd, marker
	}
	held := func(marker string) bool { _, err := os.Stat(marker); return err == nil }
	first, firstHeld := run("first")
	waitFor(t, "the first holder", func() bool { return held(firstHeld) })
	_, secondHeld := run("second")
	// The second is running and blocked: give it every chance to be wrong.
	for i := 0; i < 10; i++ {
		time.Sleep(100 * time.Millisecond)
		if held(secondHeld) {
			t.Fatal("a second writer took the lock while the first held it")
		}
	}
	_ = syscall.Kill(-first.Process.Pid, syscall.SIGKILL)
	_ = first.Wait()
	waitFor(t, "the second holder after the first died", func() bool { return held(secondHeld) })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 10 s", what)
		}
	}
}
