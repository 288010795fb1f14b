// Package crdschema checks objects offline against the OpenAPI v3 schemas
// of CustomResourceDefinitions copied unchanged from their projects, the
// way the API server's strict field validation does for the parts the
// project's objects use: unknown fields, missing required fields, types,
// string patterns and enums. CEL rules (x-kubernetes-validations) are the
// real API server's job (the integration test).
package crdschema

import (
	"fmt"
	"io/fs"
	"maps"
	"regexp"
	"slices"

	"sigs.k8s.io/yaml"
)

// Schema is the openAPIV3Schema of the served version of the CRD of kind
// among the crds/*.yaml files of crds, and the CRD's group.
func Schema(crds fs.FS, kind, version string) (map[string]any, string, error) {
	files, err := fs.Glob(crds, "crds/*.yaml")
	if err != nil {
		return nil, "", err
	}
	for _, f := range files {
		raw, err := fs.ReadFile(crds, f)
		if err != nil {
			return nil, "", err
		}
		var crd struct {
			Spec struct {
				Group    string
				Names    struct{ Kind string }
				Versions []struct {
					Name   string
					Served bool
					Schema struct {
						OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
					}
				}
			}
		}
		if err := yaml.Unmarshal(raw, &crd); err != nil {
			return nil, "", fmt.Errorf("%s: %w", f, err)
		}
		if crd.Spec.Names.Kind != kind {
			continue
		}
		for _, v := range crd.Spec.Versions {
			if v.Name == version && v.Served {
				return v.Schema.OpenAPIV3Schema, crd.Spec.Group, nil
			}
		}
	}
	return nil, "", fmt.Errorf("no served %s CRD of kind %s", version, kind)
}

// Problems walks v (an object as JSON decodes it) against schema and
// returns every problem, each starting with its path below path.
func Problems(path string, v any, schema map[string]any) []string {
	if schema["x-kubernetes-preserve-unknown-fields"] == true {
		return nil
	}
	var out []string
	if enum, ok := schema["enum"].([]any); ok && !slices.Contains(enum, v) {
		out = append(out, fmt.Sprintf("%s: %v is not one of %v", path, v, enum))
	}
	if pattern, ok := schema["pattern"].(string); ok {
		if s, isString := v.(string); isString && !regexp.MustCompile(pattern).MatchString(s) {
			out = append(out, fmt.Sprintf("%s: %q does not match %s", path, s, pattern))
		}
	}
	if schema["x-kubernetes-int-or-string"] == true {
		switch v.(type) {
		case string, float64:
			return out
		}
		return append(out, fmt.Sprintf("%s: %T, want an int or a string", path, v))
	}
	switch schema["type"] {
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return append(out, fmt.Sprintf("%s: %T, want an object", path, v))
		}
		props, _ := schema["properties"].(map[string]any)
		extra, _ := schema["additionalProperties"].(map[string]any)
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			switch {
			case props[k] != nil:
				out = append(out, Problems(path+"."+k, obj[k], props[k].(map[string]any))...)
			case extra != nil:
				out = append(out, Problems(path+"."+k, obj[k], extra)...)
			case props == nil && extra == nil:
				// An object without a schema of its fields (metadata).
			default:
				out = append(out, fmt.Sprintf("%s.%s: unknown field", path, k))
			}
		}
		req, _ := schema["required"].([]any)
		for _, r := range req {
			if _, ok := obj[r.(string)]; !ok {
				out = append(out, fmt.Sprintf("%s.%s: required", path, r))
			}
		}
	case "array":
		items, ok := v.([]any)
		if !ok {
			return append(out, fmt.Sprintf("%s: %T, want an array", path, v))
		}
		for i, item := range items {
			out = append(out, Problems(fmt.Sprintf("%s[%d]", path, i), item, schema["items"].(map[string]any))...)
		}
	case "string":
		if _, ok := v.(string); !ok {
			out = append(out, fmt.Sprintf("%s: %T, want a string", path, v))
		}
	case "integer", "number":
		if _, ok := v.(float64); !ok {
			out = append(out, fmt.Sprintf("%s: %T, want a number", path, v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			out = append(out, fmt.Sprintf("%s: %T, want a boolean", path, v))
		}
	}
	return out
}
