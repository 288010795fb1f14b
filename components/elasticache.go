package components

import (
	"cmp"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/elasticache"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/vpc"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cirkelline/infra/internal/validate"
)

// RedisPort is Redis's and ElastiCache's default port.
const RedisPort = 6379

// ElastiCacheSpec is the replication group as a stack sets it: the stack
// file's "redis.elasticache" block embeds it (the json tags are its keys),
// and ElastiCacheRedisArgs adds the AUTH token and the network, which may
// come from another stack. Zero values mean the default (WithDefaults); a
// stack defaults the pointers differently in production.
//
// Changing AtRestEncryption (or KMSKeyARN) on an existing group replaces it:
// ElastiCache cannot encrypt or decrypt a running group, so Pulumi creates a
// new one and the cached data is lost.
type ElastiCacheSpec struct {
	// Name of the replication group (its ID) and prefix of the other
	// resources. Required, at most 40 characters (a stack defaults it to
	// "<project>-<stack>").
	Name string `json:"name,omitempty"`
	// NodeType, "cache.<family>.<size>". Default DefaultRedisNodeType.
	NodeType string `json:"nodeType,omitempty"`
	// EngineVersion of Redis. Default DefaultRedisEngineVersion.
	EngineVersion string `json:"engineVersion,omitempty"`
	// ParameterGroupName. Default DefaultRedisParameterGroup.
	ParameterGroupName string `json:"parameterGroupName,omitempty"`
	// Port. Default RedisPort (6379).
	Port int `json:"port,omitempty"`
	// NumCacheClusters is the primary plus replicas. Default 1.
	NumCacheClusters *int `json:"numCacheClusters,omitempty"`
	// AutomaticFailover promotes a replica when the primary fails; needs
	// at least two clusters. Default false.
	AutomaticFailover *bool `json:"automaticFailover,omitempty"`
	// MultiAZ places replicas in other zones; needs AutomaticFailover.
	// Default false.
	MultiAZ *bool `json:"multiAz,omitempty"`
	// TransitEncryption (TLS, rediss://); required with an AUTH token.
	// Default true.
	TransitEncryption *bool `json:"transitEncryption,omitempty"`
	// AtRestEncryption of data and snapshots (see the note on replacement
	// above). Default true.
	AtRestEncryption *bool `json:"atRestEncryption,omitempty"`
	// KMSKeyARN for at-rest encryption. Default: the AWS-managed key.
	KMSKeyARN string `json:"kmsKeyArn,omitempty"`
	// MaintenanceWindow (UTC). Default DefaultMaintenanceWindow.
	MaintenanceWindow string `json:"maintenanceWindow,omitempty"`
	// SnapshotWindow (UTC). Default DefaultSnapshotWindow.
	SnapshotWindow string `json:"snapshotWindow,omitempty"`
	// SnapshotRetentionDays; 0 disables snapshots. Default 0.
	SnapshotRetentionDays *int `json:"snapshotRetentionDays,omitempty"`
	// Protect the replication group (the data) from deletion. Default false.
	Protect *bool `json:"protect,omitempty"`
	// Tags on every resource. Default none (a stack adds project, stack
	// and environment).
	Tags map[string]string `json:"tags,omitempty"`
}

// ElastiCacheRedisArgs configures a Redis replication group in ElastiCache
// with its subnet group and security group.
type ElastiCacheRedisArgs struct {
	ElastiCacheSpec
	// AuthToken is the Redis AUTH password (check it with ValidateAuthToken).
	// It is always stored as a secret.
	AuthToken pulumi.StringInput
	// SubnetIDs are the private subnets the nodes live in. Required.
	SubnetIDs pulumi.StringArrayInput
	// VpcID for the security group this component creates. Required unless SecurityGroupIDs is set.
	VpcID pulumi.StringInput
	// ClientSecurityGroupIDs may connect on Port (the cluster's node or pod
	// security groups); one ingress rule each. Required unless SecurityGroupIDs is set.
	ClientSecurityGroupIDs []pulumi.StringInput
	// SecurityGroupIDs, when set, are used as they are and no security group is created.
	SecurityGroupIDs pulumi.StringArrayInput
}

