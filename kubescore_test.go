package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/cirkelline/infra/internal/golden"
	"github.com/cirkelline/infra/internal/mockrun"
)

// kube-score (github.com/zegl/kube-score v1.20.0) runs on every shipped
// stack's rendered Kubernetes objects, every check on, optional ones too.
// Every finding must be listed, as a decision with its reason, in
// testdata/kube-score-decisions.yaml; a new finding fails the test, and so
// does a decision that no longer matches anything. The README's table of
// the decisions is generated from that file (-update rewrites it).
//
// kube-score runs through hack/kube-score, a module of its own (its
// k8s.io/api v0.32 packages are gone from the root module's v0.37), built
// once per test process; the program never links it.

const (
	kubeScoreDecisionsFile = "testdata/kube-score-decisions.yaml"
	// kube-score's grades (scorecard.Grade): anything below GradeAllOK
	// is a finding; GradeAlmostOK (7) prints as OK but still says something.
	kubeScoreAllOK = 10
)

// kubeScoreResult is one check on one object (hack/kube-score's Result).
type kubeScoreResult struct {
	Check     string   `json:"check"`
	Kind      string   `json:"kind"`
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	Grade     int      `json:"grade"`
	Skipped   bool     `json:"skipped"`
	Comments  []string `json:"comments"`
}

// ref is how the decisions file names an object: Kind/namespace/name.
func (r kubeScoreResult) ref() string { return r.Kind + "/" + r.Namespace + "/" + r.Name }

// kubeScoreDecision is one entry of testdata/kube-score-decisions.yaml.
type kubeScoreDecision struct {
	// Check is kube-score's check ID; each is listed once.
	Check string `json:"check"`
	// Objects are Kind/namespace/name, or "*" for every object.
	Objects []string `json:"objects"`
	// Decision is one of kubeScoreDecisionKinds.
	Decision string `json:"decision"`
	// Reason says why, for the README's table.
	Reason string `json:"reason"`
}

// kubeScoreDecisionKinds: "not followed" disagrees with the check for the
// listed objects; "open" is a finding still to fix (an issue names it).
var kubeScoreDecisionKinds = []string{"not followed", "open"}

var kubeScoreBin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "kube-score-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "kube-score")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join("hack", "kube-score")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build hack/kube-score: %v\n%s", err, out)
	}
	return bin, nil
})

