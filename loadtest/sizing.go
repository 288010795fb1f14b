package loadtest

import (
	"fmt"
	"math"
)

// The runner model: what one k6 runner pod needs, per flow, fitted to a
// measurement of the real k6 (loadtest/README.md, "Runner model") and
// checked against k6's own guidance, "Running large tests"
// (grafana.com/docs/k6/latest/testing-guides/running-large-tests/):
//   - CPU: "size the machine to have at least 20% idle cycles (up to 80%
//     used by k6, 20% idle)", so the CPU margin is 1/0.8;
//   - memory: "Simple tests will use ~1-5MB per VU", "Tests that are using
//     file uploads can consume tens of megabytes per VU", as "each VU holds
//     the copy of the file in memory";
//   - one instance: "a single instance of k6 can run 30,000-40,000
//     simultaneous users (VUs)".
//
// The measurement (k6 v1.3.0, 500 VUs, one runner as rendered, a fast
// stand-in backend on loopback) puts the flows below the guide's memory
// range (0.42 MiB a VU for cirkelline): the model uses the measurement with
// a margin of 2, and the guide's figures bound it.

// Measured is one run of one k6 runner the model is fitted to.
type Measured struct {
	// VUs the runner held; Requests it sent in Seconds.
	VUs      int
	Requests int
	Seconds  float64
	// CPU is the k6 process's average CPU (cores) over the run; PeakRSSMiB
	// its peak resident memory.
	CPU        float64
	PeakRSSMiB float64
}

// The runs of issue 25, k6 v1.3.0, 20 s ramp to 500 VUs and a 40 s hold.
var (
	// MeasuredCirkelline: unpaced (2 req/s a VU), 1,000 req/s at the hold.
	MeasuredCirkelline = Measured{VUs: 500, Requests: 50_848, Seconds: 60, CPU: 0.24, PeakRSSMiB: 209}
	// MeasuredPartyPic: register, join, 3 multipart uploads of the flow's
	// 64 KiB photo; 453 MB uploaded.
	MeasuredPartyPic = Measured{VUs: 500, Requests: 11_496, Seconds: 70, CPU: 0.18, PeakRSSMiB: 354}
)

// Margins of the model: the need is the measured rate times the margin.
const (
	// CPUMargin keeps k6 at 80 % of its CPU at the peak (the guide's "at
	// least 20% idle cycles"): past it, k6's own timings inflate.
	CPUMargin = 1 / 0.8
	// MemoryMargin covers what one run's 1 s samples of RSS can miss (a
	// garbage collector's peak between samples), the samples k6's Trends
	// keep for the summary over a longer run, and a backend slower than
	// the stand-in (responses held longer): twice the measured peak.
	MemoryMargin = 2.0
	// MaxVUsPerInstance is the low end of what the guide says one k6
	// instance runs ("30,000-40,000 simultaneous users").
	MaxVUsPerInstance = 30_000
)

// The default runner's size, which the default VUs per runner fill: the
// largest pod today's runners may already use (limit 2 CPU, 2 GiB), so a
// runner fits any node it fitted before.
const (
	RunnerBudgetMilliCPU = 1000
	RunnerBudgetMiB      = 2048
)

// Floors of a runner's resources where the model's need is smaller.
const (
	// RunnerMinMilliCPU is the least CPU a runner requests: k6's own work
	// at no load (its metrics engine, the REST API the starter polls). Not
	// measured; a tenth of a core.
	RunnerMinMilliCPU = 100
	// RunnerCPULimitMilli is the least CPU limit: the runners initialise
	// all their VUs (each VU runs the script's init context) before the
	// starter resumes them, a burst the limit must not throttle.
	RunnerCPULimitMilli = 1000
	// RunnerMinMiB is the least memory a runner gets however few VUs it
	// holds: the model spreads the k6 process's own memory over the
	// measured run's 500 VUs, which understates a runner of few VUs; the
	// floor is above that run's whole peak (209 MiB).
	RunnerMinMiB = 256
)

// RunnerModel is the resource model of one k6 runner of a flow.
type RunnerModel struct {
	Flow Flow
	// CPUPerRequestMs is the k6 CPU time one request costs (measured CPU
	// over measured request rate).
	CPUPerRequestMs float64
	// VUMiB is what one VU holds without a payload (the cirkelline flow's
	// peak RSS per VU: its process overhead spread over the VUs, which
	// overstates a VU beyond 500 VUs, on the safe side).
	VUMiB float64
	// PayloadMiB is the flow's payload a VU holds on top: for PartyPic the
	// measured difference to cirkelline, about 4.5 copies of its 64 KiB
	// photo (the buffer, the multipart body k6 builds, the request's copy).
	PayloadMiB float64
	// Measured is the run the model is fitted to.
	Measured Measured
}

// RunnerModel is the flow's model, fitted to its measured run
// (FlowSpec.Measured): a VU's memory is the cirkelline run's, the flow
// without a payload, and the flow's payload what its run measured above it.
// An unknown flow, which Config.Validate refuses, has a model of VUs
// without payload whose requests cost nothing.
func (f Flow) RunnerModel() RunnerModel {
	vu := MeasuredCirkelline.PeakRSSMiB / float64(MeasuredCirkelline.VUs)
	m := RunnerModel{Flow: f, VUMiB: vu, Measured: f.Spec().Measured}
	if m.Measured.VUs > 0 && m.Measured.Requests > 0 {
		m.PayloadMiB = max(0, m.Measured.PeakRSSMiB/float64(m.Measured.VUs)-vu)
		m.CPUPerRequestMs = m.Measured.CPU / (float64(m.Measured.Requests) / m.Measured.Seconds) * 1000
	}
	return m
}

