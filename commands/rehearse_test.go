package commands

import (
	"strings"
	"testing"
	"time"

	"github.com/cirkelline/infra/loadtest"
)

func TestParseStages(t *testing.T) {
	got, err := parseStages("10s:50, 2m:50,10s:0")
	if err != nil {
		t.Fatal(err)
	}
	want := []loadtest.Stage{{Duration: loadtest.Duration(10 * time.Second), Target: 50},
		{Duration: loadtest.Duration(2 * time.Minute), Target: 50}, {Duration: loadtest.Duration(10 * time.Second), Target: 0}}
	if len(got) != len(want) {
		t.Fatalf("stages %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("stage %d: %v, want %v", i, got[i], want[i])
		}
	}
	for in, msg := range map[string]string{
		"10s":     `stage "10s" is not DURATION:TARGET`,
		"ten:5":   `stage "ten:5": time: invalid duration "ten"`,
		"10s:lot": `stage "10s:lot": target "lot" is not a number of VUs`,
	} {
		if _, err := parseStages(in); err == nil || err.Error() != msg {
			t.Errorf("parseStages(%q) = %v, want %q", in, err, msg)
		}
	}
}

// Every bad flag is reported at once, each with its value and a fix,
// before anything is rendered or started.
func TestRehearseOptionsRejectBadFlags(t *testing.T) {
	_, _, err := rehearseOptions(rehearseFlags{stack: "staging", dir: "..", shape: "burst", stages: "10s",
		maxReplicas: -1, startup: "soon", cooldown: "-1m", memoryShare: 2}, nil)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`--shape`, `"burst"`, "use one of: load, million-users, normal-event, peak-event, smoke, spike, stress",
		`--stages`, `stage "10s" is not DURATION:TARGET`,
		`--max-replicas`, `--startup`, `"soon"`, `--cooldown`, `"-1m"`, `--memory-share`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
