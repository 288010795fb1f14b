package capacity_test

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/cirkelline/infra/capacity"
	"github.com/cirkelline/infra/internal/crdschema"
)

// crdSchema is the v1 openAPIV3Schema of the embedded CRD of kind, and
// the CRD's group.
func crdSchema(t *testing.T, kind string) (map[string]any, string) {
	t.Helper()
	schema, group, err := crdschema.Schema(capacity.CRDs, kind, "v1")
	if err != nil {
		t.Fatal(err)
	}
	return schema, group
}

// schemaProblems walks v against the schema (crdschema.Problems).
func schemaProblems(path string, v any, schema map[string]any) []string {
	return crdschema.Problems(path, v, schema)
}

// TestObjectsFitTheCRDs checks the built objects against the embedded
// CRDs' schemas offline (the API server's --validate=strict and CEL rules
// are an integration test's job), with every optional part the builders
// have switched on, and that the walk catches an unknown field, a missing
// required one and a value outside a pattern.
func TestObjectsFitTheCRDs(t *testing.T) {
	k := baseKarpenter()
	k.PDBMaxUnavailable = 1
	k.Labels = map[string]string{"app.kubernetes.io/part-of": "cirkelline"}
	k.Tags = map[string]string{"team": "platform"}
	np, err := capacity.NodePool(basePlan(t), k)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := capacity.EC2NodeClass(k)
	if err != nil {
		t.Fatal(err)
	}
	k.Role, k.InstanceProfile = "", "KarpenterNodeInstanceProfile"
	ncProfile, err := capacity.EC2NodeClass(k)
	if err != nil {
		t.Fatal(err)
	}
	k.SubnetIDs = []string{"subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"}
	ncIDs, err := capacity.EC2NodeClass(k)
	if err != nil {
		t.Fatal(err)
	}
	npSchema, npGroup := crdSchema(t, "NodePool")
	ncSchema, ncGroup := crdSchema(t, "EC2NodeClass")
	if npGroup+"/v1" != capacity.NodePoolAPIVersion || ncGroup+"/v1" != capacity.EC2NodeClassAPIVersion || ncGroup != capacity.EC2NodeClassGroup {
		t.Errorf("CRD groups %s, %s; the objects use %s, %s", npGroup, ncGroup, capacity.NodePoolAPIVersion, capacity.EC2NodeClassAPIVersion)
	}
	for name, c := range map[string]struct {
		obj    map[string]any
		schema map[string]any
	}{
		"NodePool":                       {np.Object, npSchema},
		"EC2NodeClass":                   {nc.Object, ncSchema},
		"EC2NodeClass (instanceProfile)": {ncProfile.Object, ncSchema},
		"EC2NodeClass (subnet IDs)":      {ncIDs.Object, ncSchema},
	} {
		if p := schemaProblems("", asMap(t, c.obj), c.schema); len(p) > 0 {
			t.Errorf("%s:\n%s", name, strings.Join(p, "\n"))
		}
	}

	broken := asMap(t, np.Object)
	tpl := broken["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	delete(tpl, "nodeClassRef")
	tpl["nodeClass"] = "x"
	broken["spec"].(map[string]any)["disruption"].(map[string]any)["budgets"] = []any{map[string]any{"nodes": "110%"}}
	got := schemaProblems("", broken, npSchema)
	want := []string{
		`.spec.disruption.budgets[0].nodes: "110%" does not match ^((100|[0-9]{1,2})%|[0-9]+)$`,
		".spec.template.spec.nodeClass: unknown field",
		".spec.template.spec.nodeClassRef: required",
	}
	if !slices.Equal(got, want) {
		t.Errorf("a broken NodePool:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestCRDsArePinned: crds/ holds the two CRDs of Karpenter
// KarpenterVersion, byte for byte as the Go module
// github.com/aws/karpenter-provider-aws@v1.14.1 ships them in
// pkg/apis/crds/ (their SHA-256 taken from the module cache); a new
// version is copied in whole and these sums replaced.
func TestCRDsArePinned(t *testing.T) {
	want := map[string]string{
		"karpenter.k8s.aws_ec2nodeclasses.yaml": "62dec59f01c0972d4503ca3ed25f243ba9c2f561be0d964ce7a14c8df406132f",
		"karpenter.sh_nodepools.yaml":           "3bb64a20c80776b77aa19a699ebdaf34480a7b2e7ec4ef890b43225b3517f878",
	}
	entries, err := capacity.CRDs.ReadDir("crds")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range entries {
		raw, err := capacity.CRDs.ReadFile("crds/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		got[e.Name()] = fmt.Sprintf("%x", sha256.Sum256(raw))
	}
	if !maps.Equal(got, want) {
		t.Errorf("crds/ is %v, want Karpenter %s's %v", got, capacity.KarpenterVersion, want)
	}
}
