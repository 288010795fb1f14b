package components_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/cirkelline/infra/capacity"
	"github.com/cirkelline/infra/components"
	"github.com/cirkelline/infra/internal/mockrun"
)

func nodeCapacityArgs(t testing.TB) components.NodeCapacityArgs {
	plan, err := capacity.Compute(capacity.Args{
		Workloads: []capacity.Workload{{Name: "api", Pods: 10, CPU: resource.MustParse("500m"), Memory: resource.MustParse("1Gi")}},
		Node:      capacity.Node{CPU: resource.MustParse("3920m"), Memory: resource.MustParse("14Gi"), Pods: 58},
		Nodes:     4,
	})
	if err != nil {
		t.Fatal(err)
	}
	return components.NodeCapacityArgs{
		Namespace: pulumi.String("shop"),
		Plan:      &plan,
		Karpenter: &capacity.KarpenterArgs{Name: "shop", ClusterName: "prod", Role: "KarpenterNodeRole-prod", AMIAlias: "al2023@v20250920"},
		Headroom: &capacity.HeadroomArgs{Name: "shop-headroom", Namespace: "shop",
			Steps: []capacity.ScaleUpStep{{Service: "api", Pods: 4, CPU: resource.MustParse("500m"), Memory: resource.MustParse("1Gi")}}},
	}
}

// TestNodeCapacity registers the capacity library's objects unchanged:
// the NodePool after its EC2NodeClass, the pause pods after their
// PriorityClass, the pause Deployment not awaited; cluster-scoped objects
// without a namespace.
func TestNodeCapacity(t *testing.T) {
	args := nodeCapacityArgs(t)
	c := capture(t, func(ctx *pulumi.Context) error {
		_, err := components.NewNodeCapacity(ctx, "shop", args)
		return err
	})
	c.checkParenting("cirkelline:components:NodeCapacity")
	byType := map[string]mockrun.Resource{}
	for _, r := range c.resources {
		byType[r.Type] = r
	}
	pool, class := byType["kubernetes:karpenter.sh/v1:NodePool"], byType["kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"]
	pc, dep := byType["kubernetes:scheduling.k8s.io/v1:PriorityClass"], byType["kubernetes:apps/v1:Deployment"]
	if pool.URN == "" || class.URN == "" || pc.URN == "" || dep.URN == "" {
		t.Fatalf("registered %v", c.names())
	}
	depends := func(r mockrun.Resource, on mockrun.Resource) bool {
		return strings.Contains(strings.Join(r.DependsOn, " "), on.URN)
	}
	if !depends(pool, class) || !depends(dep, pc) {
		t.Errorf("the NodePool must wait for its EC2NodeClass and the pause pods for their PriorityClass: %v, %v", pool.DependsOn, dep.DependsOn)
	}
	want, _ := capacity.NodePool(*args.Plan, *args.Karpenter)
	got := pool.Inputs["spec"].(map[string]any)
	wantYAML, _ := yaml.Marshal(want.Object["spec"])
	gotYAML, _ := yaml.Marshal(got)
	if string(wantYAML) != string(gotYAML) {
		t.Errorf("NodePool spec registered as\n%s\nwant the library's\n%s", gotYAML, wantYAML)
	}
	for _, r := range []mockrun.Resource{pool, class, pc} {
		if ns, ok := r.Inputs["metadata"].(map[string]any)["namespace"]; ok {
			t.Errorf("cluster-scoped %s has namespace %v", r.Type, ns)
		}
	}
	meta := dep.Inputs["metadata"].(map[string]any)
	if meta["namespace"] != "shop" || meta["annotations"].(map[string]any)["pulumi.com/skipAwait"] != "true" {
		t.Errorf("pause Deployment metadata %v: want namespace shop and skipAwait", meta)
	}
}

func TestNodeCapacityRefused(t *testing.T) {
	args := nodeCapacityArgs(t)
	args.Plan = nil
	args.Karpenter.Role, args.Karpenter.InstanceProfile = "", ""
	args.Headroom.Priority = 5
	_, err := mockrun.Capture("test", "unit", nil, nil, func(ctx *pulumi.Context) error {
		_, err := components.NewNodeCapacity(ctx, "shop", args)
		return err
	})
	for _, want := range []string{"cluster.plan: is required with Karpenter", "cluster.karpenter.role", "cluster.headroom.priority (5)"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func ExampleNewNodeCapacity() {
	args := nodeCapacityArgs(&testing.T{})
	resources, err := mockrun.Capture("example", "production", nil, nil, func(ctx *pulumi.Context) error {
		_, err := components.NewNodeCapacity(ctx, "shop", args)
		return err
	})
	if err != nil {
		panic(err)
	}
	objs, _ := mockrun.Objects(resources)
	for _, o := range objs {
		var body struct {
			Spec struct {
				Limits   map[string]string `json:"limits"`
				Replicas int               `json:"replicas"`
			} `json:"spec"`
			Value int `json:"value"`
		}
		_ = yaml.Unmarshal(o.Body, &body)
		switch o.Kind {
		case "NodePool":
			fmt.Println(o.Kind, o.Name, "limits cpu", body.Spec.Limits["cpu"], "memory", body.Spec.Limits["memory"])
		case "PriorityClass":
			fmt.Println(o.Kind, o.Name, "value", body.Value)
		case "Deployment":
			fmt.Println(o.Kind, o.Name, "replicas", body.Spec.Replicas)
		default:
			fmt.Println(o.Kind, o.Name)
		}
	}
	// Output:
	// PriorityClass shop-headroom value -10
	// EC2NodeClass shop
	// NodePool shop limits cpu 10 memory 35Gi
	// Deployment shop-headroom replicas 4
}
