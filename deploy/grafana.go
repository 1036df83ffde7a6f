package main

import (
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	elb "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/jsii-runtime-go"
)

const (
	// grafanaConfigDir holds configs/grafana in the Grafana task, as
	// compose.yaml mounts it: provisioning/ and the dashboards.
	grafanaConfigDir = "/etc/grafana/curated"
	// grafanaStartMinutes is the health check grace of a starting Grafana.
	grafanaStartMinutes = 10
	// grafanaDBPort is the port of Grafana's PostgreSQL.
	grafanaDBPort = 5433
)

// grafanaParams sign teammates in with the team's identity provider
// (generic OAuth 2.0 / OpenID Connect: Google Workspace, GitHub, Entra ID,
// Okta, ...). With GrafanaOAuthClientId empty, only Grafana's own accounts
// sign in (the admin, and users the admin invites).
type grafanaParams struct {
	clientID, authURL, tokenURL, apiURL, allowedDomains, admins *string
	enabled                                                     awscdk.CfnCondition
}

func newGrafanaParams(stack awscdk.Stack) grafanaParams {
	param := func(id, description string) *string {
		return awscdk.NewCfnParameter(stack, jsii.String(id), &awscdk.CfnParameterProps{
			Type: jsii.String("String"), Default: jsii.String(""), Description: jsii.String(description),
		}).ValueAsString()
	}
	p := grafanaParams{
		clientID: param("GrafanaOAuthClientId", "OAuth client ID of Grafana at the team's identity provider; empty turns single sign-on off. "+
			"Its client secret goes into GrafanaOAuthClientSecret"),
		authURL:        param("GrafanaOAuthAuthUrl", "Authorization endpoint, e.g. https://accounts.google.com/o/oauth2/v2/auth"),
		tokenURL:       param("GrafanaOAuthTokenUrl", "Token endpoint, e.g. https://oauth2.googleapis.com/token"),
		apiURL:         param("GrafanaOAuthApiUrl", "User info endpoint, e.g. https://openidconnect.googleapis.com/v1/userinfo"),
		allowedDomains: param("GrafanaOAuthAllowedDomains", "Space-separated e-mail domains that may sign in, e.g. example.com; required with GrafanaOAuthClientId"),
		admins:         param("GrafanaAdmins", "Comma-separated e-mail addresses that sign in as Grafana admins; everyone else is a Viewer"),
	}
	p.enabled = awscdk.NewCfnCondition(stack, jsii.String("GrafanaOAuthEnabled"), &awscdk.CfnConditionProps{
		Expression: awscdk.Fn_ConditionNot(awscdk.Fn_ConditionEquals(p.clientID, jsii.String(""))),
	})
	// Single sign-on without allowed domains makes everyone the identity
	// provider knows (any Google account, say) a Viewer of every event:
	// CloudFormation refuses that combination before creating anything.
	awscdk.NewCfnRule(stack, jsii.String("GrafanaSsoNeedsAllowedDomains"), &awscdk.CfnRuleProps{
		RuleCondition: awscdk.Fn_ConditionNot(awscdk.Fn_ConditionEquals(p.clientID, jsii.String(""))),
		Assertions: &[]*awscdk.CfnRuleAssertion{{
			Assert:            awscdk.Fn_ConditionNot(awscdk.Fn_ConditionEquals(p.allowedDomains, jsii.String(""))),
			AssertDescription: jsii.String("GrafanaOAuthAllowedDomains is required with GrafanaOAuthClientId: without it anyone the identity provider knows could sign in"),
		}},
	})
	return p
}

// roleAttributePath is the JMESPath that makes GrafanaAdmins admins and
// everyone else a Viewer.
func (p grafanaParams) roleAttributePath() *string {
	return awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("contains(['"),
		awscdk.Fn_Join(jsii.String("','"), awscdk.Fn_Split(jsii.String(","), p.admins, nil)),
		jsii.String("'], email) && 'Admin' || 'Viewer'"),
	})
}

