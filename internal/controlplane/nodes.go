package controlplane

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Node is a kwok fake node, labelled as a cloud's node is: the well-known
// labels the kubelet and the cloud provider set (k8s.io/api v0.37.2
// core/v1 well_known_labels.go: kubernetes.io/hostname, kubernetes.io/os,
// kubernetes.io/arch, topology.kubernetes.io/zone and /region,
// node.kubernetes.io/instance-type), which topology spread constraints and
// node selectors match on.
type Node struct {
	// Name of the node, and its kubernetes.io/hostname. Required.
	Name string
	// Zone is its topology.kubernetes.io/zone. Default "zone-a".
	Zone string
	// Region is its topology.kubernetes.io/region. Default: none.
	Region string
	// InstanceType is its node.kubernetes.io/instance-type. Default: none.
	InstanceType string
	// CPU, Memory and Pods are its allocatable (and capacity): what the
	// scheduler places pods' requests against. Default 64 CPUs, 256Gi and
	// 250 pods, room for any stack.
	CPU, Memory resource.Quantity
	Pods        int
	// Labels are added to the well-known ones.
	Labels map[string]string
	// Taints it carries from the start (a node pool's).
	Taints []corev1.Taint
}

// KwokNodeLabel is a label every fake node carries ("type": "kwok"), so
// kwok's own stages and a test can select them.
const KwokNodeLabel = "type"

func (n Node) withDefaults() Node {
	if n.Zone == "" {
		n.Zone = "zone-a"
	}
	if n.CPU.IsZero() {
		n.CPU = resource.MustParse("64")
	}
	if n.Memory.IsZero() {
		n.Memory = resource.MustParse("256Gi")
	}
	if n.Pods == 0 {
		n.Pods = 250
	}
	return n
}

// Object is the Node as the API server takes it. kwok manages it (the
// kwok.x-k8s.io/node annotation its --manage-nodes-with-annotation-selector
// selects) and, with metrics, serves kubelet's resource metrics for
// it at that path.
func (n Node) Object(metrics bool) *corev1.Node {
	n = n.withDefaults()
	labels := map[string]string{
		corev1.LabelHostname: n.Name, corev1.LabelOSStable: "linux", corev1.LabelArchStable: "amd64",
		corev1.LabelTopologyZone: n.Zone, KwokNodeLabel: "kwok",
	}
	if n.Region != "" {
		labels[corev1.LabelTopologyRegion] = n.Region
	}
	if n.InstanceType != "" {
		labels[corev1.LabelInstanceTypeStable] = n.InstanceType
	}
	maps.Copy(labels, n.Labels)
	annotations := map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"}
	if metrics {
		// metrics-server reads the path from this annotation
		// (pkg/scraper/client/resource/client.go of metrics-server v0.8.0);
		// kwok's Metric serves it (see Start).
		annotations["metrics.k8s.io/resource-metrics-path"] = "/metrics/nodes/" + n.Name + "/metrics/resource"
	}
	room := corev1.ResourceList{corev1.ResourceCPU: n.CPU, corev1.ResourceMemory: n.Memory,
		corev1.ResourcePods: *resource.NewQuantity(int64(n.Pods), resource.DecimalSI)}
	return &corev1.Node{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Node"},
		ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: labels, Annotations: annotations},
		Spec:       corev1.NodeSpec{Taints: n.Taints},
		Status:     corev1.NodeStatus{Allocatable: room, Capacity: room.DeepCopy()},
	}
}

// AddNodes creates the nodes and waits until kwok reports them Ready.
func (c *Cluster) AddNodes(nodes ...Node) error {
	if len(nodes) == 0 {
		return nil
	}
	var docs, names []string
	for _, n := range nodes {
		b, err := json.Marshal(n.Object(c.metrics))
		if err != nil {
			return err
		}
		docs, names = append(docs, string(b)), append(names, "node/"+n.Name)
	}
	if out, err := c.KubectlIn(strings.Join(docs, "\n---\n"), "apply", "-f", "-"); err != nil {
		return fmt.Errorf("create nodes %s: %w\n%s", strings.Join(names, ", "), err, out)
	}
	args := append([]string{"wait", "--for=condition=Ready", "--timeout=60s"}, names...)
	if out, err := c.Kubectl(args...); err != nil {
		return fmt.Errorf("nodes not ready: %w\n%s", err, out)
	}
	return nil
}

// Lost is what losing a zone took away.
type Lost struct {
	// Nodes and Pods ("namespace/name") that were there.
	Nodes, Pods []string
}

