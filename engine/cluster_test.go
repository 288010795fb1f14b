//go:build engine

package engine

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/cirkelline/infra/commands/render"
	"github.com/cirkelline/infra/internal/mockrun"
)

// renderObjects are the Kubernetes objects `go run . render --stack NAME`
// lists for a repository stack (render.Stack with the program, as
// main_test.go renders the goldens).
func renderObjects(t *testing.T, stack string) []mockrun.Object {
	t.Helper()
	res, err := render.Stack(render.Options{Dir: repoRoot(), Stack: stack}, programForRender)
	if err != nil {
		t.Fatalf("render %s: %v", stack, err)
	}
	var objs []mockrun.Object
	for _, o := range res.Objects {
		if !o.Cloud {
			objs = append(objs, o)
		}
	}
	return objs
}

// missingSecrets are the secret keys the stack needs and its file lacks
// ("databaseUrl", "redis.authToken"), from render's list.
func missingSecrets(t *testing.T, stack string) []string {
	t.Helper()
	res, err := render.Stack(render.Options{Dir: repoRoot(), Stack: stack}, programForRender)
	if err != nil {
		t.Fatalf("render %s: %v", stack, err)
	}
	var keys []string
	for _, k := range res.MissingSecrets {
		keys = append(keys, k[strings.Index(k, ":")+1:])
	}
	slices.Sort(keys)
	return keys
}

func keys(objs []mockrun.Object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, key{o.Kind, o.Namespace, o.Name}.String())
	}
	slices.Sort(out)
	return out
}

// manifestStream is the objects as one YAML stream, for kubectl -f -.
func manifestStream(objs []mockrun.Object) string {
	var docs []string
	for _, o := range objs {
		docs = append(docs, string(o.Body))
	}
	return strings.Join(docs, "\n---\n")
}

