//go:build engine

package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"sigs.k8s.io/yaml"

	"github.com/cirkelline/infra/commands/render"
	"github.com/cirkelline/infra/internal/mockrun"
	"github.com/cirkelline/infra/workloads"
)

// programForRender is the program render runs: the same function the
// inline program runs.
var programForRender render.Program = workloads.Program

// engineStacks are the repository's stacks that need no AWS provider
// (staging and production create ElastiCache through the AWS provider,
// which the Go module proxy does not serve).
var engineStacks = stacksToRun()

// stacksToRun: ENGINE_STACKS ("local") narrows a run by hand.
func stacksToRun() []string {
	if v := os.Getenv("ENGINE_STACKS"); v != "" {
		return strings.Fields(v)
	}
	return []string{"local", "partypic"}
}

// destructive are the step kinds that must never show up where the test
// expects updates only.
var destructive = []apitype.OpType{apitype.OpReplace, apitype.OpCreateReplacement, apitype.OpDeleteReplaced,
	apitype.OpDelete, apitype.OpDiscardReplaced, apitype.OpImportReplacement}

// noDestruction fails on any replace or delete step of the run. One delete
// is no object's: leaving the default provider for the cluster block drops
// the default provider's record (pulumi:providers:kubernetes
// default_<version>) from the state once no resource uses it.
func noDestruction(t *testing.T, what string, r *run) {
	t.Helper()
	for _, m := range r.steps() {
		if m.Op == apitype.OpDelete && m.Type == "pulumi:providers:kubernetes" && strings.HasPrefix(urnName(m.URN), "default") {
			continue
		}
		if slices.Contains(destructive, m.Op) {
			t.Errorf("%s: %s %s (keys %v): want nothing replaced or deleted", what, m.Op, describe(m), m.Keys)
		}
	}
}

// TestLifecycle takes each stack through up, a no-op preview and refresh,
// an HPA edit, a secret rotation, a refused bad edit, the cluster block and
// destroy, on one control plane, each stack in a backend of its own.
func TestLifecycle(t *testing.T) {
	needCluster(t)
	for _, stack := range engineStacks {
		t.Run(stack, func(t *testing.T) { lifecycle(t, stack) })
	}
}

