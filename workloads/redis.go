package workloads

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cirkelline/infra/cache/redisenv"
	"github.com/cirkelline/infra/components"
	"github.com/cirkelline/infra/stacks"
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
func deployRedis(ctx *pulumi.Context, cfg *stacks.Config, namespace pulumi.StringInput, opts ...pulumi.ResourceOption) (*redisWiring, error) {
	r := cfg.Redis
	var (
		host pulumi.StringOutput
		port pulumi.IntOutput
	)
	switch r.Mode {
	case stacks.RedisNone:
		return nil, nil
	case stacks.RedisElastiCache:
		args := cfg.ElastiCacheArgs()
		if err := elastiCacheNetwork(ctx, cfg, &args); err != nil {
			return nil, err
		}
		if !r.AuthToken.IsZero() {
			args.AuthToken = r.AuthToken.Input()
		}
		args.Protect = *r.ElastiCache.Protect
		ec, err := components.NewElastiCacheRedis(ctx, cfg.RedisName(), args, opts...)
		if err != nil {
			return nil, err
		}
		host, port = ec.PrimaryEndpoint, ec.Port
	case stacks.RedisInCluster:
		rc, err := components.NewInClusterRedis(ctx, cfg.RedisName(), components.InClusterRedisArgs{
			Name: cfg.RedisName(), Namespace: namespace, PartOf: cfg.Namespace,
			Image: r.InCluster.Image, Resources: r.InCluster.Resources,
			Password: r.AuthToken.Input(), Clients: cfg.RedisClients(),
		}, opts...)
		if err != nil {
			return nil, err
		}
		host, port = rc.Host, rc.Port
	default:
		return nil, fmt.Errorf("redis.mode %q: not handled", r.Mode)
	}

	tls := cfg.RedisTLS()
	redisURL := pulumi.All(host, port, r.AuthToken.Input()).ApplyT(func(v []any) string {
		return redisenv.URL(tls, v[0].(string), v[1].(int), v[2].(string), r.DB)
	}).(pulumi.StringOutput)
	_, plain := redisenv.Env{DB: r.DB, MaxConnections: r.MaxConnections, TLS: tls}.Vars()
	env, err := components.NewAppConfig(ctx, RedisEnvName(cfg), components.AppConfigArgs{
		ConfigMapName: RedisEnvName(cfg), SecretName: RedisEnvName(cfg), Namespace: namespace, PartOf: cfg.Namespace,
		Settings:     plain,
		Secrets:      map[string]pulumi.StringInput{redisenv.EnvURL: redisURL},
		ChecksumName: "redis",
	}, opts...)
	if err != nil {
		return nil, err
	}
	return &redisWiring{env: env, endpoint: host, port: port}, nil
}

// RedisEnvName names the ConfigMap and Secret holding the REDIS_* env.
func RedisEnvName(cfg *stacks.Config) string { return cfg.RedisName() + "-env" }

// elastiCacheNetwork fills the network inputs from the stack file or from a
// StackReference to the cluster's stack.
func elastiCacheNetwork(ctx *pulumi.Context, cfg *stacks.Config, args *components.ElastiCacheRedisArgs) error {
	e := cfg.Redis.ElastiCache
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
	ref, err := pulumi.NewStackReference(ctx, cfg.RedisName()+"-network", &pulumi.StackReferenceArgs{Name: pulumi.String(e.StackReference)})
	if err != nil {
		return fmt.Errorf("redis.elasticache.stackReference %s: %w", e.StackReference, err)
	}
	args.VpcID = ref.GetStringOutput(pulumi.String(e.StackOutputs.VpcID))
	args.SubnetIDs = ref.GetOutput(pulumi.String(e.StackOutputs.PrivateSubnetIDs)).AsStringArrayOutput()
	args.ClientSecurityGroupIDs = []pulumi.StringInput{ref.GetStringOutput(pulumi.String(e.StackOutputs.ClusterSecurityGroupID))}
	return nil
}
