package rehearse

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"sigs.k8s.io/yaml"

	"github.com/cirkelline/infra/components"
	"github.com/cirkelline/infra/loadtest"
)

func spikeDemand(t *testing.T) Demand {
	t.Helper()
	c := loadtest.DefaultConfig()
	c.Shape = loadtest.Spike
	d, err := NewDemand(c)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDemandFollowsTheLoadModel(t *testing.T) {
	d := spikeDemand(t)
	// The spike: 10s→100, 1m@100, 10s→500, 3m@500, 10s→100, 3m@100, 10s→0;
	// the cirkelline flow sends 2 requests per VU-second (health + chat, 1 s think).
	for _, tt := range []struct {
		at       time.Duration
		vus, rps float64
		needed   int32
	}{
		{0, 0, 0, 0},
		{5 * time.Second, 50, 100, 4},
		{10 * time.Second, 100, 200, 8},
		{75 * time.Second, 300, 600, 24},
		{3 * time.Minute, 500, 1000, 40},
		{455 * time.Second, 50, 100, 4},
		{9 * time.Minute, 0, 0, 0},
	} {
		if v, r := d.VUs(tt.at), d.RPS(tt.at); v != tt.vus || r != tt.rps || d.PodsNeeded(r) != tt.needed {
			t.Errorf("at %s: %v VUs, %v req/s, %d pods; want %v, %v, %d", tt.at, v, r, d.PodsNeeded(r), tt.vus, tt.rps, tt.needed)
		}
	}
	if d.Duration() != 7*time.Minute+40*time.Second || d.PeakRPS() != 1000 {
		t.Errorf("duration %s, peak %v req/s; want 7m40s, 1000", d.Duration(), d.PeakRPS())
	}
	want := []time.Duration{0, 10 * time.Second, 70 * time.Second, 80 * time.Second, 260 * time.Second, 270 * time.Second, 450 * time.Second, 460 * time.Second}
	if got := d.StageStarts(); !reflect.DeepEqual(got, want) {
		t.Errorf("stage starts %v, want %v", got, want)
	}
}

func TestDemandOfThePacedShapeIsTheCapacityModel(t *testing.T) {
	c := loadtest.DefaultConfig()
	c.Shape = loadtest.MillionUsers
	d, err := NewDemand(c)
	if err != nil {
		t.Fatal(err)
	}
	// 10,000 VUs, one request each every 30 s: the capacity check's 333 req/s, 14 pods.
	if got, want := d.PodsNeeded(d.PeakRPS()), int32(c.Capacity.PodsNeeded()); got != want || want != 14 {
		t.Errorf("peak needs %d pods, the capacity model %d (want 14)", got, want)
	}
}

func TestNewDemandRejectsUnusableConfigs(t *testing.T) {
	c := loadtest.DefaultConfig()
	c.Capacity.PerPodRPS = 0
	if _, err := NewDemand(c); err == nil || !strings.Contains(err.Error(), "loadtest.capacity.perPodRps is 0") {
		t.Errorf("perPodRps 0: %v", err)
	}
	c = loadtest.DefaultConfig()
	c.Stages = []loadtest.Stage{{Duration: loadtest.Duration(time.Minute), Target: 0}}
	if _, err := NewDemand(c); err == nil || !strings.Contains(err.Error(), "never runs a VU") {
		t.Errorf("no VUs: %v", err)
	}
}

// goldenManifest reads a stack's golden manifest by its file name after
// the apply-rank prefix ("NN-<kind>-<namespace>-<name>.yaml").
func goldenManifest(t *testing.T, stack, name string) []byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "rendered", stack, "[0-9][0-9]-"+name))
	if len(files) != 1 {
		t.Fatalf("want one golden %s of %s, found %v", name, stack, files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stagingTarget reads the golden staging manifests.
func stagingTarget(t *testing.T) Target {
	t.Helper()
	var dep appsv1.Deployment
	var hpa autoscalingv2.HorizontalPodAutoscaler
	for file, into := range map[string]any{
		"deployment-cirkelline-staging-cirkelline-backend.yaml":                  &dep,
		"horizontalpodautoscaler-cirkelline-staging-cirkelline-backend-hpa.yaml": &hpa,
	} {
		b := goldenManifest(t, "staging", file)
		if err := yaml.Unmarshal(b, into); err != nil {
			t.Fatal(err)
		}
	}
	tgt, err := NewTarget(&dep, &hpa)
	if err != nil {
		t.Fatal(err)
	}
	return tgt
}

func TestTargetFromStagingManifests(t *testing.T) {
	tgt := stagingTarget(t)
	got := tgt
	got.ScaleUp, got.ScaleDown, got.Selector = nil, nil, nil
	want := Target{Namespace: "cirkelline-staging", Deployment: "cirkelline-backend", HPA: "cirkelline-backend-hpa",
		MinReplicas: 1, MaxReplicas: 5, CPUTargetPercent: 70, CPURequestMilli: 100, CPULimitMilli: 500,
		MemoryRequestBytes: 256 << 20, Containers: 1, ProbeStartup: 10 * time.Second}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("target\n got %+v\nwant %+v", got, want)
	}
	// 4 pods or 100 % per 15 s, the larger; 1 pod or 10 % per minute after 5 min, the smaller.
	for from, want := range map[int32]int32{1: 5, 2: 6, 4: 8, 5: 10, 10: 20} {
		if got := tgt.ScaleUpLimit(from); got != want {
			t.Errorf("ScaleUpLimit(%d) = %d, want %d", from, got, want)
		}
	}
	if got := tgt.ScaleUpSteps(1, 5); got != 1 {
		t.Errorf("1 → 5 in %d steps, want 1", got)
	}
	if got := tgt.ScaleUpSteps(1, 40); got != 4 { // 1 → 5 → 10 → 20 → 40
		t.Errorf("1 → 40 in %d steps, want 4", got)
	}
	if got, want := tgt.ScaleDownBound(5), 300*time.Second+4*75*time.Second; got != want {
		t.Errorf("ScaleDownBound(5) = %s, want %s", got, want)
	}
}

func TestPodCPUStopsAtTheLimit(t *testing.T) {
	tgt := stagingTarget(t)
	for _, tt := range []struct {
		rps   float64
		ready int32
		want  float64
	}{
		{25, 1, 70},    // perPodRps at the 70 % target of 100m
		{50, 2, 70},    // shared
		{100, 1, 280},  // 4x the load, 4x the CPU
		{1000, 2, 500}, // throttled at the 500m limit
		{100, 0, 0},    // nobody ready
	} {
		if got := tgt.PodCPUMilli(tt.rps, tt.ready, 25); got != tt.want {
			t.Errorf("%v req/s over %d pods: %vm, want %vm", tt.rps, tt.ready, got, tt.want)
		}
	}
}

// samples of a small rehearsal: 4 pods needed from 10 s to 40 s, then
// nothing; the HPA goes 1 → 4 and back to 1.
func baseSamples() []Sample {
	rows := []struct {
		t                       int
		rps                     float64
		desired, current, ready int32
	}{
		{-2, 0, 1, 1, 1}, {0, 0, 1, 1, 1}, {10, 100, 1, 1, 1}, {20, 100, 4, 4, 1}, {30, 100, 4, 4, 4}, {40, 0, 4, 4, 4},
		{50, 0, 4, 4, 4}, {60, 0, 1, 1, 1}, {70, 0, 1, 1, 1},
	}
	var out []Sample
	for _, r := range rows {
		out = append(out, Sample{T: time.Duration(r.t) * time.Second, DemandRPS: r.rps, VUs: r.rps / 2, Needed: int32((r.rps + 24) / 25),
			Desired: r.desired, Current: r.current, Ready: r.ready, CapacityRPS: float64(r.ready) * 25, HPAUtilization: -1})
	}
	return out
}

func smallDemand() Demand {
	return Demand{Shape: loadtest.Shape{Name: "small", Stages: []loadtest.Stage{
		{Duration: loadtest.Duration(10 * time.Second), Target: 0}, {Duration: loadtest.Duration(30 * time.Second), Target: 50}}},
		PerVURPS: 2, PerPodRPS: 25}
}

func TestJudge(t *testing.T) {
	base := Verdict{MinReplicas: 1, MaxReplicas: 5, PeakRPS: 100, PeakNeeded: 4, Expected: 4, Reached: true, TimeToCapacity: 20 * time.Second,
		PolicySteps: 1, PolicyPeriod: 15 * time.Second, UnderProvisioned: 20 * time.Second, WorstShortfallRPS: 75,
		PeakReady: 4, PeakDesired: 4, ScaledDown: true, ScaleDownTime: 20 * time.Second, Observed: 30 * time.Second}
	for _, tt := range []struct {
		name    string
		samples func(s []Sample) []Sample
		target  func(t *Target)
		want    func(v *Verdict)
		summary string
	}{
		{name: "carried", summary: "OK: the HPA reached the 4 pods the peak needs"},
		{name: "maxReplicas too small", target: func(t *Target) { t.MaxReplicas = 2 },
			samples: func(s []Sample) []Sample {
				for i := range s {
					s[i].Desired, s[i].Current, s[i].Ready = min(s[i].Desired, 2), min(s[i].Current, 2), min(s[i].Ready, 2)
					s[i].CapacityRPS = float64(s[i].Ready) * 25
				}
				return s
			},
			want: func(v *Verdict) {
				v.MaxReplicas, v.Expected, v.PeakReady, v.PeakDesired, v.TimeToCapacity = 2, 2, 2, 2, 20*time.Second
				v.UnderProvisioned, v.BeyondMax = 30*time.Second, 30*time.Second
			},
			summary: "NOT ENOUGH: the peak (100 req/s) needs 4 pods, maxReplicas is 2: raise services[].hpa.maxReplicas to at least 4, or perPodRps"},
		{name: "never reached", samples: func(s []Sample) []Sample {
			for i := range s {
				s[i].Ready, s[i].CapacityRPS = min(s[i].Ready, 3), min(s[i].CapacityRPS, 75)
			}
			return s
		},
			want: func(v *Verdict) {
				v.Reached, v.TimeToCapacity, v.PeakReady, v.UnderProvisioned, v.WorstShortfallRPS = false, 0, 3, 30*time.Second, 75
			},
			summary: "NOT REACHED: the ready pods never reached 4 (the peak needs 4); lengthen the shape's peak or check the HPA's events"},
		{name: "a step beyond the policies", target: func(t *Target) {
			t.ScaleUp = &autoscalingv2.HPAScalingRules{Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: 1, PeriodSeconds: 15}}}
		},
			want: func(v *Verdict) {
				v.PolicySteps = 3
				v.Violations = []string{"at 20s: 1 → 4 replicas, the policies allow 2"}
			},
			summary: "HPA BROKE ITS POLICIES: at 20s: 1 → 4 replicas, the policies allow 2"},
		{name: "not back at min", samples: func(s []Sample) []Sample { return s[:len(s)-2] },
			want:    func(v *Verdict) { v.ScaledDown, v.ScaleDownTime, v.Observed = false, 0, 10*time.Second },
			summary: "OK: the HPA reached the 4 pods the peak needs"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tgt := Target{MinReplicas: 1, MaxReplicas: 5, CPUTargetPercent: 70, CPURequestMilli: 100}
			if tt.target != nil {
				tt.target(&tgt)
			}
			samples := baseSamples()
			if tt.samples != nil {
				samples = tt.samples(samples)
			}
			want := base
			want.Violations = nil
			if tt.want != nil {
				tt.want(&want)
			}
			got := Judge(samples, smallDemand(), tgt)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("verdict\n got %+v\nwant %+v", got, want)
			}
			if got.Summary() != tt.summary {
				t.Errorf("summary %q\n want %q", got.Summary(), tt.summary)
			}
			if got.OK() != strings.HasPrefix(tt.summary, "OK") {
				t.Errorf("OK() = %v for %q", got.OK(), tt.summary)
			}
		})
	}
}

