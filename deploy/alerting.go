package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"
)

// Where the alerting files live in the task volumes.
const (
	lokiRulesDir    = "/etc/loki/rules" // ruler's local storage: <dir>/<tenant>/*.yaml
	lokiRulesTenant = "fake"            // Loki's tenant with auth_enabled: false
	amConfigDir     = "/etc/alertmanager"
	// alertmanagerUID is the Alertmanager image's user and group (nobody).
	alertmanagerUID = "65534"
)

// sharedFiles are the files the deployment shares with `make up` and the
// tests: the alert rules and Alertmanager's config, read from configs/ at
// synth time so that what runs on Fargate is what the tests proved.
type sharedFiles struct {
	Rules      map[string]string // file name -> content, configs/loki/rules/*.yaml
	AMConfig   string            // configs/alertmanager/alertmanager.yml (with ${...} placeholders)
	AMTemplate map[string]string // file name -> content, configs/alertmanager/templates/*.tmpl
	// Grafana maps paths below configs/grafana (provisioning files and the
	// generated dashboards) to their content.
	Grafana map[string]string
}

// loadSharedFiles reads the shared files below the repository root.
func loadSharedFiles(root string) (sharedFiles, error) {
	f := sharedFiles{Rules: map[string]string{}, AMTemplate: map[string]string{}, Grafana: map[string]string{}}
	// glob reads the files of pattern into m, keyed by their path relative
	// to base (below root).
	glob := func(pattern, base string, m map[string]string) error {
		paths, err := filepath.Glob(filepath.Join(root, pattern))
		if err == nil && len(paths) == 0 {
			err = fmt.Errorf("no file matches %s", pattern)
		}
		if err != nil {
			return err
		}
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(filepath.Join(root, base), p)
			if err != nil {
				return err
			}
			m[filepath.ToSlash(rel)] = string(b)
		}
		return nil
	}
	if err := glob("configs/loki/rules/*.yaml", "configs/loki/rules", f.Rules); err != nil {
		return f, fmt.Errorf("reading alert rules: %w", err)
	}
	if err := glob("configs/alertmanager/templates/*.tmpl", "configs/alertmanager/templates", f.AMTemplate); err != nil {
		return f, fmt.Errorf("reading Alertmanager templates: %w", err)
	}
	for _, pattern := range []string{"configs/grafana/provisioning/*/*.yaml", "configs/grafana/dashboards/*.json"} {
		if err := glob(pattern, "configs/grafana", f.Grafana); err != nil {
			return f, fmt.Errorf("reading Grafana's provisioning: %w", err)
		}
	}
	b, err := os.ReadFile(filepath.Join(root, "configs", "alertmanager", "alertmanager.yml"))
	if err != nil {
		return f, fmt.Errorf("reading Alertmanager's config: %w", err)
	}
	f.AMConfig = string(b)
	return f, nil
}

// alertParams choose the team's messenger at deploy time, never by editing
// YAML. The secret itself (webhook URL, bot token, SMTP password) lives in
// Secrets Manager (stack output AlertTargetSecret).
type alertParams struct {
	receiver, telegramChatID, emailTo, emailFrom, smtpSmarthost, smtpUsername *string
}

func newAlertParams(stack awscdk.Stack) alertParams {
	param := func(id, def, description string, allowed ...string) *string {
		p := &awscdk.CfnParameterProps{
			Type:        jsii.String("String"),
			Default:     jsii.String(def),
			Description: jsii.String(description),
		}
		if len(allowed) > 0 {
			p.AllowedValues = jsii.Strings(allowed...)
		}
		return awscdk.NewCfnParameter(stack, jsii.String(id), p).ValueAsString()
	}
	// Required, without a default: alerts that go nowhere by default went
	// unnoticed. Receiving nothing is a choice the deployer types (none).
	receiver := awscdk.NewCfnParameter(stack, jsii.String("AlertReceiver"), &awscdk.CfnParameterProps{
		Type: jsii.String("String"),
		Description: jsii.String("Required. Where alert notifications go (type none to send them nowhere); " +
			"the secret AlertTargetSecret holds its URL, token or password"),
		AllowedValues: jsii.Strings("none", "webhook", "slack", "msteams", "discord", "telegram", "email"),
	}).ValueAsString()
	return alertParams{
		receiver:       receiver,
		telegramChatID: param("AlertTelegramChatId", "0", "Telegram chat ID (AlertReceiver=telegram)"),
		emailTo:        param("AlertEmailTo", "alerts@example.invalid", "Recipient address (AlertReceiver=email)"),
		emailFrom:      param("AlertEmailFrom", "alloy-curated@example.invalid", "Sender address (AlertReceiver=email)"),
		smtpSmarthost:  param("AlertSmtpSmarthost", "localhost:25", "SMTP server host:port (AlertReceiver=email)"),
		smtpUsername:   param("AlertSmtpUsername", "", "SMTP user name, empty for none (AlertReceiver=email)"),
	}
}

