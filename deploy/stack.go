package main

import (
	_ "embed"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	elb "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsservicediscovery"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Ports and names that the services, the security groups and the tests share.
const (
	eventsPort           = 8080  // loki.source.curated_api (configs/fargate.alloy)
	alloyUIPort          = 12345 // Alloy's own HTTP server: /metrics, UI
	lokiPort             = 3100
	grafanaPort          = 3000
	alertmanagerPort     = 9093
	namespace            = "curated.internal"
	lokiHostName         = "loki." + namespace
	alertmanagerHostName = "alertmanager." + namespace
	grafanaPath          = "/grafana"

	// alloyStopTimeout covers the component's graceful_shutdown_timeout
	// (10s) plus loki.write's drain_timeout (30s) in configs/fargate.alloy,
	// so ECS never SIGKILLs a task that is still draining acknowledged events.
	alloyStopTimeout = 45
	// albDeregistrationDelay lets in-flight requests finish on the ALB side
	// before ECS sends SIGTERM.
	albDeregistrationDelay = 15
)

// Config is what differs between deployments; see defaultConfig and the
// context keys read in main.go.
type Config struct {
	Environment  string // env label of every entry, prefix of resource names
	LokiImage    string
	GrafanaImage string
	// AlertmanagerImage runs the version that tests and `make up` build
	// from tools/alertmanager (a test keeps the two equal).
	AlertmanagerImage string
	InitImage         string // writes config files into task volumes
	NatGateways       int    // 2 keeps egress up when one AZ fails
	AlloyMin          int
	AlloyMax          int
}

func defaultConfig() Config {
	return Config{
		Environment:       "prod",
		LokiImage:         "grafana/loki:3.7.8",
		GrafanaImage:      "grafana/grafana:12.2.0",
		AlertmanagerImage: "prom/alertmanager:v0.35.0",
		InitImage:         "public.ecr.aws/docker/library/busybox:1.37",
		NatGateways:       2,
		AlloyMin:          2,
		AlloyMax:          10,
	}
}

//go:embed loki.yaml
var lokiConfig string

// lokiPushURL is how alloy-custom reaches Loki: through Cloud Map's DNS.
var lokiPushURL = fmt.Sprintf("http://%s:%d/loki/api/v1/push", lokiHostName, lokiPort)

// stackParams are the CloudFormation parameters: values known only at
// deploy time, which change without a new synth.
type stackParams struct {
	certificateArn     *string
	alloyImage         *string
	collabmakerOrigins *string
	domainName         *string
	alerts             alertParams
}

// NewCuratedStack synthesizes the seed's architecture: a VPC over two AZs,
// an internet-facing ALB terminating TLS, and Fargate services for
// alloy-custom, Loki, Grafana and Alertmanager in private subnets, found
// through Cloud Map. files are the configs shared with local runs.
func NewCuratedStack(scope constructs.Construct, id string, cfg Config, files sharedFiles, props *awscdk.StackProps) awscdk.Stack {
	stack := awscdk.NewStack(scope, &id, props)
	params := newParams(stack)

	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{
		IpAddresses: awsec2.IpAddresses_Cidr(jsii.String("10.0.0.0/16")),
		MaxAzs:      jsii.Number(2),
		NatGateways: jsii.Number(float64(cfg.NatGateways)),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			{Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24)},
			{Name: jsii.String("private"), SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS, CidrMask: jsii.Number(22)},
		},
	})
	cluster := awsecs.NewCluster(stack, jsii.String("Cluster"), &awsecs.ClusterProps{
		Vpc:                 vpc,
		ContainerInsightsV2: awsecs.ContainerInsights_ENABLED,
	})
	ns := awsservicediscovery.NewPrivateDnsNamespace(stack, jsii.String("Namespace"), &awsservicediscovery.PrivateDnsNamespaceProps{
		Name:        jsii.String(namespace),
		Vpc:         vpc,
		Description: jsii.String("Service discovery between alloy-custom, Loki and Grafana"),
	})

	alb := elb.NewApplicationLoadBalancer(stack, jsii.String("Alb"), &elb.ApplicationLoadBalancerProps{
		Vpc:                     vpc,
		InternetFacing:          jsii.Bool(true),
		VpcSubnets:              &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC},
		DropInvalidHeaderFields: jsii.Bool(true),
	})
	alb.AddRedirect(&elb.ApplicationLoadBalancerRedirectConfig{
		SourcePort: jsii.Number(80), SourceProtocol: elb.ApplicationProtocol_HTTP,
		TargetPort: jsii.Number(443), TargetProtocol: elb.ApplicationProtocol_HTTPS,
	})
	https := alb.AddListener(jsii.String("Https"), &elb.BaseApplicationListenerProps{
		Port:         jsii.Number(443),
		Protocol:     elb.ApplicationProtocol_HTTPS,
		Certificates: &[]elb.IListenerCertificate{elb.ListenerCertificate_FromArn(params.certificateArn)},
		SslPolicy:    elb.SslPolicy_RECOMMENDED_TLS,
		DefaultAction: elb.ListenerAction_FixedResponse(jsii.Number(404), &elb.FixedResponseOptions{
			ContentType: jsii.String("text/plain"), MessageBody: jsii.String("not found"),
		}),
	})

	s := &services{stack: stack, cfg: cfg, files: files, params: params, vpc: vpc, cluster: cluster, ns: ns, listener: https}
	loki := s.loki()
	alloy := s.alloy()
	grafana := s.grafana()
	alertmanager, alertTarget := s.alertmanager()
	// The only paths between the services: ALB -> alloy and Grafana (added
	// by the listener targets), alloy -> Loki, Grafana -> Loki, Loki's
	// ruler -> Alertmanager, Grafana -> Alertmanager.
	loki.Connections().AllowFrom(alloy, awsec2.Port_Tcp(jsii.Number(lokiPort)), jsii.String("alloy-custom pushes to Loki"))
	loki.Connections().AllowFrom(grafana, awsec2.Port_Tcp(jsii.Number(lokiPort)), jsii.String("Grafana queries Loki"))
	alertmanager.Connections().AllowFrom(loki, awsec2.Port_Tcp(jsii.Number(alertmanagerPort)), jsii.String("Loki's ruler sends alerts"))
	alertmanager.Connections().AllowFrom(grafana, awsec2.Port_Tcp(jsii.Number(alertmanagerPort)), jsii.String("Grafana lists alerts"))
	awscdk.NewCfnOutput(stack, jsii.String("AlertTargetSecret"), &awscdk.CfnOutputProps{
		Value: alertTarget.SecretArn(),
		Description: jsii.String("Put the messenger's webhook URL (Telegram: bot token; email: SMTP password) here, " +
			"then force a new deployment of the Alertmanager service; AlertReceiver picks the messenger"),
	})

	awscdk.NewCfnOutput(stack, jsii.String("AlbDnsName"), &awscdk.CfnOutputProps{
		Value:       alb.LoadBalancerDnsName(),
		Description: jsii.String("Point the API's DNS name (CNAME or alias) here"),
	})
	awscdk.NewCfnOutput(stack, jsii.String("EventsPath"), &awscdk.CfnOutputProps{
		Value: jsii.String("https://<your domain>/v1/events"),
	})
	return stack
}