// ElastiCacheRedis is a Redis replication group.
type ElastiCacheRedis struct {
	pulumi.ResourceState

	// PrimaryEndpoint is the primary's DNS name.
	PrimaryEndpoint pulumi.StringOutput `pulumi:"primaryEndpoint"`
	// Port the group listens on.
	Port pulumi.IntOutput `pulumi:"port"`
}

var (
	nodeType         = regexp.MustCompile(`^cache\.[a-z0-9]+\.[a-z0-9]+$`)
	maintenanceWin   = regexp.MustCompile(`^(mon|tue|wed|thu|fri|sat|sun):\d\d:\d\d-(mon|tue|wed|thu|fri|sat|sun):\d\d:\d\d$`)
	snapshotWin      = regexp.MustCompile(`^\d\d:\d\d-\d\d:\d\d$`)
	kmsKeyARN        = regexp.MustCompile(`^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$`)
	replicationGroup = regexp.MustCompile(`^[a-z][a-z0-9-]{0,39}$`)
)

// ElastiCache defaults: a small node of Redis 7.1 with its default
// parameter group, and maintenance and snapshots in the quiet hours (UTC).
const (
	DefaultRedisNodeType       = "cache.t4g.small"
	DefaultRedisEngineVersion  = "7.1"
	DefaultRedisParameterGroup = "default.redis7"
	DefaultMaintenanceWindow   = "sun:03:00-sun:04:00"
	DefaultSnapshotWindow      = "01:00-02:00"
)

// WithDefaults fills every unset field with its documented default.
func (s ElastiCacheSpec) WithDefaults() ElastiCacheSpec {
	s.NodeType = cmp.Or(s.NodeType, DefaultRedisNodeType)
	s.EngineVersion = cmp.Or(s.EngineVersion, DefaultRedisEngineVersion)
	s.ParameterGroupName = cmp.Or(s.ParameterGroupName, DefaultRedisParameterGroup)
	s.Port = cmp.Or(s.Port, RedisPort)
	s.NumCacheClusters = cmp.Or(s.NumCacheClusters, ptr(1))
	s.AutomaticFailover = cmp.Or(s.AutomaticFailover, ptr(false))
	s.MultiAZ = cmp.Or(s.MultiAZ, ptr(false))
	s.TransitEncryption = cmp.Or(s.TransitEncryption, ptr(true))
	s.AtRestEncryption = cmp.Or(s.AtRestEncryption, ptr(true))
	s.MaintenanceWindow = cmp.Or(s.MaintenanceWindow, DefaultMaintenanceWindow)
	s.SnapshotWindow = cmp.Or(s.SnapshotWindow, DefaultSnapshotWindow)
	s.SnapshotRetentionDays = cmp.Or(s.SnapshotRetentionDays, ptr(0))
	s.Protect = cmp.Or(s.Protect, ptr(false))
	return s
}

// Validate reports every problem with the (defaulted) args, with field paths under path.
func (a ElastiCacheRedisArgs) Validate(path string) error {
	var errs validate.Errors
	errs.Merge(a.ValidateSettings(path))
	if a.SubnetIDs == nil {
		errs.Add(validate.Join(path, "subnetIds"), nil, "is required", "list the private subnets, or name a stack reference that exports them")
	}
	if a.SecurityGroupIDs == nil && (a.VpcID == nil || len(a.ClientSecurityGroupIDs) == 0) {
		errs.Add(validate.Join(path, "clusterSecurityGroupIds"), nil, "vpcId and at least one cluster security group are required unless securityGroupIds is set",
			"set vpcId and clusterSecurityGroupIds (or a stack reference), or existing securityGroupIds")
	}
	return errs.Err()
}

// ValidateSettings checks everything but the network, whose inputs may come
// from another stack and exist only at deploy time.
func (a ElastiCacheRedisArgs) ValidateSettings(path string) error {
	var errs validate.Errors
	errs.Merge(a.ElastiCacheSpec.Validate(path))
	if a.AuthToken != nil && !*a.TransitEncryption {
		errs.Add(validate.Join(path, "transitEncryption"), false, "must be on when an AUTH token is set (ElastiCache only accepts AUTH over TLS)", "set transitEncryption: true")
	}
	return errs.Err()
}

