package workloads

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/cirkelline/infra/capacity"
	"github.com/cirkelline/infra/components"
	"github.com/cirkelline/infra/internal/validate"
	"github.com/cirkelline/infra/stacks"
)

// quantity parses a quantity the stack's checks already accepted (zero
// for an empty or, defensively, an unparsable one: the capacity checks
// then report it as not positive).
func quantity(s string) resource.Quantity {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return resource.Quantity{}
	}
	return q
}

// capacityArgs is the stack's worst case: every service at its HPA's
// maxReplicas (minReplicas without an HPA), the load test's runners and
// starter, and the in-cluster Redis, against cluster.capacity.
func capacityArgs(c *stacks.Config, p *Plan) capacity.Args {
	cp := c.Cluster.Capacity
	args := capacity.Args{
		Node:       capacity.Node{CPU: quantity(string(cp.Node.CPU)), Memory: quantity(string(cp.Node.Memory)), Pods: cp.Node.Pods},
		Overhead:   capacity.Overhead{CPU: quantity(string(cp.Overhead.CPU)), Memory: quantity(string(cp.Overhead.Memory)), Pods: cp.Overhead.Pods},
		Nodes:      cp.Nodes,
		Autoscaled: cp.Autoscaled || c.Cluster.Karpenter.Enabled,
	}
	if c.Cluster.Karpenter.Enabled && !cp.Autoscaled {
		// The stack's own NodePool grows to the plan: its limits come from it.
		args.AutoscaledPath = "cluster.karpenter.enabled"
	}
	for i, s := range c.Services {
		path := validate.Index("services", i)
		pods, podsPath := int(s.HPA.MaxReplicas), validate.Join(path, "hpa.maxReplicas")
		if s.HPA.Disabled {
			pods, podsPath = int(s.HPA.MinReplicas), validate.Join(path, "hpa.minReplicas")
		}
		args.Workloads = append(args.Workloads, capacity.Workload{
			Name: s.Name, Kind: capacity.KindService, Pods: pods, PodsPath: podsPath,
			CPU: quantity(s.Resources.CPURequest), Memory: quantity(s.Resources.MemoryRequest),
			CPUPath: validate.Join(path, "resources.cpuRequest"), MemoryPath: validate.Join(path, "resources.memoryRequest"),
			NamePath: validate.Join(path, "name"),
		})
	}
	if p.LoadTest != nil {
		// The runners as rendered: their count and requests from the
		// runner model, or the stack's overrides.
		lt := p.LoadTest.WithDefaults()
		args.Workloads = append(args.Workloads, capacity.Workload{
			Name: c.LoadTestJobName(), Kind: capacity.KindLoadTest, Pods: lt.Runners(), PodsPath: "loadtest.vusPerRunner",
			CPU: quantity(lt.RunnerResources.CPURequest), Memory: quantity(lt.RunnerResources.MemoryRequest),
			CPUPath: "loadtest.runnerResources.cpuRequest", MemoryPath: "loadtest.runnerResources.memoryRequest",
			NamePath: "loadtest.runId",
		})
		starter := components.StarterResources()
		args.Workloads = append(args.Workloads, capacity.Workload{
			Name: components.LoadTestStarter(c.LoadTestJobName()), Kind: capacity.KindLoadTest, Pods: 1,
			CPU: quantity(starter.CPURequest), Memory: quantity(starter.MemoryRequest),
			NamePath: "loadtest.runId",
		})
	}
	if p.Redis != nil && p.Redis.InCluster != nil {
		r := p.Redis.InCluster.WithDefaults().Resources
		args.Workloads = append(args.Workloads, capacity.Workload{
			Name: p.Redis.Name, Kind: capacity.KindRedis, Pods: 1,
			CPU: quantity(r.CPURequest), Memory: quantity(r.MemoryRequest),
			CPUPath: "redis.inCluster.resources.cpuRequest", MemoryPath: "redis.inCluster.resources.memoryRequest",
			NamePath: "namespace",
		})
	}
	return args
}

// karpenterArgs is cluster.karpenter for the capacity library; its paths
// are the stack file's under "cluster".
func karpenterArgs(c *stacks.Config) capacity.KarpenterArgs {
	k := c.Cluster.Karpenter
	return capacity.KarpenterArgs{
		Name: c.Namespace, ClusterName: k.ClusterName, Role: k.Role, InstanceProfile: k.InstanceProfile, AMIAlias: k.AMIAlias,
		Margin: k.Margin, Arch: k.Arch, CapacityTypes: k.CapacityTypes, InstanceCategories: k.InstanceCategories, Budget: k.Budget,
		SubnetIDs: k.SubnetIDs,
		// Every service's PDB lets at most this many pods go at once.
		PDBMaxUnavailable: minPDBMaxUnavailable(c),
		Labels:            components.Labels(c.Namespace, c.Namespace, "capacity"),
	}
}

