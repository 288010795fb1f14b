package capacity

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/cirkelline/infra/internal/validate"
)

// The Karpenter release whose CRDs (crds/) and documentation the objects
// below follow: github.com/aws/karpenter-provider-aws v1.14.1, which
// builds on sigs.k8s.io/karpenter v1.14.1 (its go.mod). Every field cited
// below is in crds/karpenter.sh_nodepools.yaml or
// crds/karpenter.k8s.aws_ec2nodeclasses.yaml, and in the docs of that
// release (website/content/en/v1.14/concepts/nodepools.md, nodeclasses.md
// and disruption.md, karpenter.sh/v1.14).
const KarpenterVersion = "v1.14.1"

// API groups, versions and kinds of the Karpenter objects built here.
const (
	NodePoolAPIVersion     = "karpenter.sh/v1"
	NodePoolKind           = "NodePool"
	EC2NodeClassGroup      = "karpenter.k8s.aws"
	EC2NodeClassAPIVersion = EC2NodeClassGroup + "/v1"
	EC2NodeClassKind       = "EC2NodeClass"
)

// ConsolidationPolicy is a NodePool's spec.disruption.consolidationPolicy
// (enum in the CRD). Closed set.
type ConsolidationPolicy string

// The consolidation policies of Karpenter v1.14.
const (
	WhenEmpty                ConsolidationPolicy = "WhenEmpty"
	WhenEmptyOrUnderutilized ConsolidationPolicy = "WhenEmptyOrUnderutilized"
	Balanced                 ConsolidationPolicy = "Balanced"
)

// KarpenterArgs are a stack's Karpenter NodePool and EC2NodeClass inputs.
// Zero values mean the documented default (WithDefaults).
type KarpenterArgs struct {
	// Name of the NodePool and of the EC2NodeClass it references (both
	// cluster-scoped). Required.
	Name string
	// ClusterName is the EKS cluster's name: the default discovery tag
	// value of subnets and security groups. Required.
	ClusterName string
	// Labels go on both objects' metadata and, through the NodePool's
	// spec.template.metadata.labels, on every node it launches (so the
	// stack's pods can select them). Default none.
	Labels map[string]string
	// Margin is added to the plan's node capacity for the NodePool's
	// limits: limits = capacity of the planned nodes × (1 + Margin), so a
	// rollout's surge pods, a node being replaced and instance sizes other
	// than the planned one still fit. Default 0.25.
	Margin float64
	// Arch are the nodes' CPU architectures (kubernetes.io/arch).
	// Default ["amd64"].
	Arch []string
	// CapacityTypes (karpenter.sh/capacity-type: "on-demand", "spot",
	// "reserved"). Default ["on-demand"]: a web backend's pods under
	// PDBs should not be reclaimed with two minutes' notice.
	CapacityTypes []string
	// InstanceCategories (karpenter.k8s.aws/instance-category). Default
	// ["c", "m", "r"], the docs' example: general purpose, compute and
	// memory optimised.
	InstanceCategories []string
	// Budget is the NodePool's disruption budget: how many of its nodes
	// may be disrupted at once, as a count or a percentage. Default
	// "10%", Karpenter's own default budget.
	Budget string
	// PDBMaxUnavailable is the smallest number of pods any PDB of the
	// stack lets go at once (maxUnavailable, or replicas less
	// minAvailable; 1 with this project's defaults). When set, a second
	// budget caps the nodes disrupted at once at this number (see
	// NodePool). 0: no PDB; the percentage alone.
	PDBMaxUnavailable int
	// ConsolidationPolicy. Default WhenEmptyOrUnderutilized.
	ConsolidationPolicy ConsolidationPolicy
	// ConsolidateAfter is how long a node must be empty or underutilised
	// before it is consolidated. Default 5m: the HPAs' default scale-down
	// stabilisation (300 s), so nodes are not removed while the HPA may
	// still hold the replicas they run.
	ConsolidateAfter time.Duration
	// Role is the IAM role nodes assume (spec.role; Karpenter manages the
	// instance profile). Exactly one of Role and InstanceProfile.
	Role string
	// InstanceProfile is a pre-provisioned instance profile
	// (spec.instanceProfile), for clusters without the IAM API.
	InstanceProfile string
	// AMIAlias selects the EKS-optimised AMI (spec.amiSelectorTerms
	// alias, "family@version"), e.g. "al2023@v20250920". Required; pin a
	// version: "latest" drifts every node when a new AMI is released,
	// which the docs advise against in production.
	AMIAlias string
	// SubnetTags select the nodes' subnets: every tag must be on a subnet
	// (one selector term; Karpenter ANDs the tags of a term and ORs the
	// terms: the EC2NodeClass CRD's subnetSelectorTerms, "The terms are
	// ORed", and SubnetSelectorTerm, "If multiple fields are used for
	// selection, the requirements are ANDed"; nodeclasses.md's example
	// selects "karpenter.sh/discovery AND environment: test"). Default
	// {"karpenter.sh/discovery": ClusterName,
	// "kubernetes.io/role/internal-elb": "1"}: the getting-started
	// guide's discovery tag and the tag the AWS Load Balancer Controller
	// reads for private subnets (its subnet_discovery.md: private subnets
	// "kubernetes.io/role/internal-elb: 1", public ones
	// "kubernetes.io/role/elb"), so a discovery tag on a public subnet
	// gives no node an address there (inside the ingress CIDRs, next to
	// the ALB). Refused with SubnetIDs, and with the public-subnet tag.
	SubnetTags map[string]string
	// SubnetIDs select the nodes' subnets by ID instead (one term each,
	// ORed): the private subnets, when their tags cannot be relied on.
	// Default none.
	SubnetIDs []string
	// SecurityGroupTags select the nodes' security groups. Default
	// {"karpenter.sh/discovery": ClusterName}, the getting-started
	// guide's tag.
	SecurityGroupTags map[string]string
	// Tags are added to the EC2 resources Karpenter creates. Default none.
	Tags map[string]string
}

