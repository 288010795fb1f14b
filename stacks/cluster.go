package stacks

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/cirkelline/infra/capacity"
	"github.com/cirkelline/infra/internal/validate"
)

// ClusterConfig is how the program reaches the cluster (config key
// "cluster"): through the cluster's own stack, a kubeconfig in secret
// config, or (neither) the default Kubernetes provider with the ambient
// kubeconfig, as for `local` and laptops.
type ClusterConfig struct {
	// StackReference is the cluster's stack ("org/project/stack", e.g. a
	// pulumi-eks stack). Its Outputs.Kubeconfig output becomes one explicit
	// Kubernetes provider, and redis.elasticache reads its network from the
	// same reference unless it names its own. Default: none.
	StackReference string `json:"stackReference,omitempty"`
	// Outputs names what is read from StackReference.
	Outputs ClusterOutputNames `json:"outputs"`
	// Kubeconfig, from secret config (`pulumi config set --secret --path
	// cluster.kubeconfig "$(cat kubeconfig)"`), when there is no cluster
	// stack. Default: none.
	Kubeconfig Secret `json:"kubeconfig,omitzero"`
	// Capacity is the node pool the worst case must fit. Default: no plan.
	Capacity CapacityConfig `json:"capacity"`
	// Karpenter makes the stack manage its own NodePool. Default off.
	Karpenter KarpenterConfig `json:"karpenter"`
	// Headroom runs pause pods that keep room for a scale-up. Default off.
	Headroom HeadroomConfig `json:"headroom"`
	// Zones is how many zones (topology.kubernetes.io/zone) the cluster's
	// nodes span. With 2 or more, every service spreads over them strictly
	// (DoNotSchedule, recovering from a lost zone;
	// components.WebServiceArgs.Zones). Default 0, undeclared: the zone
	// spread stays a preference, as a single-zone cluster needs.
	Zones int32 `json:"zones,omitempty"`
	// Identifier is the cluster's stable identity, the explicit provider's
	// clusterIdentifier: the provider, and every object with it, is
	// replaced only when it changes, so the same cluster written
	// differently in the kubeconfig (localhost for 127.0.0.1, a new CA or
	// proxy) is an update (pulumi-kubernetes sdk/v4 v4.25.0
	// ProviderArgs.ClusterIdentifier: "the provider will _only_ be
	// replaced when clusterIdentifier changes"). Default: StackReference,
	// else the name of the cluster entry of the kubeconfig's current
	// context. Only with an explicit provider.
	Identifier string `json:"identifier,omitempty"`
}

// ClusterIdentifier is the explicit provider's clusterIdentifier (see
// ClusterConfig.Identifier); "" without an explicit provider, or when the
// kubeconfig is not known (an offline render without secrets).
func (c *Config) ClusterIdentifier() string {
	cl := c.Cluster
	switch {
	case cl.Identifier != "":
		return cl.Identifier
	case cl.StackReference != "":
		return cl.StackReference
	case !cl.Kubeconfig.IsZero():
		name, _ := currentClusterName(cl.Kubeconfig.Reveal())
		return name
	}
	return ""
}

// currentClusterName is the cluster entry named by a kubeconfig's current
// context (k8s.io/client-go tools/clientcmd/api/v1 Config: current-context
// names a context, whose context.cluster names a cluster).
func currentClusterName(text string) (string, error) {
	var kc struct {
		CurrentContext string `json:"current-context"`
		Contexts       []struct {
			Name    string `json:"name"`
			Context struct {
				Cluster string `json:"cluster"`
			} `json:"context"`
		} `json:"contexts"`
	}
	if err := yaml.Unmarshal([]byte(text), &kc); err != nil {
		return "", fmt.Errorf("is not YAML or JSON (a kubeconfig is)")
	}
	if kc.CurrentContext == "" {
		return "", fmt.Errorf("has no current-context to name the cluster by")
	}
	for _, c := range kc.Contexts {
		if c.Name == kc.CurrentContext && c.Context.Cluster != "" {
			return c.Context.Cluster, nil
		}
	}
	return "", fmt.Errorf("names current-context %q, which no context with a cluster has", kc.CurrentContext)
}

