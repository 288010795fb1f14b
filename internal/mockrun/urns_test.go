package mockrun

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/cirkelline/infra/internal/mockrun/renametest"
)

func captureCase(t *testing.T, c renametest.Case) []Resource {
	t.Helper()
	res, err := Capture(renametest.Project, renametest.Stack, nil, nil, c.Program("default"))
	if err != nil {
		t.Fatalf("%s: %v", c.Name, err)
	}
	return res
}

// TestLostURNs: a rename loses the old URN unless an alias (the
// resource's own, or inherited from its parent's) names it.
func TestLostURNs(t *testing.T) {
	base := captureCase(t, renametest.Base)
	before := URNs(base)
	if len(before) != 2 {
		t.Fatalf("the base program registers %q, want the component and its child", before)
	}
	for _, c := range renametest.Cases {
		t.Run(c.Name, func(t *testing.T) {
			var want []string
			for _, u := range before {
				if slices.Contains(c.Lost, resource.URN(u).Name()) {
					want = append(want, u)
				}
			}
			got := LostURNs(before, captureCase(t, c))
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("lost URNs (-want +got):\n%s", d)
			}
		})
	}
}

func TestURNsFileRoundTrip(t *testing.T) {
	urns := URNs(captureCase(t, renametest.Base))
	if d := cmp.Diff(urns, ParseURNs(FormatURNs(urns))); d != "" {
		t.Error(d)
	}
}