// Defaults of KarpenterArgs, each applied only to a zero field.
const (
	DefaultMargin              = 0.25
	DefaultBudget              = "10%"
	DefaultConsolidationPolicy = WhenEmptyOrUnderutilized
	DefaultConsolidateAfter    = 5 * time.Minute
	// DiscoveryTag is the tag the Karpenter getting-started guide puts on
	// the cluster's subnets and security groups (value: the cluster name).
	DiscoveryTag = "karpenter.sh/discovery"
	// PrivateSubnetTag and PublicSubnetTag mark a VPC's private and
	// public subnets for the AWS Load Balancer Controller's subnet
	// discovery (value "1").
	PrivateSubnetTag = "kubernetes.io/role/internal-elb"
	PublicSubnetTag  = "kubernetes.io/role/elb"
	// NodePoolLabel is the label Karpenter sets on every node of a
	// NodePool, its value the pool's name; "Pods can use it in a
	// nodeSelector or node affinity to target a specific NodePool"
	// (sigs.k8s.io/karpenter v1.14 pkg/apis/v1/labels.go,
	// NodePoolLabelKey).
	NodePoolLabel = "karpenter.sh/nodepool"
	// PoolTaintKey is the taint the stack's NodePool puts on its nodes
	// (see NodePool), its value the pool's name.
	PoolTaintKey = "cirkelline.io/nodepool"
)

// PoolTaint is the taint on every node of the stack's NodePool: NoSchedule,
// so a pod that does not tolerate it is neither scheduled onto the
// pool's nodes nor, for Karpenter, a reason to grow the pool ("If
// Karpenter encounters a taint in the NodePool that is not tolerated by a
// Pod, Karpenter won't use that NodePool to provision the pod",
// nodepools.md). Taints of the pool's NodeClaims are copied to their
// nodes (the CRD's spec.template.spec.taints: "taints will be applied to
// the NodeClaim's node").
func (a KarpenterArgs) PoolTaint() corev1.Taint {
	return corev1.Taint{Key: PoolTaintKey, Value: a.Name, Effect: corev1.TaintEffectNoSchedule}
}

