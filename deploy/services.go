package main

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapplicationautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	elb "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsservicediscovery"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"

	"github.com/grafana/alloy/curated/deploy/containerlogs"
)

// services builds the Fargate services of the stack.
type services struct {
	stack     awscdk.Stack
	cfg       Config
	files     sharedFiles
	params    stackParams
	vpc       awsec2.Vpc
	cluster   awsecs.Cluster
	ns        awsservicediscovery.PrivateDnsNamespace
	listener  elb.ApplicationListener
	logBucket awss3.Bucket
	repos     map[string]awsecr.IRepository // by image name, see image
}

// deployed is one service and what the alarms and outputs need of it.
type deployed struct {
	id, name    string // construct ID prefix ("Alloy") and container name ("alloy")
	svc         awsecs.FargateService
	logGroup    awslogs.LogGroup // of the main container
	targetGroup elb.ApplicationTargetGroup
	minTasks    int
	secrets     map[string]awssecretsmanager.Secret // generated, by construct ID
	bucket      awss3.Bucket                        // Loki's
	heartbeat   awssns.Topic                        // Alertmanager's dead man's switch
	target      awssecretsmanager.Secret            // Alertmanager's messenger URL or token
	router      *containerlogs.ContainerLogs        // FireLens router of its container logs, if any
}

