package components

import (
	"fmt"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/cirkelline/infra/internal/validate"
)

// The plain spec types below decide the shape of a web service. They are plain
// Go values (not pulumi.Inputs) so that they can be defaulted and validated
// before any resource is registered, and so that stack config decodes straight
// into them (stacks/ embeds them). Zero values mean "use the default".

// The seed's base HPA numbers.
const (
	DefaultMinReplicas              = 2
	DefaultMaxReplicas              = 20
	DefaultCPUUtilizationPercent    = 70
	DefaultMemoryUtilizationPercent = 80
)

// ResourcesSpec is a container's CPU and memory requests and limits. The HPA
// scales on utilisation of the requests, so requests are always set.
type ResourcesSpec struct {
	// CPURequest, e.g. "250m". Default "250m".
	CPURequest string `json:"cpuRequest,omitempty"`
	// CPULimit, e.g. "1000m". Default "1000m".
	CPULimit string `json:"cpuLimit,omitempty"`
	// MemoryRequest, e.g. "512Mi". Default "512Mi".
	MemoryRequest string `json:"memoryRequest,omitempty"`
	// MemoryLimit, e.g. "2Gi". Default "2Gi".
	MemoryLimit string `json:"memoryLimit,omitempty"`
}

// DefaultResources is the seed's base container size.
func DefaultResources() ResourcesSpec {
	return ResourcesSpec{CPURequest: "250m", CPULimit: "1000m", MemoryRequest: "512Mi", MemoryLimit: "2Gi"}
}

// WithDefaults fills empty fields from DefaultResources.
func (r ResourcesSpec) WithDefaults() ResourcesSpec { return r.Or(DefaultResources()) }

// Or fills empty fields from d (components whose defaults differ from a web service's).
func (r ResourcesSpec) Or(d ResourcesSpec) ResourcesSpec {
	r.CPURequest = orString(r.CPURequest, d.CPURequest)
	r.CPULimit = orString(r.CPULimit, d.CPULimit)
	r.MemoryRequest = orString(r.MemoryRequest, d.MemoryRequest)
	r.MemoryLimit = orString(r.MemoryLimit, d.MemoryLimit)
	return r
}

// requirements is the container's resources field.
func (r ResourcesSpec) requirements() *corev1.ResourceRequirementsArgs {
	return &corev1.ResourceRequirementsArgs{
		Requests: pulumi.StringMap{"cpu": pulumi.String(r.CPURequest), "memory": pulumi.String(r.MemoryRequest)},
		Limits:   pulumi.StringMap{"cpu": pulumi.String(r.CPULimit), "memory": pulumi.String(r.MemoryLimit)},
	}
}

// restrictedPod is the pod security context of the restricted level,
// running as uid (also its group and the volumes' group).
func restrictedPod(uid int64) *corev1.PodSecurityContextArgs {
	return &corev1.PodSecurityContextArgs{
		RunAsNonRoot:   pulumi.Bool(true),
		RunAsUser:      pulumi.Int(int(uid)),
		RunAsGroup:     pulumi.Int(int(uid)),
		FsGroup:        pulumi.Int(int(uid)),
		SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
	}
}

// TmpSizeLimit caps every pod's writable /tmp emptyDir: past it the
// kubelet evicts the pod, so no pod fills its node's disk (the root
// filesystems are read-only).
const TmpSizeLimit = "256Mi"

// restrictedContainer is the container security context of the Pod
// Security Standards' restricted level, with a read-only root filesystem
// unless writableRoot.
func restrictedContainer(writableRoot bool) *corev1.SecurityContextArgs {
	return &corev1.SecurityContextArgs{
		AllowPrivilegeEscalation: pulumi.Bool(false),
		ReadOnlyRootFilesystem:   pulumi.Bool(!writableRoot),
		RunAsNonRoot:             pulumi.Bool(true),
		Capabilities:             &corev1.CapabilitiesArgs{Drop: pulumi.StringArray{pulumi.String("ALL")}},
	}
}

