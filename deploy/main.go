// Command deploy is an AWS CDK app that synthesizes alloy-curated's
// production architecture on ECS Fargate; see docs/deploy.md.
//
//	cd deploy && npx aws-cdk@2 deploy -c environment=prod \
//	  --parameters CertificateArn=arn:aws:acm:... --parameters AlloyImageTag=... --parameters DomainName=...
package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	cfg, err := configFromContext(app)
	if err != nil {
		fmt.Fprintln(os.Stderr, "deploy:", err)
		os.Exit(2)
	}
	props := &awscdk.StackProps{
		Description: jsii.String("alloy-curated: curated event API (alloy-custom), Loki, Grafana and Alertmanager on ECS Fargate"),
		Env:         &awscdk.Environment{Region: jsii.String(cfg.Region)},
	}
	// The CLI sets the account from its profile; without it the template
	// works in any account (two AZs picked at deploy time; HA mode needs
	// three, looked up with the account).
	if account := os.Getenv("CDK_DEFAULT_ACCOUNT"); account != "" {
		props.Env.Account = jsii.String(account)
	}
	if cfg.LokiMode == lokiHA && props.Env.Account == nil {
		fmt.Fprintln(os.Stderr, "deploy: lokiMode=ha spreads Loki over three AZs, which CDK looks up with an account: "+
			"run it through the CDK CLI (it sets CDK_DEFAULT_ACCOUNT)")
		os.Exit(2)
	}
	files, err := loadSharedFiles("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, "deploy:", err)
		os.Exit(2)
	}
	NewCuratedStack(app, "AlloyCurated-"+cfg.Environment, cfg, files, props)
	checkWithNag(app, false)
	app.Synth(nil)
}

// configFromContext overrides defaultConfig with `-c key=value` context.
func configFromContext(app awscdk.App) (Config, error) {
	cfg, err := defaultConfig()
	if err != nil {
		return cfg, err
	}
	str := func(key string, dst *string) {
		if v, ok := app.Node().TryGetContext(jsii.String(key)).(string); ok && v != "" {
			*dst = v
		}
	}
	num := func(key string, dst *int) error {
		v, ok := app.Node().TryGetContext(jsii.String(key)).(string)
		if !ok || v == "" {
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("context %s: want a non-negative integer, got %q", key, v)
		}
		*dst = n
		return nil
	}
	switch v, _ := app.Node().TryGetContext(jsii.String("ecsExec")).(string); v {
	case "", "false":
	case "true":
		cfg.ECSExec = true
	default:
		return cfg, fmt.Errorf("context ecsExec: want true or false, got %q", v)
	}
	str("lokiMode", &cfg.LokiMode)
	str("environment", &cfg.Environment)
	str("ecrPrefix", &cfg.ECRPrefix)
	cfg.Region = os.Getenv("CDK_DEFAULT_REGION")
	str("region", &cfg.Region)
	for key, dst := range map[string]*int{"natGateways": &cfg.NatGateways, "alloyMinTasks": &cfg.AlloyMin, "alloyMaxTasks": &cfg.AlloyMax} {
		if err := num(key, dst); err != nil {
			return cfg, err
		}
	}
	return cfg, cfg.validate()
}

func (c Config) validate() error {
	switch {
	case c.Region == "":
		return errors.New("no region: pass -c region=<region> or configure the AWS CLI's region; " +
			"the certificate, the ECR images and the stack must all be in that region")
	case c.AlloyMin < 2:
		return fmt.Errorf("alloyMinTasks must be at least 2, one per availability zone; got %d", c.AlloyMin)
	case c.AlloyMax < c.AlloyMin:
		return fmt.Errorf("alloyMaxTasks (%d) must not be below alloyMinTasks (%d)", c.AlloyMax, c.AlloyMin)
	case c.NatGateways < 1 || c.NatGateways > 2:
		return fmt.Errorf("natGateways must be 1 or 2; got %d", c.NatGateways)
	case c.LokiMode != lokiSingle && c.LokiMode != lokiHA:
		return fmt.Errorf("lokiMode must be %s or %s; got %q", lokiSingle, lokiHA, c.LokiMode)
	}
	return nil
}
