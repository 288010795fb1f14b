package loadtest

import (
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"
)

// APIPort is the port of k6's REST API on every runner: the starter resumes
// the paused runners through it. 6565 is k6's default (--address,
// k6 v1.3.0 internal/cmd/root.go) and k6-operator's runner port.
const APIPort = 6565

// Parallelism is ceil(max VUs / VUs per runner), at least 1.
func Parallelism(shape Shape, vusPerRunner int) int {
	if vusPerRunner <= 0 {
		return 1
	}
	return max(1, (shape.MaxVUs()+vusPerRunner-1)/vusPerRunner)
}

// Segment is one runner's share of the test.
type Segment struct {
	// Index is the runner's JOB_COMPLETION_INDEX.
	Index int
	// Runners is how many segments the test is split into.
	Runners int
	// From and To bound the share of the test, 0 <= From < To <= 1.
	From, To *big.Rat
}

// String is the --execution-segment value, e.g. "1/4:1/2".
func (s Segment) String() string { return ratString(s.From) + ":" + ratString(s.To) }

func ratString(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	return r.String()
}

// Segments splits 0..1 into n equal execution segments, one per runner.
func Segments(n int) []Segment {
	segs := make([]Segment, n)
	for i := range n {
		segs[i] = Segment{Index: i, Runners: n, From: big.NewRat(int64(i), int64(n)), To: big.NewRat(int64(i+1), int64(n))}
	}
	return segs
}

// Sequence is the --execution-segment-sequence shared by all runners, e.g.
// "0,1/4,1/2,3/4,1": with it, k6 stripes every VU to exactly one runner, so
// the runners together run exactly the scenario.
func Sequence(segs []Segment) string {
	parts := []string{"0"}
	for _, s := range segs {
		parts = append(parts, ratString(s.To))
	}
	return strings.Join(parts, ",")
}

// ScaleVUs is the VUs a segment runs of a stage target, as k6 computes it.
// k6 stripes values over the segments of the sequence
// (ExecutionSegmentSequenceWrapper, k6 v1.3.0 lib/execution_segment.go):
// with n equal segments the striping is round robin, so segment i gets
// target/n, plus one while i < target mod n. Every VU goes to exactly one
// runner and the runners' counts add up to the target.
func ScaleVUs(target int, s Segment) int {
	n := max(s.Runners, 1)
	vus := target / n
	if s.Index < target%n {
		vus++
	}
	return vus
}

// Runner command environment: the pod template is shared by every runner
// of the Indexed Job, so each pod picks its segment at start-up from these
// by $JOB_COMPLETION_INDEX (set by the Job controller on Indexed Jobs).
const (
	// EnvRunnerSegments lists every runner's segment, space-separated.
	EnvRunnerSegments = "RUNNER_SEGMENTS"
	// EnvRunnerSequence is the execution segment sequence.
	EnvRunnerSequence = "RUNNER_SEGMENT_SEQUENCE"
	// EnvRunnerSegment is the segment this runner runs; the flows put it
	// in their summary line.
	EnvRunnerSegment = "RUNNER_SEGMENT"
)

// RunnerEnv is the environment the runner command reads.
func RunnerEnv(segs []Segment) map[string]string {
	parts := make([]string, len(segs))
	for i, s := range segs {
		parts[i] = s.String()
	}
	return map[string]string{EnvRunnerSegments: strings.Join(parts, " "), EnvRunnerSequence: Sequence(segs)}
}

// RunnerScript is the /bin/sh command a runner pod runs. It picks its
// segment by $JOB_COMPLETION_INDEX and execs k6 with:
//   - --execution-segment and --execution-segment-sequence: k6 reads the
//     segment only from these flags (k6 v1.3.0 internal/cmd/options.go);
//     lib/options.go tags both fields `ignored:"true"` for the environment,
//     so no K6_* variable can carry them;
//   - --paused with the REST API on --address 0.0.0.0:6565, so the starter
//     resumes every runner at once (k6-operator's runner does the same,
//     pkg/resources/jobs/runner.go);
//   - --no-setup: setup() runs once, on runner 0, through the REST API
//     (POST /v1/setup), and the starter hands its data to the others
//     (PUT /v1/setup), as k6-operator's runSetup does;
//   - every tag of the run (tags, normally Tags) and runner=<index>, each a
//     --tag flag: k6 takes the run's tags from one source only. Its
//     consolidation (internal/cmd/config.go getConsolidatedConfig) applies
//     the --config file, the script's options, the K6_* environment and the
//     command line in that order, and lib/options.go Options.Apply replaces
//     RunTags whole whenever the later layer has any ("if len(opts.RunTags)
//     > 0 { o.RunTags = opts.RunTags }"; internal/cmd/config_consolidation_test.go
//     pins it: a file's {"tags": {...}} and a --tag leave only the --tag).
//     A --tag runner=<index> alone would drop stack, run and environment
//     from every sample, so the command line carries them all.
//     (k6-operator tags instance_id the same way.)
func RunnerScript(scriptPath, optionsPath string, tags map[string]string, extraArgs []string) string {
	tagArgs := ""
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		tagArgs += "--tag " + shellQuote(k+"="+tags[k]) + " "
	}
	tagArgs += `--tag "` + RunnerTag + `=$index"`
	args := ""
	for _, a := range extraArgs {
		args += " " + shellQuote(a)
	}
	return fmt.Sprintf(`set -eu
index="${JOB_COMPLETION_INDEX:-0}"
set -- $%[1]s
if [ "$index" -ge "$#" ]; then
  echo "runner $index: no execution segment (only $# in %[1]s)" >&2
  exit 2
fi
shift "$index"
export %[3]s="$1"
echo "runner $index: segment $1 of $%[2]s" >&2
exec k6 run --paused --address 0.0.0.0:%[4]d --no-setup \
  --execution-segment "$1" --execution-segment-sequence "$%[2]s" \
  %[8]s \
  --config %[5]s%[6]s %[7]s`,
		EnvRunnerSegments, EnvRunnerSequence, EnvRunnerSegment, APIPort, shellQuote(optionsPath), args, shellQuote(scriptPath), tagArgs)
}

// PausedBeforeRun is the execution status a --paused k6 reports on
// GET /v1/status once its VUs are initialised and it waits for the resume
// (k6 v1.3.0 lib/execution.go: Created 0, InitVUs 1, InitExecutors 2,
// InitDone 3, PausedBeforeRun 4, Started 5, Setup 6, Running 7, Teardown 8,
// Ended 9, Interrupted 10; internal/execution/scheduler.go Run sets it
// after Init). k6 answers the endpoint before that: internal/cmd/run.go
// starts the API server, then execScheduler.Init initialises the VUs.
const PausedBeforeRun = 4

// RunnerReadyCommand is the runner's readiness probe: ready while k6
// reports its VUs initialised and not yet ended, i.e. an execution status
// from PausedBeforeRun (4) to Teardown (8). api/v1/status_routes.go
// handleGetStatus writes the status with json.Marshal, compact, as
// {"data":{...,"attributes":{"status":4,"paused":true,...}}} (the status is
// a number: lib/execution_status_gen.go has no JSON methods). wget and grep
// are busybox's, from the grafana/k6 image's alpine base (its Dockerfile:
// FROM alpine:3.22).
func RunnerReadyCommand() []string {
	return []string{"/bin/sh", "-c", fmt.Sprintf(
		`wget -q -T 1 -O - http://127.0.0.1:%d/v1/status | grep -q '"status":[4-8],'`, APIPort)}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
