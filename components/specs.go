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
	// Pods that may be added or removed per period (the larger of Percent and
	// Pods wins when scaling up, the smaller when scaling down). Default 4 up, 1 down.
	Pods int32 `json:"pods,omitempty"`
	// PeriodSeconds over which Percent and Pods apply. Default 15 up, 60 down.
	PeriodSeconds int32 `json:"periodSeconds,omitempty"`
}

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
	// ScaleDown limits how fast pods are removed. Defaults: 300 s stabilisation, -10 % or -1 pod per 60 s.
	ScaleDown ScalingRules `json:"scaleDown,omitzero"`
}

// DefaultHPA is the seed's base autoscaling.
func DefaultHPA() HPASpec {
	return HPASpec{
		MinReplicas:       DefaultMinReplicas,
		MaxReplicas:       DefaultMaxReplicas,
		CPUUtilization:    DefaultCPUUtilizationPercent,
		MemoryUtilization: DefaultMemoryUtilizationPercent,
		ScaleUp:           ScalingRules{StabilizationSeconds: ptr[int32](0), Percent: 100, Pods: 4, PeriodSeconds: 15},
		ScaleDown:         ScalingRules{StabilizationSeconds: ptr[int32](300), Percent: 10, Pods: 1, PeriodSeconds: 60},
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

// Validate checks paths are absolute and timings positive.
func (p ProbeSpec) Validate(path string) error {
	var errs validate.Errors
	for _, f := range []struct{ name, v string }{{"path", p.Path}, {"readinessPath", p.ReadinessPath}} {
		if len(f.v) == 0 || f.v[0] != '/' {
			errs.Add(validate.Join(path, f.name), f.v, "must be an absolute HTTP path", `use e.g. "/health"`)
		}
	}
	if p.TimeoutSeconds < 1 || p.PeriodSeconds < 1 || p.StartupSeconds < 1 {
		errs.Add(path, nil, "startupSeconds, periodSeconds and timeoutSeconds must all be at least 1", "")
	}
	if p.TimeoutSeconds > p.PeriodSeconds {
		errs.Add(validate.Join(path, "timeoutSeconds"), p.TimeoutSeconds, fmt.Sprintf("must not exceed periodSeconds (%d)", p.PeriodSeconds), "lower timeoutSeconds")
	}
	return errs.Err()
}

// DefaultHealthPath is the services' health endpoint: the probes' path and
// the ALB's health check.
const DefaultHealthPath = "/health"

func orString(v, d string) string {
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