// PoolToleration tolerates PoolTaint and nothing else: with a key, a value
// and an effect, it leaves a zone spread's nodeTaintsPolicy Honor
// counting no node tainted otherwise (an unreachable or cordoned node
// stays out; components.WebServiceArgs.Zones).
func (a KarpenterArgs) PoolToleration() corev1.Toleration {
	t := a.PoolTaint()
	return corev1.Toleration{Key: t.Key, Operator: corev1.TolerationOpEqual, Value: t.Value, Effect: t.Effect}
}

// PoolNodeSelector keeps a pod on the stack's NodePool's nodes: the
// pool's limits are planned for the stack's worst case, and a stack's pod
// that tolerated the taint but could land anywhere might grow (and be
// counted against) another pool, or share nodes the plan does not know.
func (a KarpenterArgs) PoolNodeSelector() map[string]string {
	return map[string]string{NodePoolLabel: a.Name}
}

// DefaultArch, DefaultCapacityTypes and DefaultInstanceCategories are the
// NodePool's default requirements.
func DefaultArch() []string               { return []string{"amd64"} }
func DefaultCapacityTypes() []string      { return []string{"on-demand"} }
func DefaultInstanceCategories() []string { return []string{"c", "m", "r"} }

// WithDefaults returns a copy of a with every zero field set to its
// default. The maps and slices of the copy are its own.
func (a KarpenterArgs) WithDefaults() KarpenterArgs {
	if a.Margin == 0 {
		a.Margin = DefaultMargin
	}
	a.Arch = orDefault(a.Arch, DefaultArch)
	a.CapacityTypes = orDefault(a.CapacityTypes, DefaultCapacityTypes)
	a.InstanceCategories = orDefault(a.InstanceCategories, DefaultInstanceCategories)
	if a.Budget == "" {
		a.Budget = DefaultBudget
	}
	if a.ConsolidationPolicy == "" {
		a.ConsolidationPolicy = DefaultConsolidationPolicy
	}
	if a.ConsolidateAfter == 0 {
		a.ConsolidateAfter = DefaultConsolidateAfter
	}
	if len(a.SubnetTags) == 0 && len(a.SubnetIDs) == 0 {
		a.SubnetTags = map[string]string{DiscoveryTag: a.ClusterName, PrivateSubnetTag: "1"}
	}
	a.SubnetIDs = slices.Clone(a.SubnetIDs)
	if len(a.SecurityGroupTags) == 0 {
		a.SecurityGroupTags = map[string]string{DiscoveryTag: a.ClusterName}
	}
	a.SubnetTags = maps.Clone(a.SubnetTags)
	a.SecurityGroupTags = maps.Clone(a.SecurityGroupTags)
	a.Labels = maps.Clone(a.Labels)
	a.Tags = maps.Clone(a.Tags)
	return a
}

func orDefault(s []string, def func() []string) []string {
	if len(s) == 0 {
		return def()
	}
	return slices.Clone(s)
}

