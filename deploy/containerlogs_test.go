package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// Every service of the stack (alloy-custom, Loki, Grafana, Alertmanager)
// sends its container output through a FireLens router to alloy-custom's
// container-log endpoint (by its Cloud Map name, on a port the ALB never
// forwards to), with a copy in its own CloudWatch log group that the
// log-based alarms read.
func TestContainerLogsGoThroughFireLens(t *testing.T) {
	cfg, _ := defaultConfig()
	for _, svc := range []struct{ task, container, name string }{
		{"AlloyTask", "alloy", "alloy"}, {"LokiTask", "loki", "loki"}, {"GrafanaTask", "grafana", "grafana"},
		{"AlertmanagerTask", "alertmanager", "alertmanager"},
	} {
		main := doc.container(t, svc.task, svc.container)
		if driver := main["LogConfiguration"].(map[string]any)["LogDriver"]; driver != "awsfirelens" {
			t.Errorf("%s logs with %v; want awsfirelens", svc.container, driver)
		}
		router := doc.container(t, svc.task, "log-router")
		fl, _ := json.Marshal(router["FirelensConfiguration"])
		if want := `{"Options":{"config-file-type":"file","config-file-value":"/etc/curated-log-router/outputs.conf","enable-ecs-log-metadata":"false"},"Type":"fluentbit"}`; string(fl) != want {
			t.Errorf("%s router: FirelensConfiguration %s; want %s", svc.task, fl, want)
		}
		if img := joined(router["Image"]); !strings.HasSuffix(img, "/alloy-curated/fluent-bit:"+upstreamTag(cfg.Images[imageFluentBit])) {
			t.Errorf("%s router runs %s; want the mirrored AWS for Fluent Bit", svc.task, img)
		}
		if router["Essential"] != true {
			t.Errorf("%s router is not essential: a task whose router died would lose its logs silently", svc.task)
		}
		// The router's own output goes to CloudWatch: the fallback that
		// tells why lines did not arrive.
		rl, _ := json.Marshal(router["LogConfiguration"])
		if !strings.Contains(string(rl), `"LogDriver":"awslogs"`) || !strings.Contains(string(rl), svc.name+"logrouterLogs") {
			t.Errorf("%s router logs to %s; want awslogs into its own group", svc.task, rl)
		}
		deps, _ := json.Marshal(router["DependsOn"])
		if string(deps) != `[{"Condition":"SUCCESS","ContainerName":"log-router-config-init"}]` {
			t.Errorf("%s router starts %s; want after its configuration is written", svc.task, deps)
		}
		mounts, _ := json.Marshal(router["MountPoints"])
		if !strings.Contains(string(mounts), `{"ContainerPath":"/etc/curated-log-router","ReadOnly":true,"SourceVolume":"log-router-config"}`) {
			t.Errorf("%s router mounts %s", svc.task, mounts)
		}
		// What the init container writes: the collector's endpoint, the
		// service label, the labels configs/container_logs.alloy expects,
		// and the CloudWatch copy into the service's own group.
		conf := joined(envOf(doc.container(t, svc.task, "log-router-config-init"))["CONFIG"])
		for _, want := range []string{
			"Name              loki", "Host              alloy.curated.internal", fmt.Sprintf("Port              %d", containerLogsPort),
			"Labels            service=" + svc.name, "Label_keys        $source,$container_id", "Drop_single_key   raw",
			"Name              cloudwatch_logs", `log_group_name    {"Ref":"` + svc.name + "Logs", "log_key           log",
		} {
			if !strings.Contains(conf, want) {
				t.Errorf("%s router configuration lacks %q:\n%s", svc.task, want, conf)
			}
		}
	}

	if alloy := doc.container(t, "AlloyTask", "alloy"); !portsOf(alloy)[containerLogsPort] {
		t.Errorf("alloy does not expose the container-log port %d", containerLogsPort)
	}
	// The ALB forwards to the event API and Grafana only.
	for id, tg := range doc.ofType("AWS::ElasticLoadBalancingV2::TargetGroup") {
		if port := tg.Properties["Port"]; port == float64(containerLogsPort) {
			t.Errorf("target group %s forwards to the container-log port", id)
		}
	}
	// A router that gives lines up is counted from its own log group.
	filters := 0
	for _, f := range doc.ofType("AWS::Logs::MetricFilter") {
		if f.Properties["FilterPattern"] == `"cannot be retried"` {
			filters++
			mt, _ := json.Marshal(f.Properties["MetricTransformations"])
			if !regexp.MustCompile(`"MetricName":"LogRouterDroppedChunks-(alloy|loki|grafana|alertmanager)"`).Match(mt) {
				t.Errorf("drop filter publishes %s", mt)
			}
		}
	}
	if filters != 4 {
		t.Errorf("%d metric filters count the routers' dropped chunks; want 4", filters)
	}
}
