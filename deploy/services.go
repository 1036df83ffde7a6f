package main

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapplicationautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	elb "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsservicediscovery"
	"github.com/aws/jsii-runtime-go"
)

// services builds the Fargate services of the stack.
type services struct {
	stack    awscdk.Stack
	cfg      Config
	files    sharedFiles
	params   stackParams
	vpc      awsec2.Vpc
	cluster  awsecs.Cluster
	ns       awsservicediscovery.PrivateDnsNamespace
	listener elb.ApplicationListener
}

// alloy is alloy-custom: at least two tasks, spread by ECS over the private
// subnets of both AZs, behind the ALB, scaling on CPU and on requests.
func (s *services) alloy() awsecs.FargateService {
	td := s.taskDefinition("Alloy", 1024, 2048)
	keys := map[string]awsecs.Secret{
		"COLLABMAKER_API_KEY": awsecs.Secret_FromSecretsManager(s.generatedSecret("CollabmakerApiKey", "browser API key of Collabmaker"), nil),
		"BACKEND_API_KEY":     awsecs.Secret_FromSecretsManager(s.generatedSecret("BackendApiKey", "API key of server-side senders"), nil),
	}
	td.AddContainer(jsii.String("alloy"), &awsecs.ContainerDefinitionOptions{
		Image: awsecs.ContainerImage_FromRegistry(s.params.alloyImage, nil),
		// The image's CMD runs /etc/alloy/config.alloy (configs/fargate.alloy).
		PortMappings: &[]*awsecs.PortMapping{
			{ContainerPort: jsii.Number(eventsPort), Name: jsii.String("events")},
			{ContainerPort: jsii.Number(alloyUIPort), Name: jsii.String("alloy-http")},
		},
		Environment: &map[string]*string{
			"LOKI_PUSH_URL":       jsii.String(lokiPushURL),
			"LOKI_TENANT":         jsii.String(""),
			"ENVIRONMENT":         jsii.String(s.cfg.Environment),
			"TRUSTED_PROXY_CIDRS": s.vpc.VpcCidrBlock(),
			"COLLABMAKER_ORIGINS": s.params.collabmakerOrigins,
		},
		Secrets:     &keys,
		Logging:     s.logs("alloy"),
		StopTimeout: awscdk.Duration_Seconds(jsii.Number(alloyStopTimeout)),
	})

	svc := s.service("Alloy", td, "alloy", s.cfg.AlloyMin)
	tg := s.listener.AddTargets(jsii.String("Alloy"), &elb.AddApplicationTargetsProps{
		Priority:   jsii.Number(10),
		Conditions: &[]elb.ListenerCondition{elb.ListenerCondition_PathPatterns(jsii.Strings("/v1/events", "/v1/events/*"))},
		Port:       jsii.Number(eventsPort),
		Protocol:   elb.ApplicationProtocol_HTTP,
		Targets: &[]elb.IApplicationLoadBalancerTarget{svc.LoadBalancerTarget(&awsecs.LoadBalancerTargetOptions{
			ContainerName: jsii.String("alloy"), ContainerPort: jsii.Number(eventsPort),
		})},
		HealthCheck: &elb.HealthCheck{
			Path:                    jsii.String("/healthz"),
			Interval:                awscdk.Duration_Seconds(jsii.Number(10)),
			HealthyThresholdCount:   jsii.Number(2),
			UnhealthyThresholdCount: jsii.Number(3),
		},
		DeregistrationDelay: awscdk.Duration_Seconds(jsii.Number(albDeregistrationDelay)),
	})

	scaling := svc.AutoScaleTaskCount(&awsapplicationautoscaling.EnableScalingProps{
		MinCapacity: jsii.Number(float64(s.cfg.AlloyMin)),
		MaxCapacity: jsii.Number(float64(s.cfg.AlloyMax)),
	})
	scaling.ScaleOnCpuUtilization(jsii.String("Cpu"), &awsecs.CpuUtilizationScalingProps{
		TargetUtilizationPercent: jsii.Number(60),
		ScaleOutCooldown:         awscdk.Duration_Seconds(jsii.Number(60)),
		ScaleInCooldown:          awscdk.Duration_Seconds(jsii.Number(300)),
	})
	scaling.ScaleOnRequestCount(jsii.String("Requests"), &awsecs.RequestCountScalingProps{
		RequestsPerTarget: jsii.Number(3000),
		TargetGroup:       tg,
		ScaleOutCooldown:  awscdk.Duration_Seconds(jsii.Number(60)),
		ScaleInCooldown:   awscdk.Duration_Seconds(jsii.Number(300)),
	})
	return svc
}

