package rehearse

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/cirkelline/infra/scenario"
)

// EventVerdict is what one event did to the stack's service.
type EventVerdict struct {
	Event string
	At    time.Duration
	// Until is the end of the event's window: the next event, or the end
	// of the shape's load (the start of its last ramp down to 0 VUs).
	Until time.Duration
	// PodsLost are the service's pods the event took (a lost zone's, or
	// the drained nodes' evicted ones), PausePodsLost the headroom's pause
	// pods, NodesLost the nodes.
	PodsLost, PausePodsLost, NodesLost int
	// PendingPeak is the most service pods Pending at once in the window,
	// UnschedulablePeak the most the scheduler could not place, and
	// Unschedulable how long any was; SchedulerSaid the scheduler's
	// distinct messages about them (the PodScheduled condition's).
	PendingPeak, UnschedulablePeak int32
	Unschedulable                  time.Duration
	SchedulerSaid                  []string `json:",omitempty"`
	// Recovered is true when the ready pods carried the demand at the
	// window's end, RecoveredAfter the time from the event to the start of
	// that last stretch of carried demand (0 when it never fell short).
	Recovered      bool
	RecoveredAfter time.Duration
	// ShortFor is the time in the window the demand was above what the
	// ready pods serve; WorstShortfallRPS the largest gap.
	ShortFor          time.Duration
	WorstShortfallRPS float64
	// BudgetBelowDesired is how long the PodDisruptionBudget's healthy
	// pods were below its desiredHealthy as it stood when the event began
	// (a zone outage may do that; the eviction API must not).
	BudgetBelowDesired time.Duration
	// Evictions asked, Refusals by a budget (429), LongestBlocked one
	// pod's longest wait for its eviction, against BlockBound; StillBlocked
	// when an eviction was still refused at the end.
	Evictions, Refusals int
	LongestBlocked      time.Duration
	BlockBound          time.Duration
	StillBlocked        bool
	BudgetSaid          string `json:",omitempty"`
	// DrainTook is how long a drain took (-1: not finished or no drain).
	DrainTook time.Duration
	// RolloutTook is how long a rollout took until `kubectl rollout
	// status` would call it done (-1: not finished or no rollout), and
	// PodsReplaced the pods of the new template it ended with.
	RolloutTook  time.Duration
	PodsReplaced int
	// PausePreempted are the headroom's pause pods the scheduler preempted
	// for the service's pods in the window; HeadroomMissed the time the
	// service had unschedulable pods while pause pods ran, i.e. the
	// headroom was not where the pending pods could use it (the wrong
	// zone, or too small).
	PausePreempted int
	HeadroomMissed time.Duration
	// Problems make the event fail its verdict.
	Problems []string `json:",omitempty"`
}

// OK is true when the event left no problem.
func (e EventVerdict) OK() bool { return len(e.Problems) == 0 }

// LoadEnd is when the shape's load ends: the start of its trailing stages
// that ramp down to 0 VUs (the shape's end when it ends above 0).
func (d Demand) LoadEnd() time.Duration {
	end := d.Duration()
	for i := len(d.Shape.Stages) - 1; i >= 0 && d.Shape.Stages[i].Target == 0; i-- {
		end -= time.Duration(d.Shape.Stages[i].Duration)
	}
	return end
}

// JudgeEvents judges each event over its window of the samples.
func JudgeEvents(res *Result, records []*eventRecord, blockBound time.Duration) []EventVerdict {
	var out []EventVerdict
	loadEnd := res.Demand.LoadEnd()
	for i, rec := range records {
		e := rec.Event
		v := EventVerdict{Event: e.String(), At: e.At, Until: max(loadEnd, e.At), PodsLost: rec.PodsLost, PausePodsLost: rec.PauseLost, NodesLost: rec.NodesLost,
			Evictions: rec.Evictions, Refusals: rec.Refusals, LongestBlocked: rec.LongestBlocked, BlockBound: blockBound, StillBlocked: rec.Blocked,
			BudgetSaid: rec.BudgetSaid, DrainTook: -1, RolloutTook: -1}
		if rec.Done >= 0 {
			switch e.Kind {
			case scenario.EventDrain, scenario.EventReplace:
				v.DrainTook = rec.Done - e.At
			case scenario.EventRollout:
				v.RolloutTook, v.PodsReplaced = rec.Done-e.At, rec.Replaced
			}
		}
		for _, next := range records[i+1:] {
			v.Until = min(v.Until, next.Event.At)
		}
		judgeWindow(&v, res.Samples)
		for _, p := range res.Preemptions {
			if p.Pause && p.ForService && p.T >= v.At && p.T < v.Until {
				v.PausePreempted++
			}
		}
		if !v.Recovered {
			v.Problems = append(v.Problems, fmt.Sprintf("the ready pods did not carry the demand again before %s (short by %.0f req/s at worst)", v.Until.Round(time.Second), v.WorstShortfallRPS))
		}
		if e.Kind != scenario.EventZoneOutage && v.BudgetBelowDesired > 0 {
			v.Problems = append(v.Problems, fmt.Sprintf("the PodDisruptionBudget was below its desired healthy pods for %s during a voluntary disruption", v.BudgetBelowDesired.Round(time.Second)))
		}
		if v.LongestBlocked > blockBound || (v.StillBlocked && (e.Kind == scenario.EventDrain || e.Kind == scenario.EventReplace)) {
			v.Problems = append(v.Problems, fmt.Sprintf("a budget held the drain for %s (bound %s, still held at the end: %v)", v.LongestBlocked.Round(time.Second), blockBound, v.StillBlocked))
		}
		if e.Kind == scenario.EventRollout && v.RolloutTook < 0 {
			v.Problems = append(v.Problems, fmt.Sprintf("the rollout did not finish before %s (new pods not all available, or old ones left)", v.Until.Round(time.Second)))
		}
		out = append(out, v)
	}
	return out
}