// RunnerNeed is what one runner needs at its peak, margins included.
type RunnerNeed struct {
	// VUs the runner holds and RPS it sends at the shape's peak.
	VUs int
	RPS float64
	// MilliCPU is the request rate's CPU with CPUMargin; MiB the VUs'
	// memory with their payload, with MemoryMargin.
	MilliCPU float64
	MiB      float64
}

// Need is what a runner holding vus VUs and sending rps needs.
func (m RunnerModel) Need(vus int, rps float64) RunnerNeed {
	return RunnerNeed{
		VUs: vus, RPS: rps,
		MilliCPU: rps * m.CPUPerRequestMs * CPUMargin,
		MiB:      float64(vus) * (m.VUMiB + m.PayloadMiB) * MemoryMargin,
	}
}

// MaxVUs is the most VUs one runner holds within milliCPU and mib, each VU
// sending rpsPerVU, bounded by MaxVUsPerInstance.
func (m RunnerModel) MaxVUs(rpsPerVU float64, milliCPU, mib float64) int {
	perVU := m.Need(1, rpsPerVU)
	n := MaxVUsPerInstance
	if perVU.MilliCPU > 0 {
		n = min(n, int(math.Floor(milliCPU/perVU.MilliCPU)))
	}
	if perVU.MiB > 0 {
		n = min(n, int(math.Floor(mib/perVU.MiB)))
	}
	return max(1, n)
}

// RunnerSizing is how a run is split over runners and what each needs.
type RunnerSizing struct {
	Model RunnerModel
	// VUsPerRunner is the config's, or (FromModel) the model's default.
	VUsPerRunner int
	FromModel    bool
	// Runners is the Job's parallelism.
	Runners int
	// Load is the whole run's peak; Need one runner's at that peak (the
	// busiest runner's share: k6 stripes a stage's VUs so no runner holds
	// more than ceil(VUs / runners)).
	Load RequestLoad
	Need RunnerNeed
}

// RPSPerVU is what one VU sends at the run's peak.
func (l RequestLoad) RPSPerVU() float64 {
	if l.PeakVUs == 0 {
		return 0
	}
	return l.RequestsPerSecond / float64(l.PeakVUs)
}

// Sizing splits the run over runners by the model: VUsPerRunner, or when
// it is 0 the most VUs the default runner (RunnerBudgetMilliCPU,
// RunnerBudgetMiB) holds.
func (c Config) Sizing() RunnerSizing {
	m := c.Flow.RunnerModel()
	load := c.Load()
	s := RunnerSizing{Model: m, Load: load, VUsPerRunner: c.VUsPerRunner}
	if s.VUsPerRunner <= 0 {
		s.VUsPerRunner, s.FromModel = m.MaxVUs(load.RPSPerVU(), RunnerBudgetMilliCPU, RunnerBudgetMiB), true
	}
	shape, _ := c.Resolved()
	s.Runners = Parallelism(shape, s.VUsPerRunner)
	vus := (load.PeakVUs + s.Runners - 1) / s.Runners
	s.Need = m.Need(vus, float64(vus)*load.RPSPerVU())
	return s
}

// RunnerVUs is the VUs per runner the run uses: the config's, or the model's.
func (c Config) RunnerVUs() int { return c.Sizing().VUsPerRunner }

// Runners is the run's number of runner pods.
func (c Config) Runners() int { return c.Sizing().Runners }

// Resources are a runner's requests and limits from the model: the CPU
// request is the need (at least RunnerMinMilliCPU), rounded up to 10m; the
// CPU limit at least RunnerCPULimitMilli; memory request and limit are the
// need (at least RunnerMinMiB), rounded up to a MiB, equal so the kubelet
// never reclaims what the runner was promised.
func (s RunnerSizing) Resources() (milliCPURequest, milliCPULimit, mib int64) {
	milliCPURequest = max(RunnerMinMilliCPU, int64(math.Ceil(s.Need.MilliCPU/10-1e-9))*10)
	milliCPULimit = max(RunnerCPULimitMilli, milliCPURequest)
	mib = max(RunnerMinMiB, int64(math.Ceil(s.Need.MiB-1e-9)))
	return milliCPURequest, milliCPULimit, mib
}

// String is what render prints, e.g. "5 runner(s) × up to 2000 VUs
// (vusPerRunner 2449, the model's) at 67 req/s each: each needs 24m CPU,
// 1672 MiB".
func (s RunnerSizing) String() string {
	from := "set"
	if s.FromModel {
		from = "the model's"
	}
	return fmt.Sprintf("%d runner(s) × up to %d VUs (vusPerRunner %d, %s) at %.0f req/s each: each needs %.0fm CPU, %.0f MiB",
		s.Runners, s.Need.VUs, s.VUsPerRunner, from, s.Need.RPS, s.Need.MilliCPU, s.Need.MiB)
}

// String is the model's numbers, e.g. "cirkelline runner model: 0.283 ms
// CPU a request × 1.25, (0.418 + 0.000 MiB payload) a VU × 2, at most
// 30000 VUs a runner".
func (m RunnerModel) String() string {
	return fmt.Sprintf("%s runner model: %.3f ms CPU a request × %.2f, (%.3f + %.3f MiB payload) a VU × %.0f, at most %d VUs a runner",
		m.Flow, m.CPUPerRequestMs, CPUMargin, m.VUMiB, m.PayloadMiB, MemoryMargin, MaxVUsPerInstance)
}
