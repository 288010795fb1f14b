package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/cirkelline/infra"

// layers ranks every package of the module: a package may import only
// packages of a lower rank, so the arrows run one way (the README's layout
// table states the same rule). A new package must be given a rank here.
var layers = map[string]int{
	"internal/validate":  0, // the error type every check returns
	"internal/crdschema": 0, // offline checks against CRD schemas (tests)
	// Leaf libraries: used by the layers above, using none of them.
	"loadtest":              1,
	"monitoring":            1,
	"capacity":              1,
	"internal/controlplane": 1,
	"internal/mockrun":      1, // a Pulumi program run against mocks
	"internal/stackfile":    1, // stack files read as the engine passes them
	// Reusable typed components.
	"components": 2,
	// The stack file's schema, defaults, decoding and validation; it embeds
	// the components' spec types (HPASpec, ResourcesSpec, ...).
	"stacks":           3,
	"stacks/stacktest": 4, // test fixtures of stack configs
	// Composition: the plan of what a stack runs, and its registration; and
	// the tools that run the program or a stack's objects.
	"workloads":         4,
	"commands/render":   4,
	"commands/rehearse": 4,
	// Subcommands, then the program.
	"commands":      5,
	"":              6,
	"bench/minimal": 6,
	// CI's own checks of the delivery path (.github/), a program that
	// imports nothing of the module.
	"commands/deliverycheck": 6,
}

func rank(t *testing.T, pkg string) (int, bool) {
	t.Helper()
	rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
	if r, ok := layers[rel]; ok {
		return r, true
	}
	// Sub-packages take their parent's rank.
	for p, r := range layers {
		if p != "" && strings.HasPrefix(rel, p+"/") {
			return r, true
		}
	}
	return 0, false
}

// violations reads `go list` lines ("pkg import import ...") and returns
// every import of a package of the same or a higher rank, and every package
// without a rank. The cache library is a module of its own and imports
// nothing of this one.
func violations(t *testing.T, lines []string) []string {
	var bad []string
	for _, line := range lines {
		fields := strings.Fields(line)
		pkg := fields[0]
		from, ok := rank(t, pkg)
		if !ok {
			bad = append(bad, pkg+" has no layer: give it a rank in layers_test.go and a row in the README's layout table")
			continue
		}
		for _, imp := range fields[1:] {
			if !strings.HasPrefix(imp, module+"/") || strings.HasPrefix(imp, module+"/cache") {
				continue
			}
			if to, ok := rank(t, imp); ok && to >= from {
				bad = append(bad, fmt.Sprintf("%s (layer %d) imports %s (layer %d): imports must go to a lower layer", pkg, from, imp, to))
			}
		}
	}
	return bad
}

// TestImportsRunOneWay walks the module's packages with `go list`.
func TestImportsRunOneWay(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, v := range violations(t, strings.Split(strings.TrimSpace(string(out)), "\n")) {
		t.Error(v)
	}
}

// TestLayerRuleCatchesUpwardImports: what the walk would report for the
// crossed wires this layout removed.
func TestLayerRuleCatchesUpwardImports(t *testing.T) {
	got := violations(t, []string{
		module + "/components " + module + "/workloads/loadtest", // a component reaching into the composition's folder
		module + "/stacks " + module + "/workloads",              // the schema doing composition
		module + "/loadtest " + module + "/internal/validate",    // fine: a leaf on the error type
		module + "/newthing " + module + "/stacks",               // a package without a layer
	})
	want := []string{
		module + "/components (layer 2) imports " + module + "/workloads/loadtest (layer 4)",
		module + "/stacks (layer 3) imports " + module + "/workloads (layer 4)",
		module + "/newthing has no layer",
	}
	if len(got) != len(want) {
		t.Fatalf("violations %q, want %d", got, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("violation %d: %q, want it to start with %q", i, got[i], want[i])
		}
	}
}