// grafana serves the provisioned dashboards under /grafana on the ALB, to
// the allowed source addresses only. Anonymous access is off; teammates sign
// in with the identity provider (or an invitation) and are Viewers. Users,
// sessions and preferences live in PostgreSQL (grafanaDB), so they survive
// a replaced task and an upgrade's migrations.
func (s *services) grafana() *deployed {
	d := &deployed{id: "Grafana", name: "grafana", minTasks: 1, secrets: map[string]awssecretsmanager.Secret{
		"GrafanaAdminPassword": s.generatedSecret("GrafanaAdminPassword", "password of Grafana's admin user",
			"Grafana reads it only when it creates the admin user on its first start and keeps its own hash: "+
				"a rotated secret would no longer match, so the password is changed in Grafana and here by hand (docs/deploy.md)"),
		"GrafanaOAuthClientSecret": s.generatedSecret("GrafanaOAuthClientSecret",
			"client secret of Grafana at the identity provider (replace the generated value)",
			"The identity provider issues it; Secrets Manager cannot rotate it there"),
	}}
	td := s.taskDefinition("Grafana", 512, 1024)
	db := s.grafanaDB()
	oauth := s.params.grafana
	ifOAuth := func(v string) *string {
		return awscdk.Token_AsString(awscdk.Fn_ConditionIf(oauth.enabled.LogicalId(), jsii.String(v), jsii.String("false")), nil)
	}
	logging := s.routedLogs(td, d)
	grafana := td.AddContainer(jsii.String("grafana"), &awsecs.ContainerDefinitionOptions{
		Image:        s.mirrored(imageGrafana),
		PortMappings: &[]*awsecs.PortMapping{{ContainerPort: jsii.Number(grafanaPort), Name: jsii.String("http")}},
		Environment: &map[string]*string{
			// Links in invitations, alerts and sign-in redirects use the
			// stack's domain.
			"GF_SERVER_ROOT_URL":             jsii.String(s.grafanaURL() + "/"),
			"GF_SERVER_SERVE_FROM_SUB_PATH":  jsii.String("true"),
			"GF_AUTH_ANONYMOUS_ENABLED":      jsii.String("false"),
			"GF_USERS_ALLOW_SIGN_UP":         jsii.String("false"),
			"GF_USERS_AUTO_ASSIGN_ORG":       jsii.String("true"),
			"GF_USERS_AUTO_ASSIGN_ORG_ROLE":  jsii.String("Viewer"),
			"GF_USERS_VIEWERS_CAN_EDIT":      jsii.String("false"),
			"GF_SECURITY_ADMIN_USER":         jsii.String("admin"),
			"GF_SECURITY_COOKIE_SECURE":      jsii.String("true"),
			"GF_ANALYTICS_REPORTING_ENABLED": jsii.String("false"),
			// /metrics needs no sign-in; behind the ALB it would be public.
			"GF_METRICS_ENABLED": jsii.String("false"),
			// configs/grafana, written by the init container below; the
			// provisioning files read LOKI_URL and ALERTMANAGER_URL.
			"GF_PATHS_PROVISIONING": jsii.String(grafanaConfigDir + "/provisioning"),
			"LOKI_URL":              jsii.String(fmt.Sprintf("http://%s:%d", lokiHostName, lokiPort)),
			"ALERTMANAGER_URL":      jsii.String(fmt.Sprintf("http://%s:%d", alertmanagerHostName, alertmanagerPort)),
			// Single sign-on: everyone from the allowed domains gets an
			// account on first sign-in, as Viewer unless listed in GrafanaAdmins.
			"GF_AUTH_GENERIC_OAUTH_ENABLED": ifOAuth("true"),
			// With SSO the password form goes: sign-in is the team's accounts.
			"GF_AUTH_DISABLE_LOGIN_FORM":                       ifOAuth("true"),
			"GF_AUTH_GENERIC_OAUTH_ALLOW_SIGN_UP":              ifOAuth("true"),
			"GF_AUTH_GENERIC_OAUTH_NAME":                       jsii.String("your team's account"),
			"GF_AUTH_GENERIC_OAUTH_CLIENT_ID":                  oauth.clientID,
			"GF_AUTH_GENERIC_OAUTH_SCOPES":                     jsii.String("openid email profile"),
			"GF_AUTH_GENERIC_OAUTH_AUTH_URL":                   oauth.authURL,
			"GF_AUTH_GENERIC_OAUTH_TOKEN_URL":                  oauth.tokenURL,
			"GF_AUTH_GENERIC_OAUTH_API_URL":                    oauth.apiURL,
			"GF_AUTH_GENERIC_OAUTH_ALLOWED_DOMAINS":            oauth.allowedDomains,
			"GF_AUTH_GENERIC_OAUTH_USE_PKCE":                   jsii.String("true"),
			"GF_AUTH_GENERIC_OAUTH_ROLE_ATTRIBUTE_PATH":        oauth.roleAttributePath(),
			"GF_AUTH_GENERIC_OAUTH_ALLOW_ASSIGN_GRAFANA_ADMIN": jsii.String("false"),
		},
		Secrets: &map[string]awsecs.Secret{
			"GF_SECURITY_ADMIN_PASSWORD":          awsecs.Secret_FromSecretsManager(d.secrets["GrafanaAdminPassword"], nil),
			"GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET": awsecs.Secret_FromSecretsManager(d.secrets["GrafanaOAuthClientSecret"], nil),
			"GF_DATABASE_USER":                    awsecs.Secret_FromSecretsManager(db.Secret(), jsii.String("username")),
			"GF_DATABASE_PASSWORD":                awsecs.Secret_FromSecretsManager(db.Secret(), jsii.String("password")),
		},
		Logging: logging,
	})
	// In a fixed order: a template that changes with Go's map order would
	// replace Grafana's task on every deploy (TestSynthIsDeterministic).
	dbEnv := map[string]*string{
		"GF_DATABASE_TYPE":     jsii.String("postgres"),
		"GF_DATABASE_HOST":     awscdk.Fn_Join(jsii.String(":"), &[]*string{db.DbInstanceEndpointAddress(), db.DbInstanceEndpointPort()}),
		"GF_DATABASE_NAME":     jsii.String(grafanaDBName),
		"GF_DATABASE_SSL_MODE": jsii.String("require"),
	}
	for _, k := range slices.Sorted(maps.Keys(dbEnv)) {
		grafana.AddEnvironment(jsii.String(k), dbEnv[k])
	}
	var files []configFile
	for _, name := range slices.Sorted(maps.Keys(s.files.Grafana)) {
		// The dashboards are too large for plain environment variables (a
		// task definition holds at most 64 KiB); gzipped, Grafana's
		// ${__value.raw} in the datasources does not look like a
		// CloudFormation substitution either.
		files = append(files, configFile{name: name, content: jsii.String(s.files.Grafana[name]), gzip: true})
	}
	s.configFiles(td, grafana, "grafana-config", grafanaConfigDir, files)
	// Grafana migrates its database before it listens: on a first start
	// hundreds of migrations, over the network (not measured here: Grafana
	// cannot run on this project's machines). ECS's default 60 s of grace
	// could kill it mid-migration and the circuit breaker would roll the
	// stack back; 10 minutes leaves room.
	d.svc = s.service("Grafana", td, "grafana", 1, awscdk.Duration_Minutes(jsii.Number(grafanaStartMinutes)))
	db.Connections().AllowFrom(d.svc, awsec2.Port_Tcp(jsii.Number(grafanaDBPort)), jsii.String("Grafana's database"))
	d.targetGroup = s.listener.AddTargets(jsii.String("Grafana"), &elb.AddApplicationTargetsProps{
		Priority: jsii.Number(20),
		Conditions: &[]elb.ListenerCondition{
			// The allowed source addresses are the WAF's (newWebACL).
			elb.ListenerCondition_PathPatterns(jsii.Strings(grafanaPath, grafanaPath+"/*")),
		},
		Port:     jsii.Number(grafanaPort),
		Protocol: elb.ApplicationProtocol_HTTP,
		Targets: &[]elb.IApplicationLoadBalancerTarget{d.svc.LoadBalancerTarget(&awsecs.LoadBalancerTargetOptions{
			ContainerName: jsii.String("grafana"), ContainerPort: jsii.Number(grafanaPort),
		})},
		// Healthy after two answers 15 s apart, not the default five 30 s
		// apart: 30 s instead of 150 s before the first sign-in.
		HealthCheck: &elb.HealthCheck{Path: jsii.String(grafanaPath + "/api/health"),
			Interval: awscdk.Duration_Seconds(jsii.Number(15)), HealthyThresholdCount: jsii.Number(2)},
		DeregistrationDelay: awscdk.Duration_Seconds(jsii.Number(albDeregistrationDelay)),
	})
	return d
}

