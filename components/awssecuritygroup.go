package components

import (
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// securityGroup is the AWS provider's aws:ec2/securityGroup:SecurityGroup,
// declared here with only the inputs this project sets. The generated
// pulumi-aws ec2 package is by far the largest in the SDK: importing it for
// this one resource adds about 27 s and 3.1 GiB of peak memory to a cold
// build (measured on 2 cores), so it is registered by its type token instead.
// TestSecurityGroupMatchesProviderSchema checks the property names against
// the generated SDK source, so a rename upstream fails the tests.
type securityGroup struct {
	pulumi.CustomResourceState
}

type securityGroupInputs struct {
	Description         string            `pulumi:"description"`
	VpcID               string            `pulumi:"vpcId"`
	RevokeRulesOnDelete bool              `pulumi:"revokeRulesOnDelete"`
	Tags                map[string]string `pulumi:"tags"`
}

type securityGroupArgs struct {
	Description         pulumi.StringInput    `pulumi:"description"`
	VpcID               pulumi.StringInput    `pulumi:"vpcId"`
	RevokeRulesOnDelete pulumi.BoolInput      `pulumi:"revokeRulesOnDelete"`
	Tags                pulumi.StringMapInput `pulumi:"tags"`
}

// ElementType implements pulumi.Input.
func (securityGroupArgs) ElementType() reflect.Type {
	return reflect.TypeOf((*securityGroupInputs)(nil)).Elem()
}

// awsProviderVersion pins the provider plugin the generated packages would
// (github.com/pulumi/pulumi-aws/sdk/v6, the version in go.mod).
const awsProviderVersion = "6.83.4"

func newSecurityGroup(ctx *pulumi.Context, name string, args securityGroupArgs, opts ...pulumi.ResourceOption) (*securityGroup, error) {
	var sg securityGroup
	opts = append(opts, pulumi.Version(awsProviderVersion))
	if err := ctx.RegisterResource("aws:ec2/securityGroup:SecurityGroup", name, args, &sg, opts...); err != nil {
		return nil, err
	}
	return &sg, nil
}

// SecurityGroupInputNames lists the provider input names this project sets
// on a security group (for the schema check in the tests).
func SecurityGroupInputNames() []string {
	t := reflect.TypeFor[securityGroupArgs]()
	names := make([]string, t.NumField())
	for i := range names {
		names[i] = t.Field(i).Tag.Get("pulumi")
	}
	return names
}
