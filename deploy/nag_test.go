package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/constructs-go/constructs/v10"
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

// Every suppression still hides a finding on the construct it was made on
// (or a resource under it): a rule that now passes without it makes the
// suppression stale, and its reason possibly untrue.
func TestEveryNagSuppressionStillSuppressesAFinding(t *testing.T) {
	triggered := regexp.MustCompile(`(AwsSolutions-[A-Za-z0-9]+) was triggered but suppressed`)
	suppressed := map[string][]string{} // rule -> paths of the resources it was suppressed on
	for _, m := range *annotations.FindInfo(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String(".*was triggered but suppressed.*"))) {
		if sub := triggered.FindStringSubmatch(fmt.Sprint(m.Entry.Data)); sub != nil {
			suppressed[sub[1]] = append(suppressed[sub[1]], *m.Id)
		}
	}
	n := 0
	for _, c := range *testStack.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		for _, md := range *c.Node().Metadata() {
			if *md.Type != nagSuppressionMetadata {
				continue
			}
			n++
			rule, _ := md.Data.(string)
			path := "/" + *c.Node().Path()
			if !slices.ContainsFunc(suppressed[rule], func(p string) bool { return p == path || strings.HasPrefix(p, path+"/") }) {
				t.Errorf("%s: the suppression of %s hides no finding: remove it", path, rule)
			}
		}
	}
	if n == 0 {
		t.Fatal("found no suppressions: suppress() no longer records them")
	}
	t.Logf("%d suppressions checked", n)
}
