//go:build engine

package engine

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/cirkelline/infra/internal/mockrun"
)

// TestRenderYamlToDirectory: `pulumi up` with the provider's
// renderYamlToDirectory setting (the default provider's
// kubernetes:renderYamlToDirectory config; it writes every object's
// manifest instead of applying it, pulumi-kubernetes
// provider/pkg/provider/provider.go) writes the same objects as `render`,
// field for field. No API server is involved, so there are no server
// defaults to ignore; the accepted differences are listed in accepted.
func TestRenderYamlToDirectory(t *testing.T) {
	for _, stack := range engineStacks {
		t.Run(stack, func(t *testing.T) {
			out := t.TempDir()
			s := openStack(t, stackOptions{Stack: stack, Backend: t.TempDir()})
			for i, k := range missingSecrets(t, stack) {
				setSecret(t, s, k, secretValue(k, i))
			}
			if err := s.SetConfig(context.Background(), "kubernetes:renderYamlToDirectory", auto.ConfigValue{Value: out}); err != nil {
				t.Fatal(err)
			}
			up(s).must(t, "up with renderYamlToDirectory")
			written := readManifests(t, out)
			want := map[string]map[string]any{}
			for _, o := range renderObjects(t, stack) {
				var doc map[string]any
				if err := yaml.Unmarshal(o.Body, &doc); err != nil {
					t.Fatal(err)
				}
				want[key{o.Kind, o.Namespace, o.Name}.String()] = doc
			}
			for k, doc := range want {
				got, ok := written[k]
				if !ok {
					t.Errorf("%s: render lists it, the provider wrote no manifest", k)
					continue
				}
				accepted(doc, got)
				if d := cmp.Diff(doc, got); d != "" {
					t.Errorf("%s: render (-) and the provider's manifest (+) differ:\n%s", k, d)
				}
			}
			for k := range written {
				if _, ok := want[k]; !ok {
					t.Errorf("%s: the provider wrote it, render does not list it", k)
				}
			}
		})
	}
}

// readManifests reads every YAML document the provider wrote (0-crd/ and
// 1-manifest/), by kind, namespace and name.
func readManifests(t *testing.T, dir string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, doc := range strings.Split(string(b), "\n---\n") {
			var m map[string]any
			if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if len(m) == 0 {
				continue
			}
			meta, _ := m["metadata"].(map[string]any)
			kind, _ := m["kind"].(string)
			name, _ := meta["name"].(string)
			ns, _ := meta["namespace"].(string)
			out[key{kind, ns, name}.String()] = m
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("the provider wrote no manifests to %s", dir)
	}
	return out
}

// accepted removes the differences this test accepts (each seen in a run):
//   - secret values: render never decrypts them and shows each scalar as
//     mockrun.SecretPlaceholder; the provider writes the real value. The
//     field must exist on both sides; only its value is not compared.
//   - a Secret's stringData: the provider writes it as base64 data (its
//     Check of core/v1 Secret moves stringData into data, as the API server
//     stores it), so data is turned back into stringData, by key.
//   - resource quantities: the provider writes them in canonical form
//     ("1000m" as "1", as the API server stores them); both sides are
//     compared as canonical quantities.
func accepted(want, got any) {
	if g, ok := got.(map[string]any); ok && g["kind"] == "Secret" {
		if data, ok := g["data"].(map[string]any); ok {
			if _, has := want.(map[string]any)["stringData"]; has {
				sd := map[string]any{}
				for k, v := range data {
					b, _ := base64.StdEncoding.DecodeString(fmt.Sprint(v))
					sd[k] = string(b)
				}
				delete(g, "data")
				g["stringData"] = sd
			}
		}
	}
	canonicalQuantities(want)
	canonicalQuantities(got)
	placeholders(want, got)
}

// canonicalQuantities rewrites the values of resources.limits and
// resources.requests (containers' and the like) to their canonical form.
func canonicalQuantities(v any) {
	switch m := v.(type) {
	case map[string]any:
		for k, e := range m {
			if em, ok := e.(map[string]any); ok && (k == "limits" || k == "requests") {
				for rk, rv := range em {
					if s, ok := rv.(string); ok {
						if q, err := resource.ParseQuantity(s); err == nil {
							em[rk] = q.String()
						}
					}
				}
			}
			canonicalQuantities(e)
		}
	case []any:
		for _, e := range m {
			canonicalQuantities(e)
		}
	}
}

// placeholders copies render's secret placeholders onto the provider's side.
func placeholders(want, got any) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return
		}
		for k, wv := range w {
			if s, ok := wv.(string); ok && s == mockrun.SecretPlaceholder {
				if _, ok := g[k]; ok {
					g[k] = s
				}
				continue
			}
			placeholders(wv, g[k])
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			return
		}
		for i := range w {
			if i < len(g) {
				if s, ok := w[i].(string); ok && s == mockrun.SecretPlaceholder {
					g[i] = s
					continue
				}
				placeholders(w[i], g[i])
			}
		}
	}
}