// grafanaDBName is Grafana's database on its RDS instance.
const grafanaDBName = "grafana"

// grafanaDB is Grafana's database: PostgreSQL on RDS, not SQLite on EFS.
// Grafana migrates its schema at every start of a new version, and SQLite
// over a network file system has been reported to fail those migrations
// with "database is locked" (grafana/grafana#115875); invited accounts,
// preferences and UI-made dashboards live here, so losing them on a
// replaced task is no answer either. The smallest instance in one zone
// with a week of backups: Grafana's state is small, and while the instance
// is replaced the dashboards wait, the events do not (docs/deploy.md).
func (s *services) grafanaDB() awsrds.DatabaseInstance {
	db := awsrds.NewDatabaseInstance(s.stack, jsii.String("GrafanaDb"), &awsrds.DatabaseInstanceProps{
		Engine:       awsrds.DatabaseInstanceEngine_Postgres(&awsrds.PostgresInstanceEngineProps{Version: awsrds.PostgresEngineVersion_VER_16()}),
		InstanceType: awsec2.InstanceType_Of(awsec2.InstanceClass_BURSTABLE4_GRAVITON, awsec2.InstanceSize_MICRO),
		Vpc:          s.vpc,
		VpcSubnets:   &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS},
		// Not the default port: a scanner's first guess finds nothing.
		Port:                    jsii.Number(grafanaDBPort),
		DatabaseName:            jsii.String(grafanaDBName),
		Credentials:             awsrds.Credentials_FromGeneratedSecret(jsii.String("grafana"), nil),
		StorageEncrypted:        jsii.Bool(true),
		AllocatedStorage:        jsii.Number(20),
		StorageType:             awsrds.StorageType_GP3,
		MultiAz:                 jsii.Bool(false),
		BackupRetention:         awscdk.Duration_Days(jsii.Number(7)),
		DeletionProtection:      jsii.Bool(true),
		RemovalPolicy:           awscdk.RemovalPolicy_SNAPSHOT,
		AutoMinorVersionUpgrade: jsii.Bool(true),
		PubliclyAccessible:      jsii.Bool(false),
		CloudwatchLogsExports:   jsii.Strings("postgresql"),
	})
	suppress(db, "AwsSolutions-RDS3", "One zone for Grafana's small state: a zone outage pauses the dashboards, not the events; "+
		"backups are kept 7 days, and MultiAz doubles the instance's cost (docs/deploy.md)")
	suppress(db, "AwsSolutions-SMG4", "Grafana reads the password when it starts: a rotation would break the running task until "+
		"it is replaced, so it is rotated by hand with a new deployment (docs/deploy.md)")
	return db
}
