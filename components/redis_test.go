package components_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/cirkelline/infra/components"
	"github.com/cirkelline/infra/internal/mockrun"
)

func baseElastiCache() components.ElastiCacheRedisArgs {
	return components.ElastiCacheRedisArgs{
		Name: "shop-prod", NodeType: "cache.r7g.large", NumCacheClusters: 2, AutomaticFailover: true, MultiAZ: true,
		TransitEncryption: true, AtRestEncryption: true, AuthToken: pulumi.String("0123456789abcdef0123"),
		SnapshotRetentionDays: 7, Protect: true,
		SubnetIDs: pulumi.ToStringArray([]string{"subnet-a", "subnet-b"}), VpcID: pulumi.String("vpc-1"),
		ClientSecurityGroupIDs: []pulumi.StringInput{pulumi.String("sg-nodes"), pulumi.String("sg-pods")},
	}
}

func TestElastiCacheRedis(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*components.ElastiCacheRedisArgs)
		check  func(*testing.T, map[string]mockrun.Resource)
	}{
		{"production shape", func(*components.ElastiCacheRedisArgs) {}, func(t *testing.T, r map[string]mockrun.Resource) {
			rg := r["aws:elasticache/replicationGroup:ReplicationGroup"]
			want := map[string]any{
				"numCacheClusters": int64(2), "automaticFailoverEnabled": true, "multiAzEnabled": true,
				"transitEncryptionEnabled": true, "atRestEncryptionEnabled": true, "authToken": mockrun.SecretPlaceholder,
				"snapshotRetentionLimit": int64(7), "port": int64(6379), "engine": "redis", "engineVersion": "7.1",
				"replicationGroupId": "shop-prod", "parameterGroupName": "default.redis7",
			}
			for k, v := range want {
				if !reflect.DeepEqual(rg.Inputs[k], v) {
					t.Errorf("%s = %#v, want %#v", k, rg.Inputs[k], v)
				}
			}
			if !rg.Protect {
				t.Error("the replication group must be protected")
			}
			if sn := r["aws:elasticache/subnetGroup:SubnetGroup"]; fmt.Sprint(sn.Inputs["subnetIds"]) != "[subnet-a subnet-b]" {
				t.Errorf("subnet group %v", sn.Inputs)
			}
			rules := 0
			for k, res := range r {
				if strings.HasPrefix(k, "aws:vpc/securityGroupIngressRule") {
					rules++
					if res.Inputs["fromPort"] != int64(6379) || res.Inputs["toPort"] != int64(6379) || res.Inputs["ipProtocol"] != "tcp" {
						t.Errorf("rule %v admits more than Redis's port", res.Inputs)
					}
				}
			}
			if rules != 2 {
				t.Errorf("%d ingress rules, want one per cluster security group", rules)
			}
			if sg := r["aws:ec2/securityGroup:SecurityGroup"]; sg.Inputs["vpcId"] != "vpc-1" {
				t.Errorf("security group %v", sg.Inputs)
			}
		}},
		{"existing security groups", func(a *components.ElastiCacheRedisArgs) {
			a.SecurityGroupIDs = pulumi.ToStringArray([]string{"sg-existing"})
			a.VpcID, a.ClientSecurityGroupIDs = nil, nil
		}, func(t *testing.T, r map[string]mockrun.Resource) {
			if _, ok := r["aws:ec2/securityGroup:SecurityGroup"]; ok {
				t.Error("no security group may be created when existing ones are given")
			}
			if got := fmt.Sprint(r["aws:elasticache/replicationGroup:ReplicationGroup"].Inputs["securityGroupIds"]); got != "[sg-existing]" {
				t.Errorf("securityGroupIds %s", got)
			}
		}},
		{"kms key", func(a *components.ElastiCacheRedisArgs) {
			a.KMSKeyARN = "arn:aws:kms:eu-north-1:123456789012:key/abc-1"
		}, func(t *testing.T, r map[string]mockrun.Resource) {
			if r["aws:elasticache/replicationGroup:ReplicationGroup"].Inputs["kmsKeyId"] != "arn:aws:kms:eu-north-1:123456789012:key/abc-1" {
				t.Error("kmsKeyId not set")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := baseElastiCache()
			tt.mutate(&args)
			c := capture(t, func(ctx *pulumi.Context) error {
				_, err := components.NewElastiCacheRedis(ctx, "redis", args)
				return err
			})
			c.checkParenting("cirkelline:components:ElastiCacheRedis")
			byType := map[string]mockrun.Resource{}
			for _, r := range c.resources {
				key := r.Type
				if _, dup := byType[key]; dup {
					key += " " + r.Name
				}
				byType[key] = r
			}
			tt.check(t, byType)
		})
	}
}

