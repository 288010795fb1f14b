package components

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	k8scorev1 "k8s.io/api/core/v1"
)

// Placement is where a workload's pods may run: the nodes they select and
// the taints they tolerate. The composition gives every pod of a stack
// with its own Karpenter NodePool the pool's (capacity.KarpenterArgs
// PoolNodeSelector and PoolToleration). The zero value: any node without
// a taint.
type Placement struct {
	// NodeSelector, e.g. {"karpenter.sh/nodepool": "<pool>"}. Default none.
	NodeSelector map[string]string
	// Tolerations, e.g. the pool's taint. Default none.
	Tolerations []k8scorev1.Toleration
}

// applyTo sets the pod spec's nodeSelector and tolerations.
func (p Placement) applyTo(spec *corev1.PodSpecArgs) {
	if len(p.NodeSelector) > 0 {
		spec.NodeSelector = stringMap(p.NodeSelector)
	}
	var tolerations corev1.TolerationArray
	for _, t := range p.Tolerations {
		args := corev1.TolerationArgs{
			Key: pulumi.String(t.Key), Operator: pulumi.String(string(t.Operator)),
			Effect: pulumi.String(string(t.Effect)),
		}
		if t.Value != "" {
			args.Value = pulumi.String(t.Value)
		}
		if t.TolerationSeconds != nil {
			args.TolerationSeconds = pulumi.Int(int(*t.TolerationSeconds))
		}
		tolerations = append(tolerations, args)
	}
	if len(tolerations) > 0 {
		spec.Tolerations = tolerations
	}
}

// on applies the placement to spec and returns it, for builders that
// write the pod spec inline.
func (p Placement) on(spec *corev1.PodSpecArgs) *corev1.PodSpecArgs {
	p.applyTo(spec)
	return spec
}
