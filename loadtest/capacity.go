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

// Check fails when the service's HPA ceiling cannot carry the peak.
func (c Capacity) Check(errs *validate.Errors, path, service, maxReplicasPath string, maxReplicas int) {
	if need := c.PodsNeeded(); need > maxReplicas {
		errs.Add(path, nil, fmt.Sprintf("peak of %.0f req/s (%.0f concurrent users, one request every %.0f s) needs %d pods of %s at %.0f req/s each, but %s is %d", c.PeakRPS(), c.Concurrent(), c.RequestIntervalSeconds, need, service, c.PerPodRPS, maxReplicasPath, maxReplicas), fmt.Sprintf("raise %s to at least %d, or set loadtest.allowCapacityOverride: true to run anyway", maxReplicasPath, need))
	}
}

// Table prints the arithmetic, as render shows it.
func (c Capacity) Table(service string, maxReplicas int) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	verdict := "ok"
	if c.PodsNeeded() > maxReplicas {
		verdict = "NOT ENOUGH"
	}
	rows := [][2]string{
		{"registered users", fmt.Sprintf("%d", c.Users)},
		{"concurrent at peak", fmt.Sprintf("%.0f (%.1f %%)", c.Concurrent(), c.ConcurrencyShare*100)},
		{"request interval", fmt.Sprintf("%.0f s", c.RequestIntervalSeconds)},
		{"peak", fmt.Sprintf("%.0f req/s", c.PeakRPS())},
		{"per pod", fmt.Sprintf("%.0f req/s", c.PerPodRPS)},
		{"pods needed", fmt.Sprintf("%d", c.PodsNeeded())},
		{service + " HPA max", fmt.Sprintf("%d (%s)", maxReplicas, verdict)},
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
	}
	tw.Flush()
	return b.String()
}
