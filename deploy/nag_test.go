package main

import (
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// cdk-nag's AwsSolutions pack finds nothing that is not suppressed with a
// reason (nag.go and next to the resources).
func TestCdkNagAwsSolutionsFindsNothingUnsuppressed(t *testing.T) {
	rule := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
	for _, e := range *annotations.FindError(jsii.String("*"), rule) {
		t.Errorf("%s: %v", *e.Id, e.Entry.Data)
	}
	for _, w := range *annotations.FindWarning(jsii.String("*"), rule) {
		t.Logf("warning %s: %v", *w.Id, fmt.Sprint(w.Entry.Data))
	}
}
