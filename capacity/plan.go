package capacity

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/cirkelline/infra/internal/validate"
)

// Row is one workload at its worst case.
type Row struct {
	Name string
	Kind Kind
	// Pods is the worst-case pod count.
	Pods int
	// CPU and Memory are one pod's requests.
	CPU, Memory resource.Quantity
	// TotalCPU and TotalMemory are Pods times those.
	TotalCPU, TotalMemory resource.Quantity
	// PodsPath is the stack-file field of Pods ("" when not adjustable).
	PodsPath string
}

// Plan is a stack's worst case against its node pool.
type Plan struct {
	// Rows are the workloads, in the order given.
	Rows []Row
	// Pods, CPU and Memory are the workloads' totals.
	Pods        int
	CPU, Memory resource.Quantity
	// Node is the shape of a node, Overhead what each runs before any
	// workload.
	Node     Node
	Overhead Overhead
	// NodesNeeded is how many nodes the worst case takes, packed first-fit
	// decreasing.
	NodesNeeded int
	// MaxNodes is how many the pool can hold (Args.Nodes, or what
	// Args.Limits admit, the smaller); 0: no fixed maximum.
	MaxNodes int
	// Autoscaled is Args.Autoscaled.
	Autoscaled bool

	args Args
}

// Compute plans args: every workload at its worst case packed onto nodes
// of args.Node. It fails only on invalid args (ErrInvalidArgs), including a
// pod larger than a node; a worst case that does not fit the pool is
// reported by the Plan's Err, so that the table can still be printed.
func Compute(args Args) (Plan, error) {
	a := args.WithDefaults()
	if err := a.Validate(); err != nil {
		return Plan{}, err
	}
	p := Plan{Node: a.Node, Overhead: a.Overhead, Autoscaled: a.Autoscaled, args: a}
	p.CPU, p.Memory = zeroCPU(), zeroMemory()
	for _, w := range a.Workloads {
		r := Row{Name: w.Name, Kind: w.Kind, Pods: w.Pods, CPU: w.CPU.DeepCopy(), Memory: w.Memory.DeepCopy(), PodsPath: w.PodsPath}
		r.TotalCPU = times(w.CPU, w.Pods)
		r.TotalMemory = times(w.Memory, w.Pods)
		p.Rows = append(p.Rows, r)
		p.Pods += w.Pods
		p.CPU.Add(r.TotalCPU)
		p.Memory.Add(r.TotalMemory)
	}
	p.NodesNeeded = a.nodesNeeded(podCounts(a.Workloads))
	p.MaxNodes = a.maxNodes()
	return p, nil
}

// Fits reports whether the worst case fits the pool's nodes (always true
// without a fixed maximum).
func (p Plan) Fits() bool { return p.MaxNodes == 0 || p.NodesNeeded <= p.MaxNodes }

// Err is nil when the worst case fits or node autoscaling covers it, and
// otherwise a *validate.FieldError on the field that caps the pool
// (Args.NodesPath, or the Limits' cpu or memory), with the nodes needed
// and every fix: raise the cap to what the worst case needs, lower the
// maxReplicas (PodsPath) of the workload whose lowering alone makes it
// fit, or set Args.AutoscaledPath.
func (p Plan) Err() error {
	if p.Fits() || p.Autoscaled {
		return nil
	}
	a := p.args
	type raise struct {
		path  string
		value any
		to    string
	}
	var raises []raise
	if a.Nodes > 0 && a.Nodes < p.NodesNeeded {
		raises = append(raises, raise{a.NodesPath, a.Nodes, fmt.Sprint(p.NodesNeeded)})
	}
	if l := a.Limits; l != nil {
		needCPU, needMemory := times(a.Node.CapacityCPU, p.NodesNeeded), times(a.Node.CapacityMemory, p.NodesNeeded)
		if l.CPU.Cmp(needCPU) < 0 {
			raises = append(raises, raise{validate.Join(l.Path, "cpu"), l.CPU.String(), needCPU.String()})
		}
		if l.Memory.Cmp(needMemory) < 0 {
			raises = append(raises, raise{validate.Join(l.Path, "memory"), l.Memory.String(), needMemory.String()})
		}
	}
	// raises is never empty here: the pool is capped by Nodes or Limits,
	// and whichever caps it below NodesNeeded is short.
	var fixes []string
	for i, r := range raises {
		if i == 0 {
			fixes = append(fixes, "raise it to "+r.to)
		} else {
			fixes = append(fixes, fmt.Sprintf("raise %s to %s", r.path, r.to))
		}
	}
	if i, pods, ok := p.lowering(); ok {
		w := a.Workloads[i]
		fixes = append(fixes, fmt.Sprintf("lower %s (%d) to %d", w.PodsPath, w.Pods, pods))
	}
	fixes = append(fixes, "or set "+a.AutoscaledPath)
	fix := strings.Join(fixes, ", ")
	if len(fixes) == 2 {
		fix = strings.Join(fixes, " ")
	}
	return &validate.FieldError{
		Path:  raises[0].path,
		Value: raises[0].value,
		Problem: fmt.Sprintf("the worst case needs %d nodes of %s CPU / %s (every workload at its maximum pod count, packed first-fit decreasing); the pool holds %d",
			p.NodesNeeded, p.Node.CPU.String(), p.Node.Memory.String(), p.MaxNodes),
		Fix: fix,
	}
}

