// Package loadtest holds the k6 side of the load tests: the request flows
// (k6 scripts embedded in the binary), the scenario shapes of the seeds as
// typed values, the k6 options generated from them, how the work is split
// over runner pods, and the capacity arithmetic that says whether the
// autoscaling can carry the peak. It is pure Go: components/loadtest.go
// turns it into a Kubernetes Job.
package loadtest

import (
	"slices"
	"time"

	"github.com/cirkelline/infra/internal/duration"
)

// Duration is a k6 duration: it marshals as "30s", "2m", "1m30s".
type Duration = duration.Duration

// Stage ramps to Target VUs over Duration.
type Stage struct {
	Duration Duration `json:"duration"`
	Target   int      `json:"target"`
}

// ShapeName names a built-in scenario shape.
type ShapeName string

// The seeds' shapes.
const (
	Smoke        ShapeName = "smoke"
	Load         ShapeName = "load"
	Stress       ShapeName = "stress"
	Spike        ShapeName = "spike"
	MillionUsers ShapeName = "million-users"
	NormalEvent  ShapeName = "normal-event"
	PeakEvent    ShapeName = "peak-event"
)

// Shape is a ramping-vus scenario.
type Shape struct {
	Name ShapeName
	// Purpose, from the seed's table.
	Purpose string
	// StartVUs run from the first second (smoke runs 1 VU for its whole minute).
	StartVUs int
	Stages   []Stage
	// CapacityModel marks the shape judged by the capacity arithmetic: its
	// VUs are the model's concurrent users, each paced to one request per
	// capacity.requestIntervalSeconds, so the test sends the model's load.
	CapacityModel bool
}

func minutes(n int) Duration { return Duration(time.Duration(n) * time.Minute) }
func seconds(n int) Duration { return Duration(time.Duration(n) * time.Second) }

// Shapes are the seeds' scenarios: cirkelline's load-testing table (smoke, load,
// stress, spike, million-users) and PartyPic's two stage tables
// (normal-event, peak-event).
var Shapes = map[ShapeName]Shape{
	Smoke: {Name: Smoke, Purpose: "Verification", StartVUs: 1, Stages: []Stage{{minutes(1), 1}}},
	Load: {Name: Load, Purpose: "Normal traffic", Stages: []Stage{
		{minutes(2), 50}, {minutes(5), 50}, {minutes(2), 100}, {minutes(5), 100}, {minutes(2), 0},
	}},
	Stress: {Name: Stress, Purpose: "Find limits", Stages: []Stage{
		{minutes(2), 100}, {minutes(5), 100}, {minutes(2), 200}, {minutes(5), 200}, {minutes(2), 300}, {minutes(5), 300}, {minutes(5), 0},
	}},
	Spike: {Name: Spike, Purpose: "Sudden bursts", Stages: []Stage{
		{seconds(10), 100}, {minutes(1), 100}, {seconds(10), 500}, {minutes(3), 500}, {seconds(10), 100}, {minutes(3), 100}, {seconds(10), 0},
	}},
	MillionUsers: {Name: MillionUsers, Purpose: "Scale test (1M users, 10K concurrent)", CapacityModel: true, Stages: []Stage{
		{minutes(5), 1000}, {minutes(10), 5000}, {minutes(5), 10000}, {minutes(15), 10000}, {minutes(10), 0},
	}},
	NormalEvent: {Name: NormalEvent, Purpose: "A wedding day: no scaling expected, 2 server pods", Stages: []Stage{
		{minutes(1), 5}, {minutes(2), 15}, {minutes(3), 20}, {minutes(2), 10}, {minutes(2), 0},
	}},
	PeakEvent: {Name: PeakEvent, Purpose: "A viral moment: HPA 2 → 10 → 25 and new nodes", Stages: []Stage{
		{seconds(30), 50}, {minutes(1), 150}, {minutes(2), 300}, {minutes(3), 400}, {minutes(2), 200}, {minutes(1), 50}, {seconds(30), 0},
	}},
}

// ShapeNames lists the built-in shapes in a stable order.
func ShapeNames() []ShapeName {
	names := make([]ShapeName, 0, len(Shapes))
	for n := range Shapes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// MaxVUs is the most VUs the shape runs at once.
func (s Shape) MaxVUs() int {
	peak := s.StartVUs
	for _, st := range s.Stages {
		peak = max(peak, st.Target)
	}
	return peak
}

// MinPeakVUs is the lowest plateau target above zero (the seed's "50–100").
func (s Shape) MinPeakVUs() int {
	low := 0
	for _, st := range s.Stages {
		if st.Target > 0 && (low == 0 || st.Target < low) {
			low = st.Target
		}
	}
	return max(low, s.StartVUs)
}

// TotalDuration is the sum of the stages.
func (s Shape) TotalDuration() time.Duration {
	var d time.Duration
	for _, st := range s.Stages {
		d += time.Duration(st.Duration)
	}
	return d
}
