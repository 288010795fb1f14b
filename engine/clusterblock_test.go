//go:build engine

package engine

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cirkelline/infra/internal/mockrun"
	"github.com/cirkelline/infra/workloads"
)

// clusterStack is a fixture cluster stack (project "engine-cluster") in the
// lifecycle's backend that exports the kubeconfig as its `kubeconfig`
// output, as a secret or, to be refused, as plain text.
func clusterStack(t *testing.T, backend, name, kubeconfig string, secret bool) string {
	t.Helper()
	s := openStack(t, stackOptions{Stack: name, Project: "engine-cluster", Backend: backend,
		Program: func(ctx *pulumi.Context) error {
			if secret {
				ctx.Export("kubeconfig", pulumi.ToSecret(pulumi.String(kubeconfig)))
			} else {
				ctx.Export("kubeconfig", pulumi.String(kubeconfig))
			}
			return nil
		}})
	up(s).must(t, "up of the cluster stack "+name)
	// The file backend's stack names are organization/<project>/<stack>.
	return "organization/engine-cluster/" + name
}

// clusterBlock: the stack, live on the default provider (the ambient
// KUBECONFIG), moves to the cluster block's explicit provider, then
// reaches the same cluster through a differently written kubeconfig and
// through a cluster stack's output; a plain-text output is refused. The
// kubeconfig's credentials must never reach this stack's state files.
func clusterBlock(t *testing.T, s *auto.Stack, backend, stackName string, objs []mockrun.Object) {
	kc := inlineKubeconfig(t)

	if !t.Run("moving to cluster.kubeconfig replaces nothing", func(t *testing.T) {
		setSecret(t, s, "cluster.kubeconfig", kc.IP)
		p := preview(s).must(t, "preview")
		noDestruction(t, "default provider → cluster block (preview)", p)
		r := up(s).must(t, "up")
		noDestruction(t, "default provider → cluster block", r)
		oneProvider(t, s)
	}) {
		return
	}

	t.Run("the same cluster written differently replaces nothing", func(t *testing.T) {
		setSecret(t, s, "cluster.kubeconfig", kc.Localhost)
		p := preview(s).must(t, "preview")
		noDestruction(t, "localhost instead of 127.0.0.1 (preview)", p)
		for _, c := range p.changes() {
			if !strings.HasPrefix(c, "update pulumi:providers:kubernetes") {
				t.Errorf("localhost instead of 127.0.0.1: %s, want only the provider updated", c)
			}
		}
		noDestruction(t, "localhost instead of 127.0.0.1", up(s).must(t, "up"))
	})

	t.Run("cluster.stackReference to a secret output", func(t *testing.T) {
		ref := clusterStack(t, backend, "secret-"+stackName, kc.IP, true)
		// The identity so far is the kubeconfig's cluster name (the
		// program's default, stacks.Config.ClusterIdentifier); a stack
		// reference's default identity is its name, so a stack that moves
		// between the two keeps its identity by naming it
		// (cluster.identifier), or the provider and every object would be
		// replaced (the provider replaces on a changed clusterIdentifier,
		// pulumi-kubernetes provider.go DiffConfig).
		setPath(t, s, "cluster.identifier", kubeconfigClusterName)
		removePath(t, s, "cluster.kubeconfig")
		setPath(t, s, "cluster.stackReference", ref)
		p := preview(s).must(t, "preview")
		noDestruction(t, "cluster.kubeconfig → cluster.stackReference (preview)", p)
		noDestruction(t, "cluster.kubeconfig → cluster.stackReference", up(s).must(t, "up"))
		oneProvider(t, s)
	})

	t.Run("cluster.stackReference to a plain-text output is refused", func(t *testing.T) {
		ref := clusterStack(t, backend, "plain-"+stackName, kc.IP, false)
		before, err := s.GetConfigWithOptions(context.Background(), "cluster.stackReference", &auto.ConfigOptions{Path: true})
		if err != nil {
			t.Fatal(err)
		}
		setPath(t, s, "cluster.stackReference", ref)
		// `pulumi up` previews first and stops when the preview fails,
		// before its update persists anything; the Automation API's Up
		// skips that preview (it runs `up --skip-preview`), and the
		// update would then save the reference's plain outputs before the
		// program refuses them. So this step is what `pulumi up` does:
		// the preview, which must fail.
		r := preview(s)
		setPath(t, s, "cluster.stackReference", before.Value)
		if r.err == nil {
			t.Fatalf("the preview of up with a plain-text kubeconfig output succeeded:\n%s", r.progress.String())
		}
		for _, m := range r.steps() {
			if m.Op != apitype.OpSame && !stackReferenceRead(m) {
				t.Errorf("plain-text kubeconfig: the engine stepped %s %s, want it refused before any operation", m.Op, describe(m))
			}
		}
		if !slices.ContainsFunc(r.errors(), func(e string) bool {
			return strings.Contains(e, ref) && strings.Contains(e, "pulumi.ToSecret") && strings.Contains(e, "pulumi config set --secret --path cluster.kubeconfig")
		}) {
			t.Errorf("plain-text kubeconfig: errors %q, want one naming the output, the stack and how to export it as a secret", r.errors())
		}
	})

	t.Run("the credentials are in no state file in plain text", func(t *testing.T) {
		// The file backend's state, history and backups of this stack
		// (.pulumi/{stacks,history,backups}/<project>/<stack>...): what
		// `pulumi stack export` prints. Not the Automation API's Export,
		// which runs `pulumi stack export --show-secrets` (sdk/v3 v3.263.0
		// go/auto/local_workspace.go ExportStack) and so decrypts them.
		files := map[string][]byte{}
		_ = filepath.WalkDir(filepath.Join(backend, ".pulumi"), func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.Contains(path, string(filepath.Separator)+"cirkelline"+string(filepath.Separator)) &&
				strings.Contains(filepath.Base(path)+filepath.Dir(path), stackName) {
				b, rerr := os.ReadFile(path)
				if rerr == nil {
					files[path] = b
				}
			}
			return nil
		})
		if len(files) < 3 {
			t.Fatalf("found only %d state files of the stack under %s", len(files), backend)
		}
		for name, b := range files {
			for _, secret := range kc.Secrets {
				if i := strings.Index(string(b), secret); i >= 0 {
					t.Errorf("%s holds the kubeconfig's credentials in plain text, after: %q", name, string(b[max(0, i-300):i]))
					break
				}
			}
		}
	})
}

// oneProvider checks from the exported state that every Kubernetes
// resource of the stack uses the one explicit provider ("cluster").
func oneProvider(t *testing.T, s *auto.Stack) {
	t.Helper()
	d := exportedDeployment(t, s)
	var providers []string
	used := map[string]int{}
	for _, r := range d.Resources {
		if string(r.Type) == "pulumi:providers:kubernetes" {
			providers = append(providers, string(r.URN))
		}
		if strings.HasPrefix(string(r.Type), "kubernetes:") && r.Custom {
			ref := r.Provider[:strings.LastIndex(r.Provider, "::")]
			used[ref]++
		}
	}
	if len(providers) != 1 || !strings.HasSuffix(providers[0], "::"+workloads.ClusterProviderName) {
		t.Errorf("Kubernetes providers in the state: %q, want the one named %q", providers, workloads.ClusterProviderName)
	}
	if len(used) != 1 {
		t.Errorf("the Kubernetes resources use the providers %v, want one", used)
	}
}