// lowering finds the workload whose pod count, lowered alone, makes the
// worst case fit the pool, trying the workloads with an adjustable count
// (PodsPath) from the largest share of the pool down; it returns the
// workload's index and the largest count that fits (at least 1).
func (p Plan) lowering() (int, int, bool) {
	a := p.args
	var order []int
	for i, w := range a.Workloads {
		if w.PodsPath != "" && w.Pods > 1 {
			order = append(order, i)
		}
	}
	free := a.free()
	slices.SortStableFunc(order, func(x, y int) int {
		wx, wy := a.Workloads[x], a.Workloads[y]
		return -cmpFloat(share(wx, free)*float64(wx.Pods), share(wy, free)*float64(wy.Pods))
	})
	for _, i := range order {
		counts := podCounts(a.Workloads)
		// The largest count in [1, Pods-1] that fits: more pods never need
		// fewer nodes, so search the boundary.
		lo, hi, best := 1, a.Workloads[i].Pods-1, 0
		for lo <= hi {
			mid := (lo + hi) / 2
			counts[i] = mid
			if a.nodesNeeded(counts) <= p.MaxNodes {
				best, lo = mid, mid+1
			} else {
				hi = mid - 1
			}
		}
		if best > 0 {
			return i, best, true
		}
	}
	return 0, 0, false
}

// maxNodes is how many nodes the pool holds: Nodes, or as many nodes'
// capacity as fit in the Limits, the smaller; 0 when neither is set.
func (a Args) maxNodes() int {
	n := a.Nodes
	if l := a.Limits; l != nil {
		byCPU := l.CPU.MilliValue() / a.Node.CapacityCPU.MilliValue()
		byMemory := l.Memory.Value() / a.Node.CapacityMemory.Value()
		if lim := int(min(byCPU, byMemory)); n == 0 || lim < n {
			n = lim
		}
	}
	return n
}

// nodesNeeded packs counts[i] pods of each workload onto empty nodes of
// the pool's shape, first-fit decreasing, and returns how many nodes were
// opened. A pod cannot straddle nodes, so the sum of requests against the
// sum of allocatable is not enough: three pods of 3 CPU need three 4-CPU
// nodes, not 9/4 of one. First-fit decreasing (the largest pods first, each
// onto the first node with room) is the classic bin-packing heuristic: it
// uses at most 11/9 OPT + 6/9 bins in one dimension (Dósa 2007), and here
// "largest" is the pod's dominant share of a node (its CPU, memory or pod
// slot, whichever takes the most). The scheduler does not pack this
// tightly (it spreads pods over zones and hosts), so a plan that fits
// with little headroom may still leave pods pending.
func (a Args) nodesNeeded(counts []int) int {
	free := a.free()
	order := make([]int, len(a.Workloads))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int {
		return -cmpFloat(share(a.Workloads[x], free), share(a.Workloads[y], free))
	})
	type room struct{ cpu, memory int64 }
	var nodes []room
	var slots []int
	for _, i := range order {
		w := a.Workloads[i]
		cpu, memory := w.CPU.MilliValue(), w.Memory.Value()
		for range counts[i] {
			placed := false
			for n := range nodes {
				if nodes[n].cpu >= cpu && nodes[n].memory >= memory && slots[n] >= 1 {
					nodes[n].cpu -= cpu
					nodes[n].memory -= memory
					slots[n]--
					placed = true
					break
				}
			}
			if !placed {
				// Validate has refused a pod larger than an empty node.
				nodes = append(nodes, room{free.CPU.MilliValue() - cpu, free.Memory.Value() - memory})
				slots = append(slots, free.Pods-1)
			}
		}
	}
	return len(nodes)
}

// share is the largest fraction of an empty node's free room that one pod
// of w takes.
func share(w Workload, free Overhead) float64 {
	return max(float64(w.CPU.MilliValue())/float64(free.CPU.MilliValue()),
		float64(w.Memory.Value())/float64(free.Memory.Value()),
		1/float64(free.Pods))
}

