package monitoring_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/cirkelline/infra/internal/validate"
	"github.com/cirkelline/infra/monitoring"
)

const ns = "cirkelline-staging"

// baseArgs is a stack with one autoscaled service and a client without
// an HPA, as the wiring passes them.
func baseArgs() monitoring.Args {
	return monitoring.Args{
		Stack:     "staging",
		Namespace: ns,
		Services: []monitoring.Service{
			{Name: "cirkelline-backend", HPA: "cirkelline-backend-hpa",
				Selector:    map[string]string{"app.kubernetes.io/name": "cirkelline-backend"},
				PodSelector: map[string]string{"app.kubernetes.io/name": "cirkelline-backend"}},
			{Name: "client",
				Selector:    map[string]string{"app.kubernetes.io/name": "client"},
				PodSelector: map[string]string{"app.kubernetes.io/name": "client"}},
		},
		Settings: monitoring.Settings{
			Prometheus: monitoring.Prometheus{SelectorLabels: map[string]string{"release": "kube-prometheus-stack"}},
			Thresholds: monitoring.Thresholds{LatencyP95: 2 * time.Second},
		},
		Labels: map[string]string{"app.kubernetes.io/part-of": "staging"},
	}
}

// sameYAML compares two objects by their YAML, the way a reviewer reads
// them, and shows both when they differ.
func sameYAML(t *testing.T, got, want any) {
	t.Helper()
	g, err := yaml.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := yaml.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(g) != string(w) {
		t.Errorf("got:\n%s\nwant:\n%s", g, w)
	}
}

func TestServiceMonitors(t *testing.T) {
	got, err := monitoring.ServiceMonitors(baseArgs())
	if err != nil {
		t.Fatal(err)
	}
	labels := func(name string) string { return "app.kubernetes.io/name: " + name }
	want := ""
	for _, name := range []string{"cirkelline-backend", "client"} {
		want += `- apiVersion: monitoring.coreos.com/v1
  kind: ServiceMonitor
  metadata:
    labels:
      app.kubernetes.io/part-of: staging
      release: kube-prometheus-stack
    name: ` + name + `
    namespace: cirkelline-staging
  spec:
    endpoints:
    - interval: 30s
      path: /metrics
      port: http
    namespaceSelector:
      matchNames:
      - cirkelline-staging
    selector:
      matchLabels:
        ` + labels(name) + "\n"
	}
	g, err := yaml.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if string(g) != want {
		t.Errorf("got:\n%s\nwant:\n%s", g, want)
	}
}

func TestScrapeIngresses(t *testing.T) {
	a := baseArgs()
	a.Services[1].Port = "metrics"
	a.Prometheus.Namespace = "observability"
	got, err := monitoring.ScrapeIngresses(a)
	if err != nil {
		t.Fatal(err)
	}
	prom := map[string]string{"app.kubernetes.io/name": "prometheus"}
	nsSel := map[string]string{"kubernetes.io/metadata.name": "observability"}
	sameYAML(t, got, []monitoring.ScrapeIngress{
		{Service: "cirkelline-backend", PodSelector: map[string]string{"app.kubernetes.io/name": "cirkelline-backend"}, NamespaceLabels: nsSel, PodLabels: prom, Port: "http", Protocol: "TCP"},
		{Service: "client", PodSelector: map[string]string{"app.kubernetes.io/name": "client"}, NamespaceLabels: nsSel, PodLabels: prom, Port: "metrics", Protocol: "TCP"},
	})
}

// TestInvalidArgs: every problem is reported at once, with its path, and
// nothing is built.
func TestInvalidArgs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*monitoring.Args)
		want   []string
	}{
		{"no stack", func(a *monitoring.Args) { a.Stack = "" }, []string{"stack: is required"}},
		{"no services", func(a *monitoring.Args) { a.Services = nil }, []string{"services: is empty"}},
		{"no latency threshold", func(a *monitoring.Args) { a.Thresholds.LatencyP95 = 0 }, []string{`thresholds.latencyP95 ("0s"): must be positive`}},
		{"several at once", func(a *monitoring.Args) {
			a.Services[1].Name = a.Services[0].Name
			a.Services[0].Selector = nil
			a.Services[1].Path = "metrics"
			a.Thresholds.ErrorRatio = 5
		}, []string{"services[1].name (\"cirkelline-backend\"): is used twice", "services[0].selector: is empty",
			`services[1].path ("metrics"): must start with /`, "thresholds.errorRatio (5): must be between 0 and 1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := baseArgs()
			tc.change(&a)
			_, err := monitoring.PrometheusRule(a)
			if !errors.Is(err, monitoring.ErrInvalidArgs) || !errors.Is(err, validate.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalidArgs", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if n := strings.Count(err.Error(), "\n") + 1; n != len(tc.want) {
				t.Errorf("%d problems reported, want %d: %v", n, len(tc.want), err)
			}
			for name, build := range map[string]func(monitoring.Args) error{
				"ServiceMonitors": func(a monitoring.Args) error { _, err := monitoring.ServiceMonitors(a); return err },
				"Dashboard":       func(a monitoring.Args) error { _, err := monitoring.Dashboard(a); return err },
				"ScrapeIngresses": func(a monitoring.Args) error { _, err := monitoring.ScrapeIngresses(a); return err },
			} {
				if err := build(a); !errors.Is(err, monitoring.ErrInvalidArgs) {
					t.Errorf("%s: err = %v, want ErrInvalidArgs", name, err)
				}
			}
		})
	}
}

// requirePromtool returns promtool's path; it skips the test when promtool
// is missing, except in CI (CI=true), where that is a failure
// (.ci/install-promtool.sh installs it).
func requirePromtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatalf("promtool is not installed; CI must run .ci/install-promtool.sh first")
		}
		t.Skip("promtool not on PATH (apt-get install prometheus, or run .ci/install-promtool.sh)")
	}
	return path
}

// promtool runs promtool with args in dir and fails the test with its
// output when it exits non-zero.
func promtool(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(requirePromtool(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func writeYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCRDsMatchTheTypes: the CRD manifests are the ones of the
// prometheus-operator version whose Go types build the objects, and hold
// the kinds built here.
func TestCRDsMatchTheTypes(t *testing.T) {
	// Test binaries carry no dependency versions (debug.ReadBuildInfo);
	// the module's go.mod says which version the types are.
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*github\.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring v(\S+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod does not require pkg/apis/monitoring")
	}
	version := string(m[1])
	entries, err := monitoring.CRDs.ReadDir("crds")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range entries {
		raw, err := monitoring.CRDs.ReadFile(filepath.Join("crds", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var crd struct {
			Metadata struct {
				Annotations map[string]string `json:"annotations"`
			} `json:"metadata"`
			Spec struct {
				Names struct {
					Kind string `json:"kind"`
				} `json:"names"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(raw, &crd); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		if got := crd.Metadata.Annotations["operator.prometheus.io/version"]; got != version {
			t.Errorf("%s is from prometheus-operator %q, the types from %q: copy the CRDs of the imported version", e.Name(), got, version)
		}
		kinds = append(kinds, crd.Spec.Names.Kind)
	}
	slices.Sort(kinds)
	if want := []string{"PodMonitor", "PrometheusRule", "ServiceMonitor"}; !slices.Equal(kinds, want) {
		t.Errorf("CRD kinds %v, want %v", kinds, want)
	}
}
