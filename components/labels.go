package components

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Label keys follow https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelComponent = "app.kubernetes.io/component"
	LabelPartOf    = "app.kubernetes.io/part-of"
	LabelManagedBy = "app.kubernetes.io/managed-by"
)

// Component label values of a web service's objects: the headless
// Service has its own, so that a ServiceMonitor selecting the web
// component scrapes each pod once, through the ClusterIP Service.
const (
	WebComponent   = "web"
	PeersComponent = "peers"
)

// HTTPPortName names a web service's container port and Service port
// (the probes and the ALB use it by name); MetricsPortName its metrics
// port (Prometheus scrapes it by name; nothing else may reach it);
// AppContainerName is its container.
const (
	HTTPPortName     = "http"
	MetricsPortName  = "metrics"
	AppContainerName = "app"
)

// WebServiceLabels are the labels of a web service's Deployment and
// ClusterIP Service (the ServiceMonitor selects the Service by them).
func WebServiceLabels(partOf, name string) map[string]string {
	return Labels(partOf, name, WebComponent)
}

// Labels is the one place app.kubernetes.io/* labels are made. partOf is the
// application (the stack's namespace), name the object's workload, component
// its role ("web", "config", "ingress", ...).
func Labels(partOf, name, component string) map[string]string {
	l := SelectorLabels(partOf, name)
	l[LabelComponent] = component
	l[LabelManagedBy] = "pulumi"
	return l
}

// SelectorLabels are the immutable subset of Labels used in selectors; they
// must never change for a running Deployment.
func SelectorLabels(partOf, name string) map[string]string {
	return map[string]string{LabelName: LabelValue(name), LabelInstance: LabelValue(partOf + "-" + name), LabelPartOf: LabelValue(partOf)}
}

// maxLabelValue is the API server's limit on a label value
// (LabelValueMaxLength in k8s.io/apimachinery pkg/util/validation).
const maxLabelValue = 63

// LabelValue is v as a label value: v itself when it fits (so the labels
// of every stack that could be applied stay as they were), else its first
// characters and a digest of the whole, 63 characters, beginning and
// ending alphanumeric as IsValidLabelValue requires. A long namespace
// ("<namespace>-<name>" instance labels) then limits no label.
func LabelValue(v string) string {
	if len(v) <= maxLabelValue {
		return v
	}
	sum := sha256.Sum256([]byte(v))
	digest := hex.EncodeToString(sum[:])[:8]
	head := strings.TrimRight(v[:maxLabelValue-len(digest)-1], "-_.")
	return head + "-" + digest
}

// serviceDNSFormat is a Service's in-cluster DNS name from its name and
// namespace (the cluster domain is the default cluster.local).
const serviceDNSFormat = "%s.%s.svc.cluster.local"

// ServiceDNSName is the in-cluster DNS name of Service name in namespace.
func ServiceDNSName(name, namespace string) string {
	return fmt.Sprintf(serviceDNSFormat, name, namespace)
}

// SkipAwaitAnnotation set to "true" makes pulumi-kubernetes move on once
// the object exists instead of waiting for it to become ready
// (provider/pkg/await/await.go, metadata.SkipAwaitLogic, v4.25.0).
const SkipAwaitAnnotation = "pulumi.com/skipAwait"

// objectMeta is the metadata of every object a component registers: its
// name, the component's namespace, labels and annotations (nil for none).
func objectMeta(name string, namespace pulumi.StringInput, labels, annotations pulumi.StringMap) *metav1.ObjectMetaArgs {
	return &metav1.ObjectMetaArgs{Name: pulumi.String(name), Namespace: namespace, Labels: labels, Annotations: annotations}
}

// stringMap turns a plain map into a pulumi.StringMap.
func stringMap(m map[string]string) pulumi.StringMap {
	out := make(pulumi.StringMap, len(m))
	for k, v := range m {
		out[k] = pulumi.String(v)
	}
	return out
}

// merged returns a new map with b's entries over a's.
func merged(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, b)
	return out
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