// loki is a single monolithic Loki whose chunks and index live in an S3
// bucket that only its task role can use.
func (s *services) loki() awsecs.FargateService {
	bucket := awss3.NewBucket(s.stack, jsii.String("LokiBucket"), &awss3.BucketProps{
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		Versioned:         jsii.Bool(false),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	td := s.taskDefinition("Loki", 1024, 4096)
	bucket.GrantReadWrite(td.TaskRole(), nil)

	loki := td.AddContainer(jsii.String("loki"), &awsecs.ContainerDefinitionOptions{
		Image:        awsecs.ContainerImage_FromRegistry(jsii.String(s.cfg.LokiImage), nil),
		Command:      jsii.Strings("-config.file=/etc/loki/config.yaml"),
		PortMappings: &[]*awsecs.PortMapping{{ContainerPort: jsii.Number(lokiPort), Name: jsii.String("http")}},
		Logging:      s.logs("loki"),
		// Loki flushes its ingesters' chunks to S3 on SIGTERM.
		StopTimeout: awscdk.Duration_Seconds(jsii.Number(120)),
	})
	// The bucket, region and domain are CloudFormation tokens, resolved at
	// deploy time.
	config := strings.NewReplacer(
		"${LOKI_BUCKET}", *bucket.BucketName(),
		"${AWS_REGION}", *s.stack.Region(),
		"${ALERTMANAGER_URL}", fmt.Sprintf("http://%s:%d", alertmanagerHostName, alertmanagerPort),
		"${GRAFANA_URL}", s.grafanaURL(),
		"${LOKI_RULES_DIR}", lokiRulesDir,
	).Replace(lokiConfig)
	files := append([]configFile{{name: "config.yaml", content: jsii.String(config)}}, s.lokiRuleFiles()...)
	s.configFiles(td, loki, "loki-config", "/etc/loki", files)
	svc := s.service("Loki", td, "loki", 1)
	// Two Lokis sharing a bucket would each own a separate in-memory ring:
	// roll by stopping the old task first.
	return svc
}

// grafana serves dashboards under /grafana on the ALB. Anonymous access is
// off; teammates sign in and get the Viewer role.
func (s *services) grafana() awsecs.FargateService {
	td := s.taskDefinition("Grafana", 512, 1024)
	admin := s.generatedSecret("GrafanaAdminPassword", "password of Grafana's admin user")
	grafana := td.AddContainer(jsii.String("grafana"), &awsecs.ContainerDefinitionOptions{
		Image:        awsecs.ContainerImage_FromRegistry(jsii.String(s.cfg.GrafanaImage), nil),
		PortMappings: &[]*awsecs.PortMapping{{ContainerPort: jsii.Number(grafanaPort), Name: jsii.String("http")}},
		Environment: &map[string]*string{
			"GF_SERVER_ROOT_URL":             jsii.String("%(protocol)s://%(domain)s" + grafanaPath + "/"),
			"GF_SERVER_SERVE_FROM_SUB_PATH":  jsii.String("true"),
			"GF_AUTH_ANONYMOUS_ENABLED":      jsii.String("false"),
			"GF_USERS_ALLOW_SIGN_UP":         jsii.String("false"),
			"GF_USERS_AUTO_ASSIGN_ORG":       jsii.String("true"),
			"GF_USERS_AUTO_ASSIGN_ORG_ROLE":  jsii.String("Viewer"),
			"GF_USERS_VIEWERS_CAN_EDIT":      jsii.String("false"),
			"GF_SECURITY_ADMIN_USER":         jsii.String("admin"),
			"GF_ANALYTICS_REPORTING_ENABLED": jsii.String("false"),
		},
		Secrets: &map[string]awsecs.Secret{"GF_SECURITY_ADMIN_PASSWORD": awsecs.Secret_FromSecretsManager(admin, nil)},
		Logging: s.logs("grafana"),
	})
	s.configFiles(td, grafana, "grafana-datasources", "/etc/grafana/provisioning/datasources",
		[]configFile{{name: "datasources.yaml", content: jsii.String(grafanaDatasource())}})
	svc := s.service("Grafana", td, "grafana", 1)
	s.listener.AddTargets(jsii.String("Grafana"), &elb.AddApplicationTargetsProps{
		Priority:   jsii.Number(20),
		Conditions: &[]elb.ListenerCondition{elb.ListenerCondition_PathPatterns(jsii.Strings(grafanaPath, grafanaPath+"/*"))},
		Port:       jsii.Number(grafanaPort),
		Protocol:   elb.ApplicationProtocol_HTTP,
		Targets: &[]elb.IApplicationLoadBalancerTarget{svc.LoadBalancerTarget(&awsecs.LoadBalancerTargetOptions{
			ContainerName: jsii.String("grafana"), ContainerPort: jsii.Number(grafanaPort),
		})},
		HealthCheck:         &elb.HealthCheck{Path: jsii.String(grafanaPath + "/api/health")},
		DeregistrationDelay: awscdk.Duration_Seconds(jsii.Number(albDeregistrationDelay)),
	})
	return svc
}

// grafanaDatasource is Grafana's provisioning file for the Loki datasource
// (uid loki: the ruler's alert links name it) and Alertmanager's.
func grafanaDatasource() string {
	return strings.Join([]string{
		"apiVersion: 1",
		"datasources:",
		"  - name: Loki",
		"    uid: loki",
		"    type: loki",
		"    access: proxy",
		fmt.Sprintf("    url: http://%s:%d", lokiHostName, lokiPort),
		"    isDefault: true",
		"    editable: false",
		"  - name: Alertmanager",
		"    uid: alertmanager",
		"    type: alertmanager",
		"    access: proxy",
		fmt.Sprintf("    url: http://%s:%d", alertmanagerHostName, alertmanagerPort),
		"    editable: false",
		"    jsonData:",
		"      implementation: prometheus",
		"      handleGrafanaManagedAlerts: false",
		"",
	}, "\n")
}

func (s *services) taskDefinition(id string, cpu, memoryMiB float64) awsecs.FargateTaskDefinition {
	return awsecs.NewFargateTaskDefinition(s.stack, jsii.String(id+"Task"), &awsecs.FargateTaskDefinitionProps{
		Cpu:            jsii.Number(cpu),
		MemoryLimitMiB: jsii.Number(memoryMiB),
		RuntimePlatform: &awsecs.RuntimePlatform{
			CpuArchitecture:       awsecs.CpuArchitecture_X86_64(),
			OperatingSystemFamily: awsecs.OperatingSystemFamily_LINUX(),
		},
	})
}

// service runs td in the private subnets with its own security group and a
// Cloud Map name; rollouts that never turn healthy roll back by themselves.
func (s *services) service(id string, td awsecs.FargateTaskDefinition, name string, count int) awsecs.FargateService {
	sg := awsec2.NewSecurityGroup(s.stack, jsii.String(id+"Sg"), &awsec2.SecurityGroupProps{
		Vpc:              s.vpc,
		Description:      jsii.String(name + " tasks"),
		AllowAllOutbound: jsii.Bool(true), // image pulls, Secrets Manager, S3, CloudWatch Logs through the NAT
	})
	minHealthy, maxHealthy := 100, 200
	if count == 1 {
		minHealthy, maxHealthy = 0, 100 // single-writer services: stop the old task first
	}
	return awsecs.NewFargateService(s.stack, jsii.String(id+"Service"), &awsecs.FargateServiceProps{
		Cluster:           s.cluster,
		TaskDefinition:    td,
		DesiredCount:      jsii.Number(float64(count)),
		MinHealthyPercent: jsii.Number(float64(minHealthy)),
		MaxHealthyPercent: jsii.Number(float64(maxHealthy)),
		CircuitBreaker:    &awsecs.DeploymentCircuitBreaker{Enable: jsii.Bool(true), Rollback: jsii.Bool(true)},
		VpcSubnets:        &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS},
		AssignPublicIp:    jsii.Bool(false),
		SecurityGroups:    &[]awsec2.ISecurityGroup{sg},
		CloudMapOptions: &awsecs.CloudMapOptions{
			CloudMapNamespace: s.ns,
			Name:              jsii.String(name),
			DnsRecordType:     awsservicediscovery.DnsRecordType_A,
			DnsTtl:            awscdk.Duration_Seconds(jsii.Number(10)),
		},
	})
}

// configFile is one file that an init container writes into a task volume:
// content, or a secret from Secrets Manager (owned by owner, mode 600).
type configFile struct {
	name    string // relative to the volume's directory; may hold subdirectories
	content *string
	secret  awsecs.Secret
	owner   string // uid:gid of a secret file
}

// configFiles writes files into dir, a task volume, before the main
// container starts: Fargate has no host files, and the stock Loki, Grafana
// and Alertmanager images read their configuration from files.
func (s *services) configFiles(td awsecs.FargateTaskDefinition, main awsecs.ContainerDefinition, volume, dir string, files []configFile) {
	td.AddVolume(&awsecs.Volume{Name: jsii.String(volume)})
	env := map[string]*string{}
	secrets := map[string]awsecs.Secret{}
	var script []string
	for i, f := range files {
		name := "CONTENT"
		if i > 0 {
			name = fmt.Sprintf("CONTENT_%d", i)
		}
		path := dir + "/" + f.name
		script = append(script, fmt.Sprintf(`mkdir -p "$(dirname %s)" && printf '%%s' "$%s" > %s`, path, name, path))
		if f.secret != nil {
			secrets[name] = f.secret
			script = append(script, fmt.Sprintf("chmod 600 %s && chown %s %s", path, f.owner, path))
		} else {
			env[name] = f.content
		}
	}
	init := td.AddContainer(jsii.String(volume+"-init"), &awsecs.ContainerDefinitionOptions{
		Image:       awsecs.ContainerImage_FromRegistry(jsii.String(s.cfg.InitImage), nil),
		Essential:   jsii.Bool(false),
		EntryPoint:  jsii.Strings("sh", "-c"),
		Command:     jsii.Strings("set -e; " + strings.Join(script, "; ")),
		Environment: &env,
		Secrets:     &secrets,
		Logging:     s.logs(volume + "-init"),
	})
	mount := &awsecs.MountPoint{ContainerPath: jsii.String(dir), SourceVolume: jsii.String(volume), ReadOnly: jsii.Bool(false)}
	init.AddMountPoints(mount)
	main.AddMountPoints(&awsecs.MountPoint{ContainerPath: jsii.String(dir), SourceVolume: jsii.String(volume), ReadOnly: jsii.Bool(true)})
	main.AddContainerDependencies(&awsecs.ContainerDependency{Container: init, Condition: awsecs.ContainerDependencyCondition_SUCCESS})
}

// logs sends a container's output to its own CloudWatch log group.
func (s *services) logs(name string) awsecs.LogDriver {
	group := awslogs.NewLogGroup(s.stack, jsii.String(strings.ReplaceAll(name, "-", "")+"Logs"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String(fmt.Sprintf("/alloy-curated/%s/%s", s.cfg.Environment, name)),
		Retention:     awslogs.RetentionDays_ONE_MONTH,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	return awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{StreamPrefix: jsii.String(name), LogGroup: group})
}

func (s *services) generatedSecret(id, description string) awssecretsmanager.Secret {
	return awssecretsmanager.NewSecret(s.stack, jsii.String(id), &awssecretsmanager.SecretProps{
		Description: jsii.String(description),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength:     jsii.Number(40),
			ExcludePunctuation: jsii.Bool(true),
		},
	})
}
