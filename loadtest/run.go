package loadtest

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// StarterFile is the starter script's file name in the Job's ConfigMap.
const StarterFile = "starter.js"

// StarterScript is the k6 script of the starter pod: it waits until every
// paused runner's REST API answers, runs setup() once on runner 0, hands
// its data to the others and resumes them all.
func StarterScript() ([]byte, error) { return scripts.ReadFile("scripts/" + StarterFile) }

// Starter environment (read by scripts/starter.js).
const (
	// EnvRunners lists the runners' REST API addresses, host:port, in
	// index order, comma-separated.
	EnvRunners = "RUNNERS"
	// EnvStartTimeout is how long the starter waits for every runner, in seconds.
	EnvStartTimeout = "START_TIMEOUT_SECONDS"
)

// The starter reads the runners' pods through the Kubernetes API
// (scripts/starter.js): a runner that exits during init never answers its
// REST API, and only its pod says why.
const (
	// EnvKubernetesAPI is the API server's base URL.
	EnvKubernetesAPI = "KUBERNETES_API"
	// EnvKubernetesNamespace is the runners' namespace.
	EnvKubernetesNamespace = "KUBERNETES_NAMESPACE"
	// EnvRunnerJob is the runners' Job; its pods carry job-name=<job>.
	EnvRunnerJob = "RUNNER_JOB"
)

// DefaultStartTimeout is how long the runners may take to be scheduled and
// ready: long enough for a node autoscaler to add a node for them.
const DefaultStartTimeout = 10 * time.Minute

// RunnerHost is the stable DNS name of runner index of an Indexed Job:
// Indexed Jobs name each pod's host "<job>-<index>", and a headless Service
// named by the pod template's subdomain publishes it as
// <host>.<subdomain>.<namespace>.svc.<cluster domain>; from a pod of the
// same namespace "<host>.<subdomain>" resolves through the DNS search path
// (kubernetes.io/docs/tasks/job/job-with-pod-to-pod-communication), so
// the name holds whatever the cluster's domain.
func RunnerHost(job, subdomain string, index int) string {
	return fmt.Sprintf("%s-%d.%s", job, index, subdomain)
}

// StarterEnv is the starter's environment for a Job of n runners.
func StarterEnv(job, subdomain string, n int, timeout time.Duration) map[string]string {
	hosts := make([]string, n)
	for i := range n {
		hosts[i] = fmt.Sprintf("%s:%d", RunnerHost(job, subdomain, i), APIPort)
	}
	return map[string]string{EnvRunners: strings.Join(hosts, ","), EnvStartTimeout: strconv.Itoa(int(timeout.Seconds()))}
}

// RunInfo identifies a run in every metric it reports.
type RunInfo struct {
	Stack, RunID, Environment string
}

// Tags are the k6 tags of a run: the config's own tags, then stack, run and
// environment (which a config cannot override, so runs stay comparable);
// an empty value is left out, as k6 refuses "--tag name=" (k6 v1.3.0
// internal/cmd/options.go parseTagNameValue: "invalid tag, empty value").
// The Job and `loadtest export` both take their tags from here; each
// runner adds runner=<index> (RunnerScript).
func Tags(c Config, run RunInfo) map[string]string {
	tags := maps.Clone(c.Tags)
	if tags == nil {
		tags = map[string]string{}
	}
	for k, v := range map[string]string{"stack": run.Stack, "run": run.RunID, "environment": run.Environment} {
		if v != "" {
			tags[k] = v
		}
	}
	return tags
}

// RunnerTag is the tag each runner adds with its Job completion index.
const RunnerTag = "runner"

// TagsLine describes the tags every sample of a run of n runners carries,
// e.g. "environment=staging run=7 stack=staging runner=0..19"; queries
// (PromQL, a Grafana panel) select a run by them.
func TagsLine(tags map[string]string, runners int) string {
	parts := make([]string, 0, len(tags)+1)
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		parts = append(parts, k+"="+tags[k])
	}
	r := RunnerTag + "=0"
	if runners > 1 {
		r += fmt.Sprintf("..%d", runners-1)
	}
	return strings.Join(append(parts, r), " ")
}

// ReservedTags are set by Tags; a config's tags may not use them.
var ReservedTags = []string{"stack", "run", "environment", RunnerTag}

// EnvRequestInterval paces the flows: with it, each VU sends one request
// per interval (scripts/pacing.js), which is the capacity model.
const EnvRequestInterval = "REQUEST_INTERVAL_SECONDS"

// FlowEnv is the flow's environment the Go side decides: the flow's
// settings (Flow.Settings: THINK_SECONDS and the flow's own, which the
// script requires), the pacing of a shape that has a capacity model, then
// the config's env.
func FlowEnv(c Config) map[string]string {
	env := map[string]string{}
	for k, v := range c.Flow.Settings(nil) {
		env[k] = strconv.FormatFloat(v, 'f', -1, 64)
	}
	if p := c.Pacing(); p > 0 {
		env[EnvRequestInterval] = strconv.FormatFloat(p, 'f', -1, 64)
	}
	maps.Copy(env, c.Env)
	return env
}

// Pacing is the seconds between one VU's requests when the shape is judged
// against the capacity model (million-users), else 0 (the flow's own think
// time).
func (c Config) Pacing() float64 {
	shape, _ := c.Resolved()
	if shape.CapacityModel {
		return c.Capacity.RequestIntervalSeconds
	}
	return 0
}

// RequestLoad is the request rate a run generates, next to what the capacity
// model asks of it.
type RequestLoad struct {
	// PeakVUs is the most VUs the run holds at once.
	PeakVUs int
	// RequestsPerSecond at PeakVUs: exact when paced; for a flow with think
	// time, the ceiling with instant responses (slower responses lower it).
	RequestsPerSecond float64
	// Paced is true when the flow sends one request per VU per interval.
	Paced bool
	// ModelRPS is the capacity model's peak, or 0 without a model.
	ModelRPS float64
}

// Load computes the run's request rate at its peak.
func (c Config) Load() RequestLoad {
	shape, _ := c.Resolved()
	l := RequestLoad{PeakVUs: shape.MaxVUs()}
	if p := c.Pacing(); p > 0 {
		l.Paced = true
		l.RequestsPerSecond = float64(l.PeakVUs) / p
		l.ModelRPS = c.Capacity.PeakRPS()
		return l
	}
	l.RequestsPerSecond = float64(l.PeakVUs) * c.Flow.RequestsPerVUSecond(c.Env)
	return l
}

// String is the line render prints, e.g.
// "10000 VUs × 1 request / 30 s = 333 req/s (capacity model: 333 req/s)".
func (l RequestLoad) String() string {
	if l.Paced {
		return fmt.Sprintf("%d VUs, one request each every %.0f s = %.0f req/s (capacity model: %.0f req/s)",
			l.PeakVUs, float64(l.PeakVUs)/l.RequestsPerSecond, l.RequestsPerSecond, l.ModelRPS)
	}
	return fmt.Sprintf("%d VUs at the flow's think time = up to %.0f req/s", l.PeakVUs, l.RequestsPerSecond)
}
