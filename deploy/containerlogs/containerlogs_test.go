package containerlogs

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"
)

// An application team's task: its container's output goes to the
// collector's default endpoint, with no CloudWatch copy and no extra
// permissions.
func TestApplicationTaskRoutesToTheCollector(t *testing.T) {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("App"), &awscdk.StackProps{Env: &awscdk.Environment{Region: jsii.String("ap-northeast-2")}})
	td := awsecs.NewFargateTaskDefinition(stack, jsii.String("Task"), nil)
	logs := New(stack, "AppLogs", &Props{
		TaskDefinition: td,
		Service:        "collabmaker",
		RouterImage:    awsecs.ContainerImage_FromRegistry(jsii.String("example/aws-for-fluent-bit:3.5.10"), nil),
		InitImage:      awsecs.ContainerImage_FromRegistry(jsii.String("example/busybox:1.37"), nil),
		RouterLogGroup: awslogs.NewLogGroup(stack, jsii.String("RouterLogs"), nil),
	})
	td.AddContainer(jsii.String("app"), &awsecs.ContainerDefinitionOptions{
		Image:          awsecs.ContainerImage_FromRegistry(jsii.String("example/app:1"), nil),
		MemoryLimitMiB: jsii.Number(256),
		Logging:        logs.LogDriver(),
	})
	tmpl := assertions.Template_FromStack(stack, nil).ToJSON()
	b, _ := json.Marshal(tmpl)
	doc := string(b)
	for _, want := range []string{
		`"LogDriver":"awsfirelens"`,
		`"config-file-value":"/etc/curated-log-router/outputs.conf"`,
		`Host              alloy.curated.internal`,
		`Port              3500`,
		`Labels            service=collabmaker`,
		`"MetricName":"LogRouterDroppedChunks-collabmaker","MetricNamespace":"AlloyCurated/LogRouter"`,
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("template lacks %s", want)
		}
	}
	if strings.Contains(doc, "cloudwatch_logs") {
		t.Error("the router copies to CloudWatch without CopyTo")
	}
	for id, r := range (*tmpl)["Resources"].(map[string]any) {
		r := r.(map[string]any)
		roles, _ := json.Marshal(r["Properties"].(map[string]any)["Roles"])
		if r["Type"] == "AWS::IAM::Policy" && strings.Contains(string(roles), "TaskTaskRole") {
			t.Errorf("%s grants the task role %v without CopyTo", id, r["Properties"])
		}
	}
}

func TestRouterConfigCopiesToCloudWatchWhenAsked(t *testing.T) {
	got := RouterConfig("loki", "collector.internal", 3600, &CloudWatchCopy{Region: "eu-west-1", Group: "loki-logs"})
	want := `[OUTPUT]
    Name              loki
    Match             *-firelens-*
    Host              collector.internal
    Port              3600
    Labels            service=loki
    Label_keys        $source,$container_id
    Remove_keys       source,container_id,container_name
    Line_format       key_value
    Drop_single_key   raw
    Retry_Limit       15
[OUTPUT]
    Name              cloudwatch_logs
    Match             *-firelens-*
    region            eu-west-1
    log_group_name    loki-logs
    log_stream_prefix loki/
    log_key           log
    auto_create_group false
    Retry_Limit       15
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