// Validate checks every quantity parses and each request fits its limit.
func (r ResourcesSpec) Validate(path string) error {
	var errs validate.Errors
	pair := func(kind, reqField, req, limField, lim, example string) {
		rq, rqOK := quantity(&errs, validate.Join(path, reqField), req, example)
		lq, lqOK := quantity(&errs, validate.Join(path, limField), lim, example)
		if rqOK && lqOK && rq.Cmp(lq) > 0 {
			errs.Add(validate.Join(path, reqField), req, fmt.Sprintf("%s request must not exceed its limit %s (%s)", kind, limField, lim), fmt.Sprintf("lower %s or raise %s", reqField, limField))
		}
	}
	pair("cpu", "cpuRequest", r.CPURequest, "cpuLimit", r.CPULimit, `"500m" or "2"`)
	pair("memory", "memoryRequest", r.MemoryRequest, "memoryLimit", r.MemoryLimit, `"512Mi" or "1Gi"`)
	return errs.Err()
}

func quantity(errs *validate.Errors, path, s, example string) (resource.Quantity, bool) {
	if s == "" {
		errs.Add(path, nil, "is required", "set a Kubernetes quantity such as "+example)
		return resource.Quantity{}, false
	}
	q, err := resource.ParseQuantity(s)
	if err != nil {
		errs.Add(path, s, "is not a Kubernetes quantity (suffixes are case-sensitive: m, Ki, Mi, Gi, k, M, G)", "write it as "+example)
		return q, false
	}
	if q.Sign() <= 0 {
		errs.Add(path, s, "must be greater than zero", "write it as "+example)
		return q, false
	}
	return q, true
}

// ScalingRules is one direction of an HPA's behaviour: how fast it may add
// (scale-up) or remove (scale-down) pods.
type ScalingRules struct {
	// StabilizationSeconds is how long the HPA looks back before acting.
	// Default 0 for scale-up (react at once), 300 for scale-down (avoid flapping).
	StabilizationSeconds *int32 `json:"stabilizationSeconds,omitempty"`
	// Percent of current pods that may be added or removed per period.
	// Default 100 up, 10 down.
	Percent int32 `json:"percent,omitempty"`
	// Pods that may be added or removed per period. Default 4 up, 1 down.
	Pods int32 `json:"pods,omitempty"`
	// PeriodSeconds over which Percent and Pods apply. Default 15 up, 60 down.
	PeriodSeconds int32 `json:"periodSeconds,omitempty"`
	// SelectPolicy picks between the Percent and the Pods policy: "Max" the
	// one allowing the larger change, "Min" the smaller. Default "Max" in
	// both directions (see DefaultHPA for the scale-down arithmetic).
	SelectPolicy ScalingSelect `json:"selectPolicy,omitempty"`
}

// ScalingSelect is an HPA scaling direction's selectPolicy.
type ScalingSelect string

// The selectPolicy values this project uses (autoscaling/v2 also has
// "Disabled"; a service that must not scale sets hpa.disabled instead).
const (
	SelectMax ScalingSelect = "Max"
	SelectMin ScalingSelect = "Min"
)

// HPASpec is an autoscaling/v2 HorizontalPodAutoscaler's shape.
type HPASpec struct {
	// Disabled turns the HPA off; the Deployment then runs MinReplicas pods.
	Disabled bool `json:"disabled,omitempty"`
	// MinReplicas is the floor. Default 2 (seed base).
	MinReplicas int32 `json:"minReplicas,omitempty"`
	// MaxReplicas is the ceiling. Default 20 (seed base).
	MaxReplicas int32 `json:"maxReplicas,omitempty"`
	// CPUUtilization is the target average CPU use, in percent of requests. Default 70.
	CPUUtilization int32 `json:"cpuUtilization,omitempty"`
	// MemoryUtilization is the target average memory use, in percent of requests. Default 80.
	MemoryUtilization int32 `json:"memoryUtilization,omitempty"`
	// ScaleUp limits how fast pods are added. Defaults: no stabilisation, +100 % or +4 pods per 15 s.
	ScaleUp ScalingRules `json:"scaleUp,omitzero"`
	// ScaleDown limits how fast pods are removed. Defaults: 300 s
	// stabilisation, then per 60 s the larger of -10 % and -1 pod.
	ScaleDown ScalingRules `json:"scaleDown,omitzero"`
}