// Validate reports every problem with the (defaulted) spec, with field
// paths under path.
func (a ElastiCacheSpec) Validate(path string) error {
	var errs validate.Errors
	if !replicationGroup.MatchString(a.Name) || strings.HasSuffix(a.Name, "-") || strings.Contains(a.Name, "--") {
		errs.Add(validate.Join(path, "name"), a.Name, "must be 1–40 lower-case letters, digits or single hyphens, starting with a letter", `use e.g. "cirkelline-production"`)
	}
	if !nodeType.MatchString(a.NodeType) {
		errs.Add(validate.Join(path, "nodeType"), a.NodeType, `does not look like an ElastiCache node type ("cache.<family>.<size>")`, `use e.g. "cache.t4g.small" or "cache.r7g.large"`)
	}
	if a.Port < 1 || a.Port > 65535 {
		errs.Add(validate.Join(path, "port"), a.Port, "must be between 1 and 65535", "use 6379")
	}
	clusters, failover, multiAZ := *a.NumCacheClusters, *a.AutomaticFailover, *a.MultiAZ
	if clusters < 1 || clusters > 6 {
		errs.Add(validate.Join(path, "numCacheClusters"), clusters, "must be between 1 and 6 (primary plus up to 5 replicas)", "")
	}
	if failover && clusters < 2 {
		errs.Add(validate.Join(path, "automaticFailover"), failover, fmt.Sprintf("needs at least two cache clusters (numCacheClusters is %d)", clusters), "set numCacheClusters to 2 or more, or turn automaticFailover off")
	}
	if multiAZ && !failover {
		errs.Add(validate.Join(path, "multiAz"), multiAZ, "requires automaticFailover", "turn automaticFailover on (with numCacheClusters >= 2), or multiAz off")
	}
	if a.KMSKeyARN != "" {
		if !kmsKeyARN.MatchString(a.KMSKeyARN) {
			errs.Add(validate.Join(path, "kmsKeyArn"), a.KMSKeyARN, "is not a KMS key ARN", `use "arn:aws:kms:<region>:<account>:key/<id>"`)
		}
		if !*a.AtRestEncryption {
			errs.Add(validate.Join(path, "kmsKeyArn"), a.KMSKeyARN, "is only used with at-rest encryption", "set atRestEncryption: true or remove kmsKeyArn")
		}
	}
	if !maintenanceWin.MatchString(a.MaintenanceWindow) {
		errs.Add(validate.Join(path, "maintenanceWindow"), a.MaintenanceWindow, "must look like ddd:hh:mm-ddd:hh:mm (UTC)", `use e.g. "sun:03:00-sun:04:00"`)
	}
	if !snapshotWin.MatchString(a.SnapshotWindow) {
		errs.Add(validate.Join(path, "snapshotWindow"), a.SnapshotWindow, "must look like hh:mm-hh:mm (UTC)", `use e.g. "01:00-02:00"`)
	}
	validateTags(&errs, validate.Join(path, "tags"), a.Tags)
	if days := *a.SnapshotRetentionDays; days < 0 || days > 35 {
		errs.Add(validate.Join(path, "snapshotRetentionDays"), days, "must be between 0 and 35", "")
	}
	return errs.Err()
}

// validateTags checks AWS's tag rules: a key of 1–128 and a value of at
// most 256 characters, and neither starting with "aws:", which AWS
// reserves for its own tags in any case (tagging docs of ElastiCache, EC2,
// EMR: "You can't start a tag key with aws:"; AWS refuses "AWS:" too).
func validateTags(errs *validate.Errors, path string, tags map[string]string) {
	for _, k := range sortedKeys(tags) {
		kp, v := validate.Key(path, k), tags[k]
		switch {
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			errs.Add(kp, v, `uses the prefix "aws:", which AWS reserves for its own tags`, "rename the tag without the aws: prefix")
		case strings.HasPrefix(strings.ToLower(v), "aws:"):
			errs.Add(kp, v, `has a value starting with "aws:", which AWS reserves`, "change the value")
		case k == "" || utf8.RuneCountInString(k) > 128:
			errs.Add(kp, nil, fmt.Sprintf("tag keys are 1 to 128 characters (it has %d)", utf8.RuneCountInString(k)), "shorten the key")
		case utf8.RuneCountInString(v) > 256:
			errs.Add(kp, v, fmt.Sprintf("tag values are at most 256 characters (it has %d)", utf8.RuneCountInString(v)), "shorten the value")
		}
	}
}