// MaxZones bounds cluster.zones: no cloud region has more zones (AWS's
// largest, us-east-1, has 6), so a larger value is a typo.
const MaxZones = 8

// ClusterOutputNames are the cluster stack's outputs the program reads.
type ClusterOutputNames struct {
	// Kubeconfig is a secret output holding the kubeconfig, as YAML or
	// JSON text or as an object (pulumi-eks exports an object). Default
	// "kubeconfig".
	Kubeconfig string `json:"kubeconfig"`
}

func defaultCluster() ClusterConfig {
	return ClusterConfig{
		Outputs:   ClusterOutputNames{Kubeconfig: "kubeconfig"},
		Karpenter: KarpenterConfig{Margin: capacity.DefaultMargin, Budget: capacity.DefaultBudget},
	}
}

// ExplicitProvider reports whether the stack registers its own Kubernetes
// provider (a kubeconfig from the cluster's stack or from secret config)
// instead of using the default one.
func (c *Config) ExplicitProvider() bool {
	return c.Cluster.StackReference != "" || !c.Cluster.Kubeconfig.IsZero()
}

// validStackReference checks the "org/project/stack" form of a stack name.
func validStackReference(errs *validate.Errors, path, ref string) {
	if parts := strings.Split(ref, "/"); len(parts) != 3 || slices.Contains(parts, "") {
		errs.Add(path, ref, `must be "<org>/<project>/<stack>"`, `use e.g. "acme/eks-cluster/production"`)
	}
}

// validateCluster checks the cluster block; the kubeconfig's content only
// when secretsKnown (never printing it).
func (c *Config) validateCluster(errs *validate.Errors, secretsKnown bool) {
	c.validateCapacity(errs)
	cl := c.Cluster
	if cl.Zones < 0 || cl.Zones > MaxZones {
		errs.Add("cluster.zones", cl.Zones, fmt.Sprintf("must be between 0 and %d", MaxZones),
			"set the number of zones the node pool spans (kubectl get nodes -L topology.kubernetes.io/zone), or 0 to keep the zone spread a preference")
	}
	if cl.StackReference != "" {
		validStackReference(errs, "cluster.stackReference", cl.StackReference)
		if cl.Outputs.Kubeconfig == "" {
			errs.Add("cluster.outputs.kubeconfig", nil, "is empty", `name the cluster stack's kubeconfig output, e.g. "kubeconfig"`)
		}
		if !cl.Kubeconfig.IsZero() {
			errs.Add("cluster.kubeconfig", nil, "is set together with cluster.stackReference",
				fmt.Sprintf("take the kubeconfig from one place: remove it with pulumi config rm --path cluster.kubeconfig --stack %s, or drop cluster.stackReference", c.Stack))
		}
	}
	if cl.Identifier != "" && !c.ExplicitProvider() {
		errs.Add("cluster.identifier", cl.Identifier, "is set without cluster.stackReference or cluster.kubeconfig",
			"drop it: the default provider (ambient kubeconfig) takes no identifier")
	}
	if !cl.Kubeconfig.IsZero() && secretsKnown {
		if err := checkKubeconfig(cl.Kubeconfig.Reveal()); err != nil {
			errs.Add("cluster.kubeconfig", nil, err.Error(), fmt.Sprintf(`set the whole file: pulumi config set --secret --path cluster.kubeconfig "$(cat kubeconfig)" --stack %s`, c.Stack))
		} else if _, err := currentClusterName(cl.Kubeconfig.Reveal()); err != nil && cl.Identifier == "" {
			errs.Add("cluster.kubeconfig", nil, err.Error(),
				fmt.Sprintf("set current-context in the kubeconfig, or name the cluster: pulumi config set --path cluster.identifier <name> --stack %s", c.Stack))
		}
	}
}