// alloy is alloy-custom: at least two tasks, spread by ECS over the private
// subnets of both AZs, behind the ALB, scaling on CPU and on requests.
func (s *services) alloy() *deployed {
	d := &deployed{id: "Alloy", name: "alloy", minTasks: s.cfg.AlloyMin, secrets: map[string]awssecretsmanager.Secret{
		"CollabmakerApiKey": s.generatedSecret("CollabmakerApiKey", "browser API key of Collabmaker", apiKeyNotRotated),
		"BackendApiKey":     s.generatedSecret("BackendApiKey", "API key of server-side senders", apiKeyNotRotated),
	}}
	td := s.taskDefinition("Alloy", 1024, 2048)
	keys := map[string]awsecs.Secret{
		"COLLABMAKER_API_KEY": awsecs.Secret_FromSecretsManager(d.secrets["CollabmakerApiKey"], nil),
		"BACKEND_API_KEY":     awsecs.Secret_FromSecretsManager(d.secrets["BackendApiKey"], nil),
	}
	// The durable spool (docs/reliability.md) on EFS, shared by every
	// task: a task that starts adopts the spools of tasks that are gone
	// (crashed, OOM-killed, replaced) and replays what they acknowledged.
	spool := s.stateVolume(td, "AlloySpool", "alloy-spool", "/spool", alloyUID, alloyUID)
	logging := s.routedLogs(td, d)
	container := td.AddContainer(jsii.String("alloy"), &awsecs.ContainerDefinitionOptions{
		Image: s.image(imageAlloy, s.params.alloyImageTag),
		// The image's CMD runs /etc/alloy/config.alloy (configs/fargate.alloy).
		PortMappings: &[]*awsecs.PortMapping{
			{ContainerPort: jsii.Number(eventsPort), Name: jsii.String("events")},
			{ContainerPort: jsii.Number(alloyUIPort), Name: jsii.String("alloy-http")},
			{ContainerPort: jsii.Number(containerLogsPort), Name: jsii.String("container-logs")},
		},
		Environment: &map[string]*string{
			"LOKI_PUSH_URL":       jsii.String(lokiPushURL),
			"LOKI_TENANT":         jsii.String(""),
			"ENVIRONMENT":         jsii.String(s.cfg.Environment),
			"TRUSTED_PROXY_CIDRS": s.vpc.VpcCidrBlock(),
			"COLLABMAKER_ORIGINS": s.params.collabmakerOrigins,
			"SPOOL_PATH":          jsii.String(alloySpoolPath),
		},
		Secrets:     &keys,
		Logging:     logging,
		StopTimeout: awscdk.Duration_Seconds(jsii.Number(alloyStopTimeout)),
	})

	container.AddMountPoints(&awsecs.MountPoint{ContainerPath: jsii.String(alloySpoolPath), SourceVolume: jsii.String("alloy-spool"), ReadOnly: jsii.Bool(false)})

	d.svc = s.service("Alloy", td, "alloy", s.cfg.AlloyMin, nil)
	mountAfter(d.svc, spool)
	spool.Connections().AllowDefaultPortFrom(d.svc, jsii.String("alloy-custom mounts its spool"))
	d.targetGroup = s.listener.AddTargets(jsii.String("Alloy"), &elb.AddApplicationTargetsProps{
		Priority:   jsii.Number(10),
		Conditions: &[]elb.ListenerCondition{elb.ListenerCondition_PathPatterns(jsii.Strings(eventsPaths...))},
		Port:       jsii.Number(eventsPort),
		Protocol:   elb.ApplicationProtocol_HTTP,
		Targets: &[]elb.IApplicationLoadBalancerTarget{d.svc.LoadBalancerTarget(&awsecs.LoadBalancerTargetOptions{
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

	scaling := d.svc.AutoScaleTaskCount(&awsapplicationautoscaling.EnableScalingProps{
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
		TargetGroup:       d.targetGroup,
		ScaleOutCooldown:  awscdk.Duration_Seconds(jsii.Number(60)),
		ScaleInCooldown:   awscdk.Duration_Seconds(jsii.Number(300)),
	})
	return d
}

// stateVolume is an encrypted EFS file system for one service's state,
// mounted by td as volume through an access point that owns path for
// uid:gid, over TLS with IAM authorization. Its security group admits no
// one until the caller allows the service.
func (s *services) stateVolume(td awsecs.FargateTaskDefinition, id, volume, path, uid, gid string) awsefs.FileSystem {
	fs := awsefs.NewFileSystem(s.stack, jsii.String(id), &awsefs.FileSystemProps{
		Vpc:            s.vpc,
		VpcSubnets:     &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS},
		Encrypted:      jsii.Bool(true),
		ThroughputMode: awsefs.ThroughputMode_ELASTIC,
		// State that outlives tasks should outlive a stack deleted by mistake.
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	ap := fs.AddAccessPoint(jsii.String(id+"AccessPoint"), &awsefs.AccessPointOptions{
		Path:      jsii.String(path),
		PosixUser: &awsefs.PosixUser{Uid: jsii.String(uid), Gid: jsii.String(gid)},
		CreateAcl: &awsefs.Acl{OwnerUid: jsii.String(uid), OwnerGid: jsii.String(gid), Permissions: jsii.String("750")},
	})
	td.AddVolume(&awsecs.Volume{
		Name: jsii.String(volume),
		EfsVolumeConfiguration: &awsecs.EfsVolumeConfiguration{
			FileSystemId:      fs.FileSystemId(),
			TransitEncryption: jsii.String("ENABLED"),
			AuthorizationConfig: &awsecs.AuthorizationConfig{
				AccessPointId: ap.AccessPointId(),
				Iam:           jsii.String("ENABLED"),
			},
		},
	})
	fs.Grant(td.TaskRole(), jsii.String("elasticfilesystem:ClientMount"), jsii.String("elasticfilesystem:ClientWrite"))
	return fs
}

// alloyUID is the user the alloy-custom image runs as (Dockerfile), and
// alloySpoolPath where its tasks mount the shared spool.
const (
	alloyUID       = "10001"
	alloySpoolPath = "/var/lib/alloy/spool"
)

// mountAfter makes svc wait for fs's mount targets: on a first deploy a task
// that starts before them fails to mount (ResourceInitializationError), and
// three such failures trip the deployment circuit breaker into a rollback.
func mountAfter(svc awsecs.FargateService, fs awsefs.FileSystem) {
	svc.Node().AddDependency(fs.MountTargetsAvailable())
}

// lokiUID is the user the Loki image runs as (cmd/loki/Dockerfile).
const lokiUID = "10001"

// loki is a single monolithic Loki: chunks and index in an S3 bucket that
// only its task role can use, the WAL and the TSDB head (/loki) on EFS, so
// a replaced task replays what the old one acknowledged.
func (s *services) loki() *deployed {
	ha := s.cfg.LokiMode == lokiHA
	d := &deployed{id: "Loki", name: "loki", minTasks: 1}
	if ha {
		d.minTasks = lokiHATasks
	}
	d.bucket = awss3.NewBucket(s.stack, jsii.String("LokiBucket"), &awss3.BucketProps{
		BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
		Encryption:             awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:             jsii.Bool(true),
		Versioned:              jsii.Bool(false),
		RemovalPolicy:          awscdk.RemovalPolicy_RETAIN,
		ServerAccessLogsBucket: s.logBucket,
		ServerAccessLogsPrefix: jsii.String("s3/loki/"),
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                                  jsii.String("abort-incomplete-uploads"),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
		}},
	})
	td := s.taskDefinition("Loki", 1024, 4096)
	// What Loki's S3 client calls, and no more: list (compactor, index
	// sync), get/head, put, delete (retention, compaction).
	td.AddToTaskRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("s3:ListBucket"),
		Resources: jsii.Strings(*d.bucket.BucketArn()),
	}))
	td.AddToTaskRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("s3:GetObject", "s3:PutObject", "s3:DeleteObject"),
		Resources: jsii.Strings(*d.bucket.ArnForObjects(jsii.String("*"))),
	}))
	suppress(td, "AwsSolutions-IAM5", "Loki names its chunk and index objects itself: object actions on every key of its own bucket",
		"Resource::<"+*s.stack.GetLogicalId(d.bucket.Node().DefaultChild().(awscdk.CfnElement))+".Arn>/*")

	// Single mode keeps the WAL on EFS for the task that replaces this one;
	// in HA mode every stream is on three tasks, so a replaced task needs no
	// WAL of its own (TestLokiHAFailover restarts one on an empty disk).
	var data awsefs.FileSystem
	ports := []*awsecs.PortMapping{{ContainerPort: jsii.Number(lokiPort), Name: jsii.String("http")}}
	if ha {
		ports = append(ports,
			&awsecs.PortMapping{ContainerPort: jsii.Number(lokiGRPCPort), Name: jsii.String("grpc")},
			&awsecs.PortMapping{ContainerPort: jsii.Number(lokiMemberlistPort), Name: jsii.String("memberlist")})
	} else {
		data = s.stateVolume(td, "LokiData", "loki-data", "/loki", lokiUID, lokiUID)
	}
	logging := s.routedLogs(td, d)
	loki := td.AddContainer(jsii.String("loki"), &awsecs.ContainerDefinitionOptions{
		Image:        s.mirrored(imageLoki),
		Command:      jsii.Strings("-config.file=/etc/loki/config.yaml"),
		PortMappings: &ports,
		Logging:      logging,
		// Loki flushes its ingesters' chunks to S3 on SIGTERM.
		StopTimeout: awscdk.Duration_Seconds(jsii.Number(120)),
		// The image is distroless (no shell, no wget); Loki checks its own
		// /ready. Replaying a long WAL takes a while: a generous start period.
		HealthCheck: &awsecs.HealthCheck{
			Command:     jsii.Strings(append([]string{"CMD"}, lokiHealthCommand...)...),
			Interval:    awscdk.Duration_Seconds(jsii.Number(30)),
			Timeout:     awscdk.Duration_Seconds(jsii.Number(10)),
			Retries:     jsii.Number(3),
			StartPeriod: awscdk.Duration_Seconds(jsii.Number(300)),
		},
	})
	if !ha {
		loki.AddMountPoints(&awsecs.MountPoint{ContainerPath: jsii.String("/loki"), SourceVolume: jsii.String("loki-data"), ReadOnly: jsii.Bool(false)})
		s.writerLock(td, loki)
	}
	// The bucket, region and domain are CloudFormation tokens, resolved at
	// deploy time.
	config := strings.NewReplacer(
		"${LOKI_BUCKET}", *d.bucket.BucketName(),
		"${AWS_REGION}", *s.stack.Region(),
		"${ALERTMANAGER_URL}", s.alertmanagerURLs(),
		"${GRAFANA_URL}", s.grafanaURL(),
		"${LOKI_RULES_DIR}", lokiRulesDir,
	).Replace(lokiConfig)
	if ha {
		var err error
		if config, err = haLokiConfig(config); err != nil {
			panic(err) // deploy/loki.yaml and haLokiConfig disagree: TestLokiModeHA
		}
	}
	files := append([]configFile{{name: "config.yaml", content: jsii.String(config)}}, s.lokiRuleFiles()...)
	s.configFiles(td, loki, "loki-config", "/etc/loki", files)
	if ha {
		d.svc = s.service("Loki", td, "loki", lokiHATasks, nil)
		// Ingesters, distributors, rulers and the query path talk over gRPC,
		// and the ring over memberlist: between Loki tasks only.
		for _, p := range []float64{lokiGRPCPort, lokiMemberlistPort} {
			d.svc.Connections().AllowFrom(d.svc, awsec2.Port_Tcp(jsii.Number(p)), jsii.String("Loki tasks: gRPC and memberlist"))
		}
		return d
	}
	// One task at a time (stop-first, see service): two Lokis would write
	// the same WAL on EFS.
	d.svc = s.service("Loki", td, "loki", 1, nil)
	mountAfter(d.svc, data)
	data.Connections().AllowDefaultPortFrom(d.svc, jsii.String("Loki mounts its WAL"))
	return d
}

