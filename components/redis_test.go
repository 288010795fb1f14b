package components_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cirkelline/infra/components"
	"github.com/cirkelline/infra/internal/mockrun"
)

func baseElastiCache() components.ElastiCacheRedisArgs {
	return components.ElastiCacheRedisArgs{
		ElastiCacheSpec: components.ElastiCacheSpec{
			Name: "shop-prod", NodeType: "cache.r7g.large", NumCacheClusters: ptr(2), AutomaticFailover: ptr(true), MultiAZ: ptr(true),
			SnapshotRetentionDays: ptr(7), Protect: ptr(true),
		},
		AuthToken: pulumi.String("0123456789abcdef0123"),
		SubnetIDs: pulumi.ToStringArray([]string{"subnet-a", "subnet-b"}), VpcID: pulumi.String("vpc-1"),
		ClientSecurityGroupIDs: []pulumi.StringInput{pulumi.String("sg-nodes"), pulumi.String("sg-pods")},
	}
}

// cloudObjects are a component's cloud resources, keyed as objects keys
// them.
type cloudObjects map[string]cloudResource

func (o cloudObjects) all() map[string]any {
	out := map[string]any{}
	for k, r := range o {
		out[k] = r
	}
	return out
}

// Keys of the ElastiCache component's resources, registered as "redis".
const (
	ecSecurityGroup    = "aws:ec2/securityGroup:SecurityGroup redis"
	ecSubnetGroup      = "aws:elasticache/subnetGroup:SubnetGroup redis"
	ecReplicationGroup = "aws:elasticache/replicationGroup:ReplicationGroup redis"
	ecIngressRule      = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule redis-from-cluster-"
)

// baseElastiCacheObjects is what baseElastiCache registers: the production
// shape (two clusters, failover, Multi-AZ, TLS, AUTH, encryption at rest,
// 7 days of snapshots, protected) in its own security group, which admits
// each of the cluster's security groups on Redis's port only.
func baseElastiCacheObjects() cloudObjects {
	tags := func() map[string]any { return map[string]any{"managed-by": "pulumi", "redis-group": "shop-prod"} }
	rule := func(client string) cloudResource {
		return cloudResource{Inputs: map[string]any{
			"description": "Redis from the Kubernetes cluster", "ipProtocol": "tcp", "fromPort": int64(6379), "toPort": int64(6379),
			"referencedSecurityGroupId": client, "securityGroupId": "[id of SecurityGroup redis]", "tags": tags(),
		}}
	}
	return cloudObjects{
		ecSecurityGroup: {Inputs: map[string]any{
			"description": "Redis shop-prod: port 6379 from the cluster only", "revokeRulesOnDelete": true, "vpcId": "vpc-1", "tags": tags(),
		}},
		ecIngressRule + "0": rule("sg-nodes"),
		ecIngressRule + "1": rule("sg-pods"),
		ecSubnetGroup: {Inputs: map[string]any{
			"name": "shop-prod", "description": "Private subnets of Redis shop-prod", "subnetIds": []any{"subnet-a", "subnet-b"}, "tags": tags(),
		}},
		ecReplicationGroup: {Protect: true, Inputs: map[string]any{
			"replicationGroupId": "shop-prod", "description": "Redis cache shop-prod",
			"engine": "redis", "engineVersion": "7.1", "parameterGroupName": "default.redis7", "autoMinorVersionUpgrade": true,
			"nodeType": "cache.r7g.large", "numCacheClusters": int64(2), "port": int64(6379),
			"automaticFailoverEnabled": true, "multiAzEnabled": true,
			"transitEncryptionEnabled": true, "atRestEncryptionEnabled": true, "authToken": mockrun.SecretPlaceholder,
			"maintenanceWindow": "sun:03:00-sun:04:00", "snapshotWindow": "01:00-02:00", "snapshotRetentionLimit": int64(7),
			"subnetGroupName": "shop-prod", "securityGroupIds": []any{"[id of SecurityGroup redis]"}, "tags": tags(),
		}},
	}
}

func TestElastiCacheRedis(t *testing.T) {
	testObjectRows(t, "cirkelline:components:ElastiCacheRedis", baseElastiCache, baseElastiCacheObjects, func(ctx *pulumi.Context, a components.ElastiCacheRedisArgs) error {
		_, err := components.NewElastiCacheRedis(ctx, "redis", a)
		return err
	}, []objectRow[components.ElastiCacheRedisArgs, cloudObjects]{
		{"production shape", func(*components.ElastiCacheRedisArgs) {}, func(*cloudObjects) {}},
		{"existing security groups: none created", func(a *components.ElastiCacheRedisArgs) {
			a.SecurityGroupIDs = pulumi.ToStringArray([]string{"sg-existing"})
			a.VpcID, a.ClientSecurityGroupIDs = nil, nil
		}, func(want *cloudObjects) {
			o := *want
			delete(o, ecSecurityGroup)
			delete(o, ecIngressRule+"0")
			delete(o, ecIngressRule+"1")
			o[ecReplicationGroup].Inputs["securityGroupIds"] = []any{"sg-existing"}
		}},
		{"kms key", func(a *components.ElastiCacheRedisArgs) {
			a.KMSKeyARN = "arn:aws:kms:eu-north-1:123456789012:key/abc-1"
		}, func(want *cloudObjects) {
			o := *want
			o[ecReplicationGroup].Inputs["kmsKeyId"] = "arn:aws:kms:eu-north-1:123456789012:key/abc-1"
		}},
		{"tags", func(a *components.ElastiCacheRedisArgs) { a.Tags = map[string]string{"team": "web"} }, func(want *cloudObjects) {
			o := *want
			for _, r := range o {
				r.Inputs["tags"].(map[string]any)["team"] = "web"
			}
		}},
		{"single node, unprotected", func(a *components.ElastiCacheRedisArgs) {
			a.NumCacheClusters, a.AutomaticFailover, a.MultiAZ, a.Protect = ptr(1), ptr(false), ptr(false), ptr(false)
		}, func(want *cloudObjects) {
			o := *want
			rg := o[ecReplicationGroup]
			rg.Inputs["numCacheClusters"] = int64(1)
			rg.Inputs["automaticFailoverEnabled"], rg.Inputs["multiAzEnabled"] = false, false
			rg.Protect = false
			o[ecReplicationGroup] = rg
		}},
	})
}