func TestElastiCacheRedisValidation(t *testing.T) {
	args := baseElastiCache()
	args.NumCacheClusters = 1
	args.TransitEncryption = false
	args.MaintenanceWindow = "sunday 3am"
	args.KMSKeyARN = "arn:aws:kms:eu-north-1:123456789012:key/abc"
	args.AtRestEncryption = false
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

func TestInClusterRedis(t *testing.T) {
	c := capture(t, func(ctx *pulumi.Context) error {
		_, err := components.NewInClusterRedis(ctx, "cache", components.InClusterRedisArgs{
			Name: "shop-redis", Namespace: pulumi.String("shop"), PartOf: "shop",
			Password: pulumi.String("0123456789abcdef0123"), Clients: []string{"server"},
		})
		return err
	})
	c.checkParenting("cirkelline:components:InClusterRedis")
	var d appsv1.Deployment
	c.mustGet(deploymentType, "shop-redis", &d)
	pod := d.Spec.Template.Spec
	ctr := pod.Containers[0]
	if *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != "Recreate" || !*ctr.SecurityContext.ReadOnlyRootFilesystem {
		t.Errorf("deployment %+v", d.Spec)
	}
	// Not the image's redis user (999): kube-score's
	// container-security-context-user-group-id wants IDs above 10000.
	if sc := pod.SecurityContext; *sc.RunAsUser != 10001 || *sc.RunAsGroup != 10001 || *sc.FSGroup != 10001 || !*sc.RunAsNonRoot {
		t.Errorf("pod security context %+v, want user, group and fsGroup 10001", sc)
	}
	// Readiness asks Redis (an authenticated PING, the password from the
	// container's own env); liveness only checks the port, so the two
	// differ (kube-score pod-probes-identical).
	wantReadiness := []string{"sh", "-c", `REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -p 6379 ping | grep -qx PONG`}
	if r := ctr.ReadinessProbe; r == nil || r.Exec == nil || !slices.Equal(r.Exec.Command, wantReadiness) || ctr.Env[0].Name != "REDIS_PASSWORD" {
		t.Errorf("readiness probe %+v, want exec %q with REDIS_PASSWORD in the env", r, wantReadiness)
	}
	if l := ctr.LivenessProbe; l == nil || l.TCPSocket == nil || l.TCPSocket.Port.String() != "redis" || l.Exec != nil {
		t.Errorf("liveness probe %+v, want tcpSocket redis", l)
	}
	args := strings.Join(ctr.Args, " ")
	if !strings.Contains(args, "--requirepass $(REDIS_PASSWORD)") || !strings.Contains(args, "--maxmemory 201326592") {
		t.Errorf("args %s: want requirepass from the secret and maxmemory 75 %% of 256Mi", args)
	}
	if ctr.Env[0].ValueFrom.SecretKeyRef.Name != "shop-redis-auth" || ctr.Resources.Requests.Memory().String() != "128Mi" {
		t.Errorf("container %+v", ctr)
	}
	var np networkingv1.NetworkPolicy
	c.mustGet("kubernetes:networking.k8s.io/v1:NetworkPolicy", "shop-redis-allow", &np)
	from := np.Spec.Ingress[0].From[0].PodSelector
	if from.MatchExpressions[0].Values[0] != "server" || from.MatchLabels[components.LabelPartOf] != "shop" || np.Spec.Ingress[0].Ports[0].Port.IntValue() != 6379 {
		t.Errorf("policy %+v", np.Spec)
	}
	err := components.InClusterRedisArgs{Name: "r", Image: "redis"}.Validate("redis.inCluster")
	for _, want := range []string{`redis.inCluster.image ("redis"): has no tag`, `redis.inCluster.password: is required`, `redis.inCluster.clients: must name at least one service`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
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

// TestInClusterRedisPlacement: the Redis pod runs where the stack's pods
// run (the stack's node pool, tolerating its taint).
func TestInClusterRedisPlacement(t *testing.T) {
	where := components.Placement{
		NodeSelector: map[string]string{"karpenter.sh/nodepool": "shop"},
		Tolerations:  []corev1.Toleration{{Key: "cirkelline.io/nodepool", Operator: corev1.TolerationOpEqual, Value: "shop", Effect: corev1.TaintEffectNoSchedule}},
	}
	c := capture(t, func(ctx *pulumi.Context) error {
		_, err := components.NewInClusterRedis(ctx, "cache", components.InClusterRedisArgs{
			Name: "shop-redis", Namespace: pulumi.String("shop"), PartOf: "shop",
			Password: pulumi.String("0123456789abcdef0123"), Clients: []string{"server"}, Placement: where,
		})
		return err
	})
	var d appsv1.Deployment
	c.mustGet(deploymentType, "shop-redis", &d)
	pod := d.Spec.Template.Spec
	if !reflect.DeepEqual(pod.NodeSelector, where.NodeSelector) || !reflect.DeepEqual(pod.Tolerations, where.Tolerations) {
		t.Errorf("nodeSelector %v, tolerations %+v; want %+v", pod.NodeSelector, pod.Tolerations, where)
	}
}
