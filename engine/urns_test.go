//go:build engine

package engine

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/cirkelline/infra/internal/mockrun"
	"github.com/cirkelline/infra/internal/mockrun/renametest"
)

// exportedDeployment is s's state as `pulumi stack export` gives it.
func exportedDeployment(t *testing.T, s *auto.Stack) apitype.DeploymentV3 {
	t.Helper()
	exported, err := s.Export(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var d apitype.DeploymentV3
	if err := json.Unmarshal(exported.Deployment, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// stateURNs are the URNs the engine keeps in s's state, but the stack
// itself and the default providers (the engine's own, never registered by
// the program, so render does not list them).
func stateURNs(t *testing.T, s *auto.Stack) []string {
	t.Helper()
	var out []string
	for _, r := range exportedDeployment(t, s).Resources {
		if r.Type == resource.RootStackType || (strings.HasPrefix(string(r.Type), "pulumi:providers:") && strings.HasPrefix(r.URN.Name(), "default")) {
			continue
		}
		out = append(out, string(r.URN))
	}
	slices.Sort(out)
	return out
}

// stateMatchesURNsFile: the state up wrote holds exactly the URNs of the
// stack's accepted render (testdata/rendered/<stack>/urns.txt), the list
// the root test keeps every later change to. So a resource renamed in
// Deploy fails here too, as a replace on every live stack.
func stateMatchesURNsFile(t *testing.T, s *auto.Stack, stackName string) {
	t.Helper()
	path := filepath.Join(repoRoot(), "testdata", "rendered", stackName, mockrun.URNsFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	accepted := mockrun.ParseURNs(b)
	got := stateURNs(t, s)
	var lost []string
	for _, u := range accepted {
		if !slices.Contains(got, u) {
			lost = append(lost, u)
		}
	}
	if len(lost) > 0 {
		t.Errorf("%s", mockrun.ExplainLostURNs(lost))
	}
	if d := cmp.Diff(accepted, got); d != "" {
		t.Errorf("the engine's state against %s (-file +state):\n%s", path, d)
	}
}

// TestRenamesReplaceWhatLostURNsSays: the engine, given each rename of
// renametest.Cases after an up of the base program, plans to delete
// exactly the URNs mockrun.LostURNs reports for it (from the mocks), and
// the URNs the mocks give are the ones the engine records. So the URN
// check the root tests run on every stack is the engine's own rule.
func TestRenamesReplaceWhatLostURNsSays(t *testing.T) {
	needCluster(t)
	s := openStack(t, stackOptions{
		Stack: renametest.Stack, Project: renametest.Project, Program: renametest.Base.Program("default"),
		Backend: t.TempDir(), Env: map[string]string{"KUBECONFIG": cp.Kubeconfig},
	})
	defer func() {
		s.Workspace().SetProgram(renametest.Base.Program("default"))
		if r := destroy(s); r.err != nil {
			t.Errorf("destroy: %v", r.err)
		}
	}()
	up(s).must(t, "up of the base program")
	base, err := mockrun.Capture(renametest.Project, renametest.Stack, nil, nil, renametest.Base.Program("default"))
	if err != nil {
		t.Fatal(err)
	}
	before := mockrun.URNs(base)
	if d := cmp.Diff(before, stateURNs(t, s)); d != "" {
		t.Fatalf("URNs the mocks give (-) against the engine's state (+):\n%s", d)
	}
	for _, c := range renametest.Cases {
		t.Run(c.Name, func(t *testing.T) {
			now, err := mockrun.Capture(renametest.Project, renametest.Stack, nil, nil, c.Program("default"))
			if err != nil {
				t.Fatal(err)
			}
			want := mockrun.LostURNs(before, now)
			s.Workspace().SetProgram(c.Program("default"))
			r := preview(s).must(t, "preview")
			var deleted []string
			for _, m := range r.steps() {
				if m.Op == apitype.OpDelete || m.Op == apitype.OpDeleteReplaced || m.Op == apitype.OpReplace {
					deleted = append(deleted, m.URN)
				}
			}
			slices.Sort(deleted)
			if d := cmp.Diff(want, deleted); d != "" {
				t.Errorf("LostURNs (-) against the URNs the engine plans to delete or replace (+):\n%s\nsteps: %q", d, r.changes())
			}
			if len(want) != len(c.Lost) {
				t.Errorf("LostURNs found %q, the case names %q", want, c.Lost)
			}
		})
	}
}
