// Package containerlogs is a CDK construct that sends the stdout and stderr
// of a Fargate task's containers to alloy-curated's container-log endpoint
// (configs/container_logs.alloy) through FireLens: an AWS for Fluent Bit
// router in the task pushes them in Loki's push format to the collector's
// Cloud Map name, never through the public load balancer. A copy can go to
// CloudWatch Logs too, for services that must stay readable while the
// pipeline itself is down (alloy-curated's own services).
//
// A task uses it in three steps (docs/container-logs.md):
//
//	logs := containerlogs.New(stack, "AppLogs", &containerlogs.Props{
//		TaskDefinition: td, Service: "collabmaker",
//		RouterImage: fluentBit, InitImage: busybox, RouterLogGroup: group,
//	})
//	td.AddContainer(jsii.String("app"), &awsecs.ContainerDefinitionOptions{..., Logging: logs.LogDriver()})
//	// alarm on logs.DroppedChunks(...)
package containerlogs

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Defaults: where alloy-curated's stack serves the endpoint.
const (
	DefaultHost = "alloy.curated.internal"
	DefaultPort = 3500
	// DefaultMetricNamespace is where DroppedChunks counts.
	DefaultMetricNamespace = "AlloyCurated/LogRouter"
)

// Props configure the router of one task definition.
type Props struct {
	// TaskDefinition gets the router; its containers that use LogDriver
	// send their output through it.
	TaskDefinition awsecs.TaskDefinition
	// Service is the value of the service label of every line.
	Service string
	// RouterImage is AWS for Fluent Bit, from the account's ECR mirror.
	RouterImage awsecs.ContainerImage
	// InitImage has a POSIX shell (busybox): it writes the router's
	// configuration into the task before the router starts.
	InitImage awsecs.ContainerImage
	// RouterLogGroup receives the router's own output and its init's: the
	// fallback that tells why lines did not arrive.
	RouterLogGroup awslogs.ILogGroup
	// Host and Port of the collector's container-log endpoint; defaults
	// DefaultHost and DefaultPort.
	Host string
	Port int
	// CopyTo, when set, receives every line as well, as the awslogs driver
	// would have written it.
	CopyTo awslogs.ILogGroup
	// MetricNamespace of DroppedChunks; default DefaultMetricNamespace.
	MetricNamespace string
}

// ContainerLogs is the router of one task definition.
type ContainerLogs struct {
	constructs.Construct
	router  awsecs.FirelensLogRouter
	dropped awslogs.MetricFilter
}

// configDir is where the init container writes the router's configuration;
// outside /fluent-bit/etc, where FireLens mounts its own.
const configDir = "/etc/curated-log-router"

