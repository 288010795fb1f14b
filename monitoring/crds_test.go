package monitoring_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/cirkelline/infra/internal/crdschema"
	"github.com/cirkelline/infra/monitoring"
)

// crdSchema is the v1 openAPIV3Schema of the embedded CRD of kind.
func crdSchema(t *testing.T, kind string) map[string]any {
	t.Helper()
	schema, _, err := crdschema.Schema(monitoring.CRDs, kind, "v1")
	if err != nil {
		t.Fatal(err)
	}
	return schema
}

// schemaProblems walks v against the schema (crdschema.Problems).
func schemaProblems(path string, v any, schema map[string]any) []string {
	return crdschema.Problems(path, v, schema)
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
