package mockrun

import (
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// Object is one rendered file: a Kubernetes object, or a cloud resource.
type Object struct {
	// Kind, Namespace and Name identify a Kubernetes object; for a cloud
	// resource Kind is its type token and Namespace is empty.
	Kind, Namespace, Name string
	// File is the path relative to the output directory.
	File string
	// Cloud is true for non-Kubernetes resources (written under cloud/).
	Cloud bool
	// Body is the YAML document.
	Body []byte
}

// applyOrder is the order kubectl would need: what others refer to first.
// File names start with the kind's rank in it, so `kubectl apply -f` of
// the rendered directory creates the Namespace before what lives in it:
// kubectl's resource builder (k8s.io/cli-runtime pkg/resource
// ExpandPathsToFileVisitors) reads a directory with filepath.Walk, which
// "walks in lexical order" (Go's path/filepath docs). kustomize orders its
// output by kind for the same reason (its PreferredOrderTransformer: "puts
// cluster-wide basic resources with no dependencies (like Namespace ...)
// first").
var applyOrder = []string{
	"Namespace", "PriorityClass", "EC2NodeClass", "NodePool", "ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Secret",
	"NetworkPolicy", "Service", "Deployment", "StatefulSet", "HorizontalPodAutoscaler",
	"PodDisruptionBudget", "Ingress", "Job",
}

func kindRank(kind string) int {
	if i := slices.Index(applyOrder, kind); i >= 0 {
		return i
	}
	return len(applyOrder)
}

// Objects turns captured resources into rendered files, in apply order.
// Component resources are structure, not manifests, and are left out;
// provider resources too.
func Objects(resources []Resource) ([]Object, error) {
	var objs []Object
	for _, r := range resources {
		if !r.Custom || strings.HasPrefix(r.Type, "pulumi:providers:") {
			continue
		}
		if strings.HasPrefix(r.Type, "kubernetes:") {
			o, err := kubernetesObject(r)
			if err != nil {
				return nil, err
			}
			objs = append(objs, o)
			continue
		}
		o, err := cloudObject(r)
		if err != nil {
			return nil, err
		}
		objs = append(objs, o)
	}
	slices.SortStableFunc(objs, func(a, b Object) int {
		if a.Cloud != b.Cloud {
			if a.Cloud {
				return 1
			}
			return -1
		}
		if d := kindRank(a.Kind) - kindRank(b.Kind); d != 0 {
			return d
		}
		return strings.Compare(a.File, b.File)
	})
	for i := 1; i < len(objs); i++ {
		if objs[i].File == objs[i-1].File {
			return nil, fmt.Errorf("two objects render to %s: names must be unique per kind and namespace", objs[i].File)
		}
	}
	return objs, nil
}

func kubernetesObject(r Resource) (Object, error) {
	kind, _ := r.Inputs["kind"].(string)
	meta, _ := r.Inputs["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	namespace, _ := meta["namespace"].(string)
	if kind == "" || name == "" {
		return Object{}, fmt.Errorf("%s %q: kind and metadata.name must be set explicitly to render it", r.Type, r.Name)
	}
	body, err := yaml.Marshal(r.Inputs)
	if err != nil {
		return Object{}, fmt.Errorf("%s %q: %w", r.Type, r.Name, err)
	}
	parts := []string{fmt.Sprintf("%02d", kindRank(kind)), kind}
	if namespace != "" {
		parts = append(parts, namespace)
	}
	parts = append(parts, name)
	return Object{
		Kind: kind, Namespace: namespace, Name: name,
		File: strings.ToLower(strings.Join(parts, "-")) + ".yaml",
		Body: body,
	}, nil
}

func cloudObject(r Resource) (Object, error) {
	doc := map[string]any{"type": r.Type, "name": r.Name, "inputs": r.Inputs}
	if r.Protect {
		doc["protect"] = true
	}
	body, err := yaml.Marshal(doc)
	if err != nil {
		return Object{}, fmt.Errorf("%s %q: %w", r.Type, r.Name, err)
	}
	// "aws:elasticache/replicationGroup:ReplicationGroup" -> "elasticache-replicationgroup"
	mod := r.Type
	if parts := strings.Split(r.Type, ":"); len(parts) == 3 {
		mod = parts[0] + "-" + strings.ReplaceAll(parts[1], "/", "-")
		if !strings.Contains(parts[1], "/") {
			mod += "-" + parts[2]
		}
	}
	file := "cloud/" + strings.ToLower(mod+"-"+r.Name) + ".yaml"
	return Object{Kind: r.Type, Name: r.Name, File: file, Cloud: true, Body: body}, nil
}
