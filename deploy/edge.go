package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	elb "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awswafv2"
	"github.com/aws/jsii-runtime-go"
)

// eventsPaths are the event API's paths on the ALB (docs/api.md).
var eventsPaths = []string{"/v1/events", "/v1/events/*"}

// WAF rule names; tests and the docs refer to them.
const (
	wafEventRate      = "EventApiRateLimit"
	wafLoginRate      = "GrafanaLoginRateLimit"
	wafCommonRules    = "AWSManagedRulesCommonRuleSet"
	wafGrafanaSources = "GrafanaAllowedSources"
	// grafanaAnywhere is every IPv4 address in CIDRs AWS WAF takes.
	grafanaAnywhere   = "0.0.0.0/1,128.0.0.0/1"
	wafRetryAfterSecs = "60"
	// The body the WAF answers rate-limited requests with: the API's own
	// error shape and code (docs/api.md), so SDKs treat it like the
	// component's 429.
	wafRateLimitedBody = `{"accepted":0,"rejected":0,"errors":[{"code":"rate_limited","reason":"too many requests from this address; retry after ` + wafRetryAfterSecs + ` s"}]}`
)

// newLogBucket holds the ALB's access logs and the Loki bucket's server
// access logs: encrypted with S3-managed keys (the only kind ALB log
// delivery accepts), private, kept 90 days.
func newLogBucket(stack awscdk.Stack) awss3.Bucket {
	b := awss3.NewBucket(stack, jsii.String("LogBucket"), &awss3.BucketProps{
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_PREFERRED,
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:         jsii.String("expire-logs"),
			Expiration: awscdk.Duration_Days(jsii.Number(90)),
		}},
	})
	return b
}

