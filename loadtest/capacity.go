package loadtest

import (
	"fmt"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/cirkelline/infra/internal/validate"
)

// Capacity is the seed's "1 million users" arithmetic: how many requests a
// second the peak brings, and how many pods it takes.
type Capacity struct {
	// Users registered. Default 1,000,000.
	Users int `json:"users"`
	// ConcurrencyShare of users active at the peak. Default 0.01 (10,000 concurrent).
	ConcurrencyShare float64 `json:"concurrencyShare"`
	// RequestIntervalSeconds between an active user's requests. Default 30.
	RequestIntervalSeconds float64 `json:"requestIntervalSeconds"`
	// PerPodRPS is one pod's measured throughput. Default 25 (the seed's
	// 2 pods serve 50–100 req/s; the low end).
	PerPodRPS float64 `json:"perPodRps"`
}

// DefaultCapacity is the seed's scenario.
func DefaultCapacity() Capacity {
	return Capacity{Users: 1_000_000, ConcurrencyShare: 0.01, RequestIntervalSeconds: 30, PerPodRPS: 25}
}

// Concurrent users at the peak.
func (c Capacity) Concurrent() float64 { return float64(c.Users) * c.ConcurrencyShare }

// PeakRPS is the requests a second at the peak.
func (c Capacity) PeakRPS() float64 { return c.Concurrent() / c.RequestIntervalSeconds }

// PodsNeeded carry the peak at PerPodRPS each.
func (c Capacity) PodsNeeded() int { return int(math.Ceil(c.PeakRPS()/c.PerPodRPS - 1e-9)) }

// Validate checks the inputs are usable.
func (c Capacity) Validate(errs *validate.Errors, path string) {
	if c.Users < 1 {
		errs.Add(validate.Join(path, "users"), c.Users, "must be at least 1", "")
	}
	if c.ConcurrencyShare <= 0 || c.ConcurrencyShare > 1 {
		errs.Add(validate.Join(path, "concurrencyShare"), c.ConcurrencyShare, "must be a fraction in (0, 1]", "the seed uses 0.01 (1 %)")
	}
	if c.RequestIntervalSeconds <= 0 {
		errs.Add(validate.Join(path, "requestIntervalSeconds"), c.RequestIntervalSeconds, "must be positive", "the seed uses 30")
	}
	if c.PerPodRPS <= 0 {
		errs.Add(validate.Join(path, "perPodRps"), c.PerPodRPS, "must be positive", "measure one pod's throughput; the seed's is 25–50")
	}
}

// CapacityVerdict is the capacity check's judgement of one load test: whether
// the target service's HPA ceiling carries the capacity model's peak. The
// check judges only a shape paced to the model (Shape.CapacityModel:
// million-users); Judge makes no verdict for any other.
type CapacityVerdict struct {
	// Shape is the shape judged.
	Shape ShapeName
	// Service is the target service; MaxReplicas its HPA's ceiling.
	Service     string
	MaxReplicas int
	// PodsNeeded carry the model's peak (Capacity.PodsNeeded).
	PodsNeeded int
}

// Judge is the capacity check of a run of shape against service's HPA
// ceiling; ok is false when the check does not judge the shape (it has no
// capacity model), and then there is no verdict to print.
func (c Capacity) Judge(shape Shape, service string, maxReplicas int) (v CapacityVerdict, ok bool) {
	if !shape.CapacityModel {
		return CapacityVerdict{}, false
	}
	return CapacityVerdict{Shape: shape.Name, Service: service, MaxReplicas: maxReplicas, PodsNeeded: c.PodsNeeded()}, true
}

// OK is true when the HPA's ceiling carries the peak.
func (v CapacityVerdict) OK() bool { return v.PodsNeeded <= v.MaxReplicas }

// String is the verdict with the shape it judged, e.g.
// "ok for million-users (14 pods needed)".
func (v CapacityVerdict) String() string {
	if v.OK() {
		return fmt.Sprintf("ok for %s (%d pods needed)", v.Shape, v.PodsNeeded)
	}
	return fmt.Sprintf("NOT ENOUGH for %s (%d pods needed)", v.Shape, v.PodsNeeded)
}

// Check fails a verdict whose HPA ceiling cannot carry the peak.
func (c Capacity) Check(errs *validate.Errors, path, maxReplicasPath string, v CapacityVerdict) {
	if !v.OK() {
		errs.Add(path, nil, fmt.Sprintf("the %s shape's peak of %.0f req/s (%.0f concurrent users, one request every %.0f s) needs %d pods of %s at %.0f req/s each, but %s is %d", v.Shape, c.PeakRPS(), c.Concurrent(), c.RequestIntervalSeconds, v.PodsNeeded, v.Service, c.PerPodRPS, maxReplicasPath, v.MaxReplicas), fmt.Sprintf("raise %s to at least %d, or set loadtest.allowCapacityOverride: true to run anyway", maxReplicasPath, v.PodsNeeded))
	}
}

// Table prints the arithmetic and the verdict, as render shows it.
func (c Capacity) Table(v CapacityVerdict) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	rows := [][2]string{
		{"registered users", fmt.Sprintf("%d", c.Users)},
		{"concurrent at peak", fmt.Sprintf("%.0f (%.1f %%)", c.Concurrent(), c.ConcurrencyShare*100)},
		{"request interval", fmt.Sprintf("%.0f s", c.RequestIntervalSeconds)},
		{"peak", fmt.Sprintf("%.0f req/s", c.PeakRPS())},
		{"per pod", fmt.Sprintf("%.0f req/s", c.PerPodRPS)},
		{"pods needed", fmt.Sprintf("%d", c.PodsNeeded())},
		{v.Service + " HPA max", fmt.Sprintf("%d (%s)", v.MaxReplicas, v)},
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
	}
	tw.Flush()
	return b.String()
}