// DefaultHPA is the seed's base autoscaling, with a scale-down chosen to
// finish in minutes rather than within the hour.
//
// Scale-down keeps selectPolicy Max: each 60 s period removes the larger
// of 10 % (truncated: the controller keeps int(replicas × 0.9)) and 1 pod.
// Under Min the smaller change always won, so the 10 % policy never
// mattered and the HPA removed exactly 1 pod a minute: 50 → 3 took 47
// steps, 300 s + 47 × 60 s ≈ 52 min. Under Max, 50 → 3 goes
// 50 45 40 36 32 28 25 22 19 17 15 13 11 9 8 7 6 5 4 3: 19 steps,
// 300 s + 19 × 60 s = 24 min; 5 → 1 is 1 pod a minute either way (10 % of
// 5 or fewer is less than a pod): 4 steps, 300 s + 4 × 60 s = 9 min. Each
// step can lag one 15 s controller sync; commands/rehearse's
// TestDefaultScaleDownTimes computes both from the rendered HPA with the
// controller's algorithm (calculateScaleDownLimitWithBehaviors).
func DefaultHPA() HPASpec {
	return HPASpec{
		MinReplicas:       DefaultMinReplicas,
		MaxReplicas:       DefaultMaxReplicas,
		CPUUtilization:    DefaultCPUUtilizationPercent,
		MemoryUtilization: DefaultMemoryUtilizationPercent,
		ScaleUp:           ScalingRules{StabilizationSeconds: ptr[int32](0), Percent: 100, Pods: 4, PeriodSeconds: 15, SelectPolicy: SelectMax},
		ScaleDown:         ScalingRules{StabilizationSeconds: ptr[int32](300), Percent: 10, Pods: 1, PeriodSeconds: 60, SelectPolicy: SelectMax},
	}
}

// WithDefaults fills zero fields from DefaultHPA.
func (h HPASpec) WithDefaults() HPASpec {
	d := DefaultHPA()
	h.MinReplicas = orInt(h.MinReplicas, d.MinReplicas)
	h.MaxReplicas = orInt(h.MaxReplicas, d.MaxReplicas)
	h.CPUUtilization = orInt(h.CPUUtilization, d.CPUUtilization)
	h.MemoryUtilization = orInt(h.MemoryUtilization, d.MemoryUtilization)
	h.ScaleUp = h.ScaleUp.withDefaults(d.ScaleUp)
	h.ScaleDown = h.ScaleDown.withDefaults(d.ScaleDown)
	return h
}

func (s ScalingRules) withDefaults(d ScalingRules) ScalingRules {
	if s.StabilizationSeconds == nil {
		s.StabilizationSeconds = d.StabilizationSeconds
	}
	s.Percent = orInt(s.Percent, d.Percent)
	s.Pods = orInt(s.Pods, d.Pods)
	s.PeriodSeconds = orInt(s.PeriodSeconds, d.PeriodSeconds)
	s.SelectPolicy = orString(s.SelectPolicy, d.SelectPolicy)
	return s
}

// MaxHPAReplicas is the most pods an HPA may scale one service to. The API
// server accepts any int32; this is the project's bound, well above the
// seeds' largest need (million-users: 14 pods, production: 50).
const MaxHPAReplicas = 500

