// Package capacity plans a stack's worst case against its nodes, as plain
// values from plain inputs: every workload at its maximum pod count (each
// HPA at maxReplicas, the load-test runners, an in-cluster Redis) packed
// onto the node pool the stack declares, as a table and, when it cannot
// fit, an error naming the field to change. It also builds what makes the
// worst case fit by itself: a Karpenter NodePool and EC2NodeClass
// (karpenter.sh/v1, karpenter.k8s.aws/v1) with limits taken from the plan,
// and a headroom Deployment of pause pods under a negative PriorityClass
// (for Karpenter and Cluster Autoscaler alike). It knows nothing of the
// stack file or the components: the composition passes requests, pod
// counts, node sizes and the stack file's field paths in, and prints or
// registers what comes out.
package capacity

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/cirkelline/infra/internal/validate"
)

// ErrInvalidArgs is what errors.Is matches for arguments that cannot be
// planned or built from; the error lists every problem with its field path.
var ErrInvalidArgs = errors.New("capacity: invalid arguments")

// Kind says what a workload is, for the table. Closed set.
type Kind string

// The kinds of workload a stack runs.
const (
	// KindService is a web service under an HPA: its worst case is the
	// HPA's maxReplicas (or its replica count without an HPA).
	KindService Kind = "service"
	// KindLoadTest is the k6 load test's runner pods, all running at once.
	KindLoadTest Kind = "load-test"
	// KindRedis is the in-cluster Redis.
	KindRedis Kind = "redis"
	// KindOther is anything else with a fixed pod count.
	KindOther Kind = "other"
)

// Workload is one set of identical pods at its worst case.
type Workload struct {
	// Name labels the workload's row (the Deployment's or Job's name).
	// Required, unique.
	Name string
	// Kind of the workload. Default KindService.
	Kind Kind
	// Pods is the worst-case pod count: the HPA's maxReplicas, the number
	// of load-test runners, 1 for Redis. At least 1.
	Pods int
	// CPU and Memory are one pod's requests (every container's, summed):
	// what the scheduler reserves on a node. Both required, positive.
	CPU, Memory resource.Quantity
	// PodsPath is the stack-file field that sets Pods, e.g.
	// "services[0].hpa.maxReplicas"; a no-fit error may suggest lowering
	// it. Empty: Pods is not the user's to change (Redis's one pod).
	PodsPath string
	// CPUPath and MemoryPath are the stack-file fields of the requests,
	// e.g. "services[0].resources.cpuRequest"; named when one pod is
	// larger than a node. Default "workloads[i].cpu" and ".memory".
	CPUPath, MemoryPath string
	// NamePath is the stack-file field the name comes from, e.g.
	// "services[0].name". Default "workloads[i].name".
	NamePath string
}

// Node is the shape of one node of the pool: every node is alike (a node
// group of one instance type, or the instance size a Karpenter NodePool is
// planned for).
type Node struct {
	// CPU, Memory and Pods are what the kubelet reports allocatable on one
	// node (capacity less kube and system reserved and the eviction
	// threshold): what pods' requests are scheduled against. CPU and
	// Memory required.
	CPU, Memory resource.Quantity
	// Pods is the node's maxPods. Default 110, the kubelet's default
	// (KubeletConfiguration maxPods); on EKS with the VPC CNI it depends on
	// the instance type's network interfaces: pass it.
	Pods int
	// CapacityCPU and CapacityMemory are the node's capacity (the instance
	// size), which a Karpenter NodePool's limits are counted in (see
	// NodePool). Default: the allocatable CPU and Memory.
	CapacityCPU, CapacityMemory resource.Quantity
	// Path is the stack-file field of the node shape, for fixes that say
	// "use larger nodes". Default "cluster.capacity.node".
	Path string
}

// Overhead is what every node runs before any workload: DaemonSet pods
// (CNI, kube-proxy, log and metrics agents) and other per-node system pods,
// by their requests.
type Overhead struct {
	CPU, Memory resource.Quantity
	// Pods is how many pod slots the overhead takes on each node.
	Pods int
	// Path is the stack-file field of the overhead. Default
	// "cluster.capacity.overhead".
	Path string
}

// Limits are a Karpenter NodePool's spec.limits that a stack manages
// itself: the pool may grow until the capacity of its nodes reaches them.
type Limits struct {
	// CPU and Memory limits; both required when Limits is set.
	CPU, Memory resource.Quantity
	// Path of the limits in the stack file. Default
	// "cluster.capacity.limits".
	Path string
}

