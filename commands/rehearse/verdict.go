package rehearse

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Sample is one observation of a rehearsal.
type Sample struct {
	// T is the time since the shape started (negative while warming up).
	T time.Duration
	// VUs and DemandRPS are the shape's at T.
	VUs, DemandRPS float64
	// Needed is the capacity model's pods for DemandRPS.
	Needed int32
	// Desired is the HPA's status.desiredReplicas, Current the
	// Deployment's status.replicas, Ready its pods that are Ready.
	Desired, Current, Ready int32
	// CapacityRPS is what the ready pods serve at the HPA's target.
	CapacityRPS float64
	// PodCPUMilli is the CPU each ready pod was given (kwok's usage), and
	// PodUtilization the same as a percentage of the pod's CPU request.
	PodCPUMilli, PodUtilization float64
	// HPAUtilization is the CPU utilization the HPA last saw (its
	// status.currentMetrics), or -1 before it saw any.
	HPAUtilization float64
}

// Verdict judges a rehearsal.
type Verdict struct {
	MinReplicas, MaxReplicas int32
	// PeakRPS and PeakNeeded are the shape's peak and the pods the
	// capacity model gives it; Expected is min(PeakNeeded, MaxReplicas),
	// what the HPA can reach.
	PeakRPS              float64
	PeakNeeded, Expected int32
	// Reached is true when the ready pods reached Expected; TimeToCapacity
	// is from the first sample whose demand needed Expected pods to the
	// first with that many ready.
	Reached        bool
	TimeToCapacity time.Duration
	// PolicySteps is the fewest scale-up periods (PolicyPeriod each) the
	// HPA's policies allow from MinReplicas to Expected.
	PolicySteps  int
	PolicyPeriod time.Duration
	// UnderProvisioned is the time the demand was above what the ready
	// pods serve at the HPA target; BeyondMax the part of it when the
	// demand needed more than MaxReplicas; WorstShortfallRPS the largest gap.
	UnderProvisioned, BeyondMax time.Duration
	WorstShortfallRPS           float64
	// PeakReady and PeakDesired are the most replicas seen.
	PeakReady, PeakDesired int32
	// ScaledDown is true when the replicas were back at MinReplicas after
	// the shape ended, ScaleDownTime after its end.
	ScaledDown    bool
	ScaleDownTime time.Duration
	// Observed is how long after the shape's end the rehearsal watched.
	Observed time.Duration
	// Violations are scale-ups larger than the policies allow (none
	// expected from a real HPA controller).
	Violations []string
}

// Judge computes the verdict of samples taken while d's shape ran (and
// after it) against target t.
func Judge(samples []Sample, d Demand, t Target) Verdict {
	v := Verdict{MinReplicas: t.MinReplicas, MaxReplicas: t.MaxReplicas, PeakRPS: d.PeakRPS(), PolicyPeriod: t.ScaleUpPeriod()}
	v.PeakNeeded = d.PodsNeeded(v.PeakRPS)
	v.Expected = max(min(v.PeakNeeded, t.MaxReplicas), t.MinReplicas)
	v.PolicySteps = t.ScaleUpSteps(t.MinReplicas, v.Expected)
	end := d.Duration()
	needAt := time.Duration(-1)
	for i, s := range samples {
		v.PeakReady, v.PeakDesired = max(v.PeakReady, s.Ready), max(v.PeakDesired, s.Desired)
		if s.T < 0 {
			continue
		}
		if needAt < 0 && s.Needed >= v.Expected {
			needAt = s.T
		}
		if needAt >= 0 && !v.Reached && s.Ready >= v.Expected {
			v.Reached, v.TimeToCapacity = true, s.T-needAt
		}
		if i+1 < len(samples) && s.T < end {
			dt := min(samples[i+1].T, end) - s.T
			if gap := s.DemandRPS - s.CapacityRPS; gap > 1e-6 {
				v.UnderProvisioned += dt
				v.WorstShortfallRPS = max(v.WorstShortfallRPS, gap)
				if s.Needed > t.MaxReplicas {
					v.BeyondMax += dt
				}
			}
		}
		if i > 0 && s.Desired > samples[i-1].Desired && samples[i-1].Desired > 0 && s.T-samples[i-1].T < v.PolicyPeriod {
			if i < 2 || samples[i-1].Desired >= samples[i-2].Desired {
				if limit := t.ScaleUpLimit(samples[i-1].Desired); s.Desired > limit {
					v.Violations = append(v.Violations, fmt.Sprintf("at %s: %d → %d replicas, the policies allow %d", s.T.Round(time.Second), samples[i-1].Desired, s.Desired, limit))
				}
			}
		}
		if s.T >= end {
			v.Observed = s.T - end
			if !v.ScaledDown && s.Current == t.MinReplicas && s.Ready == t.MinReplicas && s.Desired == t.MinReplicas {
				v.ScaledDown, v.ScaleDownTime = true, s.T-end
			}
		}
	}
	return v
}

