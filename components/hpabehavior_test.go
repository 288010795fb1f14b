package components_test

import (
	"testing"
	"time"

	k8sautoscalingv2 "k8s.io/api/autoscaling/v2"

	"github.com/cirkelline/infra/components"
)

// rulesOf is one direction's rules as the stack file states them, with
// the project's scale-up defaults for what it leaves out.
func rulesOf(r components.ScalingRules) *k8sautoscalingv2.HPAScalingRules {
	return components.HPASpec{ScaleUp: r}.WithDefaults().ScaleUp.API()
}

// TestScaleUpArithmetic checks the shared scale-up arithmetic against the
// HPA controller's own rule, worked by hand from
// pkg/controller/podautoscaler/horizontal.go of k8s.io/kubernetes v1.37.2
// (calculateScaleUpLimitWithScalingRules: each policy proposes from the
// replicas at its period's start, Pods adds, Percent multiplies by
// 1 + value/100 rounded up, Max takes the largest, Min the smallest,
// Disabled keeps current; stabilizeRecommendationWithBehaviors: the
// lowest recommendation of the window). The controller looks every 15 s.
func TestScaleUpArithmetic(t *testing.T) {
	disabled := k8sautoscalingv2.DisabledPolicySelect
	type want struct {
		// Limit is ScaleUpLimit(rules, From).
		Limit int32
		// Reach is ScaleUpReach(rules, From, Desired, Max, After).
		Reach int32
		// Time is ScaleUpTime(rules, From, Desired, Max), Never when not ok.
		Time  time.Duration
		Never bool
		// Steps is ScaleUpSteps(rules, From, Desired): steps of Limit,
		// without the window or maxReplicas.
		Steps int
		// Period is ScaleUpPeriod(rules).
		Period time.Duration
	}
	tests := []struct {
		name                  string
		rules                 *k8sautoscalingv2.HPAScalingRules
		from, desired, maxRep int32
		after                 time.Duration
		want                  want
	}{
		// Max: from 2, Pods 2+4 = 6 beats Percent 2×2 = 4; the next look
		// (15 s, a new period) from 6: 6×2 = 12 beats 6+4 = 10.
		{"Max, the project's default", rulesOf(components.ScalingRules{}), 2, 12, 20, 0,
			want{Limit: 6, Reach: 6, Time: 15 * time.Second, Steps: 2, Period: 15 * time.Second}},
		// Min: from 2, Percent 4 beats Pods 6; then 4 → min(8, 8) = 8,
		// then 8 → min(16, 12) = 12: three looks, 30 s.
		{"Min takes the slower policy", rulesOf(components.ScalingRules{SelectPolicy: components.SelectMin}), 2, 12, 20, 15 * time.Second,
			want{Limit: 4, Reach: 8, Time: 30 * time.Second, Steps: 3, Period: 15 * time.Second}},
		// Disabled: the controller keeps the current count.
		{"Disabled never scales up", &k8sautoscalingv2.HPAScalingRules{SelectPolicy: &disabled}, 2, 12, 20, time.Hour,
			want{Limit: 2, Reach: 2, Never: true, Steps: -1, Period: 15 * time.Second}},
		// periodSeconds 60, 1 pod (and 10 %) per period: the pod added at
		// 0 s counts until 60 s (strictly after now - 60 s), so the looks at
		// 15, 30 and 45 s propose from the period's start (2) and add
		// nothing; 60 s adds the next. 2 → 5 takes 3 periods: 120 s.
		// Each step is 1 pod, as 10 % rounds up to 1 too.
		{"a 60 s period holds further steps", rulesOf(components.ScalingRules{Pods: 1, Percent: 10, PeriodSeconds: 60}), 2, 5, 20, 45 * time.Second,
			want{Limit: 3, Reach: 3, Time: 120 * time.Second, Steps: 3, Period: 60 * time.Second}},
		// periodSeconds 5: the step at 0 s is out of the period by the next
		// look, but the controller looks only every 15 s: 2 → 6 at 0 s,
		// → 12 at 15 s.
		{"a period below the sync still waits a sync", rulesOf(components.ScalingRules{PeriodSeconds: 5}), 2, 12, 20, 0,
			want{Limit: 6, Reach: 6, Time: 15 * time.Second, Steps: 2, Period: 15 * time.Second}},
		// A 60 s stabilization window: the recommendation of 2 from one
		// look before the jump counts until 45 s; the look at 45 s scales.
		{"a stabilization window delays the first step", rulesOf(components.ScalingRules{StabilizationSeconds: ptr[int32](60)}), 2, 6, 20, 30 * time.Second,
			want{Limit: 6, Reach: 2, Time: 45 * time.Second, Steps: 1, Period: 15 * time.Second}},
		// maxReplicas caps every step: 2 → 5, never 6.
		{"maxReplicas caps", rulesOf(components.ScalingRules{}), 2, 12, 5, time.Minute,
			want{Limit: 6, Reach: 5, Never: true, Steps: 2, Period: 15 * time.Second}},
		// Nil rules are the API server's defaults (4 pods or 100 %, Max).
		{"nil rules: the API defaults", nil, 1, 40, 40, 0,
			want{Limit: 5, Reach: 5, Time: 45 * time.Second, Steps: 4, Period: 15 * time.Second}}, // 1 → 5 → 10 → 20 → 40
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got want
			got.Limit = components.ScaleUpLimit(tt.rules, tt.from)
			got.Reach = components.ScaleUpReach(tt.rules, tt.from, tt.desired, tt.maxRep, tt.after)
			d, ok := components.ScaleUpTime(tt.rules, tt.from, tt.desired, tt.maxRep)
			got.Time, got.Never = d, !ok
			got.Steps = components.ScaleUpSteps(tt.rules, tt.from, tt.desired)
			got.Period = components.ScaleUpPeriod(tt.rules)
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// downRulesOf is scale-down rules as the stack file states them, with the
// project's scale-down defaults for what it leaves out.
func downRulesOf(r components.ScalingRules) *k8sautoscalingv2.HPAScalingRules {
	return components.HPASpec{ScaleDown: r}.WithDefaults().ScaleDown.API()
}

// TestScaleDownArithmetic checks the shared scale-down arithmetic against
// the HPA controller's rule, worked by hand from
// pkg/controller/podautoscaler/horizontal.go of k8s.io/kubernetes v1.37.2
// (calculateScaleDownLimitWithBehaviors: Pods removes its value, Percent
// keeps (1 - value/100) truncated, Max takes the largest change, Min the
// smallest, Disabled keeps current) and the API defaults (100 % every
// 15 s; the controller's 300 s window). A step of the bound is one policy
// period plus one 15 s sync.
func TestScaleDownArithmetic(t *testing.T) {
	disabled := k8sautoscalingv2.DisabledPolicySelect
	type want struct {
		// Limit is ScaleDownLimit(rules, From).
		Limit int32
		// Bound is ScaleDownBound(rules, From, Min).
		Bound time.Duration
	}
	tests := []struct {
		name      string
		rules     *k8sautoscalingv2.HPAScalingRules
		from, min int32
		want      want
	}{
		// 10 % of 50 is 5, more than 1 pod: 45. 50 → 3 removes the larger
		// of 10 % and 1 pod each minute: 50 45 40 36 32 28 25 22 19 17 15
		// 13 11 9 8 7 6 5 4 3, 19 steps: 300 s + 19 × (60 + 15) s.
		{"Max, the project's default (production)", downRulesOf(components.ScalingRules{}), 50, 3,
			want{Limit: 45, Bound: 300*time.Second + 19*75*time.Second}},
		// Min: 1 pod beats 10 %: 49; 47 steps to 3.
		{"Min takes the smaller change", downRulesOf(components.ScalingRules{SelectPolicy: components.SelectMin}), 50, 3,
			want{Limit: 49, Bound: 300*time.Second + 47*75*time.Second}},
		// 30 % of 5 keeps 3.5, truncated to 3 (rounding up would keep 4).
		{"Percent truncates", downRulesOf(components.ScalingRules{Percent: 30}), 5, 1,
			want{Limit: 3, Bound: 300*time.Second + 3*75*time.Second}}, // 5 → 3 → 2 → 1
		// Disabled keeps current: the bound is the window alone.
		{"Disabled never scales down", &k8sautoscalingv2.HPAScalingRules{SelectPolicy: &disabled}, 10, 2,
			want{Limit: 10, Bound: 300 * time.Second}},
		// Nil rules: 100 % every 15 s removes every pod at once (the
		// controller keeps minReplicas), after the controller's 300 s.
		{"nil rules: the API defaults", nil, 10, 2,
			want{Limit: 0, Bound: 300*time.Second + 30*time.Second}},
		// A window of its own, and already at minReplicas: nothing to do
		// after it.
		{"at minReplicas", downRulesOf(components.ScalingRules{StabilizationSeconds: ptr[int32](60)}), 3, 3,
			want{Limit: 2, Bound: 60 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := want{
				Limit: components.ScaleDownLimit(tt.rules, tt.from),
				Bound: components.ScaleDownBound(tt.rules, tt.from, tt.min),
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestFirstScaleUpStep: the headroom holds the first step the HPA takes
// from minReplicas, which selectPolicy decides.
func TestFirstScaleUpStep(t *testing.T) {
	tests := []struct {
		name string
		hpa  components.HPASpec
		want int32
	}{
		{"defaults (2–20, Max): 4 pods beat 100 %", components.HPASpec{}, 4},
		{"selectPolicy Min: 100 % of 2 is 2 pods", components.HPASpec{ScaleUp: components.ScalingRules{SelectPolicy: components.SelectMin}}, 2},
		{"production 3–50, Max: 4 pods beat 100 % (3)", components.HPASpec{MinReplicas: 3, MaxReplicas: 50}, 4},
		{"production 3–50, Min: 100 % (3)", components.HPASpec{MinReplicas: 3, MaxReplicas: 50, ScaleUp: components.ScalingRules{SelectPolicy: components.SelectMin}}, 3},
		{"capped by maxReplicas", components.HPASpec{MinReplicas: 2, MaxReplicas: 3}, 1},
		{"min = max still holds a pod", components.HPASpec{MinReplicas: 2, MaxReplicas: 2}, 1},
	}
	for _, tt := range tests {
		if got := tt.hpa.FirstScaleUpStep(); got != tt.want {
			t.Errorf("%s: FirstScaleUpStep() = %d, want %d", tt.name, got, tt.want)
		}
	}
}
