package capacity_test

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/cirkelline/infra/capacity"
	"github.com/cirkelline/infra/internal/golden"
	"github.com/cirkelline/infra/internal/validate"
)

var q = resource.MustParse

// baseArgs is a staging-like stack: the backend's HPA at 20, four k6
// runners and an in-cluster Redis on at most five 4-CPU / 16Gi nodes.
// Each node keeps 3700m and 15872Mi after the overhead; packed first-fit
// decreasing, the runners take node 1 (three, 700m left) and node 2 (one,
// 2700m left), the backend fills node 1 (2), node 2 (10) and opens node 3
// (the last 8), and Redis goes to node 1: three nodes.
func baseArgs() capacity.Args {
	return capacity.Args{
		Workloads: []capacity.Workload{
			{Name: "cirkelline-backend", Kind: capacity.KindService, Pods: 20, CPU: q("250m"), Memory: q("512Mi"),
				PodsPath: "services[0].hpa.maxReplicas", CPUPath: "services[0].resources.cpuRequest", MemoryPath: "services[0].resources.memoryRequest"},
			{Name: "k6-runner", Kind: capacity.KindLoadTest, Pods: 4, CPU: q("1"), Memory: q("1Gi"), PodsPath: "loadtest.runners"},
			{Name: "redis", Kind: capacity.KindRedis, Pods: 1, CPU: q("100m"), Memory: q("128Mi")},
		},
		Overhead: capacity.Overhead{CPU: q("300m"), Memory: q("512Mi"), Pods: 3},
		Node:     capacity.Node{CPU: q("4"), Memory: q("16Gi")},
		Nodes:    5,
	}
}

