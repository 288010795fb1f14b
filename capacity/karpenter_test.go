package capacity_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/klog/v2"
	"sigs.k8s.io/yaml"

	"github.com/cirkelline/infra/capacity"
)

func baseKarpenter() capacity.KarpenterArgs {
	return capacity.KarpenterArgs{
		Name:        "cirkelline",
		ClusterName: "prod-eks",
		Role:        "KarpenterNodeRole-prod-eks",
		AMIAlias:    "al2023@v20250920",
	}
}

func basePlan(t *testing.T) capacity.Plan {
	t.Helper()
	p, err := capacity.Compute(baseArgs())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func asMap(t *testing.T, obj any) map[string]any {
	t.Helper()
	raw, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func dig(m map[string]any, path ...string) map[string]any {
	for _, p := range path {
		m = m[p].(map[string]any)
	}
	return m
}

// TestNodePool: the base NodePool as golden YAML (three planned nodes of
// 4 CPU / 16Gi, 25 % margin: limits 15 CPU and 60Gi), then each argument's
// change on the whole object.
func TestNodePool(t *testing.T) {
	base, err := capacity.NodePool(basePlan(t), baseKarpenter())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := yaml.Marshal(base.Object)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "nodepool.yaml", string(raw))

	tests := []struct {
		name  string
		setup func(*capacity.KarpenterArgs)
		want  func(m map[string]any)
	}{
		{"a PDB adds a budget of its allowance", func(a *capacity.KarpenterArgs) { a.PDBMaxUnavailable = 1 }, func(m map[string]any) {
			d := dig(m, "spec", "disruption")
			d["budgets"] = []any{map[string]any{"nodes": "10%"}, map[string]any{"nodes": "1"}}
		}},
		{"margin 1: twice", func(a *capacity.KarpenterArgs) { a.Margin = 1 }, func(m map[string]any) {
			dig(m, "spec")["limits"] = map[string]any{"cpu": "24", "memory": "96Gi"}
		}},
		{"spot and arm, labels on nodes", func(a *capacity.KarpenterArgs) {
			a.CapacityTypes = []string{"spot", "on-demand"}
			a.Arch = []string{"arm64"}
			a.Labels = map[string]string{"app.kubernetes.io/part-of": "cirkelline"}
		}, func(m map[string]any) {
			dig(m, "metadata")["labels"] = map[string]any{"app.kubernetes.io/part-of": "cirkelline"}
			tpl := dig(m, "spec", "template")
			tpl["metadata"] = map[string]any{"labels": map[string]any{"app.kubernetes.io/part-of": "cirkelline"}}
			reqs := dig(tpl, "spec")["requirements"].([]any)
			reqs[0].(map[string]any)["values"] = []any{"arm64"}
			reqs[1].(map[string]any)["values"] = []any{"spot", "on-demand"}
		}},
		{"consolidation", func(a *capacity.KarpenterArgs) {
			a.ConsolidationPolicy = capacity.WhenEmpty
			a.ConsolidateAfter = 90 * time.Minute
			a.Budget = "2"
		}, func(m map[string]any) {
			d := dig(m, "spec", "disruption")
			d["consolidationPolicy"] = "WhenEmpty"
			d["consolidateAfter"] = "1h30m"
			d["budgets"] = []any{map[string]any{"nodes": "2"}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := baseKarpenter()
			tt.setup(&a)
			got, err := capacity.NodePool(basePlan(t), a)
			if err != nil {
				t.Fatal(err)
			}
			want := asMap(t, base.Object)
			tt.want(want)
			if g := asMap(t, got.Object); !reflect.DeepEqual(g, want) {
				gy, _ := yaml.Marshal(g)
				wy, _ := yaml.Marshal(want)
				t.Errorf("got\n%s\nwant\n%s", gy, wy)
			}
		})
	}
}

func TestEC2NodeClass(t *testing.T) {
	base, err := capacity.EC2NodeClass(baseKarpenter())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := yaml.Marshal(base.Object)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "ec2nodeclass.yaml", string(raw))

	a := baseKarpenter()
	a.Role = ""
	a.InstanceProfile = "KarpenterNodeInstanceProfile"
	a.SubnetTags = map[string]string{"tier": "private"}
	a.Tags = map[string]string{"team": "platform"}
	got, err := capacity.EC2NodeClass(a)
	if err != nil {
		t.Fatal(err)
	}
	want := asMap(t, base.Object)
	spec := dig(want, "spec")
	delete(spec, "role")
	spec["instanceProfile"] = "KarpenterNodeInstanceProfile"
	spec["subnetSelectorTerms"] = []any{map[string]any{"tags": map[string]any{"tier": "private"}}}
	spec["tags"] = map[string]any{"team": "platform"}
	if g := asMap(t, got.Object); !reflect.DeepEqual(g, want) {
		t.Errorf("got %v\nwant %v", g, want)
	}
}

func TestKarpenterInvalidArgs(t *testing.T) {
	a := capacity.KarpenterArgs{
		Name:                "Cirkelline",
		Role:                "r",
		InstanceProfile:     "p",
		AMIAlias:            "windows2022@latest",
		Margin:              -0.5,
		CapacityTypes:       []string{"preemptible"},
		Budget:              "ten",
		PDBMaxUnavailable:   -1,
		ConsolidationPolicy: "Always",
		ConsolidateAfter:    1500 * time.Millisecond,
		Tags:                map[string]string{"": "x"},
	}
	want := []string{
		`karpenter.name ("Cirkelline"): must be a lower-case RFC 1123 label`,
		`karpenter.clusterName: is required`,
		`karpenter.margin (-0.5): must be between 0 and 10`,
		`karpenter.capacityTypes[0] ("preemptible"): is not a valid choice; fix: use one of "on-demand", "spot", "reserved"`,
		`karpenter.budget ("ten"): is not a node count or a percentage`,
		`karpenter.pdbMaxUnavailable (-1): must not be negative`,
		`karpenter.consolidationPolicy ("Always"): is not a valid choice; fix: use one of "WhenEmpty", "WhenEmptyOrUnderutilized", "Balanced"`,
		`karpenter.consolidateAfter ("1.5s"): must be whole seconds, at least 1s`,
		`karpenter.role ("r"): exactly one of role and instanceProfile must be set`,
		`karpenter.amiAlias ("windows2022@latest"): must be family@version with a Linux family`,
		// The subnet and security-group tags default to the missing
		// clusterName: that one problem names the field to set.
		`karpenter.tags. ("x"): empty tag keys or values are not supported`,
	}
	for name, build := range map[string]func() error{
		"NodePool":     func() error { _, err := capacity.NodePool(basePlan(t), a); return err },
		"EC2NodeClass": func() error { _, err := capacity.EC2NodeClass(a); return err },
	} {
		err := build()
		if !errors.Is(err, capacity.ErrInvalidArgs) {
			t.Fatalf("%s: %v does not match ErrInvalidArgs", name, err)
		}
		got := strings.Split(strings.TrimPrefix(err.Error(), capacity.ErrInvalidArgs.Error()+": "), "\n")
		if len(got) != len(want) {
			t.Fatalf("%s: got %d problems, want %d:\n%s", name, len(got), len(want), err)
		}
		for i := range want {
			if !strings.HasPrefix(got[i], want[i]) {
				t.Errorf("%s problem %d:\ngot  %s\nwant %s", name, i, got[i], want[i])
			}
		}
	}
	if _, err := capacity.NodePool(capacity.Plan{}, baseKarpenter()); err == nil || !strings.Contains(err.Error(), "plan: is empty") {
		t.Errorf("an empty plan: %v", err)
	}
}

// TestPoolPlacement: the stack's pods tolerate the pool's taint exactly
// (so a zone spread honouring taints still leaves out nodes tainted
// otherwise), the NodePool renders that taint, and they select the pool
// by the label Karpenter puts on its nodes.
func TestPoolPlacement(t *testing.T) {
	a := baseKarpenter()
	taint, toleration := a.PoolTaint(), a.PoolToleration()
	want := corev1.Taint{Key: "cirkelline.io/nodepool", Value: "cirkelline", Effect: corev1.TaintEffectNoSchedule}
	if !reflect.DeepEqual(taint, want) {
		t.Errorf("taint %+v, want %+v", taint, want)
	}
	if got := a.PoolNodeSelector(); !reflect.DeepEqual(got, map[string]string{"karpenter.sh/nodepool": "cirkelline"}) {
		t.Errorf("node selector %v", got)
	}
	other := baseKarpenter()
	other.Name = "other-stack"
	for _, tt := range []struct {
		taint corev1.Taint
		want  bool
	}{
		{taint, true},
		{other.PoolTaint(), false}, // another stack's pool
		{corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule}, false},
		{corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}, false},
		{corev1.Taint{Key: taint.Key, Value: taint.Value, Effect: corev1.TaintEffectNoExecute}, false},
	} {
		if got := toleration.ToleratesTaint(klog.Background(), &tt.taint, false); got != tt.want {
			t.Errorf("tolerates %+v: %v, want %v", tt.taint, got, tt.want)
		}
	}
	pool, err := capacity.NodePool(basePlan(t), a)
	if err != nil {
		t.Fatal(err)
	}
	got := dig(pool.Object, "spec", "template", "spec")["taints"]
	if want := []any{map[string]any{"key": taint.Key, "value": taint.Value, "effect": "NoSchedule"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("NodePool taints %v, want %v", got, want)
	}
}