// judgeWindow fills the sample-based fields from the samples in [At, Until).
func judgeWindow(v *EventVerdict, samples []Sample) {
	lastShort, lastIn := -1, -1
	// The budget's desired healthy pods when the event began: a scale-up
	// after it raises desiredHealthy before the new pods are Ready, which
	// is no disruption.
	budget := int32(-1)
	for i, s := range samples {
		if s.T < v.At || s.T >= v.Until {
			continue
		}
		lastIn = i
		dt := time.Duration(0)
		if i+1 < len(samples) {
			dt = min(samples[i+1].T, v.Until) - s.T
		}
		v.PendingPeak = max(v.PendingPeak, s.Pending)
		v.UnschedulablePeak = max(v.UnschedulablePeak, s.Unschedulable)
		if s.Unschedulable > 0 {
			v.Unschedulable += dt
			if s.PauseRunning > 0 {
				v.HeadroomMissed += dt
			}
		}
		if s.SchedulerSaid != "" && !slices.Contains(v.SchedulerSaid, s.SchedulerSaid) {
			v.SchedulerSaid = append(v.SchedulerSaid, s.SchedulerSaid)
		}
		if budget < 0 {
			budget = s.PDBDesired
		}
		if s.PDBDesired >= 0 && s.PDBHealthy < min(s.PDBDesired, budget) {
			v.BudgetBelowDesired += dt
		}
		if gap := s.DemandRPS - s.CapacityRPS; gap > 1e-6 {
			lastShort = i
			v.ShortFor += dt
			v.WorstShortfallRPS = max(v.WorstShortfallRPS, gap)
		}
	}
	switch {
	case lastIn < 0:
		// No sample in the window (the rehearsal stopped first).
	case lastShort < 0:
		v.Recovered = true
	case lastShort < lastIn:
		v.Recovered, v.RecoveredAfter = true, samples[lastShort+1].T-v.At
	}
}

// rows are the event's lines of the verdict table.
func (e EventVerdict) rows() [][2]string {
	secs := func(d time.Duration) string { return fmt.Sprintf("%.0f s", d.Seconds()) }
	recovered := fmt.Sprintf("NOT carried again before %s", secs(e.Until))
	if e.Recovered {
		recovered = fmt.Sprintf("carried again %s after the event", secs(e.RecoveredAfter))
	}
	said := "nothing (no pod unschedulable)"
	if len(e.SchedulerSaid) > 0 {
		said = strings.Join(e.SchedulerSaid, " / ")
	}
	rows := [][2]string{
		{"event " + e.Event, fmt.Sprintf("lost %d pod(s), %d pause pod(s), %d node(s); %s", e.PodsLost, e.PausePodsLost, e.NodesLost, recovered)},
		{"  short of demand", fmt.Sprintf("%s, worst %.0f req/s", secs(e.ShortFor), e.WorstShortfallRPS)},
		{"  pending", fmt.Sprintf("at most %d pending, %d unschedulable (for %s)", e.PendingPeak, e.UnschedulablePeak, secs(e.Unschedulable))},
		{"  scheduler said", said},
		{"  budget", fmt.Sprintf("below desired healthy for %s; %d eviction(s) asked, %d refused, longest held %s (bound %s)",
			secs(e.BudgetBelowDesired), e.Evictions, e.Refusals, secs(e.LongestBlocked), secs(e.BlockBound))},
		{"  headroom", fmt.Sprintf("%d pause pod(s) preempted for the service; unschedulable while pause pods ran: %s", e.PausePreempted, secs(e.HeadroomMissed))},
	}
	if e.DrainTook >= 0 {
		rows = append(rows, [2]string{"  drain took", secs(e.DrainTook)})
	}
	if e.RolloutTook >= 0 {
		rows = append(rows, [2]string{"  rollout took", fmt.Sprintf("%s, to %d pod(s) of the new template", secs(e.RolloutTook), e.PodsReplaced)})
	}
	return rows
}

// WriteTimeline writes the events and what happened, one line each, in
// time order: the timeline and the scheduler's preemptions.
func WriteTimeline(w io.Writer, res *Result) error {
	entries := slices.Clone(res.Timeline)
	for _, p := range res.Preemptions {
		what := "pod"
		if p.Pause {
			what = "headroom pause pod"
		}
		entries = append(entries, TimelineEntry{T: p.T, Text: fmt.Sprintf("scheduler preempted %s %s for %s", what, p.Victim, p.Preemptor)})
	}
	slices.SortStableFunc(entries, func(a, b TimelineEntry) int { return cmp.Compare(a.T, b.T) })
	if len(entries) == 0 {
		// A reader opening the file learns why it holds nothing else.
		_, err := fmt.Fprintln(w, "no events, node changes or preemptions in this rehearsal")
		return err
	}
	for _, e := range entries {
		if _, err := fmt.Fprintf(w, "%8s  %s\n", fmtT(e.T), e.Text); err != nil {
			return err
		}
	}
	return nil
}

// fmtT is a time since the shape started as m:ss.
func fmtT(t time.Duration) string {
	sign := ""
	if t < 0 {
		sign, t = "-", -t
	}
	t = t.Round(time.Second)
	return fmt.Sprintf("%s%d:%02d", sign, int(t.Minutes()), int(t.Seconds())%60)
}
