package monitoring_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/cirkelline/infra/monitoring"
)

// crdSchema is the v1 openAPIV3Schema of the embedded CRD of kind.
func crdSchema(t *testing.T, kind string) map[string]any {
	t.Helper()
	entries, err := monitoring.CRDs.ReadDir("crds")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		raw, err := monitoring.CRDs.ReadFile("crds/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		var crd struct {
			Spec struct {
				Names    struct{ Kind string }
				Versions []struct {
					Name   string
					Schema struct {
						OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
					}
				}
			}
		}
		if err := yaml.Unmarshal(raw, &crd); err != nil {
			t.Fatal(err)
		}
		if crd.Spec.Names.Kind != kind {
			continue
		}
		for _, v := range crd.Spec.Versions {
			if v.Name == "v1" {
				return v.Schema.OpenAPIV3Schema
			}
		}
	}
	t.Fatalf("no v1 CRD of kind %s", kind)
	return nil
}

// schemaProblems walks v against an OpenAPI v3 schema as the API server's
// strict field validation does for the parts these objects use: unknown
// fields, missing required fields, wrong types.
func schemaProblems(path string, v any, schema map[string]any) []string {
	if schema["x-kubernetes-preserve-unknown-fields"] == true {
		return nil
	}
	if schema["x-kubernetes-int-or-string"] == true {
		switch v.(type) {
		case string, float64:
			return nil
		}
		return []string{fmt.Sprintf("%s: %T, want an int or a string", path, v)}
	}
	var out []string
	switch schema["type"] {
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %T, want an object", path, v)}
		}
		props, _ := schema["properties"].(map[string]any)
		extra, _ := schema["additionalProperties"].(map[string]any)
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			switch {
			case props[k] != nil:
				out = append(out, schemaProblems(path+"."+k, obj[k], props[k].(map[string]any))...)
			case extra != nil:
				out = append(out, schemaProblems(path+"."+k, obj[k], extra)...)
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
			return []string{fmt.Sprintf("%s: %T, want an array", path, v)}
		}
		for i, item := range items {
			out = append(out, schemaProblems(fmt.Sprintf("%s[%d]", path, i), item, schema["items"].(map[string]any))...)
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

func asJSONMap(t *testing.T, obj any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestObjectsFitTheCRDs checks the built objects against the embedded
// CRDs' schemas offline (the real API server's --validate=strict is the
// integration tests' job), and that the check itself catches an unknown
// field and a missing required one.
func TestObjectsFitTheCRDs(t *testing.T) {
	sms, err := monitoring.ServiceMonitors(baseArgs())
	if err != nil {
		t.Fatal(err)
	}
	rule, err := monitoring.PrometheusRule(baseArgs())
	if err != nil {
		t.Fatal(err)
	}
	smSchema, ruleSchema := crdSchema(t, "ServiceMonitor"), crdSchema(t, "PrometheusRule")
	for _, sm := range sms {
		if p := schemaProblems("", asJSONMap(t, sm), smSchema); len(p) > 0 {
			t.Errorf("ServiceMonitor %s:\n%s", sm.Name, strings.Join(p, "\n"))
		}
	}
	if p := schemaProblems("", asJSONMap(t, rule), ruleSchema); len(p) > 0 {
		t.Errorf("PrometheusRule:\n%s", strings.Join(p, "\n"))
	}

	broken := asJSONMap(t, sms[0])
	spec := broken["spec"].(map[string]any)
	delete(spec, "endpoints")
	spec["endpoint"] = []any{}
	got := schemaProblems("", broken, smSchema)
	want := []string{".spec.endpoint: unknown field", ".spec.endpoints: required"}
	if !slices.Equal(got, want) {
		t.Errorf("a broken ServiceMonitor: %v, want %v", got, want)
	}
}