// OK is true when the stack carried the shape: the HPA reached the pods
// the peak needs, the peak fits under maxReplicas, and every scale-up kept
// to the policies.
func (v Verdict) OK() bool {
	return v.Reached && v.PeakNeeded <= v.MaxReplicas && len(v.Violations) == 0
}

// Summary is the verdict's one line.
func (v Verdict) Summary() string {
	switch {
	case len(v.Violations) > 0:
		return "HPA BROKE ITS POLICIES: " + strings.Join(v.Violations, "; ")
	case !v.Reached:
		return fmt.Sprintf("NOT REACHED: the ready pods never reached %d (the peak needs %d); lengthen the shape's peak or check the HPA's events", v.Expected, v.PeakNeeded)
	case v.PeakNeeded > v.MaxReplicas:
		return fmt.Sprintf("NOT ENOUGH: the peak (%.0f req/s) needs %d pods, maxReplicas is %d: raise services[].hpa.maxReplicas to at least %d, or perPodRps",
			v.PeakRPS, v.PeakNeeded, v.MaxReplicas, v.PeakNeeded)
	default:
		return fmt.Sprintf("OK: the HPA reached the %d pods the peak needs", v.Expected)
	}
}

// Table is the verdict as rehearse prints it.
func (v Verdict) Table() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	secs := func(d time.Duration) string { return fmt.Sprintf("%.0f s", d.Seconds()) }
	reach := fmt.Sprintf("never reached %d ready pods", v.Expected)
	if v.Reached {
		reach = fmt.Sprintf("%s to %d ready pods after the demand first needed them", secs(v.TimeToCapacity), v.Expected)
	}
	policy := "the scale-up policies never get there"
	if v.PolicySteps >= 0 {
		policy = fmt.Sprintf("policies allow %d → %d in %d period(s) of %s", v.MinReplicas, v.Expected, v.PolicySteps, secs(v.PolicyPeriod))
	}
	back := fmt.Sprintf("not within the %s watched after the shape", secs(v.Observed))
	if v.Observed < 5*time.Second {
		back = "not watched (the rehearsal stopped at the shape's end)"
	}
	if v.ScaledDown {
		back = fmt.Sprintf("%s after the shape ended", secs(v.ScaleDownTime))
	}
	rows := [][2]string{
		{"peak demand", fmt.Sprintf("%.0f req/s = %d pods (capacity model)", v.PeakRPS, v.PeakNeeded)},
		{"time to capacity", reach + " (" + policy + ")"},
		{"under-provisioned", fmt.Sprintf("%s (%s of it beyond maxReplicas); worst shortfall %.0f req/s", secs(v.UnderProvisioned), secs(v.BeyondMax), v.WorstShortfallRPS)},
		{"peak replicas", fmt.Sprintf("%d ready, %d desired; maxReplicas %d", v.PeakReady, v.PeakDesired, v.MaxReplicas)},
		{"back to minReplicas", fmt.Sprintf("%d: %s", v.MinReplicas, back)},
		{"verdict", v.Summary()},
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
	}
	tw.Flush()
	return b.String()
}

// CSVHeader names WriteCSV's columns.
var CSVHeader = []string{"t_seconds", "vus", "demand_rps", "pods_needed", "capacity_rps",
	"desired_replicas", "current_replicas", "ready_replicas", "pod_cpu_millicores", "pod_cpu_utilization_percent", "hpa_cpu_utilization_percent"}

// WriteCSV writes one row per sample (the HPA's utilization empty before it
// saw any).
func WriteCSV(w io.Writer, samples []Sample) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	f := func(x float64, prec int) string { return strconv.FormatFloat(x, 'f', prec, 64) }
	for _, s := range samples {
		hpa := ""
		if s.HPAUtilization >= 0 {
			hpa = f(s.HPAUtilization, 0)
		}
		row := []string{f(s.T.Seconds(), 1), f(s.VUs, 1), f(s.DemandRPS, 1), strconv.Itoa(int(s.Needed)), f(s.CapacityRPS, 1),
			strconv.Itoa(int(s.Desired)), strconv.Itoa(int(s.Current)), strconv.Itoa(int(s.Ready)), f(s.PodCPUMilli, 1), f(s.PodUtilization, 1), hpa}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
