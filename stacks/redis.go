package stacks

import (
	"cmp"
	"fmt"
	"maps"
	"reflect"

	"github.com/cirkelline/infra/components"
	"github.com/cirkelline/infra/internal/validate"
)

// RedisMode is where a stack's Redis runs.
type RedisMode string

// The Redis modes.
const (
	// RedisNone: no Redis; services' caches stay in memory.
	RedisNone RedisMode = "none"
	// RedisElastiCache: an ElastiCache replication group beside the cluster.
	RedisElastiCache RedisMode = "elasticache"
	// RedisInCluster: a single Redis pod in the namespace, for stacks without AWS.
	RedisInCluster RedisMode = "in-cluster"
)

// RedisConfig is the stack's Redis and the env contract it hands to the
// services that set `redis: true`.
type RedisConfig struct {
	// Mode: "none", "elasticache" or "in-cluster". Default "none".
	Mode RedisMode `json:"mode"`
	// AuthToken is the AUTH password (ElastiCache) or requirepass (in-cluster):
	// 16–128 printable characters without '/', '"' or '@'. Secret; set with
	// `pulumi config set --secret --path redis.authToken <token>`.
	AuthToken Secret `json:"authToken,omitzero"`
	// DB is the logical database the services use (REDIS_DB). Default 0.
	DB int `json:"db"`
	// MaxConnections is each service's pool size (REDIS_MAX_CONNECTIONS). Default 50 (seed).
	MaxConnections int `json:"maxConnections"`
	// ElastiCache settings, for mode "elasticache".
	ElastiCache ElastiCacheConfig `json:"elasticache"`
	// InCluster settings, for mode "in-cluster".
	InCluster InClusterRedisConfig `json:"inCluster"`
}

// ElastiCacheConfig is the replication group: the component's spec (its
// keys and defaults, components.ElastiCacheSpec; the stack defaults some
// differently in production) and where its network comes from.
type ElastiCacheConfig struct {
	components.ElastiCacheSpec
	ElastiCacheNetwork
}

// ElastiCacheNetwork is where the replication group lives and who may
// connect: IDs from the stack file, or a cluster stack that exports them.
type ElastiCacheNetwork struct {
	// VpcID, SubnetIDs and ClusterSecurityGroupIDs place the group; or name a
	// StackReference that exports them. SecurityGroupIDs, when set, are used
	// instead of creating a security group.
	VpcID                   string   `json:"vpcId,omitempty"`
	SubnetIDs               []string `json:"subnetIds,omitempty"`
	ClusterSecurityGroupIDs []string `json:"clusterSecurityGroupIds,omitempty"`
	SecurityGroupIDs        []string `json:"securityGroupIds,omitempty"`
	// StackReference to the cluster's stack ("org/project/stack"), read
	// instead of the fields above.
	StackReference string `json:"stackReference,omitempty"`
	// StackOutputs names the outputs read from StackReference.
	StackOutputs StackOutputNames `json:"stackOutputs"`
}

// StackOutputNames are the cluster stack's output names.
type StackOutputNames struct {
	// VpcID output (a string). Default "vpcId".
	VpcID string `json:"vpcId"`
	// PrivateSubnetIDs output (a list of strings). Default "privateSubnetIds".
	PrivateSubnetIDs string `json:"privateSubnetIds"`
	// ClusterSecurityGroupID output (a string). Default "clusterSecurityGroupId".
	ClusterSecurityGroupID string `json:"clusterSecurityGroupId"`
}

// InClusterRedisConfig is the in-cluster Redis pod.
type InClusterRedisConfig struct {
	// Image. Default components.DefaultInClusterRedisImage.
	Image string `json:"image"`
	// Resources. Default 100m–500m CPU, 128Mi–256Mi memory.
	Resources components.ResourcesSpec `json:"resources"`
}

func defaultRedis() RedisConfig {
	return RedisConfig{
		Mode: RedisNone, MaxConnections: 50,
		ElastiCache: ElastiCacheConfig{ElastiCacheNetwork: ElastiCacheNetwork{
			StackOutputs: StackOutputNames{VpcID: "vpcId", PrivateSubnetIDs: "privateSubnetIds", ClusterSecurityGroupID: "clusterSecurityGroupId"},
		}},
		InCluster: InClusterRedisConfig{Image: components.DefaultInClusterRedisImage, Resources: components.DefaultRedisResources()},
	}
}

// resolveRedis fills the names and the environment's defaults, before
// the component's own (specDefaults): production runs a larger node, a
// replica in another zone with failover, a week of snapshots, and
// protects the group.
func (c *Config) resolveRedis() {
	e := &c.Redis.ElastiCache
	e.Name = cmp.Or(e.Name, c.Project+"-"+c.Stack)
	// One reference, not two: the network comes from the cluster's stack
	// unless the stack file names the network itself.
	if e.StackReference == "" && e.VpcID == "" && len(e.SubnetIDs) == 0 && len(e.ClusterSecurityGroupIDs) == 0 {
		e.StackReference = c.Cluster.StackReference
	}
	e.Tags = withTags(map[string]string{"project": c.Project, "stack": c.Stack, "environment": string(c.Environment)}, e.Tags)
	if c.Environment == Production {
		e.NodeType = cmp.Or(e.NodeType, "cache.r7g.large")
		e.NumCacheClusters = cmp.Or(e.NumCacheClusters, ptr(2))
		e.AutomaticFailover = cmp.Or(e.AutomaticFailover, ptr(true))
		e.MultiAZ = cmp.Or(e.MultiAZ, ptr(true))
		e.SnapshotRetentionDays = cmp.Or(e.SnapshotRetentionDays, ptr(7))
		e.Protect = cmp.Or(e.Protect, ptr(true))
	}
	e.ElastiCacheSpec = e.WithDefaults()
}