// newWebACL puts AWS WAF in front of the ALB:
//   - a per-IP rate limit on the event API, across all tasks (the
//     component's own per-IP limits are per task), answered like the API's
//     own 429;
//   - a per-IP rate limit on Grafana's sign-in (password guessing);
//   - Grafana only from the GrafanaAllowedCidrs addresses (an IP set: as
//     many CIDRs as a team needs, where an ALB rule holds 5 values), others
//     answered 404 as if there were nothing;
//   - AWS's common rule set on everything but the event API. Event bodies
//     are validated by the component itself; the managed rules' body checks
//     (8 KB size limit, XSS and LFI patterns) would block legitimate
//     batches, stack traces and URLs. SizeRestrictions_BODY only counts, so
//     saving a large dashboard works.
func newWebACL(stack awscdk.Stack, alb elb.ApplicationLoadBalancer, params stackParams) awswafv2.CfnWebACL {
	visibility := func(name string) *awswafv2.CfnWebACL_VisibilityConfigProperty {
		return &awswafv2.CfnWebACL_VisibilityConfigProperty{
			MetricName:               jsii.String(name),
			CloudWatchMetricsEnabled: jsii.Bool(true),
			SampledRequestsEnabled:   jsii.Bool(true),
		}
	}
	path := func(constraint, value string) *awswafv2.CfnWebACL_StatementProperty {
		return &awswafv2.CfnWebACL_StatementProperty{ByteMatchStatement: &awswafv2.CfnWebACL_ByteMatchStatementProperty{
			FieldToMatch:         &awswafv2.CfnWebACL_FieldToMatchProperty{UriPath: map[string]any{}},
			PositionalConstraint: jsii.String(constraint),
			SearchString:         jsii.String(value),
			TextTransformations: &[]*awswafv2.CfnWebACL_TextTransformationProperty{
				{Priority: jsii.Number(0), Type: jsii.String("NONE")},
			},
		}}
	}
	tooMany := &awswafv2.CfnWebACL_RuleActionProperty{Block: &awswafv2.CfnWebACL_BlockActionProperty{
		CustomResponse: &awswafv2.CfnWebACL_CustomResponseProperty{
			ResponseCode:          jsii.Number(429),
			CustomResponseBodyKey: jsii.String("rate-limited"),
			ResponseHeaders: &[]*awswafv2.CfnWebACL_CustomHTTPHeaderProperty{
				{Name: jsii.String("Retry-After"), Value: jsii.String(wafRetryAfterSecs)},
			},
		},
	}}
	rateLimit := func(priority float64, name string, limit *float64, scope *awswafv2.CfnWebACL_StatementProperty) *awswafv2.CfnWebACL_RuleProperty {
		return &awswafv2.CfnWebACL_RuleProperty{
			Name:     jsii.String(name),
			Priority: jsii.Number(priority),
			Action:   tooMany,
			Statement: &awswafv2.CfnWebACL_StatementProperty{RateBasedStatement: &awswafv2.CfnWebACL_RateBasedStatementProperty{
				Limit:               limit,
				AggregateKeyType:    jsii.String("IP"),
				EvaluationWindowSec: jsii.Number(300),
				ScopeDownStatement:  scope,
			}},
			VisibilityConfig: visibility(name),
		}
	}

	// AWS WAF refuses /0 in an IP set, and only once it creates the set:
	// the template says so before anything is created.
	awscdk.NewCfnRule(stack, jsii.String("GrafanaCidrsWithoutSlashZero"), &awscdk.CfnRuleProps{
		Assertions: &[]*awscdk.CfnRuleAssertion{{
			Assert:            awscdk.Fn_ConditionNot(awscdk.Fn_ConditionContains(params.grafanaAllowedCidrs, jsii.String("0.0.0.0/0"))),
			AssertDescription: jsii.String("GrafanaAllowedCidrs: AWS WAF takes no /0; for anywhere use " + grafanaAnywhere),
		}},
	})
	grafanaSources := awswafv2.NewCfnIPSet(stack, jsii.String("GrafanaAllowedSources"), &awswafv2.CfnIPSetProps{
		Scope:            jsii.String("REGIONAL"),
		IpAddressVersion: jsii.String("IPV4"),
		Addresses:        params.grafanaAllowedCidrs,
		Description:      jsii.String("Addresses that may open Grafana (GrafanaAllowedCidrs)"),
	})
	notFound := &awswafv2.CfnWebACL_RuleActionProperty{Block: &awswafv2.CfnWebACL_BlockActionProperty{
		CustomResponse: &awswafv2.CfnWebACL_CustomResponseProperty{ResponseCode: jsii.Number(404)},
	}}

	acl := awswafv2.NewCfnWebACL(stack, jsii.String("WebAcl"), &awswafv2.CfnWebACLProps{
		Scope:            jsii.String("REGIONAL"),
		DefaultAction:    &awswafv2.CfnWebACL_DefaultActionProperty{Allow: map[string]any{}},
		VisibilityConfig: visibility("alloy-curated"),
		CustomResponseBodies: map[string]*awswafv2.CfnWebACL_CustomResponseBodyProperty{
			"rate-limited": {ContentType: jsii.String("APPLICATION_JSON"), Content: jsii.String(wafRateLimitedBody)},
		},
		Rules: &[]*awswafv2.CfnWebACL_RuleProperty{
			rateLimit(0, wafEventRate, params.eventRateLimit, path("STARTS_WITH", "/v1/events")),
			rateLimit(1, wafLoginRate, jsii.Number(100), path("EXACTLY", grafanaPath+"/login")),
			{
				Name:           jsii.String(wafCommonRules),
				Priority:       jsii.Number(2),
				OverrideAction: &awswafv2.CfnWebACL_OverrideActionProperty{None: map[string]any{}},
				Statement: &awswafv2.CfnWebACL_StatementProperty{ManagedRuleGroupStatement: &awswafv2.CfnWebACL_ManagedRuleGroupStatementProperty{
					VendorName: jsii.String("AWS"),
					Name:       jsii.String(wafCommonRules),
					RuleActionOverrides: &[]*awswafv2.CfnWebACL_RuleActionOverrideProperty{{
						Name:        jsii.String("SizeRestrictions_BODY"),
						ActionToUse: &awswafv2.CfnWebACL_RuleActionProperty{Count: map[string]any{}},
					}},
					ScopeDownStatement: &awswafv2.CfnWebACL_StatementProperty{NotStatement: &awswafv2.CfnWebACL_NotStatementProperty{
						Statement: path("STARTS_WITH", "/v1/events"),
					}},
				}},
				VisibilityConfig: visibility(wafCommonRules),
			},
			{
				Name:     jsii.String(wafGrafanaSources),
				Priority: jsii.Number(3),
				Action:   notFound,
				Statement: &awswafv2.CfnWebACL_StatementProperty{AndStatement: &awswafv2.CfnWebACL_AndStatementProperty{
					Statements: &[]*awswafv2.CfnWebACL_StatementProperty{
						path("STARTS_WITH", grafanaPath),
						{NotStatement: &awswafv2.CfnWebACL_NotStatementProperty{Statement: &awswafv2.CfnWebACL_StatementProperty{
							IpSetReferenceStatement: &awswafv2.CfnWebACL_IPSetReferenceStatementProperty{Arn: grafanaSources.AttrArn()},
						}}},
					},
				}},
				VisibilityConfig: visibility(wafGrafanaSources),
			},
		},
	})
	awswafv2.NewCfnWebACLAssociation(stack, jsii.String("WebAclAlb"), &awswafv2.CfnWebACLAssociationProps{
		ResourceArn: alb.LoadBalancerArn(),
		WebAclArn:   acl.AttrArn(),
	})
	return acl
}