// The CRDs' patterns and enums (see crds/), checked here so that a bad
// value is an error with its field path before anything is applied.
var (
	subnetID    = regexp.MustCompile(`^subnet-[0-9a-z]+$`)                            // subnetSelectorTerms[].id
	budgetNodes = regexp.MustCompile(`^((100|[0-9]{1,2})%|[0-9]+)$`)                  // spec.disruption.budgets[].nodes
	labelValue  = regexp.MustCompile(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`) // requirements[].values
	aliasFormat = regexp.MustCompile(`^(al2|al2023|bottlerocket)@.+$`)                // amiSelectorTerms[].alias (Linux families)
)

// Validate reports every problem of a (after WithDefaults), each with its
// field path, as one error matching ErrInvalidArgs and validate.ErrInvalid.
func (a KarpenterArgs) Validate() error {
	var errs validate.Errors
	validate.DNSLabel(&errs, "karpenter.name", a.Name, 63)
	if a.ClusterName == "" {
		errs.Add("karpenter.clusterName", nil, "is required", "pass the EKS cluster's name")
	}
	for k := range a.Labels {
		validate.LabelKey(&errs, validate.Key("karpenter.labels", k), k)
	}
	if a.Margin < 0 || a.Margin > 10 || math.IsNaN(a.Margin) {
		errs.Add("karpenter.margin", a.Margin, "must be between 0 and 10", "a share of the planned capacity, e.g. 0.25")
	}
	for _, r := range []struct {
		path   string
		values []string
	}{{"karpenter.arch", a.Arch}, {"karpenter.capacityTypes", a.CapacityTypes}, {"karpenter.instanceCategories", a.InstanceCategories}} {
		for i, v := range r.values {
			if v == "" || !labelValue.MatchString(v) {
				errs.Add(validate.Index(r.path, i), v, "is not a valid label value", "")
			}
		}
	}
	for i, v := range a.CapacityTypes {
		validate.OneOf(&errs, validate.Index("karpenter.capacityTypes", i), v, "on-demand", "spot", "reserved")
	}
	if !budgetNodes.MatchString(a.Budget) {
		errs.Add("karpenter.budget", a.Budget, "is not a node count or a percentage", `use e.g. "10%" or "2"`)
	}
	if a.PDBMaxUnavailable < 0 {
		errs.Add("karpenter.pdbMaxUnavailable", a.PDBMaxUnavailable, "must not be negative", "")
	}
	validate.OneOf(&errs, "karpenter.consolidationPolicy", a.ConsolidationPolicy, WhenEmpty, WhenEmptyOrUnderutilized, Balanced)
	if a.ConsolidateAfter < time.Second || a.ConsolidateAfter%time.Second != 0 {
		errs.Add("karpenter.consolidateAfter", a.ConsolidateAfter.String(), "must be whole seconds, at least 1s", "")
	}
	if (a.Role == "") == (a.InstanceProfile == "") {
		errs.Add("karpenter.role", a.Role, "exactly one of role and instanceProfile must be set", "pass the nodes' IAM role (e.g. KarpenterNodeRole-<cluster>)")
	}
	if !aliasFormat.MatchString(a.AMIAlias) {
		errs.Add("karpenter.amiAlias", a.AMIAlias, "must be family@version with a Linux family (al2, al2023, bottlerocket)", `pin an AMI release, e.g. "al2023@v20250920"`)
	} else if len(a.AMIAlias) > 30 {
		errs.Add("karpenter.amiAlias", a.AMIAlias, "is longer than 30 characters", "")
	}
	for _, r := range []struct {
		path string
		tags map[string]string
	}{{"karpenter.subnetTags", a.SubnetTags}, {"karpenter.securityGroupTags", a.SecurityGroupTags}, {"karpenter.tags", a.Tags}} {
		for _, k := range slices.Sorted(maps.Keys(r.tags)) {
			if k == DiscoveryTag && r.tags[k] == "" && a.ClusterName == "" && r.path != "karpenter.tags" {
				continue // the default tag of a missing clusterName, reported there
			}
			if k == "" || (r.path != "karpenter.tags" && r.tags[k] == "") {
				errs.Add(validate.Key(r.path, k), r.tags[k], "empty tag keys or values are not supported", "")
			}
		}
	}
	if len(a.SubnetIDs) > 0 && len(a.SubnetTags) > 0 {
		errs.Add("karpenter.subnetIds", a.SubnetIDs, "cannot be combined with subnetTags (the terms would be ORed: either selects subnets)", "select the private subnets by IDs or by tags, not both")
	}
	for i, id := range a.SubnetIDs {
		if !subnetID.MatchString(id) {
			errs.Add(validate.Index("karpenter.subnetIds", i), id, "is not a subnet ID", `use e.g. "subnet-0a1b2c3d4e5f60001"`)
		}
	}
	if _, public := a.SubnetTags[PublicSubnetTag]; public {
		errs.Add(validate.Key("karpenter.subnetTags", PublicSubnetTag), a.SubnetTags[PublicSubnetTag], "selects public subnets: nodes there get addresses inside the ALB's subnets (the ingress CIDRs)",
			"select the private subnets ("+PrivateSubnetTag+": \"1\"), or list them in subnetIds")
	}
	if err := errs.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidArgs, err)
	}
	return nil
}

// NodeLimits is what NodePool puts in spec.limits for plan: the capacity
// of the planned nodes (NodesNeeded × the node's CapacityCPU and
// CapacityMemory) times (1 + margin), CPU rounded up to whole cores and
// memory to whole Gi. Karpenter counts the capacity of the nodes it
// launched against the limits (not the pods' requests), and stops
// launching once they are reached (nodepools.md, spec.limits); so the
// limits are the planned nodes' capacity, not the requests' sum.
func NodeLimits(plan Plan, margin float64) (cpu, memory resource.Quantity) {
	f := 1 + margin
	cores := math.Ceil(float64(plan.NodesNeeded) * float64(plan.Node.CapacityCPU.MilliValue()) * f / 1000)
	gi := math.Ceil(float64(plan.NodesNeeded) * float64(plan.Node.CapacityMemory.Value()) * f / (1 << 30))
	return *resource.NewQuantity(int64(cores), resource.DecimalSI), *resource.NewQuantity(int64(gi)<<30, resource.BinarySI)
}

// NodePool builds the karpenter.sh/v1 NodePool for a stack whose worst
// case is plan:
//
//   - spec.limits.cpu and .memory from NodeLimits(plan, Margin), as
//     strings (nodepools.md: "we recommend against using integers");
//   - spec.template.spec.requirements: kubernetes.io/arch,
//     karpenter.sh/capacity-type, karpenter.k8s.aws/instance-category,
//     each operator In (nodepools.md, "Well-Known Labels");
//   - spec.template.spec.nodeClassRef: group karpenter.k8s.aws, kind
//     EC2NodeClass, name Name (all three required by the CRD);
//   - spec.template.spec.taints: PoolTaint, so only the stack's pods
//     (PoolToleration) run on, and make Karpenter grow, the pool;
//   - spec.disruption: consolidationPolicy, consolidateAfter (required by
//     the CRD once disruption is set), and budgets.
//
// The budgets and the PDBs: Karpenter drains a node through the Eviction
// API "to respect PDBs", and pods with a blocking PDB are neither evicted
// nor considered for voluntary disruption (disruption.md, "Termination
// Controller" and "Pod-Level Controls"). A budget limits how many nodes are
// disrupted at once; with several budgets "Karpenter will take the minimum
// value (most restrictive)" (disruption.md, "Nodes"). The first budget is
// Budget (default 10%). With PDBMaxUnavailable set, a second budget of
// that many nodes keeps Karpenter from starting more drains than the
// tightest PDB can let through: the services spread their pods over
// hosts, so each node drained at once wants to evict one more pod of the
// same service, and drains beyond the PDB's allowance would only stand
// half-done. terminationGracePeriod is left unset on purpose: with it set,
// drift may disrupt a node "even if there are pods with blocking PDBs"
// (disruption.md, "TerminationGracePeriod"). expireAfter keeps Karpenter's
// default (720h, the CRD's default).
func NodePool(plan Plan, args KarpenterArgs) (*unstructured.Unstructured, error) {
	a := args.WithDefaults()
	if err := a.Validate(); err != nil {
		return nil, err
	}
	if plan.NodesNeeded == 0 {
		var errs validate.Errors
		errs.Add("plan", nil, "is empty", "pass the plan from Compute")
		return nil, fmt.Errorf("%w: %w", ErrInvalidArgs, errs.Err())
	}
	cpu, memory := NodeLimits(plan, a.Margin)
	budgets := []any{map[string]any{"nodes": a.Budget}}
	if a.PDBMaxUnavailable > 0 {
		budgets = append(budgets, map[string]any{"nodes": strconv.Itoa(a.PDBMaxUnavailable)})
	}
	taint := a.PoolTaint()
	template := map[string]any{
		"spec": map[string]any{
			"nodeClassRef": map[string]any{"group": EC2NodeClassGroup, "kind": EC2NodeClassKind, "name": a.Name},
			"taints":       []any{map[string]any{"key": taint.Key, "value": taint.Value, "effect": string(taint.Effect)}},
			"requirements": []any{
				requirement("kubernetes.io/arch", a.Arch),
				requirement("karpenter.sh/capacity-type", a.CapacityTypes),
				requirement("karpenter.k8s.aws/instance-category", a.InstanceCategories),
			},
		},
	}
	if len(a.Labels) > 0 {
		template["metadata"] = map[string]any{"labels": stringMap(a.Labels)}
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": NodePoolAPIVersion,
		"kind":       NodePoolKind,
		"metadata":   metadata(a.Name, a.Labels),
		"spec": map[string]any{
			"template": template,
			"limits":   map[string]any{"cpu": cpu.String(), "memory": memory.String()},
			"disruption": map[string]any{
				"consolidationPolicy": string(a.ConsolidationPolicy),
				"consolidateAfter":    durationString(a.ConsolidateAfter),
				"budgets":             budgets,
			},
		},
	}}
	return u, nil
}

// EC2NodeClass builds the karpenter.k8s.aws/v1 EC2NodeClass the NodePool
// references (nodeclasses.md): spec.role or spec.instanceProfile (the CRD
// requires exactly one), spec.amiSelectorTerms with the one alias (an
// alias excludes other terms, and makes amiFamily optional), and
// spec.subnetSelectorTerms (private subnets only: see SubnetTags) and
// spec.securityGroupSelectorTerms by tags (all three lists required by
// the CRD); spec.tags when given. Instance
// metadata keeps the CRD's default (httpTokens required, hop limit 1, so
// pods cannot reach the node's credentials).
func EC2NodeClass(args KarpenterArgs) (*unstructured.Unstructured, error) {
	a := args.WithDefaults()
	if err := a.Validate(); err != nil {
		return nil, err
	}
	spec := map[string]any{
		"amiSelectorTerms":           []any{map[string]any{"alias": a.AMIAlias}},
		"subnetSelectorTerms":        subnetTerms(a),
		"securityGroupSelectorTerms": []any{map[string]any{"tags": stringMap(a.SecurityGroupTags)}},
	}
	if a.Role != "" {
		spec["role"] = a.Role
	} else {
		spec["instanceProfile"] = a.InstanceProfile
	}
	if len(a.Tags) > 0 {
		spec["tags"] = stringMap(a.Tags)
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": EC2NodeClassAPIVersion,
		"kind":       EC2NodeClassKind,
		"metadata":   metadata(a.Name, a.Labels),
		"spec":       spec,
	}}, nil
}

// subnetTerms is one term of every SubnetTags (ANDed), or one term per
// SubnetIDs (ORed).
func subnetTerms(a KarpenterArgs) []any {
	if len(a.SubnetIDs) > 0 {
		terms := make([]any, len(a.SubnetIDs))
		for i, id := range a.SubnetIDs {
			terms[i] = map[string]any{"id": id}
		}
		return terms
	}
	return []any{map[string]any{"tags": stringMap(a.SubnetTags)}}
}

func requirement(key string, values []string) map[string]any {
	vs := make([]any, len(values))
	for i, v := range values {
		vs[i] = v
	}
	return map[string]any{"key": key, "operator": "In", "values": vs}
}

func metadata(name string, labels map[string]string) map[string]any {
	m := map[string]any{"name": name}
	if len(labels) > 0 {
		m["labels"] = stringMap(labels)
	}
	return m
}

func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// durationString formats d as the CRD's duration pattern wants
// (^(([0-9]+(s|m|h))+|Never)$): "5m", "90s", "1h30m".
func durationString(d time.Duration) string {
	h, m, s := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	out := ""
	if h > 0 {
		out += fmt.Sprintf("%dh", h)
	}
	if m > 0 {
		out += fmt.Sprintf("%dm", m)
	}
	if s > 0 || out == "" {
		out += fmt.Sprintf("%ds", s)
	}
	return out
}