func withTags(base, tags map[string]string) map[string]string {
	maps.Copy(base, tags)
	return base
}

func ptr[T any](v T) *T { return &v }

// validateRedis checks the Redis config; auth token content only when its
// value is available (not offline).
func (c *Config) validateRedis(errs *validate.Errors, tokenKnown bool) {
	r := c.Redis
	validate.OneOf(errs, "redis.mode", r.Mode, RedisNone, RedisElastiCache, RedisInCluster)
	if r.DB < 0 || r.DB > 15 {
		errs.Add("redis.db", r.DB, "must be between 0 and 15", "")
	}
	if r.MaxConnections < 1 || r.MaxConnections > 10000 {
		errs.Add("redis.maxConnections", r.MaxConnections, "must be between 1 and 10000", "the seed uses 50")
	}
	clients := 0
	for _, s := range c.Services {
		if s.Redis {
			clients++
		}
	}
	if r.Mode == RedisNone {
		for i, s := range c.Services {
			if s.Redis {
				errs.Add(validate.Join(validate.Index("services", i), "redis"), true, `asks for Redis but redis.mode is "none"`, `set redis.mode to "elasticache" or "in-cluster", or remove redis: true`)
			}
		}
		return
	}
	if clients == 0 {
		errs.Add("redis.mode", string(r.Mode), "provisions a Redis that no service uses", "set redis: true on the services that use it")
	}
	switch {
	case r.AuthToken.IsZero() && r.needsToken():
		errs.Add("redis.authToken", nil, "is not set", fmt.Sprintf("run: pulumi config set --secret --path redis.authToken \"$(openssl rand -hex 32)\" --stack %s", c.Stack))
	case !r.AuthToken.IsZero() && tokenKnown:
		components.ValidateAuthToken(errs, "redis.authToken", r.AuthToken.Reveal())
	}
	if r.Mode == RedisElastiCache {
		c.validateElastiCacheNetwork(errs)
	}
}

// validateUnusedRedis reports settings of the Redis mode the stack does not
// run: given, they would be silently ignored. It compares the decoded
// config with the defaults before the environment's defaults fill it in.
func (c *Config) validateUnusedRedis(errs *validate.Errors) {
	d := Defaults().Redis
	unused := []struct {
		path   string
		given  []string
		active RedisMode
	}{
		{"redis.elasticache", changedFields(d.ElastiCache, c.Redis.ElastiCache), RedisElastiCache},
		{"redis.inCluster", changedFields(d.InCluster, c.Redis.InCluster), RedisInCluster},
	}
	for _, u := range unused {
		if c.Redis.Mode == u.active {
			continue
		}
		for _, f := range u.given {
			errs.Add(validate.Join(u.path, f), nil, fmt.Sprintf("is ignored: redis.mode is %q, not %q", c.Redis.Mode, u.active),
				fmt.Sprintf("remove %s from the stack file, or set redis.mode: %s", validate.Join(u.path, f), u.active))
		}
	}
}

// changedFields lists the json names of the fields of got that differ from
// def, those of embedded specs among them.
func changedFields[T any](def, got T) []string {
	return changedValues(reflect.ValueOf(def), reflect.ValueOf(got))
}

func changedValues(dv, gv reflect.Value) []string {
	var names []string
	for i := range dv.NumField() {
		f := dv.Type().Field(i)
		if f.Anonymous && f.Tag.Get("json") == "" && f.Type.Kind() == reflect.Struct {
			names = append(names, changedValues(dv.Field(i), gv.Field(i))...)
			continue
		}
		if name := jsonName(f); name != "" && !reflect.DeepEqual(dv.Field(i).Interface(), gv.Field(i).Interface()) {
			names = append(names, name)
		}
	}
	return names
}

// needsToken: in-cluster Redis always has a password; ElastiCache takes an
// AUTH token only over TLS, and with TLS this project requires one.
func (r RedisConfig) needsToken() bool {
	return r.Mode == RedisInCluster || (r.Mode == RedisElastiCache && *r.ElastiCache.TransitEncryption)
}

func (c *Config) validateElastiCacheNetwork(errs *validate.Errors) {
	e := c.Redis.ElastiCache
	explicit := e.VpcID != "" || len(e.SubnetIDs) > 0 || len(e.ClusterSecurityGroupIDs) > 0
	switch {
	case e.StackReference != "" && explicit:
		errs.Add("redis.elasticache.stackReference", e.StackReference, "is set together with vpcId/subnetIds/clusterSecurityGroupIds", "name the network in one place: the stack reference or the explicit IDs")
	case e.StackReference != "":
		validStackReference(errs, "redis.elasticache.stackReference", e.StackReference)
	default:
		if len(e.SubnetIDs) == 0 {
			errs.Add("redis.elasticache.subnetIds", nil, "is required (or a stackReference)", "list the cluster's private subnet IDs")
		}
		if len(e.SecurityGroupIDs) == 0 && (e.VpcID == "" || len(e.ClusterSecurityGroupIDs) == 0) {
			errs.Add("redis.elasticache.clusterSecurityGroupIds", nil, "vpcId and clusterSecurityGroupIds are required unless securityGroupIds is set (or a stackReference)",
				"set vpcId and the cluster's security group IDs, so only the cluster may connect")
		}
	}
}