func TestElastiCacheRedisValidation(t *testing.T) {
	args := baseElastiCache()
	args.NumCacheClusters = ptr(1)
	args.TransitEncryption = ptr(false)
	args.MaintenanceWindow = "sunday 3am"
	args.KMSKeyARN = "arn:aws:kms:eu-north-1:123456789012:key/abc"
	args.AtRestEncryption = ptr(false)
	args.ElastiCacheSpec = args.WithDefaults()
	err := args.Validate("redis.elasticache")
	for _, want := range []string{
		`redis.elasticache.automaticFailover (true): needs at least two cache clusters`,
		`redis.elasticache.transitEncryption (false): must be on when an AUTH token is set`,
		`redis.elasticache.maintenanceWindow ("sunday 3am")`,
		`redis.elasticache.kmsKeyArn ("arn:aws:kms:eu-north-1:123456789012:key/abc"): is only used with at-rest encryption`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// TestSecurityGroupMatchesProviderSchema: the security group is registered
// by type token (see awssecuritygroup.go); its input names must be the
// provider's, read from the generated SDK's source without compiling it.
func TestSecurityGroupMatchesProviderSchema(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/pulumi/pulumi-aws/sdk/v6").Output()
	if err != nil {
		t.Fatalf("locate pulumi-aws: %v", err)
	}
	file := filepath.Join(strings.TrimSpace(string(out)), "go", "aws", "ec2", "securityGroup.go")
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	provider := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != "securityGroupArgs" {
			return true
		}
		for _, field := range ts.Type.(*ast.StructType).Fields.List {
			if field.Tag != nil {
				tag := reflect.StructTag(strings.Trim(field.Tag.Value, "`")).Get("pulumi")
				provider[tag] = true
			}
		}
		return false
	})
	if len(provider) == 0 {
		t.Fatalf("no securityGroupArgs (the tagged input struct) in %s", file)
	}
	for _, name := range components.SecurityGroupInputNames() {
		if !provider[name] {
			t.Errorf("input %q is not an input of aws:ec2/securityGroup:SecurityGroup (has %v)", name, provider)
		}
	}
}

func ExampleNewElastiCacheRedis() {
	resources, _ := mockrun.Capture("example", "prod", nil, nil, func(ctx *pulumi.Context) error {
		_, err := components.NewElastiCacheRedis(ctx, "redis", baseElastiCache())
		return err
	})
	objs, _ := mockrun.Objects(resources)
	for _, o := range objs {
		if o.File == "cloud/aws-elasticache-replicationgroup-redis.yaml" {
			fmt.Print(string(o.Body))
		}
	}
	// Output:
	// inputs:
	//   atRestEncryptionEnabled: true
	//   authToken: '[secret]'
	//   autoMinorVersionUpgrade: true
	//   automaticFailoverEnabled: true
	//   description: Redis cache shop-prod
	//   engine: redis
	//   engineVersion: "7.1"
	//   maintenanceWindow: sun:03:00-sun:04:00
	//   multiAzEnabled: true
	//   nodeType: cache.r7g.large
	//   numCacheClusters: 2
	//   parameterGroupName: default.redis7
	//   port: 6379
	//   replicationGroupId: shop-prod
	//   securityGroupIds:
	//   - '[id of SecurityGroup redis]'
	//   snapshotRetentionLimit: 7
	//   snapshotWindow: 01:00-02:00
	//   subnetGroupName: shop-prod
	//   tags:
	//     managed-by: pulumi
	//     redis-group: shop-prod
	//   transitEncryptionEnabled: true
	// name: redis
	// protect: true
	// type: aws:elasticache/replicationGroup:ReplicationGroup
}

func ExampleNewInClusterRedis() {
	resources, _ := mockrun.Capture("example", "dev", nil, nil, func(ctx *pulumi.Context) error {
		_, err := components.NewInClusterRedis(ctx, "cache", components.InClusterRedisArgs{
			Name: "shop-redis", Namespace: pulumi.String("shop"), PartOf: "shop",
			Password: pulumi.String("0123456789abcdef0123"), Clients: []string{"server"},
		})
		return err
	})
	objs, _ := mockrun.Objects(resources)
	printFrom(objs, "NetworkPolicy", "shop-redis-allow", "spec:")
	// Output:
	// spec:
	//   ingress:
	//   - from:
	//     - podSelector:
	//         matchExpressions:
	//         - key: app.kubernetes.io/name
	//           operator: In
	//           values:
	//           - server
	//         matchLabels:
	//           app.kubernetes.io/part-of: shop
	//     ports:
	//     - port: 6379
	//       protocol: TCP
	//   podSelector:
	//     matchLabels:
	//       app.kubernetes.io/instance: shop-shop-redis
	//       app.kubernetes.io/name: shop-redis
	//       app.kubernetes.io/part-of: shop
	//   policyTypes:
	//   - Ingress
	//   - Egress
}