// Validate checks the replica range and utilisation targets.
func (h HPASpec) Validate(path string) error {
	var errs validate.Errors
	if h.MinReplicas < 1 {
		errs.Add(validate.Join(path, "minReplicas"), h.MinReplicas, "must be at least 1", "set minReplicas to 1 or more")
	}
	if h.MaxReplicas > MaxHPAReplicas {
		errs.Add(validate.Join(path, "maxReplicas"), h.MaxReplicas, fmt.Sprintf("is above this project's ceiling of %d pods per service (the API server sets none, so a typo would let one service scale without bound)", MaxHPAReplicas),
			fmt.Sprintf("set maxReplicas to at most %d (size it from the load test's capacity arithmetic)", MaxHPAReplicas))
	}
	if h.MaxReplicas < h.MinReplicas {
		errs.Add(validate.Join(path, "maxReplicas"), h.MaxReplicas, fmt.Sprintf("must be >= minReplicas (%d)", h.MinReplicas), fmt.Sprintf("raise maxReplicas to at least %d or lower minReplicas", h.MinReplicas))
	}
	for _, u := range []struct {
		field string
		v     int32
	}{{"cpuUtilization", h.CPUUtilization}, {"memoryUtilization", h.MemoryUtilization}} {
		if u.v < 1 || u.v > 100 {
			errs.Add(validate.Join(path, u.field), u.v, "must be a percentage between 1 and 100", "use e.g. 70 for CPU or 80 for memory")
		}
	}
	h.ScaleUp.validate(&errs, validate.Join(path, "scaleUp"))
	h.ScaleDown.validate(&errs, validate.Join(path, "scaleDown"))
	return errs.Err()
}

func (s ScalingRules) validate(errs *validate.Errors, path string) {
	if s.StabilizationSeconds != nil && (*s.StabilizationSeconds < 0 || *s.StabilizationSeconds > 3600) {
		errs.Add(validate.Join(path, "stabilizationSeconds"), *s.StabilizationSeconds, "must be between 0 and 3600", "")
	}
	if s.Percent < 1 || s.Percent > 1000 {
		errs.Add(validate.Join(path, "percent"), s.Percent, "must be between 1 and 1000", "")
	}
	if s.Pods < 1 {
		errs.Add(validate.Join(path, "pods"), s.Pods, "must be at least 1", "")
	}
	if s.PeriodSeconds < 1 || s.PeriodSeconds > 1800 {
		errs.Add(validate.Join(path, "periodSeconds"), s.PeriodSeconds, "must be between 1 and 1800 (the API server's limit)", "")
	}
	validate.OneOf(errs, validate.Join(path, "selectPolicy"), s.SelectPolicy, SelectMax, SelectMin)
}

// PDBSpec is a PodDisruptionBudget's shape. Exactly one of MaxUnavailable and
// MinAvailable is used; the default, MaxUnavailable 1, never blocks a node
// drain whatever the replica count.
type PDBSpec struct {
	// Disabled turns the PodDisruptionBudget off.
	Disabled bool `json:"disabled,omitempty"`
	// MaxUnavailable pods during voluntary disruptions. Default 1.
	MaxUnavailable *int32 `json:"maxUnavailable,omitempty"`
	// MinAvailable pods during voluntary disruptions. Must stay below the
	// minimum replica count so that a drain can always evict one pod.
	MinAvailable *int32 `json:"minAvailable,omitempty"`
}

// WithDefaults sets MaxUnavailable to 1 when neither field is set.
func (p PDBSpec) WithDefaults() PDBSpec {
	if p.MaxUnavailable == nil && p.MinAvailable == nil {
		p.MaxUnavailable = ptr[int32](1)
	}
	return p
}

// Validate checks the budget never blocks a drain given the minimum replica count.
func (p PDBSpec) Validate(path string, minReplicas int32) error {
	var errs validate.Errors
	if p.Disabled {
		return nil
	}
	switch {
	case p.MaxUnavailable != nil && p.MinAvailable != nil:
		errs.Add(path, nil, "sets both maxUnavailable and minAvailable", "keep only one (maxUnavailable: 1 is the default)")
	case p.MaxUnavailable != nil && *p.MaxUnavailable < 1:
		errs.Add(validate.Join(path, "maxUnavailable"), *p.MaxUnavailable, "must be at least 1, or no node could ever be drained", "set maxUnavailable: 1")
	case p.MinAvailable != nil && *p.MinAvailable < 0:
		errs.Add(validate.Join(path, "minAvailable"), *p.MinAvailable, "must not be negative", "")
	case p.MinAvailable != nil && *p.MinAvailable >= minReplicas:
		errs.Add(validate.Join(path, "minAvailable"), *p.MinAvailable, fmt.Sprintf("must be below the minimum replica count (%d), or a node drain would be blocked", minReplicas), fmt.Sprintf("set minAvailable to at most %d, or use maxUnavailable: 1", minReplicas-1))
	}
	return errs.Err()
}

