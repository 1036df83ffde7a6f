package main

import (
	_ "embed"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	elb "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsservicediscovery"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Ports and names that the services, the security groups and the tests share.
const (
	eventsPort           = 8080  // loki.source.curated_api (configs/fargate.alloy)
	alloyUIPort          = 12345 // Alloy's own HTTP server: /metrics, UI
	containerLogsPort    = 3500  // container logs from FireLens routers (configs/container_logs.alloy)
	lokiPort             = 3100
	grafanaPort          = 3000
	alertmanagerPort     = 9093
	namespace            = "curated.internal"
	vpcCidr              = "10.0.0.0/16"
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
	Environment string // env label of every entry, prefix of resource names
	// Region of the stack, its certificate and its ECR images. The ALB's
	// access-log bucket policy names the region's log delivery principal.
	Region string
	// ECRPrefix is the namespace of the ECR repositories every image is
	// pulled from: <prefix>/alloy-custom and the mirrors of images.txt.
	ECRPrefix   string
	Images      map[string]string // images.txt: name -> upstream image
	NatGateways int               // 2 keeps egress up when one AZ fails
	AlloyMin    int
	AlloyMax    int
	// ECSExec lets operators open a shell in the Loki, Grafana and
	// Alertmanager tasks (aws ecs execute-command); off by default, as it
	// gives whoever may call it a shell next to the data.
	ECSExec bool
	// LokiMode is lokiSingle (one monolithic task) or lokiHA (three tasks
	// in HA monolithic mode, docs/deploy.md#scaling).
	LokiMode string
}

// Loki modes.
const (
	lokiSingle = "single"
	lokiHA     = "ha"
)

func defaultConfig() (Config, error) {
	images, err := parseImages(imagesFile)
	if err != nil {
		return Config{}, err
	}
	return Config{
		Environment: "prod",
		ECRPrefix:   "alloy-curated",
		Images:      images,
		NatGateways: 2,
		AlloyMin:    2,
		AlloyMax:    10,
		LokiMode:    lokiSingle,
	}, nil
}

//go:embed loki.yaml
var lokiConfig string

// lokiPushURL is how alloy-custom reaches Loki: through Cloud Map's DNS.
var lokiPushURL = fmt.Sprintf("http://%s:%d/loki/api/v1/push", lokiHostName, lokiPort)

// stackParams are the CloudFormation parameters: values known only at
// deploy time, which change without a new synth.
type stackParams struct {
	certificateArn      *string
	hostedZoneID        *string
	alloyImageTag       *string
	collabmakerOrigins  *string
	domainName          *string
	grafanaAllowedCidrs *[]*string
	eventRateLimit      *float64
	alarmEmail          *string
	alerts              alertParams
	grafana             grafanaParams
}

// NewCuratedStack synthesizes the seed's architecture: a VPC over two AZs,
// an internet-facing ALB terminating TLS behind a WAF, and Fargate services
// for alloy-custom, Loki, Grafana and Alertmanager in private subnets, found
// through Cloud Map, watched by CloudWatch alarms. files are the configs
// shared with local runs.
func NewCuratedStack(scope constructs.Construct, id string, cfg Config, files sharedFiles, props *awscdk.StackProps) awscdk.Stack {
	stack := awscdk.NewStack(scope, &id, props)
	params := newParams(stack)
	logBucket := newLogBucket(stack)

	// HA mode spreads Loki's three tasks over three AZs, so that losing an
	// AZ loses one replica of each stream, not two (docs/deploy.md#scaling).
	// A third AZ adds subnets after the first two, whose ranges stay.
	azs := 2
	if cfg.LokiMode == lokiHA {
		azs = lokiHATasks
		if got := len(*stack.AvailabilityZones()); got < azs || *awscdk.Token_IsUnresolved(stack.Account()) {
			panic(fmt.Sprintf("lokiMode=%s spreads Loki over %d AZs; CDK knows %d for this stack: synthesize with an account "+
				"(the CDK CLI sets CDK_DEFAULT_ACCOUNT) in a region with %d AZs", lokiHA, azs, got, azs))
		}
	}
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{
		IpAddresses: awsec2.IpAddresses_Cidr(jsii.String(vpcCidr)),
		MaxAzs:      jsii.Number(float64(azs)),
		NatGateways: jsii.Number(float64(cfg.NatGateways)),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			{Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24)},
			{Name: jsii.String("private"), SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS, CidrMask: jsii.Number(22)},
		},
		// S3 traffic (Loki's chunks, ECR's image layers) stays off the NAT
		// gateways, which charge per GB.
		GatewayEndpoints: &map[string]*awsec2.GatewayVpcEndpointOptions{
			"S3": {Service: awsec2.GatewayVpcEndpointAwsService_S3()},
		},
		// Rejected connections only: what a security review asks for, at a
		// fraction of the volume of all traffic.
		FlowLogs: &map[string]*awsec2.FlowLogOptions{
			"Rejected": {
				TrafficType: awsec2.FlowLogTrafficType_REJECT,
				Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(awslogs.NewLogGroup(stack, jsii.String("FlowLogs"), &awslogs.LogGroupProps{
					Retention:     awslogs.RetentionDays_ONE_MONTH,
					RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
				}), nil),
			},
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
	suppress(alb, "AwsSolutions-EC23", "The ALB is the public entry: browsers worldwide send events to 443 (80 only redirects); AWS WAF filters it")
	alb.LogAccessLogs(logBucket, jsii.String("alb"))
	alb.AddRedirect(&elb.ApplicationLoadBalancerRedirectConfig{
		SourcePort: jsii.Number(80), SourceProtocol: elb.ApplicationProtocol_HTTP,
		TargetPort: jsii.Number(443), TargetProtocol: elb.ApplicationProtocol_HTTPS,
	})
	https := alb.AddListener(jsii.String("Https"), &elb.BaseApplicationListenerProps{
		Port:         jsii.Number(443),
		Protocol:     elb.ApplicationProtocol_HTTPS,
		Certificates: &[]elb.IListenerCertificate{elb.ListenerCertificate_FromArn(certificateAndDNS(stack, params, alb))},
		SslPolicy:    elb.SslPolicy_RECOMMENDED_TLS,
		DefaultAction: elb.ListenerAction_FixedResponse(jsii.Number(404), &elb.FixedResponseOptions{
			ContentType: jsii.String("text/plain"), MessageBody: jsii.String("not found"),
		}),
	})
	newWebACL(stack, alb, params)

	s := &services{
		stack: stack, cfg: cfg, files: files, params: params, vpc: vpc, cluster: cluster, ns: ns,
		listener: https, logBucket: logBucket, repos: map[string]awsecr.IRepository{},
	}
	loki := s.loki()
	alloy := s.alloy()
	grafana := s.grafana()
	alertmanager, alertTarget := s.alertmanager()
	alertmanagers := []*deployed{alertmanager}
	if cfg.LokiMode == lokiHA {
		alertmanagers = append(alertmanagers, s.alertmanagerPeer(alertmanager))
	}
	eraseTD, eraseSg, erase := s.eraseTask()
	// The only paths between the services: ALB -> alloy and Grafana (added
	// by the listener targets), alloy -> Loki, Grafana -> Loki, Loki's
	// ruler -> Alertmanager, Grafana -> Alertmanager, log routers in the
	// VPC -> alloy's container-log port.
	loki.svc.Connections().AllowFrom(alloy.svc, awsec2.Port_Tcp(jsii.Number(lokiPort)), jsii.String("alloy-custom pushes to Loki"))
	loki.svc.Connections().AllowFrom(grafana.svc, awsec2.Port_Tcp(jsii.Number(lokiPort)), jsii.String("Grafana queries Loki"))
	loki.svc.Connections().AllowFrom(eraseSg, awsec2.Port_Tcp(jsii.Number(lokiPort)), jsii.String("curated-erase files delete requests"))
	for _, am := range alertmanagers {
		am.svc.Connections().AllowFrom(loki.svc, awsec2.Port_Tcp(jsii.Number(alertmanagerPort)), jsii.String("Loki's ruler sends alerts"))
		am.svc.Connections().AllowFrom(grafana.svc, awsec2.Port_Tcp(jsii.Number(alertmanagerPort)), jsii.String("Grafana lists alerts"))
	}
	// Container logs come from log routers anywhere in the VPC (this
	// stack's services and the applications' own), never from the ALB.
	alloy.svc.Connections().AllowFrom(awsec2.Peer_Ipv4(jsii.String(vpcCidr)), awsec2.Port_Tcp(jsii.Number(containerLogsPort)),
		jsii.String("FireLens routers push container logs"))

	topic := s.alarms(alb, alertmanager.heartbeat, alloy, loki, append([]*deployed{grafana}, alertmanagers...)...)

	out := func(id, description string, value *string) {
		awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{Value: value, Description: jsii.String(description)})
	}
	out("EventsUrl", "Where applications send events (docs/api.md)", jsii.String("https://"+*params.domainName+"/v1/events"))
	out("GrafanaUrl", "Dashboards; sign in as admin with the GrafanaAdminPasswordSecret", jsii.String(s.grafanaURL()+"/"))
	out("AlbDnsName", "Point DomainName (CNAME or Route 53 alias) here", alb.LoadBalancerDnsName())
	out("CollabmakerApiKeySecret", "Browser key of Collabmaker (aws secretsmanager get-secret-value --secret-id ...)", alloy.secrets["CollabmakerApiKey"].SecretArn())
	out("BackendApiKeySecret", "Key of server-side senders", alloy.secrets["BackendApiKey"].SecretArn())
	out("GrafanaAdminPasswordSecret", "Password of Grafana's admin user", grafana.secrets["GrafanaAdminPassword"].SecretArn())
	out("GrafanaOAuthSecret", "Put the identity provider's client secret for Grafana here (with GrafanaOAuthClientId set), "+
		"then force a new deployment of GrafanaServiceName", grafana.secrets["GrafanaOAuthClientSecret"].SecretArn())
	out("GrafanaOAuthRedirectUrl", "Register this redirect URL at the identity provider", jsii.String(s.grafanaURL()+"/login/generic_oauth"))
	redeploy := "AlertmanagerServiceName"
	if cfg.LokiMode == lokiHA {
		redeploy += " and AlertmanagerPeerServiceName"
	}
	out("AlertTargetSecret", "Put the messenger's webhook URL (Telegram: bot token; email: SMTP password) here, "+
		"then force a new deployment of "+redeploy+"; AlertReceiver picks the messenger", alertTarget.SecretArn())
	out("ClusterName", "ECS cluster of every service", cluster.ClusterName())
	for _, d := range append([]*deployed{alloy, loki, grafana}, alertmanagers...) {
		out(d.id+"ServiceName", "ECS service (aws ecs update-service --force-new-deployment ...)", d.svc.ServiceName())
		out(d.id+"LogGroup", "CloudWatch log group of the "+d.name+" container", d.logGroup.LogGroupName())
	}
	out("EraseTaskDefinition", "Erases one person's events (aws ecs run-task ... with the command's flags, docs/privacy.md)", eraseTD.TaskDefinitionArn())
	out("EraseSecurityGroup", "Security group to run the erase task with (Loki admits it)", eraseSg.SecurityGroupId())
	out("EraseLogGroup", "CloudWatch log group of the erase task's output", erase.logGroup.LogGroupName())
	out("AlarmTopicArn", "SNS topic of the CloudWatch alarms (AlarmEmail subscribes an address)", topic.TopicArn())
	out("LokiBucketName", "Loki's chunks and index (kept when the stack is deleted)", loki.bucket.BucketName())
	out("LogBucketName", "ALB access logs and S3 server access logs (kept when the stack is deleted)", logBucket.BucketName())
	return stack
}