func TestPlan(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(*capacity.Args)
		nodes  int    // nodes needed
		max    int    // the pool's maximum
		err    string // Plan.Err, "" for none
		golden string // testdata/<golden>.txt, "" for none
	}{
		{name: "fits", setup: func(*capacity.Args) {}, nodes: 3, max: 5, golden: "fits"},
		{name: "does not fit: raise the nodes or lower the busiest HPA", setup: func(a *capacity.Args) { a.Nodes = 2 }, nodes: 3, max: 2,
			err:    "cluster.capacity.nodes (2): the worst case needs 3 nodes of 4 CPU / 16Gi (every workload at its maximum pod count, packed first-fit decreasing); the pool holds 2; fix: raise it to 3, lower services[0].hpa.maxReplicas (20) to 12, or set cluster.capacity.autoscaled",
			golden: "does-not-fit"},
		{name: "does not fit, autoscaled", setup: func(a *capacity.Args) { a.Nodes = 2; a.Autoscaled = true }, nodes: 3, max: 2, golden: "autoscaled"},
		{name: "autoscaled without a maximum", setup: func(a *capacity.Args) { a.Nodes = 0; a.Autoscaled = true }, nodes: 3, max: 0, golden: "unbounded"},
		{name: "a pod exactly a node's free room", setup: func(a *capacity.Args) {
			// 1850m: two fill a node's 3700m to the last millicore.
			a.Workloads = []capacity.Workload{{Name: "half", Pods: 6, CPU: q("1850m"), Memory: q("1Gi")}}
			a.Nodes = 3
		}, nodes: 3, max: 3},
		{name: "one pod more opens a node", setup: func(a *capacity.Args) {
			a.Workloads = a.Workloads[:1]
			a.Workloads[0].Pods = 43 // 3 × 14 = 42 per three nodes
			a.Nodes = 3
		}, nodes: 4, max: 3,
			err: "cluster.capacity.nodes (3): the worst case needs 4 nodes of 4 CPU / 16Gi (every workload at its maximum pod count, packed first-fit decreasing); the pool holds 3; fix: raise it to 4, lower services[0].hpa.maxReplicas (43) to 42, or set cluster.capacity.autoscaled"},
		{name: "a pod cannot straddle nodes: the sums fit, the pods do not", setup: func(a *capacity.Args) {
			// 3 × 2100m = 6300m of 2 × 3700m, but only one per node.
			a.Workloads = []capacity.Workload{{Name: "big", Pods: 3, CPU: q("2100m"), Memory: q("1Gi"), PodsPath: "services[0].hpa.maxReplicas"}}
			a.Nodes = 2
		}, nodes: 3, max: 2,
			err: "cluster.capacity.nodes (2): the worst case needs 3 nodes of 4 CPU / 16Gi (every workload at its maximum pod count, packed first-fit decreasing); the pool holds 2; fix: raise it to 3, lower services[0].hpa.maxReplicas (3) to 2, or set cluster.capacity.autoscaled"},
		{name: "memory binds", setup: func(a *capacity.Args) {
			// 15872Mi free per node: three 5Gi pods per node.
			a.Workloads = []capacity.Workload{{Name: "hungry", Pods: 7, CPU: q("100m"), Memory: q("5Gi")}}
			a.Nodes = 2
		}, nodes: 3, max: 2,
			// No PodsPath: nothing to lower.
			err: "cluster.capacity.nodes (2): the worst case needs 3 nodes of 4 CPU / 16Gi (every workload at its maximum pod count, packed first-fit decreasing); the pool holds 2; fix: raise it to 3 or set cluster.capacity.autoscaled"},
		{name: "pod slots bind", setup: func(a *capacity.Args) {
			a.Node.Pods = 10 // 7 slots after the overhead's 3
			a.Workloads = []capacity.Workload{{Name: "tiny", Pods: 15, CPU: q("10m"), Memory: q("16Mi"), PodsPath: "services[1].hpa.maxReplicas"}}
			a.Nodes = 2
		}, nodes: 3, max: 2,
			err: "cluster.capacity.nodes (2): the worst case needs 3 nodes of 4 CPU / 16Gi (every workload at its maximum pod count, packed first-fit decreasing); the pool holds 2; fix: raise it to 3, lower services[1].hpa.maxReplicas (15) to 14, or set cluster.capacity.autoscaled"},
		{name: "karpenter limits cap the pool", setup: func(a *capacity.Args) {
			a.Nodes = 0
			a.Limits = &capacity.Limits{CPU: q("8"), Memory: q("64Gi")} // two nodes by CPU
		}, nodes: 3, max: 2,
			err:    `cluster.capacity.limits.cpu ("8"): the worst case needs 3 nodes of 4 CPU / 16Gi (every workload at its maximum pod count, packed first-fit decreasing); the pool holds 2; fix: raise it to 12, lower services[0].hpa.maxReplicas (20) to 12, or set cluster.capacity.autoscaled`,
			golden: "limits"},
		{name: "limits counted in capacity, both short", setup: func(a *capacity.Args) {
			a.Nodes = 0
			a.Node.CapacityCPU, a.Node.CapacityMemory = q("4"), q("20Gi")
			a.Limits = &capacity.Limits{CPU: q("8"), Memory: q("40Gi"), Path: "cluster.karpenter.limits"}
		}, nodes: 3, max: 2,
			err: `cluster.karpenter.limits.cpu ("8"): the worst case needs 3 nodes of 4 CPU / 16Gi (every workload at its maximum pod count, packed first-fit decreasing); the pool holds 2; fix: raise it to 12, raise cluster.karpenter.limits.memory to 60Gi, lower services[0].hpa.maxReplicas (20) to 12, or set cluster.capacity.autoscaled`},
		{name: "nodes and limits: the smaller holds", setup: func(a *capacity.Args) {
			a.Nodes = 4
			a.Limits = &capacity.Limits{CPU: q("8"), Memory: q("64Gi")}
		}, nodes: 3, max: 2,
			err: `cluster.capacity.limits.cpu ("8"): the worst case needs 3 nodes of 4 CPU / 16Gi (every workload at its maximum pod count, packed first-fit decreasing); the pool holds 2; fix: raise it to 12, lower services[0].hpa.maxReplicas (20) to 12, or set cluster.capacity.autoscaled`},
		{name: "nothing to lower helps: the other workloads alone overflow", setup: func(a *capacity.Args) {
			a.Workloads[1].Pods = 12 // three runners a node: four nodes of runners alone
			a.Workloads[1].PodsPath = ""
			a.Nodes = 3
		}, nodes: 5, max: 3,
			err: "cluster.capacity.nodes (3): the worst case needs 5 nodes of 4 CPU / 16Gi (every workload at its maximum pod count, packed first-fit decreasing); the pool holds 3; fix: raise it to 5 or set cluster.capacity.autoscaled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := baseArgs()
			tt.setup(&a)
			p, err := capacity.Compute(a)
			if err != nil {
				t.Fatal(err)
			}
			if p.NodesNeeded != tt.nodes || p.MaxNodes != tt.max {
				t.Errorf("nodes needed %d of %d, want %d of %d", p.NodesNeeded, p.MaxNodes, tt.nodes, tt.max)
			}
			err = p.Err()
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("want no error, got %v", err)
			case tt.err != "" && err == nil:
				t.Errorf("want %s, got no error", tt.err)
			case tt.err != "":
				if err.Error() != tt.err {
					t.Errorf("got  %s\nwant %s", err, tt.err)
				}
				var fe *validate.FieldError
				if !errors.As(err, &fe) || !errors.Is(err, validate.ErrInvalid) {
					t.Errorf("%v is not a validate.FieldError", err)
				}
				if p.Fits() {
					t.Error("Fits() with an error")
				}
			}
			if tt.golden != "" {
				checkGolden(t, tt.golden+".txt", p.Table())
			}
		})
	}
}

