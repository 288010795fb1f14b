//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/cirkelline/infra/capacity"
)

// renderedPool is a stack's rendered Karpenter NodePool: what Karpenter
// puts on every node it launches for it (capacity.ReadPoolNodes).
type renderedPool struct{ capacity.PoolNodes }

// nodePoolOf is the stack's NodePool, or false without one.
func nodePoolOf(t *testing.T, objs []object) (renderedPool, bool) {
	for _, o := range objs {
		pool, ok, err := capacity.ReadPoolNodes(o.raw)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return renderedPool{pool}, true
		}
	}
	return renderedPool{}, false
}

// node is a kwok node as Karpenter registers one for the pool: the
// pool's labels and taints, and extra labels.
func (p renderedPool) node(name, zone string, extra map[string]string) *corev1.Node {
	labels := maps.Clone(p.Labels)
	maps.Copy(labels, extra)
	room := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("64"), corev1.ResourceMemory: resource.MustParse("256Gi")}
	return fakeNode(name, zone, room, labels, p.Taints)
}

// TestNodePoolTaint: on nodes of staging's NodePool as Karpenter would
// register them (its labels and taint) in three zones, plus one cordoned
// in a fourth (a node Karpenter is draining),
//   - a pod of another workload that selects the pool but does not
//     tolerate its taint stays Pending, for the taint;
//   - the stack's web pods, with the placement staging renders (its
//     nodeSelector and toleration) and production's hard zone spread
//     (nodeTaintsPolicy Honor), all run on the pool, evenly over the
//     three zones, none on the cordoned node: the toleration admits the
//     pool's taint and no other, so Honor still leaves the cordoned node
//     out of the spread's domains;
//   - the same pods without the toleration (the control) stay Pending,
//     for the taint.
func TestNodePoolTaint(t *testing.T) {
	_, staging := renderDir(t, "staging")
	pool, ok := nodePoolOf(t, staging)
	if !ok || len(pool.Taints) == 0 {
		t.Fatalf("staging renders no NodePool with a taint (%+v)", pool)
	}
	var placed, backend appsv1.Deployment
	for _, o := range staging {
		if o.Kind == "Deployment" && o.Metadata.Labels["app.kubernetes.io/component"] == "web" {
			if err := yaml.Unmarshal(o.raw, &placed); err != nil {
				t.Fatal(err)
			}
		}
	}
	_, production := renderDir(t, "production")
	for _, o := range production {
		if o.Kind == "Deployment" && o.Metadata.Labels["app.kubernetes.io/component"] == "web" {
			if err := yaml.Unmarshal(o.raw, &backend); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !hardZoneSpread(backend) || len(placed.Spec.Template.Spec.Tolerations) == 0 || len(placed.Spec.Template.Spec.NodeSelector) == 0 {
		t.Fatalf("want production's hard zone spread and staging's placement: %+v; %+v", backend.Spec.Template.Spec.TopologySpreadConstraints, placed.Spec.Template.Spec)
	}

	const ns = "nodepool-taint"
	run := map[string]string{"nodepool-run": ns}
	if out, err := cp.KubectlIn("apiVersion: v1\nkind: Namespace\nmetadata: {name: "+ns+"}\n", "apply", "-f", "-"); err != nil {
		t.Fatalf("namespace: %v\n%s", err, out)
	}
	defer func() {
		cp.Kubectl("delete", "namespace", ns, "--wait=false")
		cp.Kubectl("delete", "nodes", "-l", "nodepool-run="+ns, "--wait=false")
	}()
	const zones = 3
	for z := 0; z <= zones; z++ {
		applyNode(t, pool.node(fmt.Sprintf("%s-%c", ns, 'a'+z), fmt.Sprintf("pool-zone-%c", 'a'+z), run))
	}
	cordoned := fmt.Sprintf("%s-%c", ns, 'a'+zones)
	if out, err := cp.Kubectl("cordon", cordoned); err != nil {
		t.Fatalf("cordon: %v\n%s", err, out)
	}
	// The node lifecycle controller taints a cordoned node
	// node.kubernetes.io/unschedulable:NoSchedule: the taint a spread with
	// nodeTaintsPolicy Honor leaves it out by.
	waitFor(t, 60*time.Second, "the unschedulable taint on "+cordoned, func() bool {
		out, err := cp.Kubectl("get", "node", cordoned, "-o", `jsonpath={range .spec.taints[*]}{.key}{"\n"}{end}`)
		return err == nil && strings.Contains(out, corev1.TaintNodeUnschedulable)
	})
	// Pods are admitted once the namespace's default ServiceAccount exists.
	waitFor(t, 60*time.Second, "the default ServiceAccount of "+ns, func() bool {
		_, err := cp.Kubectl("get", "serviceaccount", "default", "-n", ns)
		return err == nil
	})

	// kube-scheduler v1.37 sums the TaintToleration filter's failures as
	// "N node(s) had untolerated taint(s)": the pool's three schedulable
	// nodes (the cordoned one fails earlier, as unschedulable; the others
	// lack the pool's label).
	poolTainted := fmt.Sprintf("%d node(s) had untolerated taint(s)", zones)
	selector := map[string]string{}
	for k, v := range placed.Spec.Template.Spec.NodeSelector {
		selector[k] = v
	}
	for k, v := range run {
		selector[k] = v
	}

	t.Run("a foreign pod stays off the pool", func(t *testing.T) {
		pod := corev1.Pod{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{Name: "foreign", Namespace: ns, Labels: map[string]string{"app.kubernetes.io/name": "foreign"}},
			Spec: corev1.PodSpec{
				NodeSelector: selector,
				Containers:   []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10.1"}},
			},
		}
		raw, _ := json.Marshal(pod)
		if out, err := cp.KubectlIn(string(raw), "apply", "-f", "-"); err != nil {
			t.Fatalf("pod: %v\n%s", err, out)
		}
		msg := waitUnschedulable(t, ns, "app.kubernetes.io/name=foreign", 1)
		if !strings.Contains(msg, poolTainted) {
			t.Errorf("scheduler says %q; want %q (the pool's nodes in the three zones)", msg, poolTainted)
		}
		t.Logf("foreign pod Pending: %s", msg)
	})

	deploy := func(name string, tolerate bool) {
		d := *backend.DeepCopy()
		d.Name, d.Namespace, d.ResourceVersion = name, ns, ""
		d.Spec.Replicas = ptrTo(int32(2 * zones))
		// A selector of its own per Deployment (the spread counts by it).
		d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": name}}
		d.Spec.Template.Labels = map[string]string{"app.kubernetes.io/name": name}
		spec := &d.Spec.Template.Spec
		for i := range spec.TopologySpreadConstraints {
			spec.TopologySpreadConstraints[i].LabelSelector = d.Spec.Selector
		}
		spec.NodeSelector = selector
		spec.Tolerations = nil
		if tolerate {
			spec.Tolerations = placed.Spec.Template.Spec.Tolerations
		}
		spec.ServiceAccountName = "" // kwok runs no containers
		raw, _ := json.Marshal(d)
		if out, err := cp.KubectlIn(string(raw), "apply", "--server-side", "-f", "-"); err != nil {
			t.Fatalf("deployment: %v\n%s", err, out)
		}
	}

	t.Run("the stack's pods land, spread over the pool's zones", func(t *testing.T) {
		deploy("stack-web", true)
		var perZone map[string]int
		waitFor(t, 90*time.Second, "six stack pods running on the pool", func() bool {
			perZone = runningByZone(t, ns, "app.kubernetes.io/name=stack-web")
			n := 0
			for _, c := range perZone {
				n += c
			}
			return n == 2*zones
		})
		for z := 0; z < zones; z++ {
			if got := perZone[fmt.Sprintf("pool-zone-%c", 'a'+z)]; got != 2 {
				t.Errorf("%d pods in pool-zone-%c, want 2 (by zone: %v)", got, 'a'+z, perZone)
			}
		}
		if got := perZone[fmt.Sprintf("pool-zone-%c", 'a'+zones)]; got != 0 {
			t.Errorf("%d pods on the cordoned node", got)
		}
		t.Logf("stack pods by zone: %v", perZone)
	})

	t.Run("without the toleration (control)", func(t *testing.T) {
		deploy("untolerating-web", false)
		msg := waitUnschedulable(t, ns, "app.kubernetes.io/name=untolerating-web", 2*zones)
		if !strings.Contains(msg, poolTainted) {
			t.Errorf("scheduler says %q; want %q", msg, poolTainted)
		}
		t.Logf("control: every pod Pending: %s", msg)
	})
}

// waitUnschedulable waits until want pods match the selector, each
// marked unschedulable, and returns the scheduler's message.
func waitUnschedulable(t *testing.T, ns, selector string, want int) string {
	t.Helper()
	var msg string
	waitFor(t, 60*time.Second, fmt.Sprintf("%d unschedulable pods %s", want, selector), func() bool {
		out, err := cp.Kubectl("get", "pods", "-n", ns, "-l", selector, "-o", "json")
		var list corev1.PodList
		if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list.Items) != want {
			return false
		}
		for _, p := range list.Items {
			unschedulable := false
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonUnschedulable {
					unschedulable, msg = true, c.Message
				}
			}
			if !unschedulable || p.Spec.NodeName != "" {
				return false
			}
		}
		return true
	})
	return msg
}

// runningByZone counts the selected running pods by their node's zone.
func runningByZone(t *testing.T, ns, selector string) map[string]int {
	out, err := cp.Kubectl("get", "pods", "-n", ns, "-l", selector, "--field-selector=status.phase=Running", "-o", "jsonpath={range .items[*]}{.spec.nodeName}{\"\\n\"}{end}")
	if err != nil {
		t.Fatalf("get pods: %v", err)
	}
	zoneOf := nodeZones(t, "")
	counts := map[string]int{}
	for _, n := range strings.Fields(out) {
		counts[zoneOf[n]]++
	}
	return counts
}
