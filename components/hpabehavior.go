package components

import (
	"math"
	"time"

	k8sautoscalingv2 "k8s.io/api/autoscaling/v2"
)

// The HPA controller's scaling arithmetic, the one copy the headroom, the
// load test's capacity report and the rehearsal share. Everything here
// follows pkg/controller/podautoscaler/horizontal.go of k8s.io/kubernetes
// v1.37.2: normalizeDesiredReplicasWithBehaviors first stabilizes the
// recommendation (stabilizeRecommendationWithBehaviors: for a scale-up,
// the lowest recommendation of the last stabilizationWindowSeconds), then
// limits the rate (convertDesiredReplicasWithBehaviorRate, with
// calculateScaleUpLimitWithScalingRules and
// calculateScaleDownLimitWithBehaviors: each policy proposes from the
// replicas at the start of its period, the replicas now less the change
// made within periodSeconds; scaling up, Pods adds its value and Percent
// multiplies by 1 + value/100 rounded up; scaling down, Pods removes its
// value and Percent multiplies by 1 - value/100 truncated; selectPolicy
// Max takes the largest change, Min the smallest, Disabled keeps the
// current count), and caps it at maxReplicas (minReplicas going down).

// HPASyncPeriod is how often the HPA controller looks at an HPA: the
// default --horizontal-pod-autoscaler-sync-period
// (pkg/controller/podautoscaler/config/v1alpha1/defaults.go of
// k8s.io/kubernetes v1.37.2).
const HPASyncPeriod = 15 * time.Second

// HPADownscaleStabilization is the scale-down stabilization window the
// controller applies when the HPA states none: the default
// --horizontal-pod-autoscaler-downscale-stabilization
// (pkg/controller/podautoscaler/config/v1alpha1/defaults.go of
// k8s.io/kubernetes v1.37.2; maybeInitScaleDownStabilizationWindow in
// horizontal.go puts it into the rules).
const HPADownscaleStabilization = 5 * time.Minute

