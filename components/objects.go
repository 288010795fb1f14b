package components

import (
	"encoding/json"
	"fmt"
	"maps"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/utilities"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// registerObject registers a Kubernetes object built by a library (typed
// with k8s.io/api or a CRD's types, or unstructured) as it is: metadata as
// every component's (namespace from the Input, nil for a cluster-scoped
// object), every other top-level field untyped. pulumi-kubernetes registers
// it as "kubernetes:<apiVersion>:<kind>" (NewCustomResource in
// apiextensions/customResource.go of sdk/v4 v4.25.0) and applies it by its
// group, version and kind, so the await rules of the kind still apply.
//
// NewCustomResource registers without the package version the typed
// resources carry (utilities.PkgResourceDefaultOpts, called by every
// generated constructor but not by it), so without it such objects got a
// second, unversioned default provider ("default" beside
// "default_4_25_0"), which the real engine's preview after an up of
// partypic planned to delete.
func registerObject(ctx *pulumi.Context, name, apiVersion, kind string, meta metav1.ObjectMeta, body any, namespace pulumi.StringInput, opts ...pulumi.ResourceOption) (*apiextensions.CustomResource, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: encode: %w", kind, meta.Name, err)
	}
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("%s %s: decode: %w", kind, meta.Name, err)
	}
	other := kubernetes.UntypedArgs{}
	for k, v := range fields {
		if k != "apiVersion" && k != "kind" && k != "metadata" && k != "status" {
			other[k] = v
		}
	}
	return apiextensions.NewCustomResource(ctx, name, &apiextensions.CustomResourceArgs{
		ApiVersion:  pulumi.String(apiVersion),
		Kind:        pulumi.String(kind),
		Metadata:    objectMeta(meta.Name, namespace, nilIfEmpty(meta.Labels), nilIfEmpty(meta.Annotations)),
		OtherFields: other,
	}, utilities.PkgResourceDefaultOpts(opts)...)
}

// objectMetaOf reads the metadata of an unstructured object.
func objectMetaOf(obj map[string]any) metav1.ObjectMeta {
	raw, _ := json.Marshal(obj["metadata"])
	var m metav1.ObjectMeta
	_ = json.Unmarshal(raw, &m)
	m.Labels = maps.Clone(m.Labels)
	return m
}

func nilIfEmpty(m map[string]string) pulumi.StringMap {
	if len(m) == 0 {
		return nil
	}
	return stringMap(m)
}