// HA mode (docs/deploy.md#scaling): three tasks, their gRPC and memberlist
// ports.
const (
	lokiHATasks        = 3
	lokiGRPCPort       = 9095 // deploy/loki.yaml's grpc_listen_port
	lokiMemberlistPort = 7946
)

// haLokiConfig turns deploy/loki.yaml's single process into HA monolithic
// mode, as configs/loki/loki-ha.yaml (which TestLokiHAFailover proves): the
// ring in memberlist, joined through the Cloud Map name (one A record per
// task), three replicas of every stream, each rule group on one ruler,
// dead ingesters forgotten. Every edit must apply exactly once.
func haLokiConfig(single string) (string, error) {
	out := single
	for _, e := range [][2]string{
		{"  instance_addr: 127.0.0.1\n", ""},
		{"  replication_factor: 1\n", "  replication_factor: 3\n"},
		{"      store: inmemory\n", "      store: memberlist\n"},
		{"  enable_api: true\n", "  enable_api: true\n  enable_sharding: true\n"},
		// A replaced task joins under a new name: forget the dead one.
		{"\ningester:\n", "\ningester:\n  autoforget_unhealthy: true\n"},
		{"\nschema_config:\n", fmt.Sprintf("\nmemberlist:\n  join_members: [\"dns+%s:%d\"]\n  bind_port: %d\n\nschema_config:\n",
			lokiHostName, lokiMemberlistPort, lokiMemberlistPort)},
	} {
		if n := strings.Count(out, e[0]); n != 1 {
			return "", fmt.Errorf("deploy/loki.yaml: %q appears %d times; the HA edit needs it once", e[0], n)
		}
		out = strings.Replace(out, e[0], e[1], 1)
	}
	return out, nil
}

