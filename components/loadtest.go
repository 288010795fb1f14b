package components

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"time"

	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/cirkelline/infra/internal/validate"
	"github.com/cirkelline/infra/loadtest"
)

// LoadTestName is the name of the load-test runners' objects and pods;
// the starter's pods are LoadTestStarterName.
const LoadTestName = "loadtest"

// loadTestStarterSuffix turns a name of the runners' into the starter's.
const loadTestStarterSuffix = "-starter"

// LoadTestStarterName names the starter's pods.
const LoadTestStarterName = LoadTestName + loadTestStarterSuffix

// LoadTestStarter is the name of a run's starter objects (its Job,
// ServiceAccount, Role, RoleBinding and NetworkPolicy, and their Pulumi
// resources) from the run's Job name.
func LoadTestStarter(job string) string { return job + loadTestStarterSuffix }

// LabelLoadTestRun tells one run's pods from another's.
const LabelLoadTestRun = "loadtest.cirkelline.io/run"

// LoadTestSpec is the load test as a stack sets it: the stack file's
// "loadtest" block embeds it (the json tags are its keys, the k6 side's
// among them), and LoadTestArgs adds what the composition wires. Zero
// values mean the default (WithDefaults; the runners' VUs and size, from
// the runner model, in LoadTestArgs.WithDefaults).
type LoadTestSpec struct {
	// Config is the k6 side: shape, flow, thresholds, tags, env, VUs per
	// runner (Default: the runner model's), capacity.
	loadtest.Config
	// Image of k6, for the runners and the starter. Default DefaultK6Image.
	Image string `json:"image,omitempty"`
	// RunnerResources per runner pod. Default: the runner model's need at
	// the shape's peak (RunnerResources); an override below it is refused.
	RunnerResources ResourcesSpec `json:"runnerResources,omitzero"`
	// StartTimeout is how long the starter waits for every runner to be
	// scheduled and ready (a new node included) before it fails the run.
	// Default loadtest.DefaultStartTimeout (10m).
	StartTimeout loadtest.Duration `json:"startTimeout,omitempty"`
	// SpreadRunners prefers one runner per node (pod anti-affinity).
	// Default true.
	SpreadRunners *bool `json:"spreadRunners,omitempty"`
	// Await makes `pulumi up` wait for the Jobs to finish and fail when a
	// threshold fails, with timeouts sized from the scenario; false
	// returns once the Jobs exist (pulumi.com/skipAwait). Default true.
	Await *bool `json:"await,omitempty"`
	// PrometheusRemoteWriteURL, when set, streams metrics with k6's
	// experimental-prometheus-rw output. Default: none.
	PrometheusRemoteWriteURL string `json:"prometheusRemoteWriteUrl,omitempty"`
}

// WithDefaults fills every unset field but the runner model's with its
// documented default.
func (s LoadTestSpec) WithDefaults() LoadTestSpec {
	s.Image = cmp.Or(s.Image, DefaultK6Image)
	s.StartTimeout = cmp.Or(s.StartTimeout, loadtest.Duration(loadtest.DefaultStartTimeout))
	s.SpreadRunners = cmp.Or(s.SpreadRunners, ptr(true))
	s.Await = cmp.Or(s.Await, ptr(true))
	return s
}

// LoadTestArgs configures a k6 load test: a ConfigMap with the scripts and
// the generated options, a Secret with the test credentials, an Indexed Job
// of paused runner pods (each running its own execution segment) behind a
// headless Service, a starter Job that resumes them together (with a
// ServiceAccount that may read the runners' pods), and the NetworkPolicies
// between them and to the target.
type LoadTestArgs struct {
	LoadTestSpec
	// JobName, e.g. "loadtest-1": a new name starts a new run. Required.
	JobName string
	// Namespace to run in. Required.
	Namespace pulumi.StringInput
	// PartOf is the application label value. Required.
	PartOf string
	// Run names the run in every metric's tags (loadtest.Tags).
	Run loadtest.RunInfo
	// TargetURL is BASE_URL. Required.
	TargetURL pulumi.StringInput
	// Target is where TargetURL's traffic goes, for the runners' egress
	// policy: the runners may reach DNS, this and (with remote write)
	// Prometheus, nothing else. Required.
	Target LoadTestEgress
	// Credentials become a Secret loaded into the runners' environment.
	Credentials map[string]pulumi.StringInput
	// Placement is where the runners and the starter may run. Default
	// anywhere untainted.
	Placement Placement
}