// LoseZone takes away every node in zone that matches selector (a label
// selector, "" for all), with their pods, as an availability-zone failure
// does. Two forms:
//   - gone (unreachable false): the nodes and their pods are deleted at
//     once, as when the cloud's node lifecycle removes the instances and
//     the pod garbage collector the pods bound to nodes that no longer
//     exist (it would after a while; the rehearsal does it at once);
//   - unreachable: the nodes stop reporting (kwok stops managing them and
//     their Ready condition goes Unknown, as the node lifecycle controller
//     sets it), the controller taints them node.kubernetes.io/unreachable
//     (waited for, up to 90 s), and their pods are deleted with a grace
//     period as the taint eviction would after their 300 s toleration;
//     they stay Terminating, as no kubelet confirms.
func (c *Cluster) LoseZone(zone, selector string, unreachable bool) (Lost, error) {
	var lost Lost
	sel := corev1.LabelTopologyZone + "=" + zone
	if selector != "" {
		sel += "," + selector
	}
	out, err := c.Kubectl("get", "nodes", "-l", sel, "-o", "jsonpath={.items[*].metadata.name}")
	if err != nil {
		return lost, err
	}
	lost.Nodes = strings.Fields(out)
	if len(lost.Nodes) == 0 {
		return lost, fmt.Errorf("zone %s has no nodes (selector %s)", zone, sel)
	}
	for _, n := range lost.Nodes {
		out, err := c.Kubectl("get", "pods", "-A", "--field-selector", "spec.nodeName="+n, "-o", `jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{"\n"}{end}`)
		if err != nil {
			return lost, err
		}
		lost.Pods = append(lost.Pods, strings.Fields(out)...)
	}
	slices.Sort(lost.Pods)
	if !unreachable {
		args := append([]string{"delete", "node", "--wait=false"}, lost.Nodes...)
		if out, err := c.Kubectl(args...); err != nil {
			return lost, fmt.Errorf("delete nodes: %w\n%s", err, out)
		}
		return lost, c.deletePods(lost.Pods, "--force", "--grace-period=0")
	}
	now := time.Now().UTC().Format(time.RFC3339)
	for _, n := range lost.Nodes {
		// kwok stops heartbeating the node (it manages only annotated
		// nodes); its Ready condition goes Unknown, as the node lifecycle
		// controller sets it when a node stops reporting.
		if out, err := c.Kubectl("annotate", "node", n, "kwok.x-k8s.io/node-"); err != nil {
			return lost, fmt.Errorf("unmanage node %s: %w\n%s", n, err, out)
		}
		patch := fmt.Sprintf(`{"status":{"conditions":[{"type":"Ready","status":"Unknown","reason":"NodeStatusUnknown","message":"Kubelet stopped posting node status.","lastHeartbeatTime":%q,"lastTransitionTime":%q}]}}`, now, now)
		if out, err := c.Kubectl("patch", "node", n, "--subresource=status", "--type=strategic", "-p", patch); err != nil {
			return lost, fmt.Errorf("node %s not ready: %w\n%s", n, err, out)
		}
	}
	// The node lifecycle controller taints them unreachable (NoSchedule).
	deadline := time.Now().Add(90 * time.Second)
	for _, n := range lost.Nodes {
		for {
			out, err := c.Kubectl("get", "node", n, "-o", `jsonpath={range .spec.taints[*]}{.key}:{.effect}{"\n"}{end}`)
			if err == nil && strings.Contains(out, corev1.TaintNodeUnreachable+":NoSchedule") {
				break
			}
			if time.Now().After(deadline) {
				return lost, fmt.Errorf("node %s: no %s taint within 90 s", n, corev1.TaintNodeUnreachable)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	return lost, c.deletePods(lost.Pods, "--wait=false")
}

// deletePods deletes "namespace/name" pods with extra kubectl flags.
func (c *Cluster) deletePods(pods []string, flags ...string) error {
	byNS := map[string][]string{}
	for _, p := range pods {
		ns, name, _ := strings.Cut(p, "/")
		byNS[ns] = append(byNS[ns], name)
	}
	for _, ns := range slices.Sorted(maps.Keys(byNS)) {
		args := append(append([]string{"delete", "pods", "-n", ns, "--ignore-not-found"}, flags...), byNS[ns]...)
		if out, err := c.Kubectl(args...); err != nil {
			return fmt.Errorf("delete pods: %w\n%s", err, out)
		}
	}
	return nil
}