func newParams(stack awscdk.Stack) stackParams {
	str := func(id string, p *awscdk.CfnParameterProps) *string {
		p.Type = jsii.String("String")
		return awscdk.NewCfnParameter(stack, jsii.String(id), p).ValueAsString()
	}
	return stackParams{
		certificateArn: str("CertificateArn", &awscdk.CfnParameterProps{
			Default: jsii.String(""),
			Description: jsii.String("ACM certificate ARN of DomainName, in the stack's region, for the ALB's HTTPS listener; " +
				"empty to have the stack create one, validated in HostedZoneId"),
			AllowedPattern: jsii.String("(arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+)?"),
		}),
		hostedZoneID: str("HostedZoneId", &awscdk.CfnParameterProps{
			Default: jsii.String(""),
			Description: jsii.String("Route 53 public hosted zone of DomainName: the stack points DomainName at the ALB there " +
				"(and validates the certificate it creates when CertificateArn is empty); empty to manage DNS yourself"),
			AllowedPattern: jsii.String("(Z[A-Z0-9]{1,31})?"),
		}),
		alloyImageTag: str("AlloyImageTag", &awscdk.CfnParameterProps{
			Description:    jsii.String("Tag of the alloy-custom image in ECR (<ecrPrefix>/alloy-custom), as pushed by scripts/push-images.sh, for example v1.19.0-curated.abc1234"),
			AllowedPattern: jsii.String(`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`),
		}),
		collabmakerOrigins: str("CollabmakerOrigins", &awscdk.CfnParameterProps{
			Default:     jsii.String("https://collabmaker.example.com"),
			Description: jsii.String("Comma-separated browser origins allowed to send Collabmaker events"),
		}),
		domainName: str("DomainName", &awscdk.CfnParameterProps{
			Description:    jsii.String("DNS name that points at the ALB (the certificate's name); the API is https://<DomainName>/v1/events, Grafana https://<DomainName>/grafana"),
			AllowedPattern: jsii.String(`[a-z0-9]([a-z0-9.-]*[a-z0-9])?`),
		}),
		grafanaAllowedCidrs: awscdk.NewCfnParameter(stack, jsii.String("GrafanaAllowedCidrs"), &awscdk.CfnParameterProps{
			Type:    jsii.String("CommaDelimitedList"),
			Default: jsii.String(grafanaAnywhere),
			Description: jsii.String("IPv4 CIDRs that may open Grafana (its sign-in page included), as many as needed; others get 404. " +
				"Default: anywhere (" + grafanaAnywhere + "; AWS WAF takes no /0)"),
		}).ValueAsList(),
		eventRateLimit: awscdk.NewCfnParameter(stack, jsii.String("EventRateLimit"), &awscdk.CfnParameterProps{
			Type:        jsii.String("Number"),
			Default:     jsii.Number(6000),
			MinValue:    jsii.Number(100),
			Description: jsii.String("Requests to /v1/events one client IP may send in 5 minutes before the WAF answers 429 (all tasks together)"),
		}).ValueAsNumber(),
		// Required, like AlertReceiver: none is a choice the deployer types.
		alarmEmail: str("AlarmEmail", &awscdk.CfnParameterProps{
			Description:    jsii.String("Required. Address subscribed to the CloudWatch alarms (confirm the e-mail AWS sends); type none for no subscription"),
			AllowedPattern: jsii.String(`none|[^@\s]+@[^@\s]+\.[^@\s]+`),
		}),
		alerts:  newAlertParams(stack),
		grafana: newGrafanaParams(stack),
	}
}