// writerLockScript holds an exclusive lock on Loki's state for as long as
// the container runs, and marks it held; %s is the lock file. busybox's
// flock and util-linux's take the same arguments (the lock test runs it).
const writerLockScript = `exec flock %s -c 'touch /tmp/held && while :; do sleep 3600; done'`

// writerLock guarantees one Loki writer on the shared WAL: ECS may start
// a new task while the old one still stops (its 120 s stop timeout, the
// flush to S3), and a manual recovery task can overlap too. A sidecar takes
// an exclusive lock (flock, whole-file POSIX locks on EFS) on a file next to
// the WAL; Loki starts only once the sidecar holds it (HEALTHY), and ECS
// stops the sidecar, releasing the lock, only after Loki has stopped
// (reverse dependency order). A second task waits for the lock.
func (s *services) writerLock(td awsecs.FargateTaskDefinition, loki awsecs.ContainerDefinition) {
	lock := td.AddContainer(jsii.String("loki-writer-lock"), &awsecs.ContainerDefinitionOptions{
		Image:      s.mirrored(imageBusybox),
		Essential:  jsii.Bool(true), // without it, Loki would run unguarded
		EntryPoint: jsii.Strings("sh", "-c"),
		Command:    jsii.Strings(fmt.Sprintf(writerLockScript, lokiWriterLock)),
		Logging:    s.initLogs("loki-writer-lock"),
		// Waiting for the old task (up to its 120 s stop) must not count
		// as unhealthy.
		HealthCheck: &awsecs.HealthCheck{
			Command:     jsii.Strings("CMD", "test", "-f", "/tmp/held"),
			Interval:    awscdk.Duration_Seconds(jsii.Number(5)),
			Timeout:     awscdk.Duration_Seconds(jsii.Number(2)),
			Retries:     jsii.Number(3),
			StartPeriod: awscdk.Duration_Seconds(jsii.Number(300)),
		},
		StopTimeout: awscdk.Duration_Seconds(jsii.Number(2)),
	})
	lock.AddMountPoints(&awsecs.MountPoint{ContainerPath: jsii.String("/loki"), SourceVolume: jsii.String("loki-data"), ReadOnly: jsii.Bool(false)})
	loki.AddContainerDependencies(&awsecs.ContainerDependency{Container: lock, Condition: awsecs.ContainerDependencyCondition_HEALTHY})
}

// lokiWriterLock is the file the writer lock holds, beside the WAL.
const lokiWriterLock = "/loki/.writer.lock"

