package stacks

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cirkelline/infra/components"
	"github.com/cirkelline/infra/internal/validate"
	"github.com/cirkelline/infra/loadtest"
)

// LoadTestConfig is the stack's k6 load test (config key "loadtest"):
// the component's spec (its keys and defaults, components.LoadTestSpec,
// which holds the k6 side, loadtest.Config), and what only a stack
// decides: whether there is one, the run, its target and credentials.
type LoadTestConfig struct {
	components.LoadTestSpec
	// Enabled creates the Job. Default false: no load test.
	Enabled bool `json:"enabled"`
	// AllowProduction is required to load-test a production stack. Default false.
	AllowProduction bool `json:"allowProduction,omitempty"`
	// RunID is part of the Job's name: change it to start a new run. Default "1".
	RunID string `json:"runId"`
	// Target of the test: a service of the stack (default: the first), the
	// ingress, or an explicit URL.
	Target LoadTestTarget `json:"target"`
	// SecretEnv maps runner variables to secret config keys. Default for the
	// cirkelline flow: TEST_EMAIL from loadtestEmail, TEST_PASSWORD from loadtestPassword.
	SecretEnv map[string]string `json:"secretEnv,omitempty"`
}

// LoadTestTarget is what the runners send traffic to; at most one field.
type LoadTestTarget struct {
	// Service of this stack, reached by its in-cluster DNS name.
	Service string `json:"service,omitempty"`
	// Ingress: the first ingress host, through the ALB.
	Ingress bool `json:"ingress,omitempty"`
	// URL, explicit.
	URL string `json:"url,omitempty"`
}

func defaultLoadTest() LoadTestConfig {
	return LoadTestConfig{LoadTestSpec: components.LoadTestSpec{Config: loadtest.DefaultConfig()}, RunID: "1"}
}

// secretEnvOrDefault is SecretEnv, or the flow's default credentials
// (loadtest.FlowSpec.SecretEnv).
func (lt LoadTestConfig) secretEnvOrDefault() map[string]string {
	if lt.SecretEnv == nil {
		return maps.Clone(lt.Flow.Spec().SecretEnv)
	}
	return lt.SecretEnv
}

// resolveLoadTest fills defaults that depend on other fields.
func (c *Config) resolveLoadTest() {
	lt := &c.LoadTest
	lt.SecretEnv = lt.secretEnvOrDefault()
	if lt.Target == (LoadTestTarget{}) && len(c.Services) > 0 {
		lt.Target.Service = c.Services[0].Name
	}
}

// LoadTestRun names the run in its metrics' tags.
func (c *Config) LoadTestRun() loadtest.RunInfo {
	return loadtest.RunInfo{Stack: c.Stack, RunID: c.LoadTest.RunID, Environment: string(c.Environment)}
}

// LoadTestJobName is the Job's name: a new run ID is a new Job.
func (c *Config) LoadTestJobName() string { return "loadtest-" + c.LoadTest.RunID }

// FlowRequestPath is where the shipped flows send their requests: under
// /api (loadtest/scripts: cirkelline's /api/auth/login and /api/chat,
// partypic's /api/sessions and /api/auth/register; the health check aside;
// TestFlowsRequestUnderFlowRequestPath reads the scripts).
const FlowRequestPath = "/api/"

// LoadTestTargetService is the service whose HPA the test exercises: the
// target service; through the ingress, the service its routes send
// FlowRequestPath to (with partypic's routes, the server at /api, not the
// client at /); for an explicit URL, the first service.
func (c *Config) LoadTestTargetService() (ServiceConfig, int, bool) {
	t := c.LoadTest.Target
	name := t.Service
	switch {
	case name != "":
	case t.Ingress && c.Ingress.Enabled:
		name = routedService(c.Ingress.Routes, FlowRequestPath)
	case len(c.Services) > 0:
		name = c.Services[0].Name
	}
	i := slices.IndexFunc(c.Services, func(s ServiceConfig) bool { return s.Name == name })
	if i < 0 {
		return ServiceConfig{}, -1, false
	}
	return c.Services[i], i, true
}

// routedService is the service of the first route, in the order the ALB
// evaluates them (components.SortedRoutes: longest path first), that
// matches path: an Exact route the same path, a Prefix route the path or
// a path below it, element by element (Kubernetes' Ingress path
// semantics: "/api" matches "/api/chat", not "/apix"). "" when none does.
func routedService(routes []components.IngressRoute, path string) string {
	for _, r := range components.SortedRoutes(routes) {
		prefix := strings.TrimSuffix(r.Path, "/") + "/"
		switch {
		case r.PathType == components.PathExact && r.Path == path,
			r.PathType != components.PathExact && (path == r.Path || strings.HasPrefix(path, prefix)):
			return r.Service
		}
	}
	return ""
}