// LoadTestEgress is where the runners send their load: an in-cluster
// service's pods on their port, or addresses on a port. Exactly one of
// Pods and CIDRs.
type LoadTestEgress struct {
	// Pods selects the target service's pods (in the runners' namespace).
	// A NetworkPolicy names pods, namespaces or IP blocks, never a
	// Service, and applies "to a connection with a pod on one or both
	// ends" (Kubernetes' Network Policies concept page): the rule names
	// the service's pods and their container port.
	Pods map[string]string
	// CIDRs the target's addresses lie in: the ALB's subnets for an
	// internal ALB, AnyIPv4 where they are not known (an internet-facing
	// ALB's public addresses, a URL's host).
	CIDRs []string
	// Port (TCP): the pods' container port, or the listener's (443, 80
	// for plain HTTP, a URL's).
	Port int32
}

// LoadTest is a k6 test run inside the cluster.
type LoadTest struct {
	pulumi.ResourceState

	// JobName is the runners' Job (kubectl logs -l job-name=...).
	JobName pulumi.StringOutput `pulumi:"jobName"`
	// StarterJobName is the Job that resumes the runners.
	StarterJobName pulumi.StringOutput `pulumi:"starterJobName"`
	// Runners is the runners' Job parallelism.
	Runners pulumi.IntOutput `pulumi:"runners"`
}

// RunnerResources is one k6 runner pod's size from the runner model at the
// test's peak (loadtest.RunnerSizing.Resources): the CPU its busiest
// runner's request rate needs, the memory its VUs and the flow's payload
// need, each with the model's margin; memory request and limit equal.
func RunnerResources(test loadtest.Config) ResourcesSpec {
	req, lim, mib := test.Sizing().Resources()
	mem := resource.NewQuantity(mib<<20, resource.BinarySI).String()
	return ResourcesSpec{
		CPURequest: resource.NewMilliQuantity(req, resource.DecimalSI).String(), CPULimit: resource.NewMilliQuantity(lim, resource.DecimalSI).String(),
		MemoryRequest: mem, MemoryLimit: mem,
	}
}

// StarterResources is the starter pod's size: one VU making a few HTTP calls.
func StarterResources() ResourcesSpec {
	return ResourcesSpec{CPURequest: "100m", CPULimit: "500m", MemoryRequest: "128Mi", MemoryLimit: "256Mi"}
}

// DefaultK6Image is the k6 image the runners and the starter use.
const DefaultK6Image = "grafana/k6:1.3.0"

// WithDefaults fills every unset field with its documented default.
// NewLoadTest applies it before validating.
// The runner model's VUs and size follow from the rest of the spec.
func (a LoadTestArgs) WithDefaults() LoadTestArgs {
	a.LoadTestSpec = a.LoadTestSpec.WithDefaults()
	a.VUsPerRunner = cmp.Or(a.VUsPerRunner, a.RunnerVUs())
	a.RunnerResources = a.RunnerResources.Or(RunnerResources(a.Config))
	return a
}

