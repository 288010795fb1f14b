package workloads

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cirkelline/infra/cache/redisenv"
	"github.com/cirkelline/infra/components"
)

// redisWiring is what a service that sets `redis: true` receives.
type redisWiring struct {
	env      *components.AppConfig
	endpoint pulumi.StringOutput
	port     pulumi.IntOutput
}

// deployRedis provisions the stack's Redis (ElastiCache or in-cluster) and
// the ConfigMap and Secret that carry the cache library's env contract
// (redisenv.EnvURL and friends). It returns nil for redis.mode "none".
func deployRedis(ctx *pulumi.Context, plan *RedisPlan, refs *stackRefs, namespace pulumi.StringInput, opts ...pulumi.ResourceOption) (*redisWiring, error) {
	if plan == nil {
		return nil, nil
	}
	var (
		// endpoint and port are the stack's outputs; host and urlPort make
		// REDIS_URL, and depend on a resource only where the value is
		// unknown until it exists (ElastiCache's endpoint).
		endpoint, host pulumi.StringOutput
		port, urlPort  pulumi.IntOutput
	)
	switch {
	case plan.ElastiCache != nil:
		args := *plan.ElastiCache
		if err := elastiCacheNetwork(plan, refs, &args); err != nil {
			return nil, err
		}
		ec, err := components.NewElastiCacheRedis(ctx, plan.Name, args, opts...)
		if err != nil {
			return nil, err
		}
		endpoint, port = ec.PrimaryEndpoint, ec.Port
		host, urlPort = endpoint, port
	case plan.InCluster != nil:
		args := *plan.InCluster
		args.Namespace = namespace
		rc, err := components.NewInClusterRedis(ctx, plan.Name, args, opts...)
		if err != nil {
			return nil, err
		}
		endpoint, port = rc.Host, rc.Port
		host, urlPort = pulumi.String(plan.Host).ToStringOutput(), pulumi.Int(components.RedisPort).ToIntOutput()
	default:
		return nil, fmt.Errorf("redis plan %s: neither ElastiCache nor in-cluster", plan.Name)
	}
	tls, db := plan.TLS, plan.DB
	redisURL := pulumi.All(host, urlPort, plan.Password).ApplyT(func(v []any) string {
		return redisenv.URL(tls, v[0].(string), v[1].(int), v[2].(string), db)
	}).(pulumi.StringOutput)
	envArgs := plan.Env
	envArgs.Namespace = namespace
	envArgs.Secrets = map[string]pulumi.StringInput{redisenv.EnvURL: redisURL}
	env, err := components.NewAppConfig(ctx, envArgs.ConfigMapName, envArgs, opts...)
	if err != nil {
		return nil, err
	}
	return &redisWiring{env: env, endpoint: endpoint, port: port}, nil
}

// elastiCacheNetwork fills the network inputs from the stack file or from a
// StackReference to the cluster's stack.
func elastiCacheNetwork(plan *RedisPlan, refs *stackRefs, args *components.ElastiCacheRedisArgs) error {
	e := plan.Network
	if len(e.SecurityGroupIDs) > 0 {
		args.SecurityGroupIDs = pulumi.ToStringArray(e.SecurityGroupIDs)
	}
	if e.StackReference == "" {
		args.SubnetIDs = pulumi.ToStringArray(e.SubnetIDs)
		if e.VpcID != "" {
			args.VpcID = pulumi.String(e.VpcID)
		}
		for _, id := range e.ClusterSecurityGroupIDs {
			args.ClientSecurityGroupIDs = append(args.ClientSecurityGroupIDs, pulumi.String(id))
		}
		return nil
	}
	ref, err := refs.get(e.StackReference, plan.Name+"-network")
	if err != nil {
		return fmt.Errorf("redis.elasticache.stackReference %s: %w", e.StackReference, err)
	}
	args.VpcID = ref.GetStringOutput(pulumi.String(e.StackOutputs.VpcID))
	args.SubnetIDs = ref.GetOutput(pulumi.String(e.StackOutputs.PrivateSubnetIDs)).AsStringArrayOutput()
	args.ClientSecurityGroupIDs = []pulumi.StringInput{ref.GetStringOutput(pulumi.String(e.StackOutputs.ClusterSecurityGroupID))}
	return nil
}
