package capacity

import (
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// PoolNodes is what a rendered NodePool (NodePool's output, read back)
// gives every node Karpenter launches for it, and its limits: what the
// stand-in nodes of the rehearsal and of the integration tests carry.
type PoolNodes struct {
	// Name is the NodePool's name.
	Name string
	// Labels are the template's labels and NodePoolLabel: Karpenter sets
	// karpenter.sh/nodepool on the NodeClaim and the Node copies it
	// (sigs.k8s.io/karpenter v1.14 pkg/apis/v1/labels.go NodePoolLabelKey).
	Labels map[string]string
	// Taints are the template's.
	Taints []corev1.Taint
	// Limits are spec.limits.
	Limits corev1.ResourceList
}

// ReadPoolNodes reads a rendered object (YAML or JSON): the NodePool's
// nodes, or false when it is no NodePool.
func ReadPoolNodes(doc []byte) (PoolNodes, bool, error) {
	var pool struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			Template struct {
				Metadata struct {
					Labels map[string]string `json:"labels"`
				} `json:"metadata"`
				Spec struct {
					Taints []corev1.Taint `json:"taints"`
				} `json:"spec"`
			} `json:"template"`
			Limits corev1.ResourceList `json:"limits"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(doc, &pool); err != nil {
		return PoolNodes{}, false, fmt.Errorf("read a rendered object: %w", err)
	}
	if pool.Kind != NodePoolKind {
		return PoolNodes{}, false, nil
	}
	labels := map[string]string{NodePoolLabel: pool.Metadata.Name}
	maps.Copy(labels, pool.Spec.Template.Metadata.Labels)
	return PoolNodes{Name: pool.Metadata.Name, Labels: labels, Taints: pool.Spec.Template.Spec.Taints, Limits: pool.Spec.Limits}, true, nil
}