// Validate reports every problem with the (defaulted) args under path.
func (a LoadTestArgs) Validate(path string) error {
	var errs validate.Errors
	// The runners' Job is JobName, the starter's LoadTestStarter(JobName);
	// both, and their pods' hostnames, must be DNS labels.
	if starter := LoadTestStarter(a.JobName); len(starter) > 63 {
		errs.Add(validate.Join(path, "runId"), a.JobName, fmt.Sprintf("names the starter's Job %q, %d characters; at most 63 fit", starter, len(starter)),
			fmt.Sprintf("shorten the run ID by %d characters", len(starter)-63))
	} else {
		validate.DNSLabel(&errs, validate.Join(path, "runId"), a.JobName, 63)
	}
	ValidateImage(&errs, validate.Join(path, "image"), a.Image, false)
	errs.Merge(a.Config.Validate(path))
	if err := a.RunnerResources.Validate(validate.Join(path, "runnerResources")); err != nil {
		errs.Merge(err)
	} else {
		a.checkRunnerNeed(&errs, validate.Join(path, "runnerResources"))
	}
	for _, k := range sortedKeys(a.Credentials) {
		validate.EnvName(&errs, validate.Key(validate.Join(path, "secretEnv"), k), k)
	}
	if time.Duration(a.StartTimeout) < time.Minute {
		errs.Add(validate.Join(path, "startTimeout"), a.StartTimeout.String(), "must be at least 1m", "give the runners time to be scheduled, e.g. 10m")
	}
	if a.PrometheusRemoteWriteURL != "" {
		validate.HTTPURL(&errs, validate.Join(path, "prometheusRemoteWriteUrl"), a.PrometheusRemoteWriteURL, "http://prometheus.monitoring:9090/api/v1/write")
	}
	if a.TargetURL == nil {
		errs.Add(validate.Join(path, "target"), nil, "is required", "name a service, the ingress, or a URL")
	}
	t := a.Target
	switch {
	case (len(t.Pods) == 0) == (len(t.CIDRs) == 0):
		errs.Add(validate.Join(path, "target"), nil, "needs exactly one of the target's pods and its addresses, for the runners' egress policy", "name a service, the ingress, or a URL")
	case t.Port < 1 || t.Port > 65535:
		errs.Add(validate.Join(path, "target"), t.Port, "has no TCP port for the runners' egress policy", "give the target's port")
	}
	for i, c := range t.CIDRs {
		if _, err := netip.ParsePrefix(c); err != nil {
			errs.Add(validate.Index(validate.Join(path, "target.cidrs"), i), c, "is not a CIDR", `write it as e.g. "10.0.0.0/16"`)
		}
	}
	return errs.Err()
}

// checkRunnerNeed refuses runner resources below what the runner model
// says one runner needs at the shape's peak: a runner short of memory is
// OOM-killed (failing the run), one short of CPU measures its own
// queueing as the backend's latency.
func (a LoadTestArgs) checkRunnerNeed(errs *validate.Errors, path string) {
	s := a.Config.Sizing()
	needCPU := resource.NewMilliQuantity(int64(math.Ceil(s.Need.MilliCPU-1e-9)), resource.DecimalSI)
	needMemory := resource.NewQuantity(int64(math.Ceil(s.Need.MiB-1e-9))<<20, resource.BinarySI)
	what := fmt.Sprintf("one runner of the %s shape holds up to %d VUs of the %s flow at %.0f req/s at its peak", a.Config.Shape, s.Need.VUs, a.Config.Flow, s.Need.RPS)
	check := func(field, value string, need *resource.Quantity, kind string) {
		if q, err := resource.ParseQuantity(value); err == nil && q.Cmp(*need) < 0 {
			errs.Add(validate.Join(path, field), value,
				fmt.Sprintf("is below the runner model's need: %s, and needs %s %s (%s)", what, need, kind, a.Config.Flow.RunnerModel()),
				fmt.Sprintf("raise it to at least %s, remove it to take the model's size, or lower loadtest.vusPerRunner to spread the VUs over more runners", need))
		}
	}
	check("cpuRequest", a.RunnerResources.CPURequest, needCPU, "CPU")
	check("memoryRequest", a.RunnerResources.MemoryRequest, needMemory, "of memory")
	check("memoryLimit", a.RunnerResources.MemoryLimit, needMemory, "of memory")
}

// Deadline is how long the runners' Job may run: the time the starter may
// wait for them, the scenario, its graceful ramp-down, and five minutes for
// image pulls and the summary.
func (a LoadTestArgs) Deadline() time.Duration {
	shape, _ := a.Config.Resolved()
	return time.Duration(a.StartTimeout) + shape.TotalDuration() + loadtest.GracefulRampDown + 5*time.Minute
}

