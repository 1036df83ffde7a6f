package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	elb "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"
)

// Log patterns behind the log-based alarms. Alloy and Loki log JSON
// (configs/fargate.alloy, deploy/loki.yaml); e2e/deploy_logs_test.go checks
// that the pinned versions write lines these patterns match.
const (
	// loki.write gave up on a batch: acknowledged events are gone.
	patternPushDropped = `{ $.msg = "final error sending batch*" }`
	// Any error line of alloy-custom.
	patternAlloyErrors = `{ $.level = "error" }`
	// Loki refused a push over its ingestion limits (loki.write retries it;
	// logged because deploy/loki.yaml logs 4xx requests at info level).
	patternLoki429 = `{ $.msg = "POST /loki/api/v1/push (429)*" }`
)

// alarms watches what the Loki ruler cannot see (Loki down, the ALB, the
// tasks themselves) and tells an SNS topic; AlarmEmail subscribes an
// address. Alert rules on the events themselves live in configs/loki/rules.
func (s *services) alarms(alb elb.ApplicationLoadBalancer, heartbeat awssns.Topic, alloy, loki *deployed, others ...*deployed) awssns.Topic {
	stack := s.stack
	all := append([]*deployed{alloy, loki}, others...)
	// CloudWatch can publish to an encrypted topic only with a customer
	// managed key whose policy lets it (the AWS managed aws/sns key can't).
	key := awskms.NewKey(stack, jsii.String("AlarmTopicKey"), &awskms.KeyProps{
		Description:       jsii.String("alloy-curated alarm topic"),
		EnableKeyRotation: jsii.Bool(true),
		// It guards notifications in flight only: nothing to keep.
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
		PendingWindow: awscdk.Duration_Days(jsii.Number(7)),
	})
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"),
	}), nil)
	topic := awssns.NewTopic(stack, jsii.String("AlarmTopic"), &awssns.TopicProps{
		DisplayName: jsii.String("alloy-curated alarms (" + s.cfg.Environment + ")"),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true),
	})
	hasEmail := awscdk.NewCfnCondition(stack, jsii.String("HasAlarmEmail"), &awscdk.CfnConditionProps{
		Expression: awscdk.Fn_ConditionNot(awscdk.Fn_ConditionEquals(s.params.alarmEmail, jsii.String("none"))),
	})
	sub := awssns.NewCfnSubscription(stack, jsii.String("AlarmEmailSubscription"), &awssns.CfnSubscriptionProps{
		TopicArn: topic.TopicArn(),
		Protocol: jsii.String("email"),
		Endpoint: s.params.alarmEmail,
	})
	sub.CfnOptions().SetCondition(hasEmail)

	action := awscloudwatchactions.NewSnsAction(topic)
	minute := awscdk.Duration_Minutes(jsii.Number(1))
	alarm := func(id, description string, metric awscloudwatch.IMetric, op awscloudwatch.ComparisonOperator, threshold float64, periods float64, missing awscloudwatch.TreatMissingData) {
		a := awscloudwatch.NewAlarm(stack, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String(description),
			Metric:             metric,
			ComparisonOperator: op,
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(periods),
			DatapointsToAlarm:  jsii.Number(periods),
			TreatMissingData:   missing,
		})
		a.AddAlarmAction(action)
		a.AddOkAction(action)
	}

	// 5xx answered by the ALB itself (no healthy target) or by alloy-custom
	// and Grafana (503 when Loki holds back the queue), as a share of all
	// requests, once there are at least 5.
	sum := &awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Sum")}
	alarm("Alb5xxRate", "More than 5 % of requests answered 5xx for 3 minutes: no healthy alloy-custom task, or Loki is holding back the queue (503 overloaded / not_forwarded)",
		awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String("IF(FILL(e,0) + FILL(t,0) >= 5, 100 * (FILL(e,0) + FILL(t,0)) / (FILL(r,0) + FILL(e,0)), 0)"),
			UsingMetrics: &map[string]awscloudwatch.IMetric{
				"e": alb.Metrics().HttpCodeElb(elb.HttpCodeElb_ELB_5XX_COUNT, sum),
				"t": alb.Metrics().HttpCodeTarget(elb.HttpCodeTarget_TARGET_5XX_COUNT, sum),
				"r": alb.Metrics().RequestCount(sum),
			},
			Label:  jsii.String("5xx %"),
			Period: minute,
		}),
		awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD, 5, 3, awscloudwatch.TreatMissingData_NOT_BREACHING)

	for _, d := range all {
		if d.targetGroup != nil {
			alarm(d.id+"UnhealthyTargets", d.name+": the ALB has seen an unhealthy target for 3 minutes",
				d.targetGroup.Metrics().UnhealthyHostCount(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Maximum")}),
				awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD, 0, 3, awscloudwatch.TreatMissingData_NOT_BREACHING)
		}
		// Container Insights counts running tasks; no data means none.
		alarm(d.id+"TasksBelowMinimum", d.name+": fewer running tasks than it needs for 3 minutes",
			awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
				Namespace:  jsii.String("ECS/ContainerInsights"),
				MetricName: jsii.String("RunningTaskCount"),
				DimensionsMap: &map[string]*string{
					"ClusterName": s.cluster.ClusterName(),
					"ServiceName": d.svc.ServiceName(),
				},
				Period:    minute,
				Statistic: jsii.String("Minimum"),
			}),
			awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD, float64(d.minTasks), 3, awscloudwatch.TreatMissingData_BREACHING)
	}

	namespace := "AlloyCurated/" + s.cfg.Environment
	fromLogs := func(d *deployed, id, pattern string) awscloudwatch.Metric {
		f := awslogs.NewMetricFilter(stack, jsii.String(id+"Filter"), &awslogs.MetricFilterProps{
			LogGroup:        d.logGroup,
			FilterPattern:   awslogs.FilterPattern_Literal(jsii.String(pattern)),
			MetricNamespace: jsii.String(namespace),
			MetricName:      jsii.String(id),
			MetricValue:     jsii.String("1"),
			DefaultValue:    jsii.Number(0),
		})
		return f.Metric(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum")})
	}
	alarm("PushBatchesDropped", "alloy-custom dropped a batch after loki.write's last retry: acknowledged events are lost",
		fromLogs(alloy, "PushBatchesDropped", patternPushDropped),
		awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 1, 1, awscloudwatch.TreatMissingData_NOT_BREACHING)
	alarm("AlloyErrors", "alloy-custom logged more than 5 errors in 5 minutes (works while Loki is down, unlike the PipelineErrors rule)",
		fromLogs(alloy, "AlloyErrors", patternAlloyErrors),
		awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD, 5, 1, awscloudwatch.TreatMissingData_NOT_BREACHING)
	// The dead man's switch: Alertmanager publishes Watchdog to its heartbeat
	// topic every minute. Two quiet 5-minute periods (no data counts) mean
	// Loki's ruler, the rules or Alertmanager stopped: no alert would reach
	// anyone, so this alarm, outside that path, says so.
	alarm("AlertPathSilent", "No heartbeat from Alertmanager for 10 minutes: Loki's ruler, its rules or Alertmanager stopped, and no alert can reach anyone",
		heartbeat.MetricNumberOfMessagesPublished(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum")}),
		awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD, 1, 2, awscloudwatch.TreatMissingData_BREACHING)
	alarm("LokiPushRateLimited", "Loki answered pushes with 429 in the last 5 minutes (ingestion limits in deploy/loki.yaml); loki.write retries them, so events arrive late",
		fromLogs(loki, "LokiPushRateLimited", patternLoki429),
		awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 1, 1, awscloudwatch.TreatMissingData_NOT_BREACHING)
	// The FireLens routers (deploy/containerlogs) gave lines up after their
	// last retry: container logs are missing from Loki (the CloudWatch copy
	// still has them).
	for _, d := range all {
		if d.router == nil {
			continue
		}
		alarm(d.id+"LogRouterDroppedChunks", d.name+": its log router gave container log lines up after its last retry; "+
			"they are missing from Loki (its CloudWatch log group has them)",
			d.router.DroppedChunks(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum")}),
			awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 1, 1, awscloudwatch.TreatMissingData_NOT_BREACHING)
	}
	return topic
}
