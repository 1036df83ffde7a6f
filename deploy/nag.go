package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// checkWithNag runs cdk-nag's AwsSolutions rules on everything in scope at
// synth time: an unsuppressed finding is an error, which fails `cdk synth`,
// `cdk deploy` and `make test-deploy`. logIgnores notes each suppressed
// finding on its resource, which the tests use to find suppressions that
// no longer suppress anything.
func checkWithNag(scope constructs.Construct, logIgnores bool) {
	awscdk.Aspects_Of(scope).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{
		Verbose: jsii.Bool(true), LogIgnores: jsii.Bool(logIgnores),
	}), nil)
}

// nagSuppressionMetadata marks the construct a suppression was made on
// (node metadata: in the cloud assembly, not the template).
const nagSuppressionMetadata = "curated:nag-suppression"

// suppress accepts a cdk-nag finding on c and its children, with the reason
// it does not apply here; appliesTo narrows a granular finding (IAM5) to
// the listed resources or actions.
func suppress(c constructs.IConstruct, rule, reason string, appliesTo ...string) {
	s := &cdknag.NagPackSuppression{Id: jsii.String(rule), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		list := make([]any, len(appliesTo))
		for i, a := range appliesTo {
			list[i] = a
		}
		s.AppliesTo = &list
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &[]*cdknag.NagPackSuppression{s}, jsii.Bool(true))
	c.Node().AddMetadata(jsii.String(nagSuppressionMetadata), rule, nil)
}