// DefaultAPIScaleUpRules are the scale-up rules the API server stores for an
// HPA without behavior.scaleUp: 4 pods or 100 % every 15 s, Max, no
// stabilization (defaultHPAScaleUpRules in pkg/apis/autoscaling/v2/defaults.go
// of k8s.io/kubernetes v1.37.2).
func DefaultAPIScaleUpRules() *k8sautoscalingv2.HPAScalingRules {
	zero, sel := int32(0), k8sautoscalingv2.MaxChangePolicySelect
	return &k8sautoscalingv2.HPAScalingRules{
		StabilizationWindowSeconds: &zero, SelectPolicy: &sel,
		Policies: []k8sautoscalingv2.HPAScalingPolicy{
			{Type: k8sautoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
			{Type: k8sautoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		},
	}
}

// DefaultAPIScaleDownRules are the scale-down rules the API server stores
// for an HPA without behavior.scaleDown: 100 % every 15 s, Max, and no
// window, which the controller fills with HPADownscaleStabilization
// (defaultHPAScaleDownRules in pkg/apis/autoscaling/v2/defaults.go of
// k8s.io/kubernetes v1.37.2).
func DefaultAPIScaleDownRules() *k8sautoscalingv2.HPAScalingRules {
	sel := k8sautoscalingv2.MaxChangePolicySelect
	return &k8sautoscalingv2.HPAScalingRules{
		SelectPolicy: &sel,
		Policies: []k8sautoscalingv2.HPAScalingPolicy{
			{Type: k8sautoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		},
	}
}

// API is the rules as the HorizontalPodAutoscaler states them: a Percent
// and a Pods policy over one period, the select policy and the
// stabilization window. The rules must have their defaults.
func (s ScalingRules) API() *k8sautoscalingv2.HPAScalingRules {
	sel := k8sautoscalingv2.ScalingPolicySelect(s.SelectPolicy)
	var window *int32
	if s.StabilizationSeconds != nil {
		w := *s.StabilizationSeconds
		window = &w
	}
	return &k8sautoscalingv2.HPAScalingRules{
		StabilizationWindowSeconds: window, SelectPolicy: &sel,
		Policies: []k8sautoscalingv2.HPAScalingPolicy{
			{Type: k8sautoscalingv2.PercentScalingPolicy, Value: s.Percent, PeriodSeconds: s.PeriodSeconds},
			{Type: k8sautoscalingv2.PodsScalingPolicy, Value: s.Pods, PeriodSeconds: s.PeriodSeconds},
		},
	}
}

// scaleEvent is one scale the controller made: how many replicas it added
// (negative: removed), and when (timestampedScaleEvent).
type scaleEvent struct {
	added int32
	at    time.Duration
}

// withAPIDefaults fills what the API server fills (nil rules, no policies,
// no select policy, no window) from d (copyHPAScalingRules), so rules read
// from any source compare.
func withAPIDefaults(rules, d *k8sautoscalingv2.HPAScalingRules) *k8sautoscalingv2.HPAScalingRules {
	if rules == nil {
		return d
	}
	r := *rules
	if r.Policies == nil {
		r.Policies = d.Policies
	}
	if r.SelectPolicy == nil {
		r.SelectPolicy = d.SelectPolicy
	}
	if r.StabilizationWindowSeconds == nil {
		r.StabilizationWindowSeconds = d.StabilizationWindowSeconds
	}
	return &r
}

// upRules are scale-up rules with the API server's defaults.
func upRules(rules *k8sautoscalingv2.HPAScalingRules) *k8sautoscalingv2.HPAScalingRules {
	return withAPIDefaults(rules, DefaultAPIScaleUpRules())
}

// downRules are scale-down rules with the API server's defaults and the
// controller's window.
func downRules(rules *k8sautoscalingv2.HPAScalingRules) *k8sautoscalingv2.HPAScalingRules {
	r := withAPIDefaults(rules, DefaultAPIScaleDownRules())
	if r.StabilizationWindowSeconds == nil {
		w := int32(HPADownscaleStabilization / time.Second)
		r.StabilizationWindowSeconds = &w
	}
	return r
}

// policyLimit is calculateScaleUpLimitWithScalingRules (up) or
// calculateScaleDownLimitWithBehaviors (down) at time now, after the
// scales in events.
func policyLimit(rules *k8sautoscalingv2.HPAScalingRules, current int32, events []scaleEvent, now time.Duration, up bool) int32 {
	if *rules.SelectPolicy == k8sautoscalingv2.DisabledPolicySelect {
		return current
	}
	// Max takes the largest change: the highest proposal up, the lowest
	// down; Min the other way round.
	highest := (*rules.SelectPolicy != k8sautoscalingv2.MinChangePolicySelect) == up
	result := int32(math.MaxInt32)
	if highest {
		result = math.MinInt32
	}
	for _, p := range rules.Policies {
		// getReplicasChangePerPeriod: the events strictly after now - period.
		start := current
		for _, e := range events {
			if e.at > now-time.Duration(p.PeriodSeconds)*time.Second {
				start -= e.added
			}
		}
		var proposed int32
		switch {
		case p.Type == k8sautoscalingv2.PodsScalingPolicy && up:
			proposed = start + p.Value
		case p.Type == k8sautoscalingv2.PodsScalingPolicy:
			proposed = start - p.Value
		case p.Type == k8sautoscalingv2.PercentScalingPolicy && up:
			// Rounded up, so a small count still grows.
			proposed = int32(math.Ceil(float64(start) * (1 + float64(p.Value)/100)))
		case p.Type == k8sautoscalingv2.PercentScalingPolicy:
			proposed = int32(float64(start) * (1 - float64(p.Value)/100))
		}
		if highest {
			result = max(result, proposed)
		} else {
			result = min(result, proposed)
		}
	}
	return result
}

// longestPolicyPeriod is getLongestPolicyPeriod: the controller keeps a
// scale event for this long.
func longestPolicyPeriod(rules *k8sautoscalingv2.HPAScalingRules) time.Duration {
	var longest int32
	for _, p := range rules.Policies {
		longest = max(longest, p.PeriodSeconds)
	}
	return time.Duration(longest) * time.Second
}

// ScaleUpLimit is the most replicas an HPA with these scale-up rules may
// have after one step from current, when it added none within any
// policy's period (nil rules: the API server's defaults). Scaling up from
// current never goes below it: a limit below current keeps current.
func ScaleUpLimit(rules *k8sautoscalingv2.HPAScalingRules, current int32) int32 {
	return max(policyLimit(upRules(rules), current, nil, 0, true), current)
}

// ScaleUpPeriod is the shortest time in which the HPA may take another
// full step up: its longest scale-up policy period, and never less than
// one controller sync (nil rules: the API server's defaults, 15 s).
func ScaleUpPeriod(rules *k8sautoscalingv2.HPAScalingRules) time.Duration {
	return max(longestPolicyPeriod(upRules(rules)), HPASyncPeriod)
}

// ScaleUpSteps is how many steps of ScaleUpLimit the HPA needs at least to
// go from from replicas (at least 1) to to: 0 when to <= from, -1 when the
// policies never get there (selectPolicy Disabled).
func ScaleUpSteps(rules *k8sautoscalingv2.HPAScalingRules, from, to int32) int {
	steps := 0
	for r := max(from, 1); r < to; steps++ {
		next := ScaleUpLimit(rules, r)
		if next <= r {
			return -1
		}
		r = next
	}
	return steps
}

// ScaleDownLimit is the fewest replicas an HPA with these scale-down rules
// may have after one step from current, when it removed none within any
// policy's period (nil rules: the API server's defaults, 100 % every 15 s).
// It is never above current; the controller then keeps minReplicas.
func ScaleDownLimit(rules *k8sautoscalingv2.HPAScalingRules, current int32) int32 {
	return min(policyLimit(downRules(rules), current, nil, 0, false), current)
}

// ScaleDownBound is the longest the HPA takes from from replicas back to
// minReplicas once the demand is gone: the scale-down stabilization window
// (HPADownscaleStabilization unless the rules state one) and, per step,
// the longest policy period plus one controller sync (a step is allowed
// only once the last is a full period old, and the controller looks every
// HPASyncPeriod). A step removes at least one replica; Disabled never
// scales down, so the bound is the window.
func ScaleDownBound(rules *k8sautoscalingv2.HPAScalingRules, from, minReplicas int32) time.Duration {
	r := downRules(rules)
	total := time.Duration(*r.StabilizationWindowSeconds) * time.Second
	if *r.SelectPolicy == k8sautoscalingv2.DisabledPolicySelect {
		return total
	}
	for n := from; n > minReplicas; {
		n = max(min(ScaleDownLimit(r, n), n-1), minReplicas)
		total += longestPolicyPeriod(r) + HPASyncPeriod
	}
	return total
}

// ScaleUpReach is how many replicas the HPA asks for after the given time,
// when its recommendation jumps from from (where it had rested for at
// least the stabilization window) to desired at time 0 and stays there:
// the controller looks every HPASyncPeriod, starting at 0; while a
// recommendation of from is younger than the stabilization window it
// keeps from; then each look takes one rate-limited step toward desired,
// never beyond maxReplicas. (Pods still have to start: this is the HPA's
// desired count, not ready pods.)
func ScaleUpReach(rules *k8sautoscalingv2.HPAScalingRules, from, desired, maxReplicas int32, after time.Duration) int32 {
	replicas, _ := scaleUp(upRules(rules), from, min(desired, maxReplicas), after)
	return replicas
}

// ScaleUpTime is how long after its recommendation jumps from from to to
// the HPA first asks for to replicas (as ScaleUpReach); ok is false when
// it never does (to above maxReplicas, or selectPolicy Disabled).
func ScaleUpTime(rules *k8sautoscalingv2.HPAScalingRules, from, to, maxReplicas int32) (time.Duration, bool) {
	if to <= from {
		return 0, true
	}
	if to > maxReplicas {
		return 0, false
	}
	r := upRules(rules)
	if *r.SelectPolicy == k8sautoscalingv2.DisabledPolicySelect {
		return 0, false
	}
	// Once the window has passed, each of the longest period adds at least
	// one replica while a policy adds any (Percent rounds up; validation
	// keeps Pods at 1 or more): past this bound, it never gets there.
	period := ScaleUpPeriod(r)
	bound := time.Duration(*r.StabilizationWindowSeconds)*time.Second + time.Duration(to-from+1)*(period+HPASyncPeriod)
	if _, at := scaleUp(r, from, to, bound); at >= 0 {
		return at, true
	}
	return 0, false
}

// scaleUp runs the controller's looks from time 0 to until; it returns the
// replicas then and when desired was first reached (-1 if not).
func scaleUp(rules *k8sautoscalingv2.HPAScalingRules, from, desired int32, until time.Duration) (int32, time.Duration) {
	current, reached := from, time.Duration(-1)
	if current >= desired {
		return current, 0
	}
	window := time.Duration(*rules.StabilizationWindowSeconds) * time.Second
	var events []scaleEvent
	for now := time.Duration(0); now <= until; now += HPASyncPeriod {
		// stabilizeRecommendationWithBehaviors: the last recommendation of
		// from was one sync before time 0; it counts while strictly after
		// now - window.
		if -HPASyncPeriod > now-window {
			continue
		}
		limit := max(policyLimit(rules, current, events, now, true), current)
		next := min(desired, limit)
		if next > current {
			events = append(events, scaleEvent{added: next - current, at: now})
			current = next
		}
		if current >= desired {
			reached = now
			break
		}
	}
	return current, reached
}

// FirstScaleUpStep is how many pods the HPA adds in its first scale-up
// step from minReplicas, as ScaleUpLimit computes it from its scale-up
// rules (selectPolicy Min takes the smaller policy), capped at
// maxReplicas; at least 1, so a headroom sized by it holds a pod.
func (h HPASpec) FirstScaleUpStep() int32 {
	h = h.WithDefaults()
	next := min(ScaleUpLimit(h.ScaleUp.API(), h.MinReplicas), h.MaxReplicas)
	return max(next-h.MinReplicas, 1)
}