// certificateAndDNS returns the HTTPS listener's certificate: CertificateArn
// when given, else one the stack requests from ACM for DomainName,
// validated by DNS in HostedZoneId (CloudFormation writes the validation
// record and waits for the certificate). With HostedZoneId, DomainName is
// also an alias of the ALB there. A template rule refuses a deploy with
// neither, which would wait for a certificate nobody can validate.
func certificateAndDNS(stack awscdk.Stack, params stackParams, alb elb.ApplicationLoadBalancer) *string {
	awscdk.NewCfnRule(stack, jsii.String("CertificateOrHostedZone"), &awscdk.CfnRuleProps{
		Assertions: &[]*awscdk.CfnRuleAssertion{{
			Assert: awscdk.Fn_ConditionOr(
				awscdk.Fn_ConditionNot(awscdk.Fn_ConditionEquals(params.certificateArn, jsii.String(""))),
				awscdk.Fn_ConditionNot(awscdk.Fn_ConditionEquals(params.hostedZoneID, jsii.String("")))),
			AssertDescription: jsii.String("Give CertificateArn, or HostedZoneId for the stack to create and validate a certificate of DomainName"),
		}},
	})
	create := awscdk.NewCfnCondition(stack, jsii.String("CreateCertificate"), &awscdk.CfnConditionProps{
		Expression: awscdk.Fn_ConditionEquals(params.certificateArn, jsii.String("")),
	})
	hasZone := awscdk.NewCfnCondition(stack, jsii.String("HasHostedZone"), &awscdk.CfnConditionProps{
		Expression: awscdk.Fn_ConditionNot(awscdk.Fn_ConditionEquals(params.hostedZoneID, jsii.String(""))),
	})
	cert := awscertificatemanager.NewCfnCertificate(stack, jsii.String("Certificate"), &awscertificatemanager.CfnCertificateProps{
		DomainName:       params.domainName,
		ValidationMethod: jsii.String("DNS"),
		DomainValidationOptions: &[]*awscertificatemanager.CfnCertificate_DomainValidationOptionProperty{{
			DomainName: params.domainName, HostedZoneId: params.hostedZoneID,
		}},
	})
	cert.CfnOptions().SetCondition(create)
	record := awsroute53.NewCfnRecordSet(stack, jsii.String("DomainAlias"), &awsroute53.CfnRecordSetProps{
		HostedZoneId: params.hostedZoneID,
		Name:         params.domainName,
		Type:         jsii.String("A"),
		AliasTarget: &awsroute53.CfnRecordSet_AliasTargetProperty{
			DnsName:      alb.LoadBalancerDnsName(),
			HostedZoneId: alb.LoadBalancerCanonicalHostedZoneId(),
		},
	})
	record.CfnOptions().SetCondition(hasZone)
	return awscdk.Token_AsString(awscdk.Fn_ConditionIf(create.LogicalId(), cert.Ref(), params.certificateArn), nil)
}