func cmpFloat(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func podCounts(ws []Workload) []int {
	counts := make([]int, len(ws))
	for i, w := range ws {
		counts[i] = w.Pods
	}
	return counts
}

func zeroCPU() resource.Quantity    { return *resource.NewMilliQuantity(0, resource.DecimalSI) }
func zeroMemory() resource.Quantity { return *resource.NewQuantity(0, resource.BinarySI) }

// times is q multiplied by n, in q's format.
func times(q resource.Quantity, n int) resource.Quantity {
	if q.Format == resource.BinarySI {
		return *resource.NewQuantity(q.Value()*int64(n), resource.BinarySI)
	}
	return *resource.NewMilliQuantity(q.MilliValue()*int64(n), q.Format)
}

// Table is the plan as text for render to print: one row per workload
// (pods, each pod's requests, their totals), the workloads' sum, the
// per-node overhead over the pool's nodes, the total, the pool's capacity
// and the headroom left, then how many nodes the packing needs against
// the pool, and whether it fits. "each" is per pod on a workload's row and
// per node on the overhead and capacity rows. Quantities are printed in
// Kubernetes' canonical form (250m, 1500Mi).
func (p Plan) Table() string {
	n := p.MaxNodes
	if n == 0 {
		n = p.NodesNeeded
	}
	rows := [][]string{{"workload", "kind", "pods", "cpu each", "memory each", "cpu", "memory"}}
	for _, r := range p.Rows {
		rows = append(rows, []string{r.Name, string(r.Kind), fmt.Sprint(r.Pods), r.CPU.String(), r.Memory.String(), r.TotalCPU.String(), r.TotalMemory.String()})
	}
	rows = append(rows, []string{"workloads", "", fmt.Sprint(p.Pods), "", "", p.CPU.String(), p.Memory.String()})
	overCPU, overMemory := times(p.Overhead.CPU, n), times(p.Overhead.Memory, n)
	rows = append(rows, []string{"overhead", fmt.Sprintf("x%d nodes", n), fmt.Sprint(p.Overhead.Pods * n), p.Overhead.CPU.String(), p.Overhead.Memory.String(), overCPU.String(), overMemory.String()})
	totalCPU, totalMemory := p.CPU.DeepCopy(), p.Memory.DeepCopy()
	totalCPU.Add(overCPU)
	totalMemory.Add(overMemory)
	totalPods := p.Pods + p.Overhead.Pods*n
	rows = append(rows, []string{"total", "", fmt.Sprint(totalPods), "", "", totalCPU.String(), totalMemory.String()})
	capCPU, capMemory := times(p.Node.CPU, n), times(p.Node.Memory, n)
	rows = append(rows, []string{"capacity", fmt.Sprintf("x%d nodes", n), fmt.Sprint(p.Node.Pods * n), p.Node.CPU.String(), p.Node.Memory.String(), capCPU.String(), capMemory.String()})
	capCPU.Sub(totalCPU)
	capMemory.Sub(totalMemory)
	rows = append(rows, []string{"headroom", "", fmt.Sprint(p.Node.Pods*n - totalPods), "", "", capCPU.String(), capMemory.String()})

	var b strings.Builder
	writeColumns(&b, rows)
	a := p.args
	fmt.Fprintf(&b, "\nnodes needed: %d (first-fit decreasing; a pod cannot straddle nodes)\n", p.NodesNeeded)
	switch {
	case p.MaxNodes == 0:
		fmt.Fprintf(&b, "pool: no fixed maximum; node autoscaling (%s) provides them\n", a.AutoscaledPath)
	case p.Fits():
		fmt.Fprintf(&b, "pool: %d nodes (%s): fits\n", p.MaxNodes, p.capPath())
	case p.Autoscaled:
		fmt.Fprintf(&b, "pool: %d nodes (%s): does not fit; node autoscaling (%s) adds the rest\n", p.MaxNodes, p.capPath(), a.AutoscaledPath)
	default:
		fmt.Fprintf(&b, "pool: %d nodes (%s): DOES NOT FIT\n", p.MaxNodes, p.capPath())
	}
	return b.String()
}

// capPath names what caps the pool: the node count or the limits.
func (p Plan) capPath() string {
	a := p.args
	if a.Limits != nil && (a.Nodes == 0 || p.MaxNodes < a.Nodes) {
		return a.Limits.Path
	}
	return a.NodesPath
}

// writeColumns writes rows as aligned columns: the first left-aligned, the
// others right-aligned, two spaces apart.
func writeColumns(b *strings.Builder, rows [][]string) {
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	for _, r := range rows {
		var line strings.Builder
		for i, c := range r {
			pad := strings.Repeat(" ", widths[i]-len([]rune(c)))
			switch {
			case i == 0:
				line.WriteString(c + pad)
			case i == 1:
				line.WriteString("  " + c + pad)
			default:
				line.WriteString("  " + pad + c)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
}