// NewLoadTest registers a LoadTest component.
func NewLoadTest(ctx *pulumi.Context, name string, args LoadTestArgs, opts ...pulumi.ResourceOption) (*LoadTest, error) {
	args = args.WithDefaults()
	if err := args.Validate("loadtest"); err != nil {
		return nil, fmt.Errorf("load test %s: %w", name, err)
	}
	plan, err := planLoadTest(args)
	if err != nil {
		return nil, fmt.Errorf("load test %s: %w", name, err)
	}
	comp := &LoadTest{}
	if err := ctx.RegisterComponentResource("cirkelline:components:LoadTest", name, comp, opts...); err != nil {
		return nil, fmt.Errorf("register load test %s: %w", name, err)
	}
	parent := pulumi.Parent(comp)

	scripts, err := corev1.NewConfigMap(ctx, name, plan.scriptsConfigMap(), parent)
	if err != nil {
		return nil, fmt.Errorf("load test %s: config map: %w", name, err)
	}
	// The pods mount the scripts: the ConfigMap comes first. Nothing else
	// orders the Jobs: the starter must not wait for the runners' Job (Pulumi
	// awaits its completion, which needs the starter), nor they for it.
	jobDeps := []pulumi.Resource{scripts}
	if len(args.Credentials) > 0 {
		secret, err := corev1.NewSecret(ctx, name+"-credentials", plan.credentialsSecret(), parent)
		if err != nil {
			return nil, fmt.Errorf("load test %s: secret: %w", name, err)
		}
		jobDeps = append(jobDeps, secret)
	}
	if _, err := corev1.NewService(ctx, name, plan.runnerService(), parent); err != nil {
		return nil, fmt.Errorf("load test %s: runner service: %w", name, err)
	}
	for _, p := range []struct {
		name string
		args *networkingv1.NetworkPolicyArgs
	}{{name + "-runners", plan.runnerPolicy()}, {LoadTestStarter(name), plan.starterPolicy()}} {
		if _, err := networkingv1.NewNetworkPolicy(ctx, p.name, p.args, parent); err != nil {
			return nil, fmt.Errorf("load test %s: network policy %s: %w", name, p.name, err)
		}
	}
	jobOpts := func(deadline time.Duration) []pulumi.ResourceOption {
		o := []pulumi.ResourceOption{parent, pulumi.DependsOn(jobDeps)}
		if *args.Await {
			// Pulumi waits for the Job to complete; give it the whole run.
			wait := fmt.Sprintf("%dm", int((deadline + 5*time.Minute).Minutes()))
			o = append(o, pulumi.Timeouts(&pulumi.CustomTimeouts{Create: wait, Update: wait}))
		}
		return o
	}
	runners, err := batchv1.NewJob(ctx, name, plan.runnerJob(), jobOpts(args.Deadline())...)
	if err != nil {
		return nil, fmt.Errorf("load test %s: runner job: %w", name, err)
	}
	// The starter's identity, to read the runners' pods: its pod needs all
	// three before it starts.
	account, err := corev1.NewServiceAccount(ctx, LoadTestStarter(name), plan.starterServiceAccount(), parent)
	if err != nil {
		return nil, fmt.Errorf("load test %s: starter service account: %w", name, err)
	}
	role, err := rbacv1.NewRole(ctx, LoadTestStarter(name), plan.starterRole(), parent)
	if err != nil {
		return nil, fmt.Errorf("load test %s: starter role: %w", name, err)
	}
	binding, err := rbacv1.NewRoleBinding(ctx, LoadTestStarter(name), plan.starterRoleBinding(), parent, pulumi.DependsOn([]pulumi.Resource{account, role}))
	if err != nil {
		return nil, fmt.Errorf("load test %s: starter role binding: %w", name, err)
	}
	jobDeps = append(jobDeps, account, role, binding)
	starter, err := batchv1.NewJob(ctx, LoadTestStarter(name), plan.starterJob(), jobOpts(plan.starterDeadline())...)
	if err != nil {
		return nil, fmt.Errorf("load test %s: starter job: %w", name, err)
	}

	comp.JobName = runners.Metadata.Name().Elem()
	comp.StarterJobName = starter.Metadata.Name().Elem()
	comp.Runners = pulumi.Int(plan.runners).ToIntOutput()
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"jobName": comp.JobName, "starterJobName": comp.StarterJobName, "runners": comp.Runners,
	}); err != nil {
		return nil, fmt.Errorf("load test %s outputs: %w", name, err)
	}
	return comp, nil
}