// TestSubnetSelectorTerms pins exactly what Karpenter receives to pick
// the nodes' subnets: by default one term, the discovery tag AND the
// private-subnet tag (tags within a term are ANDed, terms ORed); subnet
// IDs as one term each; a public-subnet tag, or IDs and tags together,
// refused.
func TestSubnetSelectorTerms(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(*capacity.KarpenterArgs)
		want    []any
		wantErr string
	}{
		{"default: discovery tag and private subnets", func(*capacity.KarpenterArgs) {}, []any{
			map[string]any{"tags": map[string]any{"karpenter.sh/discovery": "prod-eks", "kubernetes.io/role/internal-elb": "1"}},
		}, ""},
		{"subnet IDs", func(a *capacity.KarpenterArgs) { a.SubnetIDs = []string{"subnet-0a1", "subnet-0b2"} }, []any{
			map[string]any{"id": "subnet-0a1"}, map[string]any{"id": "subnet-0b2"},
		}, ""},
		{"own tags replace the default", func(a *capacity.KarpenterArgs) { a.SubnetTags = map[string]string{"tier": "private"} }, []any{
			map[string]any{"tags": map[string]any{"tier": "private"}},
		}, ""},
		{"public subnets refused", func(a *capacity.KarpenterArgs) {
			a.SubnetTags = map[string]string{"karpenter.sh/discovery": "prod-eks", "kubernetes.io/role/elb": "1"}
		}, nil, `karpenter.subnetTags.kubernetes.io/role/elb ("1"): selects public subnets`},
		{"IDs and tags together refused", func(a *capacity.KarpenterArgs) {
			a.SubnetIDs = []string{"subnet-0a1"}
			a.SubnetTags = map[string]string{"tier": "private"}
		}, nil, "karpenter.subnetIds"},
		{"a malformed ID refused", func(a *capacity.KarpenterArgs) { a.SubnetIDs = []string{"sn-1"} }, nil, `karpenter.subnetIds[0] ("sn-1"): is not a subnet ID`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := baseKarpenter()
			tt.setup(&a)
			class, err := capacity.EC2NodeClass(a)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := dig(class.Object, "spec")["subnetSelectorTerms"]; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("subnetSelectorTerms %v, want %v", got, tt.want)
			}
		})
	}
}