// ValidateAuthToken checks an AUTH token as ElastiCache does: 16–128
// printable ASCII characters without '/', '"' or '@'.
func ValidateAuthToken(errs *validate.Errors, path, token string) {
	const fix = "generate one, e.g. openssl rand -hex 32"
	if n := len(token); n < 16 || n > 128 {
		errs.Add(path, nil, fmt.Sprintf("must be 16 to 128 characters long (it has %d)", n), fix)
		return
	}
	for _, r := range token {
		if r < 0x21 || r > 0x7e || r == '/' || r == '"' || r == '@' {
			errs.Add(path, nil, `must be printable ASCII without spaces, '/', '"' or '@'`, fix)
			return
		}
	}
}

// NewElastiCacheRedis registers an ElastiCacheRedis component.
func NewElastiCacheRedis(ctx *pulumi.Context, name string, args ElastiCacheRedisArgs, opts ...pulumi.ResourceOption) (*ElastiCacheRedis, error) {
	args.ElastiCacheSpec = args.WithDefaults()
	if err := args.Validate("redis.elasticache"); err != nil {
		return nil, fmt.Errorf("elasticache %s: %w", name, err)
	}
	comp := &ElastiCacheRedis{}
	if err := ctx.RegisterComponentResource("cirkelline:components:ElastiCacheRedis", name, comp, opts...); err != nil {
		return nil, fmt.Errorf("register elasticache %s: %w", name, err)
	}
	// Children inherit protect from the component's options.
	parent := pulumi.Parent(comp)
	subnets, err := elasticache.NewSubnetGroup(ctx, name, elastiCacheSubnetGroup(args), parent)
	if err != nil {
		return nil, fmt.Errorf("elasticache %s: subnet group: %w", name, err)
	}
	securityGroups := args.SecurityGroupIDs
	if securityGroups == nil {
		sg, err := newSecurityGroup(ctx, name, elastiCacheSecurityGroup(args), parent)
		if err != nil {
			return nil, fmt.Errorf("elasticache %s: security group: %w", name, err)
		}
		for i, rule := range elastiCacheIngressRules(args, sg.ID().ToStringOutput()) {
			if _, err := vpc.NewSecurityGroupIngressRule(ctx, fmt.Sprintf("%s-from-cluster-%d", name, i), rule, parent); err != nil {
				return nil, fmt.Errorf("elasticache %s: ingress rule %d: %w", name, i, err)
			}
		}
		securityGroups = pulumi.StringArray{sg.ID().ToStringOutput()}
	}
	rg, err := elasticache.NewReplicationGroup(ctx, name, elastiCacheReplicationGroup(args, subnets.Name, securityGroups), parent, pulumi.Protect(*args.Protect),
		pulumi.AdditionalSecretOutputs([]string{"authToken"}))
	if err != nil {
		return nil, fmt.Errorf("elasticache %s: replication group: %w", name, err)
	}
	comp.PrimaryEndpoint = rg.PrimaryEndpointAddress
	comp.Port = rg.Port.ApplyT(func(p *int) int {
		if p == nil {
			return args.Port
		}
		return *p
	}).(pulumi.IntOutput)
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{"primaryEndpoint": comp.PrimaryEndpoint, "port": comp.Port}); err != nil {
		return nil, fmt.Errorf("elasticache %s outputs: %w", name, err)
	}
	return comp, nil
}

// The ElastiCache resources' inputs are built by the pure functions
// below from defaulted, valid args, and the outputs of the resources they
// refer to (so each still waits for those); NewElastiCacheRedis only
// registers them.

