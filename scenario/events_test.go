package scenario

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cirkelline/infra/internal/validate"
)

func TestParseEvent(t *testing.T) {
	tests := []struct {
		in      string
		want    Event
		wantErr string
	}{
		{"zone-outage:eu-north-1a@8m", Event{Kind: EventZoneOutage, Target: "eu-north-1a", At: 8 * time.Minute}, ""},
		{"drain:all@90s", Event{Kind: EventDrain, Target: DrainAll, At: 90 * time.Second}, ""},
		{"drain:zone-b@1m30s", Event{Kind: EventDrain, Target: "zone-b", At: 90 * time.Second}, ""},
		{"rollout@2m", Event{Kind: EventRollout, At: 2 * time.Minute}, ""},
		{"replace:all@3m", Event{Kind: EventReplace, Target: DrainAll, At: 3 * time.Minute}, ""},
		{"replace@3m", Event{}, "replace needs a target"},
		{"zone-outage:eu-north-1a", Event{}, "no @<time>"},
		{"zone-outage@8m", Event{}, "zone-outage needs a target"},
		{"rollout:x@8m", Event{}, `rollout takes no target ("x")`},
		{"flood:a@8m", Event{}, `unknown event "flood"`},
		{"drain:all@soon", Event{}, `time "soon" is not a duration`},
	}
	for _, tt := range tests {
		got, err := ParseEvent(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseEvent(%q) error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseEvent(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseEvent(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
	e := Event{Kind: EventZoneOutage, Target: "eu-north-1a", At: 8 * time.Minute}
	if got, want := e.Slug(), "zone-outage-eu-north-1a-8m"; got != want {
		t.Errorf("slug %q, want %q", got, want)
	}
	if got, want := (Event{Kind: EventRollout, At: 90 * time.Second}).Slug(), "rollout-1m30s"; got != want {
		t.Errorf("slug %q, want %q", got, want)
	}
}

func TestValidateEvents(t *testing.T) {
	zones := []string{"z-a", "z-b"}
	var errs validate.Errors
	ValidateEvents(&errs, "--event", []Event{
		{Kind: EventZoneOutage, Target: "z-c", At: time.Minute},
		{Kind: EventZoneOutage, Target: "z-a", At: time.Minute},
		{Kind: EventZoneOutage, Target: "z-b", At: time.Minute},
		{Kind: EventDrain, Target: DrainAll, At: 20 * time.Minute},
	}, zones, 10*time.Minute)
	err := errs.Err()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`names zone "z-c", which the rehearsal's nodes do not span`, "use one of the stack's zones (cluster.zones): z-a, z-b",
		"would lose every one of the 2 zones", "is at or after the shape's end (10m)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	errs = validate.Errors{}
	ValidateEvents(&errs, "--event", []Event{{Kind: EventZoneOutage, Target: "z-a", At: time.Minute}, {Kind: EventDrain, Target: "z-b", At: 2 * time.Minute}, {Kind: EventRollout, At: 3 * time.Minute},
		{Kind: EventReplace, Target: DrainAll, At: 4 * time.Minute}, {Kind: EventReplace, Target: "z-b", At: 5 * time.Minute}}, zones, 10*time.Minute)
	if err := errs.Err(); err != nil {
		t.Errorf("valid events refused: %v", err)
	}
}
