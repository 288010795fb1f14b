//go:build rehearsal

package rehearse

import (
	"os"
	"strings"
	"testing"
)

// The shortened bad days CI rehearses are the shipped stacks' own named
// scenarios (rehearsal.scenarios), each on the stack's nodes
// (cluster.capacity, cluster.zones), through the real scheduler,
// controllers, HPA, eviction API and budgets:
//   - production's ci-zone-outage-at-peak loses eu-north-1a at the peak of
//     a load shape held 2 m 30 s (100 VUs, 200 req/s, 8 pods): with today's
//     zone spread the Deployment's replacements go to the two zones left
//     and the ready pods carry the demand again; with the spread before
//     issue 21's fix (--min-domains 3) the scheduler refuses them for good,
//     so the same rehearsal must fail;
//   - staging's ci-drain-and-rollout drains its only node on a plateau of
//     50 VUs (100 req/s, 4 pods): the eviction API lets one pod go at a
//     time (its budget's maxUnavailable 1), the replacement node joins
//     after 30 s, and the drain finishes with the demand carried again, the
//     budget never below its desired pods; then a new pod template rolls
//     out (maxSurge and maxUnavailable as rendered) while the load goes on,
//     and must finish, every pod of the new template available, with the
//     demand carried.
const (
	ciOutageScenario = "ci-zone-outage-at-peak"
	ciDrainScenario  = "ci-drain-and-rollout"
)

func TestRehearsalOfBadDays(t *testing.T) {
	if os.Getenv("SKIP_CONTROLPLANE") != "" {
		t.Skip("SKIP_CONTROLPLANE set")
	}
	production := []string{"--stack", "production", "--scenario", ciOutageScenario, "--cooldown", "0s"}
	t.Run("production loses a zone at the peak, today's spread", func(t *testing.T) {
		t.Parallel()
		v, stdout, err := rehearseStack(t, production...)
		if err != nil {
			t.Errorf("rehearse exited with %v; want 0 (the zone outage carried)", err)
		}
		if len(v.Events) != 1 {
			t.Fatalf("verdict has %d events, want 1", len(v.Events))
		}
		e := v.Events[0]
		if e.NodesLost != 1 || e.PodsLost < 2 || !e.Recovered || e.UnschedulablePeak != 0 || !e.OK() {
			t.Errorf("lost %d node(s), %d pod(s); recovered %v after %s; %d unschedulable; problems %v; want 1 node, >= 2 pods (a third of 8), recovered, none unschedulable, no problem",
				e.NodesLost, e.PodsLost, e.Recovered, e.RecoveredAfter, e.UnschedulablePeak, e.Problems)
		}
		if !strings.Contains(stdout, "stack carried the demand again after every event") {
			t.Errorf("the printed verdict lacks the OK line")
		}
	})
	t.Run("production loses a zone at the peak, the spread before issue 21 (minDomains 3)", func(t *testing.T) {
		t.Parallel()
		v, stdout, err := rehearseStack(t, append(production, "--min-domains", "3")...)
		if err == nil {
			t.Errorf("rehearse exited 0; want non-zero (the replacements cannot be scheduled)")
		}
		if len(v.Events) != 1 {
			t.Fatalf("verdict has %d events, want 1", len(v.Events))
		}
		e := v.Events[0]
		if e.Recovered || e.UnschedulablePeak < 1 || e.WorstShortfallRPS < 25 || e.OK() {
			t.Errorf("recovered %v, %d unschedulable, worst shortfall %.0f req/s; want not recovered, >= 1 unschedulable, >= 25 req/s (a pod)", e.Recovered, e.UnschedulablePeak, e.WorstShortfallRPS)
		}
		if said := strings.Join(e.SchedulerSaid, " "); !strings.Contains(said, "didn't match pod topology spread constraints") {
			t.Errorf("the scheduler's reason %q does not name the topology spread", said)
		}
		if !strings.Contains(stdout, "NOT CARRIED THROUGH THE EVENTS") {
			t.Errorf("the printed verdict lacks the NOT CARRIED line")
		}
	})
	t.Run("staging drained, then rolled out, under load", func(t *testing.T) {
		t.Parallel()
		v, _, err := rehearseStack(t, "--stack", "staging", "--scenario", ciDrainScenario, "--cooldown", "0s")
		if err != nil {
			t.Errorf("rehearse exited with %v; want 0 (the drain and the rollout carried)", err)
		}
		if len(v.Events) != 2 {
			t.Fatalf("verdict has %d events, want 2 (the drain, the rollout)", len(v.Events))
		}
		e := v.Events[0]
		if e.NodesLost != 1 || e.PodsLost < 4 || e.DrainTook <= 0 || e.StillBlocked {
			t.Errorf("drained %d node(s), %d pod(s), took %s, still blocked %v; want 1 node, >= 4 pods, finished", e.NodesLost, e.PodsLost, e.DrainTook, e.StillBlocked)
		}
		// The budget set the pace: evictions refused while a replacement
		// was not Ready, never fewer healthy pods than it asks for.
		if e.Refusals < 1 || e.BudgetBelowDesired != 0 || !strings.Contains(e.BudgetSaid, "disruption budget") {
			t.Errorf("%d refusal(s) (%q), below the budget for %s; want >= 1 refusal naming the budget, 0 s below", e.Refusals, e.BudgetSaid, e.BudgetBelowDesired)
		}
		if !e.Recovered || !e.OK() {
			t.Errorf("drain: recovered %v, problems %v; want recovered, none", e.Recovered, e.Problems)
		}
		r := v.Events[1]
		if r.RolloutTook <= 0 || r.PodsReplaced < 4 || r.BudgetBelowDesired != 0 || !r.Recovered || !r.OK() {
			t.Errorf("rollout took %s to %d pod(s), below the budget for %s, recovered %v, problems %v; want finished with >= 4 pods, never below the budget, recovered, none",
				r.RolloutTook, r.PodsReplaced, r.BudgetBelowDesired, r.Recovered, r.Problems)
		}
	})
}