func lifecycle(t *testing.T, stackName string) {
	backend := t.TempDir()
	objs := renderObjects(t, stackName)
	s := openStack(t, stackOptions{Stack: stackName, Backend: backend, Env: map[string]string{"KUBECONFIG": cp.Kubeconfig}})
	for i, k := range missingSecrets(t, stackName) {
		setSecret(t, s, k, secretValue(k, i))
	}
	defer func() {
		// Leave nothing on the shared control plane when a step failed.
		if t.Failed() {
			if r := destroy(s); r.err != nil {
				t.Logf("cleanup destroy: %v", r.err)
			}
		}
	}()
	stopALB := standInForTheALBController(t, objs)
	defer stopALB()

	if !t.Run("1 up creates exactly what render lists", func(t *testing.T) {
		r := up(s).must(t, "up")
		var created []string
		for _, m := range r.steps() {
			if m.Op == apitype.OpCreate && strings.HasPrefix(m.Type, "kubernetes:") {
				created = append(created, describe(m))
			} else if m.Op != apitype.OpCreate && m.Op != apitype.OpSame {
				t.Errorf("up of a new stack: %s %s", m.Op, describe(m))
			}
		}
		slices.Sort(created)
		if d := cmp.Diff(keys(objs), created); d != "" {
			t.Fatalf("objects up created (+) against render's list (-):\n%s", d)
		}
		// What the engine created is what the cluster has.
		if got := len(liveState(t, objs)); got != len(objs) {
			t.Fatalf("the cluster has %d of the %d objects up created", got, len(objs))
		}
		// and its state keeps them under the URNs later changes must keep.
		stateMatchesURNsFile(t, s, stackName)
	}) {
		return
	}

	t.Run("2 preview and refresh right after change nothing", func(t *testing.T) {
		if r := preview(s).must(t, "preview"); len(r.changes()) > 0 {
			t.Errorf("preview right after up: %q, want no changes", r.changes())
		}
		if r := refresh(s).must(t, "refresh"); len(r.changes()) > 0 {
			t.Errorf("refresh right after up found drift: %q", r.changes())
		}
		// and the refreshed state still previews clean
		if r := preview(s).must(t, "preview after refresh"); len(r.changes()) > 0 {
			t.Errorf("preview after refresh: %q, want no changes", r.changes())
		}
	})

	t.Run("3 an HPA edit updates that one object in place", func(t *testing.T) {
		hpa, max := firstHPA(t, stackName, objs)
		setPath(t, s, "services[0].hpa.maxReplicas", strconv.Itoa(max+1))
		r := up(s).must(t, "up")
		noDestruction(t, "HPA edit", r)
		want := []string{"update " + hpa.String()}
		if d := cmp.Diff(want, r.changes()); d != "" {
			t.Errorf("HPA edit changed (-want +got):\n%s", d)
		}
		for _, m := range r.steps() {
			for path := range m.DetailedDiff {
				if m.Op == apitype.OpUpdate && path != "spec.maxReplicas" {
					t.Errorf("HPA edit: %s changes %s, want only spec.maxReplicas", describe(m), path)
				}
			}
		}
	})

	t.Run("4 a secret rotation rolls exactly the pods that read it", func(t *testing.T) {
		secret, readers := secretReaders(t, objs, "JWT_SECRET")
		live := liveState(t, objs)
		setSecret(t, s, "jwtSecret", "rotated-"+secretValue("jwtSecret", 99))
		r := up(s).must(t, "up")
		noDestruction(t, "secret rotation", r)
		want := []string{"update " + secret.String()}
		for _, k := range readers {
			want = append(want, "update "+k.String())
		}
		slices.Sort(want)
		if d := cmp.Diff(want, r.changes()); d != "" {
			t.Errorf("rotating jwtSecret changed (-want +got), want the Secret and the workloads that read it:\n%s", d)
		}
		for _, m := range r.steps() {
			if k, ok := objectKey(m); ok && m.Op == apitype.OpUpdate && k != secret {
				for path := range m.DetailedDiff {
					if !strings.HasPrefix(path, "spec.template.") {
						t.Errorf("rotation: %s changes %s, want only its pod template", k, path)
					}
				}
			}
		}
		// The rolled pods' owners kept their identity (uid): updated, not recreated.
		after := liveState(t, objs)
		for _, k := range readers {
			if strings.Fields(live[k.String()])[1] != strings.Fields(after[k.String()])[1] {
				t.Errorf("%s was recreated (%s → %s)", k, live[k.String()], after[k.String()])
			}
		}
	})

	t.Run("5 a bad edit fails before any operation", func(t *testing.T) {
		file := filepath.Join(s.Workspace().WorkDir(), "Pulumi."+stackName+".yaml")
		good, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		before := liveState(t, objs)
		// A typo'd key in the service's HPA block, as a hand edit of the
		// stack file makes it.
		bad := badEdit(t, good)
		if err := os.WriteFile(file, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		r := up(s)
		if err := os.WriteFile(file, good, 0o644); err != nil {
			t.Fatal(err)
		}
		if r.err == nil {
			t.Fatalf("up with a bad stack file succeeded:\n%s", r.progress.String())
		}
		for _, m := range r.steps() {
			if m.Op != apitype.OpSame || m.Type != "pulumi:pulumi:Stack" {
				t.Errorf("bad edit: the engine stepped %s %s, want no resource operation", m.Op, describe(m))
			}
		}
		if !slices.ContainsFunc(r.errors(), func(e string) bool { return strings.Contains(e, "maxReplica") }) {
			t.Errorf("bad edit: the errors %q do not name the field", r.errors())
		}
		if d := cmp.Diff(before, liveState(t, objs)); d != "" {
			t.Errorf("the cluster changed after a refused up (-before +after):\n%s", d)
		}
		if r := preview(s).must(t, "preview with the stack file restored"); len(r.changes()) > 0 {
			t.Errorf("preview after restoring the stack file: %q", r.changes())
		}
	})

	t.Run("7 cluster block", func(t *testing.T) { clusterBlock(t, s, backend, stackName, objs) })

	t.Run("8 destroy leaves nothing", func(t *testing.T) {
		r := destroy(s).must(t, "destroy")
		var deleted []string
		for _, m := range r.steps() {
			if m.Op == apitype.OpDelete && strings.HasPrefix(m.Type, "kubernetes:") {
				deleted = append(deleted, describe(m))
			}
		}
		slices.Sort(deleted)
		if d := cmp.Diff(keys(objs), deleted); d != "" {
			t.Errorf("objects destroy deleted (+) against render's list (-):\n%s", d)
		}
		// The namespace's own finalizer removes what is left in it (pods,
		// endpoint slices, events) before the Namespace goes.
		waitFor(t, 120e9, "the stack's objects and namespace gone", func() bool { return len(remaining(t, objs)) == 0 })
	})
}

// secretValue is a test value for secret config key k, long enough for
// every secret's checks (redis.authToken: 16 to 128 characters).
func secretValue(k string, i int) string {
	return fmt.Sprintf("engine-test-%02d-%s-0123456789abcdef", i, strings.ReplaceAll(k, ".", "-"))
}

// firstHPA is services[0]'s HPA in the render and its maxReplicas.
func firstHPA(t *testing.T, stack string, objs []mockrun.Object) (key, int) {
	t.Helper()
	for _, o := range objs {
		if o.Kind != "HorizontalPodAutoscaler" {
			continue
		}
		var h struct {
			Spec struct {
				MaxReplicas    int `json:"maxReplicas"`
				ScaleTargetRef struct{ Name string }
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(o.Body, &h); err != nil {
			t.Fatal(err)
		}
		if h.Spec.ScaleTargetRef.Name == firstService(t, stack) {
			return key{o.Kind, o.Namespace, o.Name}, h.Spec.MaxReplicas
		}
	}
	t.Fatal("no HPA for services[0] in the render")
	return key{}, 0
}

// firstService is services[0]'s name in the repository's stack file.
func firstService(t *testing.T, stack string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), "Pulumi."+stack+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Config struct {
			Services []struct{ Name string } `json:"cirkelline:services"`
		} `json:"config"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil || len(f.Config.Services) == 0 {
		t.Fatalf("Pulumi.%s.yaml: no services (%v)", stack, err)
	}
	return f.Config.Services[0].Name
}

// secretReaders finds the Secret that holds a variable named env... (the
// app's JWT_SECRET_KEY, or PartyPic's JWT_SECRET) and
// every workload whose pod template reads it (envFrom, env or volume).
func secretReaders(t *testing.T, objs []mockrun.Object, env string) (key, []key) {
	t.Helper()
	var secret key
	for _, o := range objs {
		var s struct {
			StringData map[string]string `json:"stringData"`
			Data       map[string]string `json:"data"`
		}
		if o.Kind != "Secret" || yaml.Unmarshal(o.Body, &s) != nil {
			continue
		}
		for k := range s.StringData {
			if strings.HasPrefix(k, env) {
				secret = key{o.Kind, o.Namespace, o.Name}
			}
		}
		for k := range s.Data {
			if strings.HasPrefix(k, env) {
				secret = key{o.Kind, o.Namespace, o.Name}
			}
		}
	}
	if secret.Name == "" {
		t.Fatalf("no Secret holds %s in the render", env)
	}
	var readers []key
	for _, o := range objs {
		var w struct {
			Spec struct {
				Template struct {
					Spec podSpec `json:"spec"`
				} `json:"template"`
			} `json:"spec"`
		}
		if yaml.Unmarshal(o.Body, &w) != nil || !slices.Contains([]string{"Deployment", "StatefulSet", "DaemonSet", "Job"}, o.Kind) {
			continue
		}
		if w.Spec.Template.Spec.reads(secret.Name) {
			readers = append(readers, key{o.Kind, o.Namespace, o.Name})
		}
	}
	return secret, readers
}

type podSpec struct {
	Containers []struct {
		EnvFrom []struct {
			SecretRef *struct{ Name string } `json:"secretRef"`
		} `json:"envFrom"`
		Env []struct {
			ValueFrom *struct {
				SecretKeyRef *struct{ Name string } `json:"secretKeyRef"`
			} `json:"valueFrom"`
		} `json:"env"`
	} `json:"containers"`
	Volumes []struct {
		Secret *struct {
			SecretName string `json:"secretName"`
		} `json:"secret"`
	} `json:"volumes"`
}

func (p podSpec) reads(secret string) bool {
	for _, c := range p.Containers {
		for _, e := range c.EnvFrom {
			if e.SecretRef != nil && e.SecretRef.Name == secret {
				return true
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == secret {
				return true
			}
		}
	}
	for _, v := range p.Volumes {
		if v.Secret != nil && v.Secret.SecretName == secret {
			return true
		}
	}
	return false
}

// badEdit misspells the first "maxReplicas:" of the stack file
// ("maxReplica:"), a typo the program must refuse by its field path.
func badEdit(t *testing.T, good []byte) []byte {
	t.Helper()
	if !strings.Contains(string(good), "maxReplicas:") {
		t.Fatal("the stack file has no maxReplicas to misspell")
	}
	return []byte(strings.Replace(string(good), "maxReplicas:", "maxReplica:", 1))
}