// Args are a stack's capacity inputs. Zero values mean the documented
// default (WithDefaults).
type Args struct {
	// Workloads at their worst case. At least one.
	Workloads []Workload
	// Overhead on each node.
	Overhead Overhead
	// Node is the shape of the pool's nodes.
	Node Node
	// Nodes is the most nodes the pool can have (a node group's maximum
	// size). 0: no fixed count, only with Limits or Autoscaled.
	Nodes int
	// NodesPath is its stack-file field. Default "cluster.capacity.nodes".
	NodesPath string
	// Limits, when set, are a Karpenter pool's limits: the pool holds as
	// many nodes as fit in them. With Nodes as well, the smaller count
	// holds.
	Limits *Limits
	// Autoscaled says node autoscaling covers a worst case that does not
	// fit (Karpenter without limits of its own here, or Cluster
	// Autoscaler): the plan is still printed, and does not fail.
	Autoscaled bool
	// AutoscaledPath is its stack-file field. Default
	// "cluster.capacity.autoscaled".
	AutoscaledPath string
}

// Defaults of Args, each applied only to a zero field.
const (
	// DefaultNodePods is the kubelet's default maxPods.
	DefaultNodePods       = 110
	DefaultNodesPath      = "cluster.capacity.nodes"
	DefaultNodePath       = "cluster.capacity.node"
	DefaultOverheadPath   = "cluster.capacity.overhead"
	DefaultLimitsPath     = "cluster.capacity.limits"
	DefaultAutoscaledPath = "cluster.capacity.autoscaled"
	// MaxPods is the most pods a plan packs: the packing is first-fit,
	// pods times nodes, so an absurd count (a maxReplicas of millions)
	// would take hours. The shipped stacks' worst cases hold under 100.
	MaxPods = 5000
)

// WithDefaults returns a copy of a with every zero field set to its
// default. The slices of the copy are its own.
func (a Args) WithDefaults() Args {
	a.Workloads = slices.Clone(a.Workloads)
	for i := range a.Workloads {
		w := &a.Workloads[i]
		if w.Kind == "" {
			w.Kind = KindService
		}
		if w.CPUPath == "" {
			w.CPUPath = validate.Join(validate.Index("workloads", i), "cpu")
		}
		if w.MemoryPath == "" {
			w.MemoryPath = validate.Join(validate.Index("workloads", i), "memory")
		}
		if w.NamePath == "" {
			w.NamePath = validate.Join(validate.Index("workloads", i), "name")
		}
	}
	n := &a.Node
	if n.Pods == 0 {
		n.Pods = DefaultNodePods
	}
	if n.CapacityCPU.IsZero() {
		n.CapacityCPU = n.CPU.DeepCopy()
	}
	if n.CapacityMemory.IsZero() {
		n.CapacityMemory = n.Memory.DeepCopy()
	}
	if n.Path == "" {
		n.Path = DefaultNodePath
	}
	if a.Overhead.Path == "" {
		a.Overhead.Path = DefaultOverheadPath
	}
	if a.NodesPath == "" {
		a.NodesPath = DefaultNodesPath
	}
	if a.Limits != nil {
		l := *a.Limits
		if l.Path == "" {
			l.Path = DefaultLimitsPath
		}
		a.Limits = &l
	}
	if a.AutoscaledPath == "" {
		a.AutoscaledPath = DefaultAutoscaledPath
	}
	return a
}