// ProbeSpec is the HTTP health endpoint the kubelet polls.
type ProbeSpec struct {
	// Path answered with 2xx when the process is healthy. Default "/health".
	Path string `json:"path,omitempty"`
	// ReadinessPath, when the service has a separate readiness endpoint. Default: Path.
	ReadinessPath string `json:"readinessPath,omitempty"`
	// LivenessPath makes the liveness probe an HTTP GET on this path; it
	// must differ from ReadinessPath and check only the process, never a
	// dependency. Default "": the liveness probe is a TCP connect to the
	// "http" port (the process is alive and accepts connections), so a
	// database or Redis blip takes pods out of the Service (readiness) but
	// never restarts them all at once.
	LivenessPath string `json:"livenessPath,omitempty"`
	// StartupSeconds is how long a pod may take to start before it is restarted. Default 120.
	StartupSeconds int32 `json:"startupSeconds,omitempty"`
	// PeriodSeconds between probes. Default 10.
	PeriodSeconds int32 `json:"periodSeconds,omitempty"`
	// TimeoutSeconds for one probe. Default 3.
	TimeoutSeconds int32 `json:"timeoutSeconds,omitempty"`
}

// WithDefaults fills zero fields.
func (p ProbeSpec) WithDefaults() ProbeSpec {
	p.Path = orString(p.Path, DefaultHealthPath)
	p.ReadinessPath = orString(p.ReadinessPath, p.Path)
	p.StartupSeconds = orInt(p.StartupSeconds, 120)
	p.PeriodSeconds = orInt(p.PeriodSeconds, 10)
	p.TimeoutSeconds = orInt(p.TimeoutSeconds, 3)
	return p
}

// Validate checks paths are absolute, liveness differs from readiness,
// and timings are positive.
func (p ProbeSpec) Validate(path string) error {
	var errs validate.Errors
	for _, f := range []struct{ name, v string }{{"path", p.Path}, {"readinessPath", p.ReadinessPath}} {
		if len(f.v) == 0 || f.v[0] != '/' {
			errs.Add(validate.Join(path, f.name), f.v, "must be an absolute HTTP path", `use e.g. "/health"`)
		}
	}
	switch {
	case p.LivenessPath == "":
	case p.LivenessPath[0] != '/':
		errs.Add(validate.Join(path, "livenessPath"), p.LivenessPath, "must be an absolute HTTP path", `use e.g. "/livez", or remove it for a TCP check on the "http" port`)
	case p.LivenessPath == p.ReadinessPath:
		errs.Add(validate.Join(path, "livenessPath"), p.LivenessPath, "is also the readiness path, so a failing dependency would restart every pod at once",
			`point it at an endpoint that checks only the process (e.g. "/livez"), or remove it for a TCP check on the "http" port`)
	}
	if p.TimeoutSeconds < 1 || p.PeriodSeconds < 1 || p.StartupSeconds < 1 {
		errs.Add(path, nil, "startupSeconds, periodSeconds and timeoutSeconds must all be at least 1", "")
	}
	if p.TimeoutSeconds > p.PeriodSeconds {
		errs.Add(validate.Join(path, "timeoutSeconds"), p.TimeoutSeconds, fmt.Sprintf("must not exceed periodSeconds (%d)", p.PeriodSeconds), "lower timeoutSeconds")
	}
	return errs.Err()
}

// ShutdownSpec is how a pod leaves the ALB's target group without failing
// requests. When a pod is deleted its endpoint goes, the AWS Load
// Balancer Controller deregisters the target and the ALB stops sending it
// new requests, letting in-flight ones finish for the deregistration
// delay; meanwhile the preStop sleep keeps the app serving whatever the
// ALB still sends, then SIGTERM lets the app drain, and SIGKILL follows
// at the grace period.
type ShutdownSpec struct {
	// PreStopSeconds the container sleeps (lifecycle.preStop.sleep) before
	// SIGTERM, while the controller deregisters the target. Default 15.
	PreStopSeconds int32 `json:"preStopSeconds,omitempty"`
	// DeregistrationDelaySeconds the ALB lets in-flight requests finish on
	// a deregistering target (the target group's
	// deregistration_delay.timeout_seconds, AWS default 300). Default 30;
	// must stay below GracePeriodSeconds, so the pod outlives the draining.
	DeregistrationDelaySeconds int32 `json:"deregistrationDelaySeconds,omitempty"`
	// GracePeriodSeconds is the pod's terminationGracePeriodSeconds: the
	// preStop sleep plus the app's own drain after SIGTERM. Default 45
	// (15 s preStop + 30 s drain); must exceed PreStopSeconds and
	// DeregistrationDelaySeconds.
	GracePeriodSeconds int32 `json:"gracePeriodSeconds,omitempty"`
}

