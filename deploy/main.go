// Command deploy is an AWS CDK app that synthesizes alloy-curated's
// production architecture on ECS Fargate; see docs/deploy.md.
//
//	cd deploy && npx aws-cdk@2 deploy -c environment=prod \
//	  --parameters CertificateArn=arn:aws:acm:... --parameters AlloyImage=...
package main

import (
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
		Description: jsii.String("alloy-curated: curated event API (alloy-custom), Loki and Grafana on ECS Fargate"),
	}
	// The CLI sets these from its profile; without them the template is
	// environment-agnostic (two AZs picked at deploy time).
	if account, region := os.Getenv("CDK_DEFAULT_ACCOUNT"), os.Getenv("CDK_DEFAULT_REGION"); account != "" && region != "" {
		props.Env = &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(region)}
	}
	files, err := loadSharedFiles("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, "deploy:", err)
		os.Exit(2)
	}
	NewCuratedStack(app, "AlloyCurated-"+cfg.Environment, cfg, files, props)
	app.Synth(nil)
}

// configFromContext overrides defaultConfig with `-c key=value` context.
func configFromContext(app awscdk.App) (Config, error) {
	cfg := defaultConfig()
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
	str("environment", &cfg.Environment)
	str("lokiImage", &cfg.LokiImage)
	str("grafanaImage", &cfg.GrafanaImage)
	str("alertmanagerImage", &cfg.AlertmanagerImage)
	str("initImage", &cfg.InitImage)
	for key, dst := range map[string]*int{"natGateways": &cfg.NatGateways, "alloyMinTasks": &cfg.AlloyMin, "alloyMaxTasks": &cfg.AlloyMax} {
		if err := num(key, dst); err != nil {
			return cfg, err
		}
	}
	return cfg, cfg.validate()
}

func (c Config) validate() error {
	switch {
	case c.AlloyMin < 2:
		return fmt.Errorf("alloyMinTasks must be at least 2, one per availability zone; got %d", c.AlloyMin)
	case c.AlloyMax < c.AlloyMin:
		return fmt.Errorf("alloyMaxTasks (%d) must not be below alloyMinTasks (%d)", c.AlloyMax, c.AlloyMin)
	case c.NatGateways < 1 || c.NatGateways > 2:
		return fmt.Errorf("natGateways must be 1 or 2; got %d", c.NatGateways)
	}
	return nil
}