// minPDBMaxUnavailable is the fewest pods any service's PDB lets go at
// once: maxUnavailable, or at minReplicas the pods above minAvailable (0
// without a PDB).
func minPDBMaxUnavailable(c *stacks.Config) int {
	least := 0
	for _, s := range c.Services {
		var n int
		switch {
		case s.PDB.Disabled:
			continue
		case s.PDB.MaxUnavailable != nil:
			n = int(*s.PDB.MaxUnavailable)
		case s.PDB.MinAvailable != nil:
			n = int(s.HPA.MinReplicas - *s.PDB.MinAvailable)
		}
		if n > 0 && (least == 0 || n < least) {
			least = n
		}
	}
	return least
}

// placement is where every pod of the stack runs: with the stack's own
// Karpenter NodePool, on its nodes only (its nodeSelector) and tolerating
// its taint, which keeps every other pod off them; else anywhere.
func placement(c *stacks.Config) components.Placement {
	if !c.Cluster.Karpenter.Enabled {
		return components.Placement{}
	}
	k := karpenterArgs(c)
	return components.Placement{NodeSelector: k.PoolNodeSelector(), Tolerations: []corev1.Toleration{k.PoolToleration()}}
}

// headroomArgs sizes the pause pods for each HPA's first scale-up step.
func headroomArgs(c *stacks.Config) capacity.HeadroomArgs {
	where := placement(c)
	args := capacity.HeadroomArgs{
		Name: c.Namespace + headroomSuffix, Namespace: c.Namespace,
		Labels:       map[string]string{components.LabelPartOf: c.Namespace, components.LabelManagedBy: "pulumi"},
		NodeSelector: where.NodeSelector, Tolerations: where.Tolerations,
	}
	for i, s := range c.Services {
		if s.HPA.Disabled {
			continue
		}
		path := validate.Index("services", i)
		args.Steps = append(args.Steps, capacity.ScaleUpStep{
			Service: s.Name, Pods: int(s.HPA.FirstScaleUpStep()),
			// The pause pods spread as the service's pods do.
			Spread: webServiceArgs(c, s).SpreadConstraints(nil),
			CPU:    quantity(s.Resources.CPURequest), Memory: quantity(s.Resources.MemoryRequest),
			CPUPath: validate.Join(path, "resources.cpuRequest"), MemoryPath: validate.Join(path, "resources.memoryRequest"),
			ServicePath: validate.Join(path, "name"),
		})
	}
	return args
}

// planCapacity fills the plan's capacity parts from cluster.*.
func (p *Plan) planCapacity(c *stacks.Config) {
	if c.PlansCapacity() && !beyondHPACeiling(c) {
		plan, err := capacity.Compute(capacityArgs(c, p))
		if err != nil {
			p.capacityErr = err
		} else {
			p.Capacity = &plan
		}
	}
	if c.Cluster.Karpenter.Enabled {
		args := karpenterArgs(c)
		p.Karpenter = &args
	}
	if c.Cluster.Headroom.Enabled {
		args := headroomArgs(c)
		p.Headroom = &args
	}
}

// beyondHPACeiling reports a service whose maxReplicas its own check
// refuses (components.MaxHPAReplicas): no plan is made for it, which that
// check's problem explains.
func beyondHPACeiling(c *stacks.Config) bool {
	for _, s := range c.Services {
		if s.HPA.MaxReplicas > components.MaxHPAReplicas || s.HPA.MinReplicas > components.MaxHPAReplicas {
			return true
		}
	}
	return false
}

// validateCapacity reports a plan that cannot be made, a worst case that
// does not fit, and bad Karpenter or headroom arguments.
func (p *Plan) validateCapacity(errs *validate.Errors) {
	errs.Merge(validate.Under("", p.capacityErr))
	if p.Capacity != nil {
		errs.Merge(p.Capacity.Err())
	}
	if p.Karpenter != nil {
		errs.Merge(validate.Map(p.Karpenter.WithDefaults().Validate(), underCluster))
	}
	if p.Headroom != nil {
		errs.Merge(validate.Map(p.Headroom.WithDefaults().Validate(), underCluster))
	}
}

// underCluster puts the capacity library's own paths ("karpenter.role",
// "headroom.priority") under the stack file's "cluster"; the paths the
// plan handed it (a service's "services[0].resources.cpuRequest") are the
// stack file's already.
func underCluster(path string) string {
	if strings.HasPrefix(path, "karpenter.") || strings.HasPrefix(path, "headroom.") {
		return validate.Join("cluster", path)
	}
	return path
}

// CapacityNote is what render prints about the capacity plan ("" without
// one).
func (p *Plan) CapacityNote() string {
	if p.Capacity == nil {
		return ""
	}
	note := "capacity plan (worst case: every HPA at maxReplicas, the load-test runners, the in-cluster Redis):\n" + p.Capacity.Table()
	if p.Karpenter != nil {
		a := p.Karpenter.WithDefaults()
		cpu, mem := capacity.NodeLimits(*p.Capacity, a.Margin)
		note += fmt.Sprintf("Karpenter NodePool %s limits: cpu %s, memory %s (the planned nodes' capacity + %.0f %%)\n", a.Name, cpu.String(), mem.String(), a.Margin*100)
	}
	if p.Headroom != nil {
		b := capacity.Busiest(p.Headroom.Steps)
		note += fmt.Sprintf("headroom: %d pause pod(s) of %s CPU / %s, for %s's first scale-up step\n", b.Pods, b.CPU.String(), b.Memory.String(), b.Service)
	}
	return note
}
