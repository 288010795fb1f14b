package scenario

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cirkelline/infra/internal/validate"
)

// EventKind is what happens to the cluster at an event. Closed set.
type EventKind string

// The events a rehearsal can put on the shape's timeline.
const (
	// EventZoneOutage loses a zone: its nodes and their pods disappear at
	// once, as in an availability-zone failure, and no node comes back
	// there until the end.
	EventZoneOutage EventKind = "zone-outage"
	// EventDrain drains nodes (of a zone, or all) one at a time through
	// the eviction API, as `kubectl drain` or Karpenter's disruption does,
	// so the PodDisruptionBudgets set the pace; each drained node is
	// replaced after the node delay.
	EventDrain EventKind = "drain"
	// EventReplace replaces nodes (of a zone, or all) one at a time in the
	// order of an EKS managed node group's update or Karpenter's drift:
	// the replacement is launched and, once it is Ready after the node
	// delay, the old node is drained as EventDrain drains it.
	EventReplace EventKind = "replace"
	// EventRollout rolls the service's Deployment to a new pod template
	// (its maxSurge and maxUnavailable as rendered) while the load goes on.
	EventRollout EventKind = "rollout"
)

// DrainAll is the drain target that drains every node.
const DrainAll = "all"

// Event is one thing that happens at a time of the shape.
type Event struct {
	Kind EventKind
	// Target is the zone of a zone outage, the zone or DrainAll of a
	// drain or a replace, empty for a rollout.
	Target string
	// At is the time since the shape started.
	At time.Duration
}

// String is the event as --event takes it, e.g. "zone-outage:eu-north-1a@8m".
func (e Event) String() string {
	s := string(e.Kind)
	if e.Target != "" {
		s += ":" + e.Target
	}
	return s + "@" + short(e.At)
}

// Slug is the event for a directory name: "zone-outage-eu-north-1a-8m".
func (e Event) Slug() string {
	at := e.At.String()
	if e.At%time.Minute == 0 {
		at = fmt.Sprintf("%dm", int(e.At.Minutes()))
	}
	parts := []string{string(e.Kind)}
	if e.Target != "" {
		parts = append(parts, e.Target)
	}
	return strings.ReplaceAll(strings.Join(append(parts, at), "-"), ".", "_")
}

// EventSyntax lists the forms --event takes.
const EventSyntax = "zone-outage:<zone>@<time>, drain:<zone|all>@<time>, replace:<zone|all>@<time> or rollout@<time>, e.g. zone-outage:eu-north-1a@8m"

// ParseEvent reads "zone-outage:<zone>@<time>", "drain:<zone|all>@<time>",
// "replace:<zone|all>@<time>" or "rollout@<time>".
func ParseEvent(s string) (Event, error) {
	spec, at, ok := strings.Cut(strings.TrimSpace(s), "@")
	if !ok {
		return Event{}, fmt.Errorf("no @<time>")
	}
	d, err := time.ParseDuration(at)
	if err != nil || d < 0 {
		return Event{}, fmt.Errorf("time %q is not a duration of 0 or more since the shape started (e.g. 8m, 90s)", at)
	}
	kind, target, _ := strings.Cut(spec, ":")
	e := Event{Kind: EventKind(kind), Target: target, At: d}
	switch e.Kind {
	case EventZoneOutage, EventDrain, EventReplace:
		if target == "" {
			return e, fmt.Errorf("%s needs a target after a colon", kind)
		}
	case EventRollout:
		if target != "" {
			return e, fmt.Errorf("rollout takes no target (%q): write rollout@<time>", target)
		}
	default:
		return e, fmt.Errorf("unknown event %q", kind)
	}
	return e, nil
}

// ValidateEvents checks events against the zones the rehearsal's nodes
// span and the shape's length, under path (e.g. "--event").
func ValidateEvents(errs *validate.Errors, path string, events []Event, zones []string, shape time.Duration) {
	lost := map[string]bool{}
	for _, e := range events {
		if e.At >= shape {
			errs.Add(path, e.String(), fmt.Sprintf("is at or after the shape's end (%s)", short(shape)), "put the event within the shape, where it meets load")
		}
		switch e.Kind {
		case EventZoneOutage, EventDrain, EventReplace:
			if e.Kind != EventZoneOutage && e.Target == DrainAll {
				break
			}
			if !slices.Contains(zones, e.Target) {
				errs.Add(path, e.String(), fmt.Sprintf("names zone %q, which the rehearsal's nodes do not span", e.Target),
					"use one of the stack's zones (cluster.zones): "+strings.Join(zones, ", "))
			}
			if e.Kind == EventZoneOutage {
				if lost[e.Target] {
					errs.Add(path, e.String(), "loses a zone that is already lost", "lose each zone once")
				}
				lost[e.Target] = true
			}
		}
	}
	if len(lost) > 0 && len(lost) >= len(zones) {
		errs.Add(path, len(lost), fmt.Sprintf("zone outages would lose every one of the %d zones", len(zones)), "keep at least one zone up")
	}
}
