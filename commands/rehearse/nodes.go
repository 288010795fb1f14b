package rehearse

import (
	"fmt"
	"math"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/cirkelline/infra/internal/controlplane"
)

// Node delays: how long a new node takes from the autoscaler's decision to
// Ready. Public figures: Karpenter launches through the EC2 Fleet API
// without node groups, "typically under 60 seconds" from a pending pod to
// a node (oneuptime.com, "How to Use Karpenter for EKS Node Provisioning",
// 2026-02-12), while with the Cluster Autoscaler "nodes can take multiple
// minutes to become available" (AWS Containers blog, "Managing Pod
// Scheduling Constraints and Groupless Node Upgrades with Karpenter in
// Amazon EKS", 2024: it scales an Auto Scaling group, which boots and
// joins an instance, after its scan interval). Users report up to ~5
// minutes from a pending pod to a running one on a new Karpenter node
// (sbhn.g1b.me/item/44053826, a Hacker News thread), so these are the fast end:
// --node-delay rehearses a slower day.
const (
	DefaultKarpenterNodeDelay = 60 * time.Second
	DefaultNodeGroupNodeDelay = 3 * time.Minute
)

// settleAfterJoin is how long the provisioner waits after a node joined
// before it launches for pods still Pending: the scheduler places pods on
// a new node within a second or two of its Ready, and Karpenter batches
// pending pods for up to 10 s (its BATCH_MAX_DURATION default) before a
// launch decision.
const settleAfterJoin = 10 * time.Second

// NodePool is the rehearsal's nodes as the stack declares them
// (cluster.capacity, cluster.zones, and whether Karpenter or the Cluster
// Autoscaler with headroom grows the pool).
type NodePool struct {
	// Zones the nodes spread over (topology.kubernetes.io/zone), in order.
	// At least one.
	Zones []string
	// Region is the nodes' topology.kubernetes.io/region. Default none.
	Region string
	// CPU, Memory and Pods are one node's room for the stack's pods: its
	// allocatable less the DaemonSets' requests (cluster.capacity.node
	// less .overhead), since the rehearsal runs no DaemonSets.
	CPU, Memory resource.Quantity
	Pods        int
	// Nodes at the start. A fixed pool (not Autoscaled) keeps this many
	// until an event takes some away. An autoscaled pool starts from one
	// node per zone and grows at once, before the shape starts, until no
	// pod is Pending: a cluster at rest, sized for minReplicas and the
	// headroom.
	Nodes int
	// AtRest is the fewest nodes an autoscaled pool keeps (a node group's
	// minimum size); the pool starts with at least this many, and at
	// least one per zone. Default 0: one per zone.
	AtRest int
	// Max is the most nodes the pool may have (cluster.capacity.nodes, or
	// a Karpenter NodePool's limits over one node's CPU). 0: no limit.
	Max int
	// Autoscaled pools add a node after Delay when pods are Pending, in
	// a zone that is up. Autoscaler names what does it, for the report.
	Autoscaled bool
	Autoscaler string
	// Delay is a new node's time from the decision to Ready, for the
	// autoscaler's nodes and for the replacements of drained ones.
	Delay time.Duration
	// Labels go on every node (e.g. karpenter.sh/nodepool).
	Labels map[string]string
	// Taints go on every node (the NodePool's).
	Taints []corev1.Taint
}

// Node is the pool's node number i (1-based) in zone.
func (p NodePool) Node(zone string, i int) controlplane.Node {
	return controlplane.Node{Name: fmt.Sprintf("node-%s-%d", zone, i), Zone: zone, Region: p.Region,
		CPU: p.CPU, Memory: p.Memory, Pods: p.Pods, Labels: p.Labels, Taints: p.Taints}
}

// InitialNodes are the nodes a rehearsal starts with: Nodes of them
// (one per zone, or AtRest, when autoscaled), round-robin over the zones.
func (p NodePool) InitialNodes() []controlplane.Node {
	n := p.Nodes
	if p.Autoscaled {
		n = max(len(p.Zones), p.AtRest)
		if p.Max > 0 {
			n = min(n, p.Max)
		}
	}
	var nodes []controlplane.Node
	perZone := map[string]int{}
	for i := 0; i < n; i++ {
		z := p.Zones[i%len(p.Zones)]
		perZone[z]++
		nodes = append(nodes, p.Node(z, perZone[z]))
	}
	return nodes
}

// NodesFor is how many of the pool's nodes the pending requests need:
// the most of CPU, memory and pod slots, each rounded up.
func (p NodePool) NodesFor(cpuMilli, memoryBytes int64, pods int) int {
	need := 0
	if c := p.CPU.MilliValue(); c > 0 {
		need = max(need, int(math.Ceil(float64(cpuMilli)/float64(c))))
	}
	if m := p.Memory.Value(); m > 0 {
		need = max(need, int(math.Ceil(float64(memoryBytes)/float64(m))))
	}
	if p.Pods > 0 {
		need = max(need, int(math.Ceil(float64(pods)/float64(p.Pods))))
	}
	return need
}

// PlaceNodes picks the zones of n new nodes: each in the up zone with the
// fewest nodes (existing and launching), the first such in Zones order,
// as a zone-balanced node group or Karpenter under a zone spread would.
// nodes holds the count per zone; it is updated.
func (p NodePool) PlaceNodes(n int, nodes map[string]int, down map[string]bool) []string {
	var zones []string
	for ; n > 0; n-- {
		best := ""
		for _, z := range p.Zones {
			if down[z] {
				continue
			}
			if best == "" || nodes[z] < nodes[best] {
				best = z
			}
		}
		if best == "" {
			break
		}
		nodes[best]++
		zones = append(zones, best)
	}
	return zones
}

// String is the pool for the progress line.
func (p NodePool) String() string {
	s := fmt.Sprintf("%d node(s) of %s CPU / %s for pods over %d zone(s) (%v)", len(p.InitialNodes()), p.CPU.String(), p.Memory.String(), len(p.Zones), p.Zones)
	if p.Autoscaled {
		limit := "no limit"
		if p.Max > 0 {
			limit = fmt.Sprintf("at most %d", p.Max)
		}
		s += fmt.Sprintf(", grown by %s (%s) with new nodes Ready %s after the decision", p.Autoscaler, limit, p.Delay)
	}
	return s
}

// zonesOf counts nodes per zone.
func zonesOf(nodes []controlplane.Node) map[string]int {
	out := map[string]int{}
	for _, n := range nodes {
		out[n.Zone]++
	}
	return out
}

// upZones are the zones not down, in order.
func (p NodePool) upZones(down map[string]bool) []string {
	return slices.DeleteFunc(slices.Clone(p.Zones), func(z string) bool { return down[z] })
}