// elastiCacheTags are every resource's tags.
func elastiCacheTags(a ElastiCacheRedisArgs) pulumi.StringMap {
	return stringMap(merged(a.Tags, map[string]string{"managed-by": "pulumi", "redis-group": a.Name}))
}

func elastiCacheSubnetGroup(a ElastiCacheRedisArgs) *elasticache.SubnetGroupArgs {
	return &elasticache.SubnetGroupArgs{
		Name:        pulumi.String(a.Name),
		Description: pulumi.String("Private subnets of Redis " + a.Name),
		SubnetIds:   a.SubnetIDs,
		Tags:        elastiCacheTags(a),
	}
}

// elastiCacheSecurityGroup is the group created when a.SecurityGroupIDs
// is not set; elastiCacheIngressRules open it to the cluster.
func elastiCacheSecurityGroup(a ElastiCacheRedisArgs) securityGroupArgs {
	return securityGroupArgs{
		Description:         pulumi.String(fmt.Sprintf("Redis %s: port %d from the cluster only", a.Name, a.Port)),
		VpcID:               a.VpcID,
		RevokeRulesOnDelete: pulumi.Bool(true),
		Tags:                elastiCacheTags(a),
	}
}

// elastiCacheIngressRules admit each of the cluster's security groups to
// the security group securityGroupID, on Redis's port only.
func elastiCacheIngressRules(a ElastiCacheRedisArgs, securityGroupID pulumi.StringInput) []*vpc.SecurityGroupIngressRuleArgs {
	var rules []*vpc.SecurityGroupIngressRuleArgs
	for _, client := range a.ClientSecurityGroupIDs {
		rules = append(rules, &vpc.SecurityGroupIngressRuleArgs{
			SecurityGroupId:           securityGroupID,
			ReferencedSecurityGroupId: client,
			IpProtocol:                pulumi.String("tcp"),
			FromPort:                  pulumi.Int(a.Port),
			ToPort:                    pulumi.Int(a.Port),
			Description:               pulumi.String("Redis from the Kubernetes cluster"),
			Tags:                      elastiCacheTags(a),
		})
	}
	return rules
}

// elastiCacheReplicationGroup is the replication group in the subnet group
// subnetGroupName, behind securityGroupIDs.
func elastiCacheReplicationGroup(a ElastiCacheRedisArgs, subnetGroupName pulumi.StringInput, securityGroupIDs pulumi.StringArrayInput) *elasticache.ReplicationGroupArgs {
	rg := &elasticache.ReplicationGroupArgs{
		ReplicationGroupId:       pulumi.String(a.Name),
		Description:              pulumi.String("Redis cache " + a.Name),
		Engine:                   pulumi.String("redis"),
		EngineVersion:            pulumi.String(a.EngineVersion),
		NodeType:                 pulumi.String(a.NodeType),
		Port:                     pulumi.Int(a.Port),
		ParameterGroupName:       pulumi.String(a.ParameterGroupName),
		NumCacheClusters:         pulumi.Int(*a.NumCacheClusters),
		AutomaticFailoverEnabled: pulumi.Bool(*a.AutomaticFailover),
		MultiAzEnabled:           pulumi.Bool(*a.MultiAZ),
		TransitEncryptionEnabled: pulumi.Bool(*a.TransitEncryption),
		AtRestEncryptionEnabled:  pulumi.Bool(*a.AtRestEncryption),
		SubnetGroupName:          subnetGroupName,
		SecurityGroupIds:         securityGroupIDs,
		MaintenanceWindow:        pulumi.String(a.MaintenanceWindow),
		SnapshotWindow:           pulumi.String(a.SnapshotWindow),
		SnapshotRetentionLimit:   pulumi.Int(*a.SnapshotRetentionDays),
		AutoMinorVersionUpgrade:  pulumi.Bool(true),
		Tags:                     elastiCacheTags(a),
	}
	if a.KMSKeyARN != "" {
		rg.KmsKeyId = pulumi.String(a.KMSKeyARN)
	}
	if a.AuthToken != nil {
		rg.AuthToken = pulumi.ToSecret(a.AuthToken).(pulumi.StringOutput)
	}
	return rg
}