// Validate reports every problem of a (after WithDefaults), each with its
// field path, as one error matching ErrInvalidArgs and validate.ErrInvalid.
// It includes a pod larger than a node (after the overhead), named by the
// workload's CPUPath or MemoryPath: no pool of such nodes can run it.
func (a Args) Validate() error {
	var errs validate.Errors
	if len(a.Workloads) == 0 {
		errs.Add("workloads", nil, "is empty", "pass at least one workload to plan")
	}
	free := a.free()
	seen := map[string]bool{}
	for i, w := range a.Workloads {
		path := validate.Index("workloads", i)
		namePath := cmp.Or(w.NamePath, validate.Join(path, "name"))
		if w.Name == "" {
			errs.Add(namePath, nil, "is required", "pass the workload's name")
		} else if seen[w.Name] {
			errs.Add(namePath, w.Name, "is used twice", "give each workload its own name")
		}
		seen[w.Name] = true
		validate.OneOf(&errs, validate.Join(path, "kind"), w.Kind, KindService, KindLoadTest, KindRedis, KindOther)
		if w.Pods < 1 {
			podsPath := cmp.Or(w.PodsPath, validate.Join(path, "pods"))
			errs.Add(podsPath, w.Pods, "must be at least 1", "pass the worst-case pod count (an HPA's maxReplicas), or leave the workload out")
		}
		for _, r := range []struct {
			path, what string
			q, free    resource.Quantity
			node       resource.Quantity
		}{{w.CPUPath, "CPU", w.CPU, free.CPU, a.Node.CPU}, {w.MemoryPath, "memory", w.Memory, free.Memory, a.Node.Memory}} {
			switch {
			case r.q.Sign() <= 0:
				errs.Add(r.path, r.q.String(), "must be positive", fmt.Sprintf("pass the %s request of one %s pod (a pod without requests is invisible to the plan)", r.what, w.Name))
			case r.free.Sign() > 0 && r.q.Cmp(r.free) > 0:
				errs.Add(r.path, r.q.String(),
					fmt.Sprintf("one %s pod requests more %s than a node offers after the per-node overhead (%s of %s)", w.Name, r.what, r.free.String(), r.node.String()),
					fmt.Sprintf("lower it to %s or less, or use larger nodes (%s)", r.free.String(), a.Node.Path))
			}
		}
	}
	total, largest := 0, -1
	for i, w := range a.Workloads {
		total += max(w.Pods, 0)
		if largest < 0 || w.Pods > a.Workloads[largest].Pods {
			largest = i
		}
	}
	if total > MaxPods {
		w := a.Workloads[largest]
		errs.Add(cmp.Or(w.PodsPath, validate.Join(validate.Index("workloads", largest), "pods")), nil,
			fmt.Sprintf("gives %s %d pods, a worst case of %d; a plan packs at most %d", w.Name, w.Pods, total, MaxPods),
			fmt.Sprintf("set it so that the worst case stays within %d pods", MaxPods))
	}
	n := a.Node
	for _, r := range []struct {
		field    string
		q, over  resource.Quantity
		overPath string
	}{{"cpu", n.CPU, a.Overhead.CPU, validate.Join(a.Overhead.Path, "cpu")}, {"memory", n.Memory, a.Overhead.Memory, validate.Join(a.Overhead.Path, "memory")}} {
		switch {
		case r.q.Sign() <= 0:
			errs.Add(validate.Join(n.Path, r.field), r.q.String(), "must be positive", "pass the allocatable "+r.field+" of one node")
		case r.over.Sign() < 0:
			errs.Add(r.overPath, r.over.String(), "must not be negative", "")
		case r.over.Cmp(r.q) >= 0:
			errs.Add(r.overPath, r.over.String(), fmt.Sprintf("leaves nothing of a node's %s (%s)", r.field, r.q.String()), "pass the per-node DaemonSet requests, or use larger nodes")
		}
	}
	switch {
	case n.Pods < 1:
		errs.Add(validate.Join(n.Path, "pods"), n.Pods, "must be at least 1", "pass the node's maxPods")
	case a.Overhead.Pods < 0:
		errs.Add(validate.Join(a.Overhead.Path, "pods"), a.Overhead.Pods, "must not be negative", "")
	case a.Overhead.Pods >= n.Pods:
		errs.Add(validate.Join(a.Overhead.Path, "pods"), a.Overhead.Pods, fmt.Sprintf("leaves no pod slot of a node's %d", n.Pods), "")
	}
	if n.CapacityCPU.Cmp(n.CPU) < 0 {
		errs.Add(validate.Join(n.Path, "capacityCpu"), n.CapacityCPU.String(), fmt.Sprintf("is less than the allocatable CPU (%s)", n.CPU.String()), "pass the instance's vCPUs, or leave it empty")
	}
	if n.CapacityMemory.Cmp(n.Memory) < 0 {
		errs.Add(validate.Join(n.Path, "capacityMemory"), n.CapacityMemory.String(), fmt.Sprintf("is less than the allocatable memory (%s)", n.Memory.String()), "pass the instance's memory, or leave it empty")
	}
	if a.Nodes < 0 {
		errs.Add(a.NodesPath, a.Nodes, "must not be negative", "")
	}
	if a.Nodes == 0 && a.Limits == nil && !a.Autoscaled {
		errs.Add(a.NodesPath, nil, "is required", fmt.Sprintf("pass the most nodes the pool can have, or set %s", a.AutoscaledPath))
	}
	if l := a.Limits; l != nil {
		if l.CPU.Sign() <= 0 {
			errs.Add(validate.Join(l.Path, "cpu"), l.CPU.String(), "must be positive", "")
		}
		if l.Memory.Sign() <= 0 {
			errs.Add(validate.Join(l.Path, "memory"), l.Memory.String(), "must be positive", "")
		}
	}
	if err := errs.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidArgs, err)
	}
	return nil
}

// free is what one node offers workloads: allocatable less the overhead.
func (a Args) free() Overhead {
	f := Overhead{CPU: a.Node.CPU.DeepCopy(), Memory: a.Node.Memory.DeepCopy(), Pods: a.Node.Pods - a.Overhead.Pods}
	f.CPU.Sub(a.Overhead.CPU)
	f.Memory.Sub(a.Overhead.Memory)
	return f
}