// runKubeScore scores the Kubernetes objects (cloud resources left out).
func runKubeScore(t testing.TB, objs []mockrun.Object) []kubeScoreResult {
	t.Helper()
	bin, err := kubeScoreBin()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var files []string
	for _, o := range objs {
		if o.Cloud {
			continue
		}
		path := filepath.Join(dir, filepath.Base(o.File))
		if err := os.WriteFile(path, o.Body, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, files...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kube-score: %v\n%s", err, stderr.String())
	}
	var results []kubeScoreResult
	if err := json.Unmarshal(stdout.Bytes(), &results); err != nil {
		t.Fatalf("kube-score output: %v", err)
	}
	return results
}

func kubeScoreChecks(t testing.TB) map[string]bool {
	t.Helper()
	bin, err := kubeScoreBin()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-list-checks").Output()
	if err != nil {
		t.Fatal(err)
	}
	var checks []struct{ ID string }
	if err := json.Unmarshal(out, &checks); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, c := range checks {
		ids[c.ID] = true
	}
	return ids
}

func loadKubeScoreDecisions(t testing.TB) []kubeScoreDecision {
	t.Helper()
	b, err := os.ReadFile(kubeScoreDecisionsFile)
	if err != nil {
		t.Fatal(err)
	}
	var ds []kubeScoreDecision
	if err := yaml.UnmarshalStrict(b, &ds); err != nil {
		t.Fatalf("%s: %v", kubeScoreDecisionsFile, err)
	}
	return ds
}

// decisionFor returns the index of the decision covering a finding, or -1.
func decisionFor(ds []kubeScoreDecision, r kubeScoreResult) int {
	return slices.IndexFunc(ds, func(d kubeScoreDecision) bool {
		return d.Check == r.Check && (slices.Contains(d.Objects, "*") || slices.Contains(d.Objects, r.ref()))
	})
}

// kubeScoreFindings are the results below OK, as "check Kind/ns/name: comments".
func kubeScoreFindings(results []kubeScoreResult) []kubeScoreResult {
	return slices.DeleteFunc(slices.Clone(results), func(r kubeScoreResult) bool { return r.Skipped || r.Grade >= kubeScoreAllOK })
}

// unlistedKubeScoreFindings are the findings no decision covers.
func unlistedKubeScoreFindings(ds []kubeScoreDecision, results []kubeScoreResult) []string {
	var out []string
	for _, r := range kubeScoreFindings(results) {
		if decisionFor(ds, r) < 0 {
			out = append(out, fmt.Sprintf("%s %s: %s", r.Check, r.ref(), strings.Join(r.Comments, "; ")))
		}
	}
	return out
}

// TestKubeScore: on every shipped stack, every kube-score finding is a
// listed decision, and every decision still matches a finding.
func TestKubeScore(t *testing.T) {
	ds := loadKubeScoreDecisions(t)
	checks := kubeScoreChecks(t)
	used := make([]map[string]bool, len(ds))
	seen := map[string]bool{}
	for i, d := range ds {
		used[i] = map[string]bool{}
		if !checks[d.Check] {
			t.Errorf("%s: %q is not a kube-score check", kubeScoreDecisionsFile, d.Check)
		}
		if seen[d.Check] {
			t.Errorf("%s: %s is listed twice; list each check once", kubeScoreDecisionsFile, d.Check)
		}
		seen[d.Check] = true
		if !slices.Contains(kubeScoreDecisionKinds, d.Decision) {
			t.Errorf("%s: %s: decision %q, want one of %q", kubeScoreDecisionsFile, d.Check, d.Decision, kubeScoreDecisionKinds)
		}
		if len(d.Objects) == 0 || strings.TrimSpace(d.Reason) == "" {
			t.Errorf("%s: %s needs objects (Kind/namespace/name or \"*\") and a reason", kubeScoreDecisionsFile, d.Check)
		}
	}
	for _, stack := range shippedStacks(t) {
		results := runKubeScore(t, renderStack(t, stack).Objects)
		if len(results) == 0 {
			t.Fatalf("%s: kube-score scored nothing", stack)
		}
		for _, f := range unlistedKubeScoreFindings(ds, results) {
			t.Errorf("%s: kube-score finding not in %s (fix it, or list it there with the decision and its reason):\n  %s", stack, kubeScoreDecisionsFile, f)
		}
		for _, r := range kubeScoreFindings(results) {
			if i := decisionFor(ds, r); i >= 0 {
				used[i][r.ref()] = true
				used[i]["*"] = true
			}
		}
	}
	for i, d := range ds {
		for _, o := range d.Objects {
			if !used[i][o] {
				t.Errorf("%s: %s for %s matches no finding on any shipped stack any more: remove it", kubeScoreDecisionsFile, d.Check, o)
			}
		}
	}
}

// TestKubeScoreCatchesBadObjects: breaking one thing in production's web
// Deployment (or removing its NetworkPolicies or PDB) gives a new, unlisted
// kube-score finding of the check that covers it. These were the rules of
// the hand-written policy engine kube-score replaced.
func TestKubeScoreCatchesBadObjects(t *testing.T) {
	ds := loadKubeScoreDecisions(t)
	objs := renderStack(t, "production").Objects
	for _, tt := range []struct {
		check  string
		mutate func([]mockrun.Object) []mockrun.Object
	}{
		{"container-resources", backendContainer(t, func(c *corev1.Container) { delete(c.Resources.Limits, "memory") })},
		{"container-image-tag", backendContainer(t, func(c *corev1.Container) { c.Image = "ghcr.io/cirkelline/cirkelline-backend:latest" })},
		{"container-security-context-privileged", backendContainer(t, func(c *corev1.Container) { yes := true; c.SecurityContext.Privileged = &yes })},
		{"container-security-context-user-group-id", backendContainer(t, func(c *corev1.Container) { uid := int64(999); c.SecurityContext.RunAsUser = &uid })},
		{"pod-probes", backendContainer(t, func(c *corev1.Container) { c.ReadinessProbe = nil })},
		{"pod-probes-identical", backendContainer(t, func(c *corev1.Container) { c.LivenessProbe = c.ReadinessProbe })},
		{"pod-networkpolicy", func(objs []mockrun.Object) []mockrun.Object {
			return slices.DeleteFunc(slices.Clone(objs), func(o mockrun.Object) bool { return o.Kind == "NetworkPolicy" })
		}},
		{"deployment-targeted-by-hpa-does-not-have-replicas-configured", backendDeployment(t, func(d *appsv1.Deployment) { n := int32(3); d.Spec.Replicas = &n })},
		{"deployment-has-poddisruptionbudget", func(objs []mockrun.Object) []mockrun.Object {
			return slices.DeleteFunc(slices.Clone(objs), func(o mockrun.Object) bool { return o.Kind == "PodDisruptionBudget" })
		}},
	} {
		t.Run(tt.check, func(t *testing.T) {
			got := unlistedKubeScoreFindings(ds, runKubeScore(t, tt.mutate(objs)))
			if !slices.ContainsFunc(got, func(f string) bool { return strings.HasPrefix(f, tt.check+" ") }) {
				t.Errorf("want an unlisted %s finding, got %q", tt.check, got)
			}
		})
	}
}

// backendDeployment changes production's web Deployment.
func backendDeployment(t testing.TB, mutate func(d *appsv1.Deployment)) func([]mockrun.Object) []mockrun.Object {
	return func(objs []mockrun.Object) []mockrun.Object {
		out := slices.Clone(objs)
		for i, o := range out {
			if o.Kind == "Deployment" && o.Name == "cirkelline-backend" {
				var d appsv1.Deployment
				mustDecode(t, o, &d)
				mutate(&d)
				body, err := yaml.Marshal(d)
				if err != nil {
					t.Fatal(err)
				}
				out[i].Body = body
			}
		}
		return out
	}
}

// backendContainer changes the app container of production's web Deployment.
func backendContainer(t testing.TB, mutate func(c *corev1.Container)) func([]mockrun.Object) []mockrun.Object {
	return backendDeployment(t, func(d *appsv1.Deployment) { mutate(&d.Spec.Template.Spec.Containers[0]) })
}

const (
	kubeScoreTableBegin = "<!-- kube-score decisions: generated from testdata/kube-score-decisions.yaml by `go test . -run KubeScoreTable -update` -->"
	kubeScoreTableEnd   = "<!-- end of kube-score decisions -->"
)

// kubeScoreTable is the README's table of the decisions.
func kubeScoreTable(ds []kubeScoreDecision) string {
	var b strings.Builder
	b.WriteString("| kube-score check | objects | decision | why |\n|---|---|---|---|\n")
	cell := func(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "|", `\|`) }
	for _, d := range ds {
		objs := make([]string, len(d.Objects))
		for i, o := range d.Objects {
			objs[i] = "`" + o + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", d.Check, strings.Join(objs, ", "), d.Decision, cell(d.Reason))
	}
	return b.String()
}

// TestKubeScoreTable: the README's table of kube-score decisions is the one
// generated from the decisions file; -update rewrites it.
func TestKubeScoreTable(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok1 := strings.Cut(string(readme), kubeScoreTableBegin+"\n")
	got, after, ok2 := strings.Cut(rest, kubeScoreTableEnd)
	if !ok1 || !ok2 {
		t.Fatalf("README.md lacks the lines %q and %q around the table", kubeScoreTableBegin, kubeScoreTableEnd)
	}
	want := kubeScoreTable(loadKubeScoreDecisions(t))
	if got == want {
		return
	}
	if golden.Update() {
		if err := os.WriteFile("README.md", []byte(before+kubeScoreTableBegin+"\n"+want+kubeScoreTableEnd+after), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's kube-score table is not the one generated from %s (run go test . -run KubeScoreTable -update):\n--- README\n%s--- generated\n%s", kubeScoreDecisionsFile, got, want)
}