// TestPlanRows: the rows and totals, whole.
func TestPlanRows(t *testing.T) {
	p, err := capacity.Compute(baseArgs())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range p.Rows {
		got = append(got, strings.Join([]string{r.Name, string(r.Kind), itoa(r.Pods), r.CPU.String(), r.Memory.String(), r.TotalCPU.String(), r.TotalMemory.String(), r.PodsPath}, " "))
	}
	got = append(got, strings.Join([]string{itoa(p.Pods), p.CPU.String(), p.Memory.String()}, " "))
	want := []string{
		"cirkelline-backend service 20 250m 512Mi 5 10Gi services[0].hpa.maxReplicas",
		"k6-runner load-test 4 1 1Gi 4 4Gi loadtest.runners",
		"redis redis 1 100m 128Mi 100m 128Mi ",
		"25 9100m 14464Mi",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestInvalidArgs: every problem at once, with its field path, before any
// packing; a pod larger than any node is named by its stack-file field.
func TestInvalidArgs(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*capacity.Args)
		want  []string
	}{
		{"a pod larger than any node", func(a *capacity.Args) { a.Workloads[0].CPU = q("5") }, []string{
			`services[0].resources.cpuRequest ("5"): one cirkelline-backend pod requests more CPU than a node offers after the per-node overhead (3700m of 4); fix: lower it to 3700m or less, or use larger nodes (cluster.capacity.node)`,
		}},
		{"a pod larger than the free memory, default path", func(a *capacity.Args) { a.Workloads[2].Memory = q("15873Mi") }, []string{
			`workloads[2].memory ("15873Mi"): one redis pod requests more memory than a node offers after the per-node overhead (15872Mi of 16Gi); fix: lower it to 15872Mi or less, or use larger nodes (cluster.capacity.node)`,
		}},
		{"everything wrong at once", func(a *capacity.Args) {
			a.Workloads[1].Name = "cirkelline-backend"
			a.Workloads[1].Pods = 0
			a.Workloads[2].Kind = "cache"
			a.Workloads[2].CPU = resource.Quantity{}
			a.Overhead.Memory = q("16Gi")
			a.Nodes = 0
		}, []string{
			`workloads[1].name ("cirkelline-backend"): is used twice; fix: give each workload its own name`,
			`loadtest.runners (0): must be at least 1`,
			`workloads[2].kind ("cache"): is not a valid choice; fix: use one of "service", "load-test", "redis", "other"`,
			`workloads[2].cpu ("0"): must be positive; fix: pass the CPU request of one redis pod (a pod without requests is invisible to the plan)`,
			`cluster.capacity.overhead.memory ("16Gi"): leaves nothing of a node's memory (16Gi)`,
			`cluster.capacity.nodes: is required; fix: pass the most nodes the pool can have, or set cluster.capacity.autoscaled`,
		}},
		{"no workloads, no node", func(a *capacity.Args) {
			a.Workloads = nil
			a.Node = capacity.Node{Pods: -1}
			a.Limits = &capacity.Limits{}
		}, []string{
			`workloads: is empty`,
			`cluster.capacity.node.cpu ("0"): must be positive`,
			`cluster.capacity.node.memory ("0"): must be positive`,
			`cluster.capacity.node.pods (-1): must be at least 1`,
			`cluster.capacity.limits.cpu ("0"): must be positive`,
			`cluster.capacity.limits.memory ("0"): must be positive`,
		}},
		{"capacity below allocatable, overhead taking every pod slot", func(a *capacity.Args) {
			a.Node.CapacityCPU = q("3")
			a.Overhead.Pods = 110
		}, []string{
			`cluster.capacity.overhead.pods (110): leaves no pod slot of a node's 110`,
			`cluster.capacity.node.capacityCpu ("3"): is less than the allocatable CPU (4)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := baseArgs()
			tt.setup(&a)
			_, err := capacity.Compute(a)
			if err == nil {
				t.Fatal("want an error")
			}
			if !errors.Is(err, capacity.ErrInvalidArgs) || !errors.Is(err, validate.ErrInvalid) {
				t.Errorf("%v does not match ErrInvalidArgs and validate.ErrInvalid", err)
			}
			got := strings.Split(strings.TrimPrefix(err.Error(), capacity.ErrInvalidArgs.Error()+": "), "\n")
			if len(got) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(got), len(tt.want), err)
			}
			for i := range tt.want {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("problem %d:\ngot  %s\nwant %s", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// checkGolden compares got with testdata/<name> (internal/golden).
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name), []byte(got))
}