// alertmanagerConfig fills configs/alertmanager/alertmanager.yml's
// placeholders with the stack's parameters (CloudFormation tokens, resolved
// at deploy time), as scripts/render-alertmanager.sh does from the
// environment for local runs.
func (s *services) alertmanagerConfig(heartbeat awssns.Topic) string {
	p := s.params.alerts
	return strings.NewReplacer(
		"${ALERT_RECEIVER}", *p.receiver,
		"${ALERT_HEARTBEAT_RECEIVER}", "heartbeat",
		"${ALERT_HEARTBEAT_TOPIC_ARN}", *heartbeat.TopicArn(),
		"${ALERT_HEARTBEAT_REGION}", *awscdk.Aws_REGION(),
		"${ALERT_HEARTBEAT_SNS_URL}", "",
		"${ALERT_SECRETS_DIR}", amConfigDir+"/secrets",
		"${ALERT_EMAIL_TO}", *p.emailTo,
		"${ALERT_EMAIL_FROM}", *p.emailFrom,
		"${ALERT_SMTP_SMARTHOST}", *p.smtpSmarthost,
		"${ALERT_SMTP_USERNAME}", *p.smtpUsername,
	).Replace(s.files.AMConfig)
}

// alertmanager is the Alertmanager in the private subnets, reached as
// alertmanager.curated.internal by Loki's ruler and Grafana: the only one
// (no cluster) in single mode, the first of two in HA mode (alertmanagerPeer).
// It returns the secret the team fills with its messenger's URL or token.
func (s *services) alertmanager() (*deployed, awssecretsmanager.Secret) {
	d := &deployed{id: "Alertmanager", name: "alertmanager", minTasks: 1}
	td := s.taskDefinition("Alertmanager", 256, 512)
	logging := s.routedLogs(td, d)
	// The dead man's switch: Alertmanager publishes the always-firing
	// Watchdog here every minute, with its task role; nobody subscribes, the
	// alarm on its message count (alarms) is the listener. SNS's own key
	// encrypts it: the publisher needs no key grant.
	d.heartbeat = awssns.NewTopic(s.stack, jsii.String("AlertHeartbeat"), &awssns.TopicProps{
		DisplayName: jsii.String("alloy-curated alert path heartbeat (" + s.cfg.Environment + ")"),
		MasterKey:   awskms.Alias_FromAliasName(s.stack, jsii.String("SnsManagedKey"), jsii.String("alias/aws/sns")),
		EnforceSSL:  jsii.Bool(true),
	})
	d.target = awssecretsmanager.NewSecret(s.stack, jsii.String("AlertTarget"), &awssecretsmanager.SecretProps{
		Description: jsii.String("Alert messenger: webhook URL (webhook, Slack, Teams, Discord), Telegram bot token or SMTP password"),
	})
	suppress(d.target, "AwsSolutions-SMG4", "Holds a URL or token issued by the team's messenger, which Secrets Manager cannot rotate")
	s.alertmanagerTask(d, td, logging, 0)
	return d, d.target
}

// alertmanagerPeer is HA mode's second Alertmanager, gossiping with the
// first: each alert reaches both (Loki's ruler posts to every address in
// alertmanager_url), and the notification log they share lets one of them
// notify. Silences set on either reach the other. Each stays in its own AZ
// (the first in the first private subnet, this one in the second), and
// keeps its state on its own EFS, so a replaced task has it even when both
// were replaced.
func (s *services) alertmanagerPeer(first *deployed) *deployed {
	d := &deployed{id: "AlertmanagerPeer", name: alertmanagerPeerName, minTasks: 1, heartbeat: first.heartbeat, target: first.target}
	td := s.taskDefinition(d.id, 256, 512)
	logging := s.routedLogs(td, d)
	s.alertmanagerTask(d, td, logging, 1)
	for _, p := range []awsec2.Port{awsec2.Port_Tcp(jsii.Number(alertmanagerClusterPort)), awsec2.Port_Udp(jsii.Number(alertmanagerClusterPort))} {
		first.svc.Connections().AllowFrom(d.svc, p, jsii.String("Alertmanager gossip"))
		d.svc.Connections().AllowFrom(first.svc, p, jsii.String("Alertmanager gossip"))
	}
	return d
}

// HA mode's Alertmanagers: the second one's Cloud Map name, and the port
// they gossip on (TCP and UDP).
const (
	alertmanagerPeerName    = "alertmanager-peer"
	alertmanagerClusterPort = 9094
)

// alertmanagerCluster are the cluster flags of both HA Alertmanagers: each
// names both (Alertmanager ignores its own address) and advertises the
// task's private IP, which it finds itself when listening on every
// interface.
func alertmanagerCluster() []string {
	return []string{
		fmt.Sprintf("--cluster.listen-address=0.0.0.0:%d", alertmanagerClusterPort),
		fmt.Sprintf("--cluster.peer=%s:%d", alertmanagerHostName, alertmanagerClusterPort),
		fmt.Sprintf("--cluster.peer=%s.%s:%d", alertmanagerPeerName, namespace, alertmanagerClusterPort),
		// The second waits this long for the first to notify before it
		// does (e2e TestLokiHAFailover runs the same).
		"--cluster.peer-timeout=15s",
	}
}