// checkKubeconfig reports what makes text no kubeconfig, without quoting
// it: a kubeconfig is a YAML (or JSON) Config object with clusters, users
// and contexts (k8s.io/client-go tools/clientcmd/api/v1 Config).
func checkKubeconfig(text string) error {
	var kc struct {
		Kind     string `json:"kind"`
		Clusters []any  `json:"clusters"`
		Users    []any  `json:"users"`
		Contexts []any  `json:"contexts"`
	}
	if err := yaml.Unmarshal([]byte(text), &kc); err != nil {
		return fmt.Errorf("is not YAML or JSON (a kubeconfig is)")
	}
	var missing []string
	for name, list := range map[string][]any{"clusters": kc.Clusters, "users": kc.Users, "contexts": kc.Contexts} {
		if len(list) == 0 {
			missing = append(missing, name)
		}
	}
	if kc.Kind != "" && kc.Kind != "Config" {
		return fmt.Errorf("is a %q, not a kubeconfig (kind: Config)", kc.Kind)
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("is not a kubeconfig: it has no %s", strings.Join(missing, ", "))
	}
	return nil
}

// CapacityConfig is the node pool the stack's worst case must fit
// (cluster.capacity): every HPA at maxReplicas, the load-test runners and
// the in-cluster Redis, packed onto nodes of Node's shape. Without a node
// shape, no plan is made.
type CapacityConfig struct {
	// Nodes is the most nodes the pool can have (the node group's maximum
	// size). Required with a node shape, unless autoscaled or Karpenter
	// manages the pool.
	Nodes int `json:"nodes,omitempty"`
	// Node is one node's allocatable resources (`kubectl get node <name> -o
	// jsonpath='{.status.allocatable}'`).
	Node NodeShape `json:"node"`
	// Overhead is what every node runs before the stack (DaemonSets: CNI,
	// kube-proxy, agents), by their requests.
	Overhead NodeShape `json:"overhead"`
	// Autoscaled says node autoscaling (Cluster Autoscaler, or a Karpenter
	// pool managed elsewhere) covers a worst case beyond Nodes: the plan is
	// printed but does not refuse the stack.
	Autoscaled bool `json:"autoscaled,omitempty"`
}

// NodeShape is CPU, memory and pod slots.
type NodeShape struct {
	CPU    Quantity `json:"cpu,omitempty"`
	Memory Quantity `json:"memory,omitempty"`
	// Pods: a node's maxPods (on EKS with the VPC CNI, by instance type),
	// or the overhead's pod count. Node default 110, the kubelet's.
	Pods int `json:"pods,omitempty"`
}

// KarpenterConfig makes the stack manage a Karpenter NodePool and
// EC2NodeClass for its workloads (cluster.karpenter), with limits from the
// capacity plan.
type KarpenterConfig struct {
	Enabled bool `json:"enabled,omitempty"`
	// ClusterName is the EKS cluster (the discovery tag of its subnets and
	// security groups). Required when enabled.
	ClusterName string `json:"clusterName,omitempty"`
	// Role is the nodes' IAM role, or InstanceProfile a pre-made instance
	// profile: exactly one.
	Role            string `json:"role,omitempty"`
	InstanceProfile string `json:"instanceProfile,omitempty"`
	// AMIAlias pins the EKS-optimised AMI ("al2023@v20250920"). Required.
	AMIAlias string `json:"amiAlias,omitempty"`
	// Margin on the planned capacity for the NodePool's limits. Default 0.25.
	Margin float64 `json:"margin"`
	// CapacityTypes, InstanceCategories, Arch: the NodePool's requirements.
	// Default on-demand; c, m, r; amd64.
	CapacityTypes      []string `json:"capacityTypes,omitempty"`
	InstanceCategories []string `json:"instanceCategories,omitempty"`
	Arch               []string `json:"arch,omitempty"`
	// Budget of nodes disrupted at once. Default "10%".
	Budget string `json:"budget"`
	// SubnetIDs are the nodes' (private) subnets by ID. Default none:
	// the subnets tagged karpenter.sh/discovery: <clusterName> and
	// kubernetes.io/role/internal-elb: "1" (capacity.KarpenterArgs
	// SubnetTags).
	SubnetIDs []string `json:"subnetIds,omitempty"`
}