func TestVerdictTable(t *testing.T) {
	v := Judge(baseSamples(), smallDemand(), Target{MinReplicas: 1, MaxReplicas: 5, CPUTargetPercent: 70, CPURequestMilli: 100})
	want := `peak demand          100 req/s = 4 pods (capacity model)
time to capacity     20 s to 4 ready pods after the demand first needed them (policies allow 1 → 4 in 1 period(s) of 15 s)
under-provisioned    20 s (0 s of it beyond maxReplicas); worst shortfall 75 req/s
peak replicas        4 ready, 4 desired; maxReplicas 5
back to minReplicas  1: 20 s after the shape ended
verdict              OK: the HPA reached the 4 pods the peak needs
`
	if got := v.Table(); got != want {
		t.Errorf("table\n%s\nwant\n%s", got, want)
	}
}

func TestWriteCSV(t *testing.T) {
	s := baseSamples()[2:4]
	s[1].HPAUtilization, s[1].PodCPUMilli, s[1].PodUtilization = 280, 280, 280
	var b bytes.Buffer
	if err := WriteCSV(&b, s); err != nil {
		t.Fatal(err)
	}
	want := `t_seconds,vus,demand_rps,pods_needed,capacity_rps,desired_replicas,current_replicas,ready_replicas,pod_cpu_millicores,pod_cpu_utilization_percent,hpa_cpu_utilization_percent
10.0,50.0,100.0,4,25.0,1,1,1,0.0,0.0,
20.0,50.0,100.0,4,25.0,4,4,1,280.0,280.0,280
`
	if b.String() != want {
		t.Errorf("csv\n%s\nwant\n%s", b.String(), want)
	}
}