// alertmanagerURLs is where Loki's ruler sends alerts: every Alertmanager,
// as Alertmanager's documentation asks of clients (never one behind a load
// balancer).
func (s *services) alertmanagerURLs() string {
	urls := []string{fmt.Sprintf("http://%s:%d", alertmanagerHostName, alertmanagerPort)}
	if s.cfg.LokiMode == lokiHA {
		urls = append(urls, fmt.Sprintf("http://%s.%s:%d", alertmanagerPeerName, namespace, alertmanagerPort))
	}
	return strings.Join(urls, ",")
}

// privateSubnet selects the private subnet of the i-th AZ.
func (s *services) privateSubnet(i int) *awsec2.SubnetSelection {
	return &awsec2.SubnetSelection{Subnets: &[]awsec2.ISubnet{(*s.vpc.PrivateSubnets())[i]}}
}

// alertmanagerTask adds the Alertmanager container, its state and config
// to td and runs it as d's service: alone in any private subnet in single
// mode; in HA mode clustered, in the private subnet of AZ az.
func (s *services) alertmanagerTask(d *deployed, td awsecs.FargateTaskDefinition, logging awsecs.LogDriver, az int) {
	d.heartbeat.GrantPublish(td.TaskRole())
	ports := []*awsecs.PortMapping{{ContainerPort: jsii.Number(alertmanagerPort), Name: jsii.String("http")}}
	// One instance: no gossip peers to wait for.
	cluster, subnets := []string{"--cluster.listen-address="}, (*awsec2.SubnetSelection)(nil)
	if s.cfg.LokiMode == lokiHA {
		cluster, subnets = alertmanagerCluster(), s.privateSubnet(az)
		ports = append(ports,
			&awsecs.PortMapping{ContainerPort: jsii.Number(alertmanagerClusterPort), Protocol: awsecs.Protocol_TCP, Name: jsii.String("gossip-tcp")},
			&awsecs.PortMapping{ContainerPort: jsii.Number(alertmanagerClusterPort), Protocol: awsecs.Protocol_UDP, Name: jsii.String("gossip-udp")})
	}
	am := td.AddContainer(jsii.String("alertmanager"), &awsecs.ContainerDefinitionOptions{
		Image: s.mirrored(imageAlertmanager),
		Command: jsii.Strings(append([]string{
			"--config.file=" + amConfigDir + "/alertmanager.yml",
			"--storage.path=/alertmanager",
			fmt.Sprintf("--web.listen-address=:%d", alertmanagerPort),
		}, cluster...)...),
		PortMappings: &ports,
		Logging:      logging,
		HealthCheck: &awsecs.HealthCheck{
			// The official image is busybox-based: wget is there.
			Command:     jsii.Strings("CMD-SHELL", fmt.Sprintf("wget -q -O /dev/null http://127.0.0.1:%d/-/ready || exit 1", alertmanagerPort)),
			Interval:    awscdk.Duration_Seconds(jsii.Number(15)),
			Retries:     jsii.Number(3),
			StartPeriod: awscdk.Duration_Seconds(jsii.Number(20)),
		},
	})
	// Silences and the notification log on EFS: a replaced task keeps the
	// silences people set and does not notify again what it already sent.
	state := s.stateVolume(td, d.id+"Data", "alertmanager-data", "/alertmanager", alertmanagerUID, alertmanagerUID)
	am.AddMountPoints(&awsecs.MountPoint{ContainerPath: jsii.String("/alertmanager"), SourceVolume: jsii.String("alertmanager-data"), ReadOnly: jsii.Bool(false)})
	files := []configFile{{name: "alertmanager.yml", content: jsii.String(s.alertmanagerConfig(d.heartbeat))}}
	for _, name := range slices.Sorted(maps.Keys(s.files.AMTemplate)) {
		files = append(files, configFile{name: "templates/" + name, content: jsii.String(s.files.AMTemplate[name])})
	}
	// The receivers read these at send time. Alertmanager's image runs as
	// nobody (65534): the secret is that user's alone.
	files = append(files,
		configFile{name: "secrets/target", secret: awsecs.Secret_FromSecretsManager(d.target, nil), owner: alertmanagerUID + ":" + alertmanagerUID},
		configFile{name: "secrets/telegram_chat_id", content: s.params.alerts.telegramChatID},
	)
	s.configFiles(td, am, d.name+"-config", amConfigDir, files)
	d.svc = s.serviceIn(d.id, td, d.name, 1, nil, subnets)
	mountAfter(d.svc, state)
	state.Connections().AllowDefaultPortFrom(d.svc, jsii.String("Alertmanager keeps its silences and notification log"))
}

// lokiRuleFiles are the rule files as written into Loki's config volume.
func (s *services) lokiRuleFiles() []configFile {
	var out []configFile
	for _, name := range slices.Sorted(maps.Keys(s.files.Rules)) {
		out = append(out, configFile{name: "rules/" + lokiRulesTenant + "/" + name, content: jsii.String(s.files.Rules[name])})
	}
	return out
}

// grafanaURL is where alert links point: Grafana behind the ALB.
func (s *services) grafanaURL() string {
	return "https://" + *s.params.domainName + grafanaPath
}