// The shutdown defaults.
const (
	DefaultPreStopSeconds             = 15
	DefaultDeregistrationDelaySeconds = 30
	DefaultGracePeriodSeconds         = 45
	// MaxDeregistrationDelaySeconds is the target group attribute's limit
	// (0-3600 s, Elastic Load Balancing's TargetGroupAttribute).
	MaxDeregistrationDelaySeconds = 3600
)

// DefaultShutdown is every shutdown default.
func DefaultShutdown() ShutdownSpec {
	return ShutdownSpec{
		PreStopSeconds:             DefaultPreStopSeconds,
		DeregistrationDelaySeconds: DefaultDeregistrationDelaySeconds,
		GracePeriodSeconds:         DefaultGracePeriodSeconds,
	}
}

// WithDefaults fills zero fields from DefaultShutdown.
func (s ShutdownSpec) WithDefaults() ShutdownSpec {
	d := DefaultShutdown()
	s.PreStopSeconds = orInt(s.PreStopSeconds, d.PreStopSeconds)
	s.DeregistrationDelaySeconds = orInt(s.DeregistrationDelaySeconds, d.DeregistrationDelaySeconds)
	s.GracePeriodSeconds = orInt(s.GracePeriodSeconds, d.GracePeriodSeconds)
	return s
}

// Validate checks the grace period covers the preStop sleep and outlasts
// the ALB's draining.
func (s ShutdownSpec) Validate(path string) error {
	var errs validate.Errors
	if s.PreStopSeconds < 1 {
		errs.Add(validate.Join(path, "preStopSeconds"), s.PreStopSeconds, "must be at least 1", "use e.g. 15")
	}
	if s.DeregistrationDelaySeconds < 1 || s.DeregistrationDelaySeconds > MaxDeregistrationDelaySeconds {
		errs.Add(validate.Join(path, "deregistrationDelaySeconds"), s.DeregistrationDelaySeconds, fmt.Sprintf("must be between 1 and %d (the target group attribute's range)", MaxDeregistrationDelaySeconds), "use e.g. 30")
	}
	if s.GracePeriodSeconds <= s.PreStopSeconds {
		errs.Add(validate.Join(path, "gracePeriodSeconds"), s.GracePeriodSeconds, fmt.Sprintf("must exceed preStopSeconds (%d), or the pod is killed before the app is even told to stop", s.PreStopSeconds),
			fmt.Sprintf("set gracePeriodSeconds to preStopSeconds plus the app's drain time, e.g. %d", s.PreStopSeconds+30))
	}
	if s.GracePeriodSeconds <= s.DeregistrationDelaySeconds {
		errs.Add(validate.Join(path, "gracePeriodSeconds"), s.GracePeriodSeconds, fmt.Sprintf("must exceed deregistrationDelaySeconds (%d), or the pod is killed while the ALB still drains requests to it", s.DeregistrationDelaySeconds),
			fmt.Sprintf("raise gracePeriodSeconds above %d or lower deregistrationDelaySeconds", s.DeregistrationDelaySeconds))
	}
	return errs.Err()
}

// DefaultHealthPath is the services' health endpoint: the probes' path and
// the ALB's health check.
const DefaultHealthPath = "/health"

func orString[T ~string](v, d T) T {
	if v == "" {
		return d
	}
	return v
}

func orInt[T ~int32 | ~int](v, d T) T {
	if v == 0 {
		return d
	}
	return v
}

func ptr[T any](v T) *T { return &v }