// HeadroomConfig runs low-priority pause pods (cluster.headroom) that hold
// room for the first scale-up step of the busiest HPA: real pods preempt
// them at once, and the evicted pause pods make the node autoscaler add a
// node in the background.
type HeadroomConfig struct {
	Enabled bool `json:"enabled,omitempty"`
}

// Quantity is a Kubernetes quantity as the stack file writes it: a string
// ("3920m", "14Gi") or a plain number (cpu: 4), as kubectl accepts both.
type Quantity string

// UnmarshalJSON reads a string or a number.
func (q *Quantity) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		*q = Quantity(n.String())
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a quantity such as \"4\", \"3920m\" or \"14Gi\"")
	}
	*q = Quantity(s)
	return nil
}

// PlansCapacity reports whether the stack declares a node shape to plan
// its worst case against.
func (c *Config) PlansCapacity() bool {
	return c.Cluster.Capacity.Node.CPU != "" || c.Cluster.Capacity.Node.Memory != ""
}

// validateCapacity checks cluster.capacity, cluster.karpenter and
// cluster.headroom at their keys.
func (c *Config) validateCapacity(errs *validate.Errors) {
	cl := c.Cluster
	cp := cl.Capacity
	quantity := func(path string, raw Quantity, required bool) {
		v := string(raw)
		if v == "" {
			if required {
				errs.Add(path, nil, "is required", `pass a Kubernetes quantity, e.g. "3920m" or "14Gi"`)
			}
			return
		}
		q, err := resource.ParseQuantity(v)
		switch {
		case err != nil:
			errs.Add(path, v, "is not a Kubernetes quantity", `e.g. "3920m" or "14Gi"`)
		case q.Sign() < 0:
			errs.Add(path, v, "must not be negative", "")
		}
	}
	planned := c.PlansCapacity()
	if planned {
		quantity("cluster.capacity.node.cpu", cp.Node.CPU, true)
		quantity("cluster.capacity.node.memory", cp.Node.Memory, true)
		if cp.Node.Pods < 0 {
			errs.Add("cluster.capacity.node.pods", cp.Node.Pods, "must not be negative", "")
		}
		quantity("cluster.capacity.overhead.cpu", cp.Overhead.CPU, false)
		quantity("cluster.capacity.overhead.memory", cp.Overhead.Memory, false)
		if cp.Overhead.Pods < 0 {
			errs.Add("cluster.capacity.overhead.pods", cp.Overhead.Pods, "must not be negative", "")
		}
		if cp.Nodes < 0 {
			errs.Add("cluster.capacity.nodes", cp.Nodes, "must not be negative", "")
		}
		if cp.Nodes == 0 && !cp.Autoscaled && !cl.Karpenter.Enabled {
			errs.Add("cluster.capacity.nodes", nil, "is required with a node shape",
				"set the node group's maximum size, cluster.capacity.autoscaled: true when node autoscaling covers the worst case, or cluster.karpenter")
		}
	} else if cp.Nodes != 0 || cp.Overhead != (NodeShape{}) {
		errs.Add("cluster.capacity.node", nil, "is required to plan cluster.capacity", `set the allocatable cpu and memory of one node, e.g. {cpu: 3920m, memory: 14Gi, pods: 58}`)
	}
	if k := cl.Karpenter; k.Enabled {
		if !planned {
			errs.Add("cluster.capacity.node", nil, "is required with cluster.karpenter (the NodePool's limits come from the capacity plan)", `set the planned instance's allocatable, e.g. {cpu: 3920m, memory: 14Gi, pods: 58}`)
		}
		// The rest of cluster.karpenter is checked by capacity.KarpenterArgs
		// (its paths are these keys under "cluster"), in the plan.
	}
	if cl.Headroom.Enabled {
		hpa := false
		for _, s := range c.Services {
			hpa = hpa || !s.HPA.Disabled
		}
		if !hpa {
			errs.Add("cluster.headroom.enabled", true, "holds room for an HPA's first scale-up step, but no service has an HPA", "turn it off, or give a service an HPA")
		}
	}
}