// New adds the router and its configuration to props.TaskDefinition.
func New(scope constructs.Construct, id string, props *Props) *ContainerLogs {
	c := &ContainerLogs{}
	constructs.NewConstruct_Override(c, scope, jsii.String(id))
	p := *props
	if p.Host == "" {
		p.Host = DefaultHost
	}
	if p.Port == 0 {
		p.Port = DefaultPort
	}
	if p.MetricNamespace == "" {
		p.MetricNamespace = DefaultMetricNamespace
	}
	var cw *CloudWatchCopy
	if p.CopyTo != nil {
		cw = &CloudWatchCopy{Region: *awscdk.Stack_Of(scope).Region(), Group: *p.CopyTo.LogGroupName()}
		p.CopyTo.GrantWrite(p.TaskDefinition.TaskRole())
	}
	td := p.TaskDefinition
	td.AddVolume(&awsecs.Volume{Name: jsii.String("log-router-config")})
	init := td.AddContainer(jsii.String("log-router-config-init"), &awsecs.ContainerDefinitionOptions{
		Image:       p.InitImage,
		Essential:   jsii.Bool(false),
		EntryPoint:  jsii.Strings("sh", "-c"),
		Command:     jsii.Strings(fmt.Sprintf(`set -e; printf '%%s' "$CONFIG" > %s/outputs.conf`, configDir)),
		Environment: &map[string]*string{"CONFIG": jsii.String(RouterConfig(p.Service, p.Host, p.Port, cw))},
		Logging: awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{
			LogGroup: p.RouterLogGroup, StreamPrefix: jsii.String(p.Service + "-log-router-config"),
		}),
		MemoryReservationMiB: jsii.Number(16),
	})
	mount := func(c awsecs.ContainerDefinition, readOnly bool) {
		c.AddMountPoints(&awsecs.MountPoint{ContainerPath: jsii.String(configDir), SourceVolume: jsii.String("log-router-config"), ReadOnly: jsii.Bool(readOnly)})
	}
	mount(init, false)
	c.router = td.AddFirelensLogRouter(jsii.String("log-router"), &awsecs.FirelensLogRouterDefinitionOptions{
		Image:     p.RouterImage,
		Essential: jsii.Bool(true),
		FirelensConfig: &awsecs.FirelensConfig{
			Type: awsecs.FirelensLogRouterType_FLUENTBIT,
			Options: &awsecs.FirelensOptions{
				// No cluster, task ARN and definition in every record: the
				// lines stay the application's own.
				EnableECSLogMetadata: jsii.Bool(false),
				ConfigFileType:       awsecs.FirelensConfigFileType_FILE,
				ConfigFileValue:      jsii.String(configDir + "/outputs.conf"),
			},
		},
		Logging: awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{
			LogGroup: p.RouterLogGroup, StreamPrefix: jsii.String(p.Service + "-log-router"),
		}),
		MemoryReservationMiB: jsii.Number(64),
	})
	mount(c.router, true)
	c.router.AddContainerDependencies(&awsecs.ContainerDependency{Container: init, Condition: awsecs.ContainerDependencyCondition_SUCCESS})

	// Fluent Bit says "cannot be retried" when it gives a chunk up: those
	// lines are gone (the collector was unreachable past every retry).
	c.dropped = awslogs.NewMetricFilter(c, jsii.String("DroppedChunks"), &awslogs.MetricFilterProps{
		LogGroup:        p.RouterLogGroup,
		FilterPattern:   awslogs.FilterPattern_AnyTerm(jsii.String(PatternDroppedChunk)),
		MetricNamespace: jsii.String(p.MetricNamespace),
		MetricName:      jsii.String("LogRouterDroppedChunks-" + p.Service),
		MetricValue:     jsii.String("1"),
		DefaultValue:    jsii.Number(0),
	})
	return c
}

// PatternDroppedChunk is the phrase of Fluent Bit's log line for a chunk it
// gave up on.
const PatternDroppedChunk = "cannot be retried"

// LogDriver is the log driver of the containers whose output the router
// takes. It carries no options: RouterConfig holds the outputs.
func (c *ContainerLogs) LogDriver() awsecs.LogDriver {
	return awsecs.LogDrivers_Firelens(&awsecs.FireLensLogDriverProps{})
}

// Router is the router container.
func (c *ContainerLogs) Router() awsecs.FirelensLogRouter { return c.router }

// DroppedChunks counts the chunks the router gave up on, as the metric
// LogRouterDroppedChunks-SERVICE of the namespace.
func (c *ContainerLogs) DroppedChunks(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return c.dropped.Metric(opts)
}

// CloudWatchCopy is the log group that RouterConfig copies every line to.
type CloudWatchCopy struct{ Region, Group string }

// RouterConfig is the router's Fluent Bit configuration, included by the
// one FireLens generates (its input tags a container's records
// NAME-firelens-TASK). Records carry FireLens's keys: log, source (stdout
// or stderr), container_id and container_name. Loki gets the line itself,
// with service, source and container_id as labels (the collector maps
// source to stream, and uses container_id to join stack traces, then
// drops it).
func RouterConfig(service, host string, port int, cw *CloudWatchCopy) string {
	var b strings.Builder
	section := func(name string, kv ...string) {
		fmt.Fprintf(&b, "[%s]\n", name)
		for i := 0; i < len(kv); i += 2 {
			fmt.Fprintf(&b, "    %-17s %s\n", kv[i], kv[i+1])
		}
	}
	section("OUTPUT",
		"Name", "loki",
		"Match", "*-firelens-*",
		"Host", host,
		"Port", fmt.Sprint(port),
		"Labels", "service="+service,
		"Label_keys", "$source,$container_id",
		"Remove_keys", "source,container_id,container_name",
		"Line_format", "key_value",
		"Drop_single_key", "raw",
		// Fluent Bit's backoff starts at 5 s and doubles up to 2,000 s:
		// 15 retries outlive a collector deployment or a Loki restart.
		"Retry_Limit", "15",
	)
	if cw != nil {
		section("OUTPUT",
			"Name", "cloudwatch_logs",
			"Match", "*-firelens-*",
			"region", cw.Region,
			"log_group_name", cw.Group,
			"log_stream_prefix", service+"/",
			"log_key", "log",
			"auto_create_group", "false",
			"Retry_Limit", "15",
		)
	}
	return b.String()
}
