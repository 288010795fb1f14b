// Package rehearse replays a load-test shape through the real HPA
// controller before anything is deployed: it starts the project's control
// plane (internal/controlplane) with metrics-server, applies a stack's
// rendered objects, turns the shape's VUs into CPU demand on kwok's fake
// pods (the load test's own request model, loadtest.Config.Load), lets the
// HPA scale the Deployment, records what happened second by second and
// judges it: time to the capacity the demand needs, seconds
// under-provisioned, peak replicas against maxReplicas, time back to
// minReplicas. The pure parts (Demand, Target, Judge, WriteCSV, Plot) are
// separate from Run, which talks to the cluster.
package rehearse

import (
	"fmt"
	"math"
	"time"

	"github.com/cirkelline/infra/loadtest"
)

// Demand is the request rate a load-test shape sends over time, from the
// same model as the load test's capacity check: VUs (k6 ramping-vus: each
// stage ramps linearly from the previous target) times what one VU sends a
// second (one request per capacity.requestIntervalSeconds when the shape is
// paced, as million-users is; else the flow's own rate,
// loadtest.Flow.RequestsPerVUSecond).
type Demand struct {
	// Shape is the resolved shape (loadtest.stages replace its stages).
	Shape loadtest.Shape
	// PerVURPS is one VU's requests a second.
	PerVURPS float64
	// PerPodRPS is one pod's throughput at the HPA's CPU target
	// (capacity.perPodRps).
	PerPodRPS float64
}

// NewDemand is the demand of a stack's load-test config.
func NewDemand(c loadtest.Config) (Demand, error) {
	shape, _ := c.Resolved()
	if len(shape.Stages) == 0 {
		return Demand{}, fmt.Errorf("loadtest.shape %q has no stages: use one of the built-in shapes or set loadtest.stages", c.Shape)
	}
	load := c.Load()
	if load.PeakVUs == 0 {
		return Demand{}, fmt.Errorf("loadtest.shape %q never runs a VU: nothing to rehearse", c.Shape)
	}
	if c.Capacity.PerPodRPS <= 0 {
		return Demand{}, fmt.Errorf("loadtest.capacity.perPodRps is %v: set one pod's measured throughput (the seed's is 25)", c.Capacity.PerPodRPS)
	}
	return Demand{Shape: shape, PerVURPS: load.RequestsPerSecond / float64(load.PeakVUs), PerPodRPS: c.Capacity.PerPodRPS}, nil
}

// Duration is the shape's length.
func (d Demand) Duration() time.Duration { return d.Shape.TotalDuration() }

// VUs running at t after the start, as k6's ramping-vus executor runs them.
func (d Demand) VUs(t time.Duration) float64 {
	prev := float64(d.Shape.StartVUs)
	var start time.Duration
	for _, st := range d.Shape.Stages {
		dur := time.Duration(st.Duration)
		if t < start+dur {
			if dur <= 0 {
				return float64(st.Target)
			}
			f := float64(t-start) / float64(dur)
			return prev + f*(float64(st.Target)-prev)
		}
		prev, start = float64(st.Target), start+dur
	}
	return prev
}

// RPS is the request rate at t.
func (d Demand) RPS(t time.Duration) float64 { return d.VUs(t) * d.PerVURPS }

// PodsNeeded carry the rate rps at the HPA target: the capacity model's
// ceil(rps / perPodRps).
func (d Demand) PodsNeeded(rps float64) int32 {
	return int32(math.Ceil(rps/d.PerPodRPS - 1e-9))
}

// PeakRPS is the highest rate of the shape.
func (d Demand) PeakRPS() float64 { return float64(d.Shape.MaxVUs()) * d.PerVURPS }

// StageStarts are the times each stage begins, then the shape's end.
func (d Demand) StageStarts() []time.Duration {
	var out []time.Duration
	var t time.Duration
	for _, st := range d.Shape.Stages {
		out = append(out, t)
		t += time.Duration(st.Duration)
	}
	return append(out, t)
}