func newParams(stack awscdk.Stack) stackParams {
	return stackParams{
		certificateArn: awscdk.NewCfnParameter(stack, jsii.String("CertificateArn"), &awscdk.CfnParameterProps{
			Type:           jsii.String("String"),
			Description:    jsii.String("ACM certificate ARN of the API's domain, for the ALB's HTTPS listener"),
			AllowedPattern: jsii.String("arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+"),
		}).ValueAsString(),
		alloyImage: awscdk.NewCfnParameter(stack, jsii.String("AlloyImage"), &awscdk.CfnParameterProps{
			Type:        jsii.String("String"),
			Description: jsii.String("alloy-custom image, for example 123456789012.dkr.ecr.eu-west-1.amazonaws.com/alloy-curated:v1.19.0-curated.abc123"),
		}).ValueAsString(),
		collabmakerOrigins: awscdk.NewCfnParameter(stack, jsii.String("CollabmakerOrigins"), &awscdk.CfnParameterProps{
			Type:        jsii.String("String"),
			Default:     jsii.String("https://collabmaker.example.com"),
			Description: jsii.String("Comma-separated browser origins allowed to send Collabmaker events"),
		}).ValueAsString(),
		domainName: awscdk.NewCfnParameter(stack, jsii.String("DomainName"), &awscdk.CfnParameterProps{
			Type:           jsii.String("String"),
			Description:    jsii.String("DNS name that points at the ALB (the certificate's name); alert links open https://<DomainName>/grafana"),
			AllowedPattern: jsii.String(`[a-z0-9]([a-z0-9.-]*[a-z0-9])?`),
		}).ValueAsString(),
		alerts: newAlertParams(stack),
	}
}