// lokiHealthCommand is the Loki container's health check: the Loki binary
// asks its own /ready (the -health flag of Loki 3.7; e2e runs this command
// against the pinned Loki).
var lokiHealthCommand = []string{"/usr/bin/loki", "-health", fmt.Sprintf("-health.url=http://localhost:%d/ready", lokiPort)}

func (s *services) taskDefinition(id string, cpu, memoryMiB float64) awsecs.FargateTaskDefinition {
	td := awsecs.NewFargateTaskDefinition(s.stack, jsii.String(id+"Task"), &awsecs.FargateTaskDefinitionProps{
		Cpu:            jsii.Number(cpu),
		MemoryLimitMiB: jsii.Number(memoryMiB),
		RuntimePlatform: &awsecs.RuntimePlatform{
			CpuArchitecture:       awsecs.CpuArchitecture_X86_64(),
			OperatingSystemFamily: awsecs.OperatingSystemFamily_LINUX(),
		},
	})
	suppress(td, "AwsSolutions-ECS2", "Environment variables carry non-secret settings (URLs, the env label, CIDRs, config "+
		"files written by the init containers); API keys, passwords and the alert target come from Secrets Manager")
	return td
}

// service runs td in the private subnets with its own security group and a
// Cloud Map name; rollouts that never turn healthy roll back by themselves.
// grace is how long ECS ignores load balancer health checks after a task
// starts; nil keeps ECS's default (60 s behind a load balancer).
func (s *services) service(id string, td awsecs.FargateTaskDefinition, name string, count int, grace awscdk.Duration) awsecs.FargateService {
	return s.serviceIn(id, td, name, count, grace, nil)
}

// serviceIn is service in the given subnets (nil: every private subnet).
func (s *services) serviceIn(id string, td awsecs.FargateTaskDefinition, name string, count int, grace awscdk.Duration, subnets *awsec2.SubnetSelection) awsecs.FargateService {
	if subnets == nil {
		subnets = &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS}
	}
	sg := awsec2.NewSecurityGroup(s.stack, jsii.String(id+"Sg"), &awsec2.SecurityGroupProps{
		Vpc:              s.vpc,
		Description:      jsii.String(name + " tasks"),
		AllowAllOutbound: jsii.Bool(true), // image pulls, Secrets Manager, S3, CloudWatch Logs through the NAT
	})
	// The execution role, complete once the containers are added, may pull
	// this task's images and read its secrets; the ECR token call has no
	// resource to scope to.
	suppress(td.ExecutionRole(), "AwsSolutions-IAM5", "ecr:GetAuthorizationToken does not support resource-level permissions", "Resource::*")
	// alloy-custom's image is FROM scratch: ECS Exec would find nothing to run.
	exec := s.cfg.ECSExec && name != "alloy"
	minHealthy, maxHealthy := 100, 200
	if count == 1 {
		minHealthy, maxHealthy = 0, 100 // single-writer services: stop the old task first
	}
	svc := awsecs.NewFargateService(s.stack, jsii.String(id+"Service"), &awsecs.FargateServiceProps{
		Cluster:                s.cluster,
		TaskDefinition:         td,
		DesiredCount:           jsii.Number(float64(count)),
		MinHealthyPercent:      jsii.Number(float64(minHealthy)),
		MaxHealthyPercent:      jsii.Number(float64(maxHealthy)),
		CircuitBreaker:         &awsecs.DeploymentCircuitBreaker{Enable: jsii.Bool(true), Rollback: jsii.Bool(true)},
		HealthCheckGracePeriod: grace,
		EnableExecuteCommand:   jsii.Bool(exec),
		VpcSubnets:             subnets,
		AssignPublicIp:         jsii.Bool(false),
		SecurityGroups:         &[]awsec2.ISecurityGroup{sg},
		CloudMapOptions: &awsecs.CloudMapOptions{
			CloudMapNamespace: s.ns,
			Name:              jsii.String(name),
			DnsRecordType:     awsservicediscovery.DnsRecordType_A,
			DnsTtl:            awscdk.Duration_Seconds(jsii.Number(10)),
		},
	})
	if exec {
		// After the service: it adds the actions to the task role's policy.
		suppress(td.TaskRole(), "AwsSolutions-IAM5", "ECS Exec's ssmmessages actions support no resource-level permissions", "Resource::*")
	}
	return svc
}

