package loadtest_test

import (
	"math"
	"reflect"
	"testing"

	"github.com/cirkelline/infra/loadtest"
)

// The model reproduces the runs it was fitted to: at the measured VUs and
// request rate, the need without its margins is the measured CPU and peak
// RSS.
func TestRunnerModelFitsTheMeasurement(t *testing.T) {
	for _, f := range loadtest.Flows() {
		m := f.RunnerModel()
		run := m.Measured
		need := m.Need(run.VUs, float64(run.Requests)/run.Seconds)
		cpu, mib := need.MilliCPU/loadtest.CPUMargin/1000, need.MiB/loadtest.MemoryMargin
		if math.Abs(cpu-run.CPU) > 1e-9 || math.Abs(mib-run.PeakRSSMiB) > 1e-9 {
			t.Errorf("%s: model at the measured load = %.4f CPU, %.2f MiB; measured %.2f CPU, %.0f MiB", f, cpu, mib, run.CPU, run.PeakRSSMiB)
		}
	}
}

// sized is what the model decides for one flow and shape, rounded as
// render prints it.
type sized struct {
	VUsPerRunner, Runners, RunnerVUs int
	RunnerRPS, NeedMilliCPU, NeedMiB int
	// CPURequest, CPULimit (millicores) and MiB (request = limit): the
	// rendered runner's resources.
	CPURequest, CPULimit, MiB int64
}

// TestRunnerSizing pins the model's output for every flow and shape: the
// default VUs per runner (the most the default runner, 1 CPU and 2 GiB,
// holds with the margins), the runners, one runner's peak and resources.
func TestRunnerSizing(t *testing.T) {
	want := map[loadtest.Flow]map[loadtest.ShapeName]sized{
		loadtest.Cirkelline: {
			// Unpaced, 2 req/s a VU: CPU bounds a runner at 1,412 VUs
			// (1000m / (2 × 0.283 ms × 1.25)).
			loadtest.Smoke:       {1412, 1, 1, 2, 1, 1, 100, 1000, 256},
			loadtest.Load:        {1412, 1, 100, 200, 71, 84, 100, 1000, 256},
			loadtest.Stress:      {1412, 1, 300, 600, 212, 251, 220, 1000, 256},
			loadtest.Spike:       {1412, 1, 500, 1000, 354, 418, 360, 1000, 418},
			loadtest.NormalEvent: {1412, 1, 20, 40, 14, 17, 100, 1000, 256},
			loadtest.PeakEvent:   {1412, 1, 400, 800, 283, 334, 290, 1000, 335},
			// Paced at 30 s: memory bounds a runner at 2,449 VUs
			// (2048 MiB / (0.418 MiB × 2)): 5 runners of 2,000 VUs.
			loadtest.MillionUsers: {2449, 5, 2000, 67, 24, 1672, 100, 1000, 1672},
		},
		loadtest.PartyPic: {
			// 0.417 req/s a VU, 0.708 MiB a VU with the photo payload:
			// memory bounds a runner at 1,446 VUs.
			loadtest.Smoke:       {1446, 1, 1, 0, 1, 1, 100, 1000, 256},
			loadtest.Load:        {1446, 1, 100, 42, 57, 142, 100, 1000, 256},
			loadtest.Stress:      {1446, 1, 300, 125, 171, 425, 180, 1000, 425},
			loadtest.Spike:       {1446, 1, 500, 208, 285, 708, 290, 1000, 708},
			loadtest.NormalEvent: {1446, 1, 20, 8, 11, 28, 100, 1000, 256},
			loadtest.PeakEvent:   {1446, 1, 400, 167, 228, 566, 230, 1000, 567},
			// 7 runners of at most 1,429 VUs.
			loadtest.MillionUsers: {1446, 7, 1429, 48, 65, 2023, 100, 1000, 2024},
		},
	}
	for _, f := range loadtest.Flows() {
		for _, shape := range loadtest.ShapeNames() {
			c := loadtest.DefaultConfig()
			c.Flow, c.Shape = f, shape
			s := c.Sizing()
			req, lim, mib := s.Resources()
			got := sized{s.VUsPerRunner, s.Runners, s.Need.VUs, int(math.Round(s.Need.RPS)),
				int(math.Round(s.Need.MilliCPU)), int(math.Round(s.Need.MiB)), req, lim, mib}
			if !s.FromModel || !reflect.DeepEqual(got, want[f][shape]) {
				t.Errorf("%s %s:\n got %+v\nwant %+v", f, shape, got, want[f][shape])
			}
		}
	}
}

// A set vusPerRunner wins over the model, and the need follows it.
func TestRunnerSizingSetVUs(t *testing.T) {
	c := loadtest.DefaultConfig()
	c.Shape, c.VUsPerRunner = loadtest.MillionUsers, 500
	s := c.Sizing()
	if s.FromModel || s.Runners != 20 || s.Need.VUs != 500 || math.Round(s.Need.MiB) != 418 {
		t.Errorf("500 VUs a runner: %+v", s)
	}
}

// MaxVUs is bounded by what k6's guide says one instance runs.
func TestRunnerModelMaxVUsBound(t *testing.T) {
	m := loadtest.Cirkelline.RunnerModel()
	if got := m.MaxVUs(0.001, 64_000, 1<<20); got != loadtest.MaxVUsPerInstance {
		t.Errorf("a huge runner holds %d VUs, want the one-instance bound %d", got, loadtest.MaxVUsPerInstance)
	}
	if got := m.MaxVUs(2, 1000, 2048); got != 1412 {
		t.Errorf("default runner, unpaced cirkelline: %d VUs, want 1412", got)
	}
}