func TestPlotWritesPNGAndSVG(t *testing.T) {
	dir := t.TempDir()
	res := &Result{Demand: smallDemand(), Target: Target{MinReplicas: 1, MaxReplicas: 5, CPUTargetPercent: 70}, Samples: baseSamples()}
	files, err := Plot(dir, "r", "test", res)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join(dir, "r.png"), filepath.Join(dir, "r.svg")}; !reflect.DeepEqual(files, want) {
		t.Fatalf("files %v, want %v", files, want)
	}
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	if img.Width != 11*96 || img.Height != 528 {
		t.Errorf("png %dx%d, want 1056x528", img.Width, img.Height)
	}
	svg, _ := os.ReadFile(files[1])
	for _, text := range []string{"<svg", "maxReplicas 5", "ready pods (capacity)", "under-provisioned"} {
		if !bytes.Contains(svg, []byte(text)) {
			t.Errorf("svg lacks %q", text)
		}
	}
	// A maxReplicas far above the peak is named, not drawn.
	res.Target.MaxReplicas = 50
	files, err = Plot(dir, "far", "test", res)
	if err != nil {
		t.Fatal(err)
	}
	svg, _ = os.ReadFile(files[1])
	if !bytes.Contains(svg, []byte("maxReplicas 50: above the plot")) || bytes.Contains(svg, []byte("maxReplicas 50<")) {
		t.Errorf("svg with maxReplicas 50 does not name it above the plot")
	}
}