// configFile is one file that an init container writes into a task volume:
// content, or a secret from Secrets Manager (owned by owner, mode 600).
type configFile struct {
	name    string // relative to the volume's directory; may hold subdirectories
	content *string
	gzip    bool // content travels gzipped and base64-encoded
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
		decode := ""
		if f.gzip {
			decode = " | base64 -d | gunzip"
			f.content = jsii.String(gzipBase64(*f.content))
		}
		script = append(script, fmt.Sprintf(`mkdir -p "$(dirname %s)" && printf '%%s' "$%s"%s > %s`, path, name, decode, path))
		if f.secret != nil {
			secrets[name] = f.secret
			script = append(script, fmt.Sprintf("chmod 600 %s && chown %s %s", path, f.owner, path))
		} else {
			env[name] = f.content
		}
	}
	init := td.AddContainer(jsii.String(volume+"-init"), &awsecs.ContainerDefinitionOptions{
		Image:       s.mirrored(imageBusybox),
		Essential:   jsii.Bool(false),
		EntryPoint:  jsii.Strings("sh", "-c"),
		Command:     jsii.Strings("set -e; " + strings.Join(script, "; ")),
		Environment: &env,
		Secrets:     &secrets,
		Logging:     s.initLogs(volume + "-init"),
	})
	mount := &awsecs.MountPoint{ContainerPath: jsii.String(dir), SourceVolume: jsii.String(volume), ReadOnly: jsii.Bool(false)}
	init.AddMountPoints(mount)
	main.AddMountPoints(&awsecs.MountPoint{ContainerPath: jsii.String(dir), SourceVolume: jsii.String(volume), ReadOnly: jsii.Bool(true)})
	main.AddContainerDependencies(&awsecs.ContainerDependency{Container: init, Condition: awsecs.ContainerDependencyCondition_SUCCESS})
}

// routedLogs sends the output of d's main container through a FireLens
// router (deploy/containerlogs) to the collector's container-log endpoint,
// and a copy to d's own log group, which stays readable and alarmed on
// while the pipeline itself is down. alloy-custom's own tasks use it too:
// its lines then sit in Loki beside the other services' container logs
// (its in-process copy, {component="alloy"}, feeds the pipeline rules and
// needs no router); a router that cannot reach any collector buffers and
// retries, and the CloudWatch copy keeps the alarms' patterns readable.
func (s *services) routedLogs(td awsecs.FargateTaskDefinition, d *deployed) awsecs.LogDriver {
	_, d.logGroup = s.logs(d.name)
	_, routerGroup := s.logs(d.name + "-log-router")
	d.router = containerlogs.New(s.stack, d.id+"ContainerLogs", &containerlogs.Props{
		TaskDefinition:  td,
		Service:         d.name,
		RouterImage:     s.mirrored(imageFluentBit),
		InitImage:       s.mirrored(imageBusybox),
		RouterLogGroup:  routerGroup,
		Host:            "alloy." + namespace,
		Port:            containerLogsPort,
		CopyTo:          d.logGroup,
		MetricNamespace: "AlloyCurated/" + s.cfg.Environment,
	})
	return d.router.LogDriver()
}

// logs sends a container's output to its own CloudWatch log group. The
// group keeps its logs when the stack is deleted, so it has no fixed name:
// a fixed one would collide with the kept group when the stack is created
// again (after a failed first deploy, say).
func (s *services) logs(name string) (awsecs.LogDriver, awslogs.LogGroup) {
	group := awslogs.NewLogGroup(s.stack, jsii.String(strings.ReplaceAll(name, "-", "")+"Logs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_ONE_MONTH,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	return awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{StreamPrefix: jsii.String(name), LogGroup: group}), group
}

// gzipBase64 compresses text for an environment variable.
func gzipBase64(text string) string {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	_, _ = zw.Write([]byte(text)) // writes to memory do not fail
	_ = zw.Close()
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

func (s *services) initLogs(name string) awsecs.LogDriver {
	driver, _ := s.logs(name)
	return driver
}

// apiKeyNotRotated is why the API keys have no rotation schedule.
const apiKeyNotRotated = "A shared key that senders (a browser app, backends) hold: rotating it needs them to change too, " +
	"so it is rotated by hand as docs/deploy.md describes, not on a schedule"

func (s *services) generatedSecret(id, description, whyNotRotated string) awssecretsmanager.Secret {
	secret := awssecretsmanager.NewSecret(s.stack, jsii.String(id), &awssecretsmanager.SecretProps{
		Description: jsii.String(description),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength:     jsii.Number(40),
			ExcludePunctuation: jsii.Bool(true),
		},
	})
	suppress(secret, "AwsSolutions-SMG4", whyNotRotated)
	return secret
}
