package capacity_test

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/cirkelline/infra/capacity"
)

func exampleArgs() capacity.Args {
	return capacity.Args{
		Workloads: []capacity.Workload{
			{Name: "backend", Pods: 20, CPU: resource.MustParse("500m"), Memory: resource.MustParse("1Gi"), PodsPath: "services[0].hpa.maxReplicas"},
			{Name: "redis", Kind: capacity.KindRedis, Pods: 1, CPU: resource.MustParse("100m"), Memory: resource.MustParse("256Mi")},
		},
		Overhead: capacity.Overhead{CPU: resource.MustParse("200m"), Memory: resource.MustParse("256Mi"), Pods: 2},
		Node:     capacity.Node{CPU: resource.MustParse("2"), Memory: resource.MustParse("8Gi")},
		Nodes:    5,
	}
}

func ExampleCompute() {
	p, err := capacity.Compute(exampleArgs())
	if err != nil {
		panic(err)
	}
	fmt.Print(p.Table())
	fmt.Println(p.Err())
	// Output:
	// workload   kind      pods  cpu each  memory each     cpu   memory
	// backend    service     20      500m          1Gi      10     20Gi
	// redis      redis        1      100m        256Mi    100m    256Mi
	// workloads              21                         10100m  20736Mi
	// overhead   x5 nodes    10      200m        256Mi       1   1280Mi
	// total                  31                         11100m  22016Mi
	// capacity   x5 nodes   550         2          8Gi      10     40Gi
	// headroom              519                         -1100m  18944Mi
	//
	// nodes needed: 7 (first-fit decreasing; a pod cannot straddle nodes)
	// pool: 5 nodes (cluster.capacity.nodes): DOES NOT FIT
	// cluster.capacity.nodes (5): the worst case needs 7 nodes of 2 CPU / 8Gi (every workload at its maximum pod count, packed first-fit decreasing); the pool holds 5; fix: raise it to 7, lower services[0].hpa.maxReplicas (20) to 15, or set cluster.capacity.autoscaled
}

func ExampleNodePool() {
	a := exampleArgs()
	a.Nodes, a.Autoscaled = 0, true // Karpenter provides the nodes
	p, err := capacity.Compute(a)
	if err != nil {
		panic(err)
	}
	np, err := capacity.NodePool(p, capacity.KarpenterArgs{
		Name: "cirkelline", ClusterName: "prod-eks", Role: "KarpenterNodeRole-prod-eks", AMIAlias: "al2023@v20250920",
		PDBMaxUnavailable: 1,
	})
	if err != nil {
		panic(err)
	}
	spec := np.Object["spec"].(map[string]any)
	fmt.Println(p.NodesNeeded, "nodes planned")
	fmt.Println("limits:", spec["limits"])
	fmt.Println("budgets:", spec["disruption"].(map[string]any)["budgets"])
	// Output:
	// 7 nodes planned
	// limits: map[cpu:18 memory:70Gi]
	// budgets: [map[nodes:10%] map[nodes:1]]
}

func ExampleEC2NodeClass() {
	nc, err := capacity.EC2NodeClass(capacity.KarpenterArgs{
		Name: "cirkelline", ClusterName: "prod-eks", Role: "KarpenterNodeRole-prod-eks", AMIAlias: "al2023@v20250920",
	})
	if err != nil {
		panic(err)
	}
	spec := nc.Object["spec"].(map[string]any)
	fmt.Println(nc.GetAPIVersion(), nc.GetKind(), nc.GetName())
	fmt.Println(spec["role"], spec["amiSelectorTerms"])
	fmt.Println(spec["subnetSelectorTerms"])
	// Output:
	// karpenter.k8s.aws/v1 EC2NodeClass cirkelline
	// KarpenterNodeRole-prod-eks [map[alias:al2023@v20250920]]
	// [map[tags:map[karpenter.sh/discovery:prod-eks kubernetes.io/role/internal-elb:1]]]
}

func ExampleHeadroom() {
	pc, d, err := capacity.Headroom(capacity.HeadroomArgs{
		Name: "cirkelline-headroom", Namespace: "cirkelline",
		Steps: []capacity.ScaleUpStep{
			// The default scaleUp policy adds up to 4 pods in its first step.
			{Service: "backend", Pods: 4, CPU: resource.MustParse("500m"), Memory: resource.MustParse("1Gi")},
			{Service: "client", Pods: 2, CPU: resource.MustParse("100m"), Memory: resource.MustParse("64Mi")},
		},
	})
	if err != nil {
		panic(err)
	}
	c := d.Spec.Template.Spec.Containers[0]
	fmt.Println(pc.Name, pc.Value, *pc.PreemptionPolicy, pc.GlobalDefault)
	fmt.Println(*d.Spec.Replicas, "x", c.Image, c.Resources.Requests.Cpu(), c.Resources.Requests.Memory())
	// Output:
	// cirkelline-headroom -10 Never false
	// 4 x registry.k8s.io/pause:3.10.1 500m 1Gi
}
