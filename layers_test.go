package main

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const module = "github.com/cirkelline/infra"

// layers ranks every package of the module: a package may import only
// packages of a lower rank, so the arrows run one way (the README's layout
// table states the same rule). A new package must be given a rank here.
var layers = map[string]int{
	"internal/validate":  0,  // the error type every check returns
	"internal/golden":    -1, // the one -update flag and golden-file comparison (tests)
	"internal/crdschema": 0,  // offline checks against CRD schemas (tests)
	"internal/duration":  0,  // the stack file's duration type
	// Leaf libraries: used by the layers above, using none of them.
	"loadtest":              1,
	"monitoring":            1,
	"capacity":              1,
	"internal/controlplane": 1,
	"internal/mockrun":      1, // a Pulumi program run against mocks
	"internal/stackfile":    1, // stack files read as the engine passes them
	// Reusable typed components; the bad days a stack rehearses (events,
	// named scenarios over loadtest's shapes).
	"components": 2,
	"scenario":   2,
	// The stack file's schema, defaults, decoding and validation; it embeds
	// the components' spec types (HPASpec, ResourcesSpec, ...).
	"stacks":           3,
	"stacks/stacktest": 4, // test fixtures of stack configs
	// Composition: the plan of what a stack runs, and its registration; and
	// the tools that run the program or a stack's objects.
	"workloads":         5,
	"commands/render":   5,
	"commands/rehearse": 5,
	// Subcommands, then the program.
	"commands":      6,
	"":              7,
	"bench/minimal": 7,
	// CI's own checks of the delivery path (.github/), a program that
	// imports nothing of the module.
	"commands/deliverycheck": 7,
	// Test-only packages (build tags engine and integration) that run the
	// program's stacks on the real engine and control plane.
	"engine":      7,
	"integration": 7,
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

// listed is one package as `go list` sees it.
type listed struct {
	pkg     string
	imports []string
	// testImports are the imports of its _test.go files, in the package and
	// in its external test package.
	testImports []string
	// hasTests: the package has _test.go files.
	hasTests bool
}

// testTags are every build tag a test file of the module is written for:
// a package's tests under them are walked too.
var testTags = []string{"integration", "engine", "rehearsal"}

// goList lists the module's packages with their imports and their tests'
// imports, once without tags and once with every test tag (a package whose
// files all carry a tag exists only then), merged by package.
func goList(t *testing.T) []listed {
	t.Helper()
	byPkg := map[string]*listed{}
	var order []string
	for _, tags := range []string{"", strings.Join(testTags, ",")} {
		out, err := exec.Command("go", "list", "-tags", tags, "-f",
			`{{.ImportPath}}{{"\t"}}{{join .Imports " "}}{{"\t"}}{{join .TestImports " "}} {{join .XTestImports " "}}{{"\t"}}{{len .TestGoFiles}} {{len .XTestGoFiles}}`, "./...").Output()
		if err != nil {
			t.Fatalf("go list -tags %q: %v", tags, err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Split(line, "\t")
			if len(f) != 4 {
				t.Fatalf("go list line %q: want 4 tab-separated fields", line)
			}
			l := byPkg[f[0]]
			if l == nil {
				l = &listed{pkg: f[0]}
				byPkg[f[0]] = l
				order = append(order, f[0])
			}
			l.imports = append(l.imports, strings.Fields(f[1])...)
			l.testImports = append(l.testImports, strings.Fields(f[2])...)
			l.hasTests = l.hasTests || f[3] != "0 0"
		}
	}
	var all []listed
	for _, p := range order {
		l := byPkg[p]
		slices.Sort(l.imports)
		slices.Sort(l.testImports)
		all = append(all, listed{pkg: l.pkg, imports: slices.Compact(l.imports), testImports: slices.Compact(l.testImports), hasTests: l.hasTests})
	}
	return all
}

// violations returns every import of a package of the same or a higher
// rank, and every package without a rank. A package's tests answer to the
// same rule, except that they may import the package itself (an external
// test package does) and its own sub-packages, its fixtures (as net/http's
// tests import net/http/httptest). The cache library is a module of its own
// and imports nothing of this one.
func violations(t *testing.T, pkgs []listed) []string {
	var bad []string
	for _, p := range pkgs {
		from, ok := rank(t, p.pkg)
		if !ok {
			bad = append(bad, p.pkg+" has no layer: give it a rank in layers_test.go and a row in the README's layout table")
			continue
		}
		check := func(imp, by string) {
			if !strings.HasPrefix(imp, module+"/") || strings.HasPrefix(imp, module+"/cache") {
				return
			}
			if to, ok := rank(t, imp); ok && to >= from {
				bad = append(bad, fmt.Sprintf("%s (%slayer %d) imports %s (layer %d): imports must go to a lower layer", p.pkg, by, from, imp, to))
			}
		}
		for _, imp := range p.imports {
			check(imp, "")
		}
		for _, imp := range p.testImports {
			if imp == p.pkg || strings.HasPrefix(imp, p.pkg+"/") {
				continue
			}
			check(imp, "its tests, ")
		}
	}
	return bad
}

// TestImportsRunOneWay walks the module's packages and their tests with
// `go list`.
func TestImportsRunOneWay(t *testing.T) {
	pkgs := goList(t)
	for _, want := range []string{module, module + "/engine", module + "/integration", module + "/commands/rehearse"} {
		if !slices.ContainsFunc(pkgs, func(l listed) bool { return l.pkg == want }) {
			t.Errorf("go list did not list %s", want)
		}
	}
	for _, v := range violations(t, pkgs) {
		t.Error(v)
	}
}

// TestLayerRuleCatchesUpwardImports: what the walk reports for imports that
// go up or sideways, in a package or in its tests.
func TestLayerRuleCatchesUpwardImports(t *testing.T) {
	got := violations(t, []listed{
		{pkg: module + "/components", imports: []string{module + "/workloads"}},       // a component reaching into the composition
		{pkg: module + "/stacks", imports: []string{module + "/workloads"}},           // the schema doing composition
		{pkg: module + "/loadtest", imports: []string{module + "/internal/validate"}}, // fine: a leaf on the error type
		{pkg: module + "/newthing", imports: []string{module + "/stacks"}},            // a package without a layer
		// A component test that renders through the top-layer command
		// instead of internal/mockrun.
		{pkg: module + "/components", testImports: []string{module + "/commands/render", module + "/internal/mockrun"}},
		// Fine: a package's external tests import the package and its
		// fixtures.
		{pkg: module + "/stacks", testImports: []string{module + "/stacks", module + "/stacks/stacktest"}},
		// A leaf's test using another leaf's fixtures sideways.
		{pkg: module + "/monitoring", testImports: []string{module + "/capacity"}},
		// An engine test: the top may import anything below it.
		{pkg: module + "/engine", testImports: []string{module + "/commands/render", module + "/workloads"}},
	})
	want := []string{
		module + "/components (layer 2) imports " + module + "/workloads (layer 5): imports must go to a lower layer",
		module + "/stacks (layer 3) imports " + module + "/workloads (layer 5): imports must go to a lower layer",
		module + "/newthing has no layer: give it a rank in layers_test.go and a row in the README's layout table",
		module + "/components (its tests, layer 2) imports " + module + "/commands/render (layer 5): imports must go to a lower layer",
		module + "/monitoring (its tests, layer 1) imports " + module + "/capacity (layer 1): imports must go to a lower layer",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
}

// TestEveryTestPackageAcceptsUpdate: `go test ./... -update` hands -update
// to every test binary, and a binary that does not define the flag exits
// with "flag provided but not defined". internal/golden defines it, so every
// package with tests imports it, if only for that.
func TestEveryTestPackageAcceptsUpdate(t *testing.T) {
	const goldenPkg = module + "/internal/golden"
	for _, p := range goList(t) {
		if p.hasTests && p.pkg != goldenPkg && !slices.Contains(p.testImports, goldenPkg) {
			t.Errorf("%s has tests but its test binary would refuse -update: import internal/golden in a test file (use golden.Check for a golden file, or a blank import as components/update_flag_test.go does)", p.pkg)
		}
	}
}
