//go:build rehearsal

package rehearse

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ciStages is a shortened spike for CI (3 min 10 s): 10 VUs, then a jump
// to 50 VUs held for 2 minutes. With the cirkelline flow's 2 requests per
// VU-second that is 20 req/s (1 pod at 25 req/s) rising to 100 req/s, which
// the capacity model gives 4 pods.
const ciStages = "10s:10,40s:10,10s:50,2m:50,10s:0"

// rehearseStaging runs `go run . rehearse` on the shipped staging stack as
// a user would and returns its verdict and output.
func rehearseStaging(t *testing.T, extra ...string) (Verdict, string, error) {
	t.Helper()
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	out := t.TempDir()
	args := append([]string{"run", ".", "rehearse", "--stack", "staging", "--shape", "spike", "--stages", ciStages, "--cooldown", "0s", "--out", out}, extra...)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Stderr = os.Stderr // the progress lines
	stdout, runErr := cmd.Output()
	t.Logf("go %s:\n%s", strings.Join(args, " "), stdout)
	b, err := os.ReadFile(filepath.Join(out, "verdict.json"))
	if err != nil {
		t.Fatalf("no verdict (the rehearsal failed: %v): %v", runErr, err)
	}
	var v Verdict
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"rehearsal.csv", "rehearsal.png", "rehearsal.svg", "verdict.txt"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	return v, string(stdout), runErr
}

// TestRehearsalOfStaging replays the shortened spike through the real HPA
// controller twice, in parallel: with staging's HPA (1–5), which must
// scale to the 4 pods the capacity model gives the peak (one more when the
// metrics lag a scale-up), in steps
// its scale-up policies allow, and with maxReplicas 2, which must leave
// the peak under-provisioned.
func TestRehearsalOfStaging(t *testing.T) {
	if os.Getenv("SKIP_CONTROLPLANE") != "" {
		t.Skip("SKIP_CONTROLPLANE set")
	}
	t.Run("staging's HPA carries the peak", func(t *testing.T) {
		t.Parallel()
		v, stdout, err := rehearseStaging(t)
		if err != nil {
			t.Errorf("rehearse exited with %v; want 0 (verdict OK)", err)
		}
		if v.PeakNeeded != 4 || v.Expected != 4 {
			t.Errorf("peak needs %d pods, expected %d; want 4 and 4 (100 req/s at 25 req/s a pod)", v.PeakNeeded, v.Expected)
		}
		// The capacity model's 4 pods, or one more: metrics-server reports a
		// pod's CPU as the rate between its last two scrapes
		// (--metric-resolution 15s here), so for up to one resolution after
		// new pods turn Ready the old pods still show the load they carried
		// alone, and an HPA sync in that window may ask for a fifth pod. A
		// real HPA overshoots the same way; more than one pod over would be
		// the model or the replay being wrong.
		if !v.Reached || v.PeakReady < 4 || v.PeakDesired < 4 || v.PeakDesired > 5 || v.PeakReady > v.PeakDesired {
			t.Errorf("reached %v, peak %d ready / %d desired; want the capacity model's 4 ready, at most one more desired", v.Reached, v.PeakReady, v.PeakDesired)
		}
		if len(v.Violations) > 0 || v.PolicySteps != 1 {
			t.Errorf("scale-up outside the policies (%d steps allowed): %v", v.PolicySteps, v.Violations)
		}
		if v.BeyondMax != 0 || !v.OK() {
			t.Errorf("beyond maxReplicas for %s, OK %v; want 0 and true", v.BeyondMax, v.OK())
		}
		if !strings.Contains(stdout, "verdict              OK: the HPA reached the 4 pods the peak needs") {
			t.Errorf("the printed verdict table lacks the OK line")
		}
	})
	t.Run("maxReplicas 2 is too small", func(t *testing.T) {
		t.Parallel()
		v, stdout, err := rehearseStaging(t, "--max-replicas", "2")
		if err == nil {
			t.Errorf("rehearse exited 0; want non-zero (verdict NOT ENOUGH)")
		}
		if v.MaxReplicas != 2 || v.Expected != 2 || !v.Reached || v.PeakReady != 2 {
			t.Errorf("max %d, expected %d, reached %v, peak %d ready; want 2, 2, true, 2", v.MaxReplicas, v.Expected, v.Reached, v.PeakReady)
		}
		if v.UnderProvisioned <= 0 || v.BeyondMax <= 0 || v.WorstShortfallRPS < 50 {
			t.Errorf("under-provisioned %s (%s beyond max), worst shortfall %.0f req/s; want > 0, > 0, >= 50 (100 req/s against 2 pods' 50)",
				v.UnderProvisioned, v.BeyondMax, v.WorstShortfallRPS)
		}
		if !strings.Contains(stdout, "NOT ENOUGH: the peak (100 req/s) needs 4 pods, maxReplicas is 2") {
			t.Errorf("the printed verdict table lacks the NOT ENOUGH line")
		}
	})
}