// ReadPoolNodes reads back what NodePool rendered: the nodes' labels
// (the pool's label and the template's), the pool's taint and limits; a
// rendered object of another kind is no NodePool.
func TestReadPoolNodes(t *testing.T) {
	args := baseKarpenter()
	args.Labels = map[string]string{"team": "web"}
	pool, err := capacity.NodePool(basePlan(t), args)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := yaml.Marshal(pool.Object)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := capacity.ReadPoolNodes(raw)
	if err != nil || !ok {
		t.Fatalf("ReadPoolNodes: %v, %v", ok, err)
	}
	a := args.WithDefaults()
	cpu, memory := capacity.NodeLimits(basePlan(t), a.Margin)
	want := capacity.PoolNodes{Name: a.Name, Labels: map[string]string{capacity.NodePoolLabel: a.Name, "team": "web"},
		Taints: []corev1.Taint{a.PoolTaint()}, Limits: corev1.ResourceList{corev1.ResourceCPU: cpu, corev1.ResourceMemory: memory}}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(x, y resource.Quantity) bool { return x.Cmp(y) == 0 })); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}
	if _, ok, err := capacity.ReadPoolNodes([]byte("kind: Namespace\nmetadata: {name: a}\n")); ok || err != nil {
		t.Errorf("a Namespace read as a NodePool (%v, %v)", ok, err)
	}
}