// liveState is what identifies each of the objects' live versions: its
// uid and generation (spec changes), or for kinds without a generation its
// resourceVersion. Status updates by controllers change neither.
func liveState(t *testing.T, objs []mockrun.Object) map[string]string {
	t.Helper()
	out, err := cp.KubectlIn(manifestStream(objs), "get", "-f", "-", "--ignore-not-found", "-o", "json")
	if err != nil {
		t.Fatalf("kubectl get: %v\n%s", err, out)
	}
	var list struct {
		Items []struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name, Namespace, UID, ResourceVersion string
				Generation                            int64
			} `json:"metadata"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("kubectl get: %v", err)
	}
	state := map[string]string{}
	for _, it := range list.Items {
		m := it.Metadata
		v := fmt.Sprintf("uid %s generation %d", m.UID, m.Generation)
		if m.Generation == 0 {
			v = fmt.Sprintf("uid %s resourceVersion %s", m.UID, m.ResourceVersion)
		}
		state[key{it.Kind, m.Namespace, m.Name}.String()] = v
	}
	return state
}

// remaining lists which of the objects still exist.
func remaining(t *testing.T, objs []mockrun.Object) []string {
	t.Helper()
	out, err := cp.KubectlIn(manifestStream(objs), "get", "-f", "-", "--ignore-not-found", "-o", "name")
	if err != nil {
		t.Fatalf("kubectl get: %v\n%s", err, out)
	}
	return strings.Fields(out)
}

// kubeconfigs are the control plane's admin kubeconfig with its
// credentials inline (client-key-data, ...), as a cluster stack or
// `pulumi config set --secret` holds one, once with the API server as
// 127.0.0.1 and once as localhost (the same cluster: the serving
// certificate is valid for both, internal/controlplane/pki.go).
type kubeconfigs struct {
	IP, Localhost string
	// Secrets are the credentials as they would leak: the client key and
	// certificate, base64 (as in the file) and as PEM lines.
	Secrets []string
}

// kubeconfigClusterName is the cluster's name in inlineKubeconfig's
// kubeconfigs (their current context's cluster).
const kubeconfigClusterName = "engine-test"

func inlineKubeconfig(t *testing.T) kubeconfigs {
	t.Helper()
	raw, err := os.ReadFile(cp.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	var kc struct {
		Clusters []struct {
			Cluster struct {
				Server string `json:"server"`
				CA     string `json:"certificate-authority"`
			} `json:"cluster"`
		} `json:"clusters"`
		Users []struct {
			User struct {
				Cert string `json:"client-certificate"`
				Key  string `json:"client-key"`
			} `json:"user"`
		} `json:"users"`
	}
	if err := yaml.Unmarshal(raw, &kc); err != nil || len(kc.Clusters) != 1 || len(kc.Users) != 1 {
		t.Fatalf("read %s: %v", cp.Kubeconfig, err)
	}
	read := func(path string) []byte {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ca, cert, key := read(kc.Clusters[0].Cluster.CA), read(kc.Users[0].User.Cert), read(kc.Users[0].User.Key)
	b64 := base64.StdEncoding.EncodeToString
	text := func(server string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: %[1]s
  cluster:
    server: %[2]s
    certificate-authority-data: %[3]s
users:
- name: admin
  user:
    client-certificate-data: %[4]s
    client-key-data: %[5]s
contexts:
- name: %[1]s
  context: {cluster: %[1]s, user: admin}
current-context: %[1]s
`, kubeconfigClusterName, server, b64(ca), b64(cert), b64(key))
	}
	k := kubeconfigs{IP: text(kc.Clusters[0].Cluster.Server), Localhost: text(strings.Replace(kc.Clusters[0].Cluster.Server, "127.0.0.1", "localhost", 1))}
	if k.IP == k.Localhost {
		t.Fatalf("the control plane's server %s is not on 127.0.0.1", kc.Clusters[0].Cluster.Server)
	}
	k.Secrets = append(k.Secrets, b64(key), b64(cert))
	// Every base64 line of the PEM bodies (64 characters each) too, so a
	// decoded copy is found as well; the short last lines are skipped.
	for _, pem := range [][]byte{key, cert} {
		for _, line := range strings.Split(string(pem), "\n") {
			if len(line) == 64 {
				k.Secrets = append(k.Secrets, line)
			}
		}
	}
	return k
}

// waitFor polls cond until it holds or within passes; a poll, not a timed
// assertion: within only bounds how long a broken run hangs.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// standInForTheALBController sets the Ingress's address, as the AWS Load
// Balancer Controller does once the ALB exists (it writes
// status.loadBalancer.ingress[].hostname), for as long as the returned
// stop is not called: the control plane runs no such controller, and the
// provider's Ingress await waits for that address.
func standInForTheALBController(t *testing.T, objs []mockrun.Object) (stop func()) {
	var ingresses []mockrun.Object
	for _, o := range objs {
		if o.Kind == "Ingress" {
			ingresses = append(ingresses, o)
		}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			for _, o := range ingresses {
				host, _ := cp.Kubectl("get", "ingress", o.Name, "-n", o.Namespace, "--ignore-not-found", "-o", "jsonpath={.status.loadBalancer.ingress[0].hostname}")
				exists, _ := cp.Kubectl("get", "ingress", o.Name, "-n", o.Namespace, "--ignore-not-found", "-o", "name")
				if strings.TrimSpace(exists) != "" && strings.TrimSpace(host) == "" {
					patch := `{"status":{"loadBalancer":{"ingress":[{"hostname":"k8s-` + o.Namespace + `-0123456789.eu-north-1.elb.amazonaws.com"}]}}}`
					if out, err := cp.Kubectl("patch", "ingress", o.Name, "-n", o.Namespace, "--subresource=status", "--type=merge", "-p", patch); err != nil {
						t.Logf("set the address of ingress %s/%s: %v\n%s", o.Namespace, o.Name, err, out)
					}
				}
			}
			select {
			case <-done:
				return
			case <-time.After(300 * time.Millisecond):
			}
		}
	}()
	return func() { close(done); <-finished }
}