func TestReplayStops(t *testing.T) {
	tgt := Target{MinReplicas: 1}
	atMin := Sample{Desired: 1, Current: 1, Ready: 1}
	scaled := Sample{Desired: 3, Current: 3, Ready: 3}
	m := time.Minute
	for _, tt := range []struct {
		name            string
		now, end, limit time.Duration
		untilMin        bool
		s               Sample
		want            bool
	}{
		{"during the shape", 1 * m, 2 * m, 6 * m, true, atMin, false},
		{"at the limit", 6 * m, 2 * m, 6 * m, true, scaled, true},
		{"until min: back at min after the shape", 3 * m, 2 * m, 6 * m, true, atMin, true},
		{"until min: still scaled", 3 * m, 2 * m, 6 * m, true, scaled, false},
		{"fixed cool-down: at min early, keeps watching", 3 * m, 2 * m, 6 * m, false, atMin, false},
		{"no cool-down: stops at the end", 2 * m, 2 * m, 2 * m, false, scaled, true},
	} {
		if got := finished(tt.now, tt.end, tt.limit, tt.untilMin, tt.s, tgt); got != tt.want {
			t.Errorf("%s: finished = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestDefaultScaleDownTimes: how long the shipped HPAs take to scale back
// down once the load is gone, computed from the rendered HPA with the
// controller's algorithm (ScaleDownBound mirrors
// calculateScaleDownLimitWithBehaviors). nominal is the stabilisation
// window plus one policy period per step; the bound adds a 15 s
// controller sync per step. The row "as before" is the old selectPolicy
// Min, under which the 10 % policy never won (components.DefaultHPA).
func TestDefaultScaleDownTimes(t *testing.T) {
	hpa := func(stack, file string) *autoscalingv2.HorizontalPodAutoscaler {
		b := goldenManifest(t, stack, file)
		var h autoscalingv2.HorizontalPodAutoscaler
		if err := yaml.Unmarshal(b, &h); err != nil {
			t.Fatal(err)
		}
		return &h
	}
	production := hpa("production", "horizontalpodautoscaler-cirkelline-cirkelline-backend-hpa.yaml")
	staging := hpa("staging", "horizontalpodautoscaler-cirkelline-staging-cirkelline-backend-hpa.yaml")
	minPolicy := func(h *autoscalingv2.HorizontalPodAutoscaler) *autoscalingv2.HorizontalPodAutoscaler {
		h = h.DeepCopy()
		h.Spec.Behavior.ScaleDown.SelectPolicy = ptrTo(autoscalingv2.MinChangePolicySelect)
		return h
	}
	for _, tt := range []struct {
		name          string
		hpa           *autoscalingv2.HorizontalPodAutoscaler
		from          int32
		steps         int
		nominal, upTo time.Duration
	}{
		{"production 50 → 3", production, 50, 19, 24 * time.Minute, 28*time.Minute + 45*time.Second},
		{"production 50 → 3 as before (Min)", minPolicy(production), 50, 47, 52 * time.Minute, 63*time.Minute + 45*time.Second},
		{"staging 5 → 1", staging, 5, 4, 9 * time.Minute, 10 * time.Minute},
		{"staging 5 → 1 as before (Min)", minPolicy(staging), 5, 4, 9 * time.Minute, 10 * time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			down := tt.hpa.Spec.Behavior.ScaleDown
			tgt := Target{MinReplicas: *tt.hpa.Spec.MinReplicas, ScaleDown: down}
			window := time.Duration(*down.StabilizationWindowSeconds) * time.Second
			period := time.Duration(down.Policies[0].PeriodSeconds) * time.Second
			bound := tgt.ScaleDownBound(tt.from)
			steps := int((bound - window) / (period + components.HPASyncPeriod))
			if nominal := window + time.Duration(steps)*period; steps != tt.steps || nominal != tt.nominal || bound != tt.upTo {
				t.Errorf("%d → %d: %d steps, %s nominal, %s at most; want %d, %s, %s",
					tt.from, tgt.MinReplicas, steps, nominal, bound, tt.steps, tt.nominal, tt.upTo)
			}
		})
	}
}

func ptrTo[T any](v T) *T { return &v }