func (c *Config) validateLoadTest(errs *validate.Errors) {
	lt := c.LoadTest
	if !lt.Enabled {
		return
	}
	if c.Environment == Production && !lt.AllowProduction {
		errs.Add("loadtest.enabled", true, "would load-test a production stack",
			"set loadtest.allowProduction: true if that is really meant (and tell the on-call)")
	}
	targets := 0
	for _, set := range []bool{lt.Target.Service != "", lt.Target.Ingress, lt.Target.URL != ""} {
		if set {
			targets++
		}
	}
	if targets > 1 {
		errs.Add("loadtest.target", nil, "names more than one target", "set only one of service, ingress, url")
	}
	if lt.Target.Service != "" && !slices.Contains(c.ServiceNames(), lt.Target.Service) {
		errs.Add("loadtest.target.service", lt.Target.Service, "is not a service of this stack", "use one of: "+strings.Join(c.ServiceNames(), ", "))
	}
	if u := lt.Target.URL; u != "" {
		validate.HTTPURL(errs, "loadtest.target.url", u, "https://api.example.com")
	}
	if c.Environment == Production && components.ImageTag(lt.Image) == "latest" {
		errs.Add("loadtest.image", lt.Image, `uses the "latest" tag in production, which refuses "latest" images everywhere`, "pin k6's version, e.g. \""+components.DefaultK6Image+"\"")
	}
	if lt.Target.Ingress && (!c.Ingress.Enabled || len(c.Ingress.Hosts) == 0) {
		errs.Add("loadtest.target.ingress", true, "needs an enabled ingress with at least one host", "set ingress.hosts, or target a service")
	}
	if v, i, judged := c.CapacityVerdict(); judged && !lt.AllowCapacityOverride {
		lt.Capacity.Check(errs, "loadtest.capacity", fmt.Sprintf("services[%d].hpa.maxReplicas", i), v)
	}
}

// CapacityVerdict is the capacity check's verdict on the stack's load
// test, and the target service's index; judged is false when the check
// makes none: no load test, no target service, or a shape without a
// capacity model (only million-users is paced to loadtest.capacity).
func (c *Config) CapacityVerdict() (v loadtest.CapacityVerdict, service int, judged bool) {
	svc, i, ok := c.LoadTestTargetService()
	if !c.LoadTest.Enabled || !ok {
		return loadtest.CapacityVerdict{}, -1, false
	}
	shape, _ := c.LoadTest.Resolved()
	v, judged = c.LoadTest.Capacity.Judge(shape, svc.Name, int(svc.HPA.MaxReplicas))
	return v, i, judged
}

// CapacityReport is what render prints for a stack with a load test: the
// load the test generates at its peak and, only for a shape the capacity
// check judges, the capacity arithmetic with the verdict (naming the
// shape) and how fast the HPA's policies reach the pods it needs; for any
// other shape it says that no verdict was made, and where to get one.
func (c *Config) CapacityReport() string {
	svc, _, ok := c.LoadTestTargetService()
	if !c.LoadTest.Enabled || !ok {
		return ""
	}
	var b strings.Builder
	if v, _, judged := c.CapacityVerdict(); judged {
		b.WriteString(c.LoadTest.Capacity.Table(v))
		hpa := svc.HPA.WithDefaults()
		if d, reached := components.ScaleUpTime(hpa.ScaleUp.API(), hpa.MinReplicas, int32(v.PodsNeeded), hpa.MaxReplicas); reached {
			fmt.Fprintf(&b, "scale-up: the HPA's policies reach %d pods from minReplicas %d in %s (plus the pods' start-up)\n", v.PodsNeeded, hpa.MinReplicas, d)
		}
	} else {
		shape, _ := c.LoadTest.Resolved()
		fmt.Fprintf(&b, "capacity check: no verdict for %s (loadtest.capacity judges only %s); for one, run: go run . rehearse --stack %s --shape %s\n",
			shape.Name, strings.Join(capacityShapes(), ", "), c.Stack, shape.Name)
	}
	fmt.Fprintf(&b, "load test (%s) at its peak: %s\n", c.LoadTest.Shape, c.LoadTest.Load())
	b.WriteString(c.RunnersReport())
	return b.String()
}

// RunnersReport is what render prints about the runners: how many, the
// VUs and request rate each carries at the peak, the runner model's need
// and the resources each runner gets (the model's, or the stack's
// overrides).
func (c *Config) RunnersReport() string {
	s := c.LoadTest.Sizing()
	r := c.LoadTest.RunnerResources.Or(components.RunnerResources(c.LoadTest.Config))
	from := "the model's"
	if c.LoadTest.RunnerResources != (components.ResourcesSpec{}) {
		from = "loadtest.runnerResources"
	}
	return fmt.Sprintf("runners: %s\n  %s\n  each runner requests %s CPU, %s (limits %s CPU, %s; %s)\n",
		s, s.Model, r.CPURequest, r.MemoryRequest, r.CPULimit, r.MemoryLimit, from)
}

// capacityShapes are the built-in shapes the capacity check judges.
func capacityShapes() []string {
	var names []string
	for _, n := range loadtest.ShapeNames() {
		if loadtest.Shapes[n].CapacityModel {
			names = append(names, string(n))
		}
	}
	return names
}
