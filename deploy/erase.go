package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"
)

// eraseTask is a task definition without a service: cmd/curated-erase in
// the alloy-custom image, run on demand (aws ecs run-task) to erase one
// person's events (docs/privacy.md). Loki has no public endpoint; this task
// runs in the private subnets with its own security group, which Loki
// admits. Who may erase is who may run this task definition
// (ecs:RunTask on it and iam:PassRole on its roles); its output goes to
// its log group, the audit event to Loki.
func (s *services) eraseTask() (awsecs.FargateTaskDefinition, awsec2.SecurityGroup, *deployed) {
	d := &deployed{id: "Erase", name: "erase"}
	td := s.taskDefinition("Erase", 256, 512)
	var logging awsecs.LogDriver
	logging, d.logGroup = s.logs("erase")
	td.AddContainer(jsii.String("erase"), &awsecs.ContainerDefinitionOptions{
		Image:      s.image(imageAlloy, s.params.alloyImageTag),
		EntryPoint: jsii.Strings("/bin/curated-erase"),
		// run-task overrides the command with the request's flags.
		Command: jsii.Strings("-h"),
		Environment: &map[string]*string{
			"LOKI_URL":    jsii.String(fmt.Sprintf("http://%s:%d", lokiHostName, lokiPort)),
			"LOKI_TENANT": jsii.String(""),
		},
		Logging: logging,
	})
	suppress(td.ExecutionRole(), "AwsSolutions-IAM5", "ecr:GetAuthorizationToken does not support resource-level permissions", "Resource::*")
	sg := awsec2.NewSecurityGroup(s.stack, jsii.String("EraseSg"), &awsec2.SecurityGroupProps{
		Vpc:              s.vpc,
		Description:      jsii.String("curated-erase runs (docs/privacy.md)"),
		AllowAllOutbound: jsii.Bool(true), // image pull through the NAT, Loki
	})
	return td, sg, d
}
