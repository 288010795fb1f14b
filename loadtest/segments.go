package loadtest

import (
	"fmt"
	"math/big"
	"strings"
)

// DefaultVUsPerRunner is how many VUs one runner pod drives: a k6 process
// with a 1-CPU request runs a few hundred VUs of these flows comfortably,
// so the million-user shape's 10,000 VUs take 20 pods.
const DefaultVUsPerRunner = 500

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
		segs[i] = Segment{Index: i, From: big.NewRat(int64(i), int64(n)), To: big.NewRat(int64(i+1), int64(n))}
	}
	return segs
}

// Sequence is the --execution-segment-sequence shared by all runners, e.g.
// "0,1/4,1/2,3/4,1": with it, k6 spreads VUs so the runners together run
// exactly the scenario.
func Sequence(segs []Segment) string {
	parts := []string{"0"}
	for _, s := range segs {
		parts = append(parts, ratString(s.To))
	}
	return strings.Join(parts, ",")
}

// ScaleVUs is the VUs a segment runs of a stage target: the units of the
// target assigned to each segment by its cumulative boundaries, so every VU
// goes to exactly one runner and the runners' counts add up to the target.
func ScaleVUs(target int, s Segment) int {
	return floorMul(target, s.To) - floorMul(target, s.From)
}

func floorMul(n int, r *big.Rat) int {
	num := new(big.Int).Mul(big.NewInt(int64(n)), r.Num())
	return int(new(big.Int).Quo(num, r.Denom()).Int64())
}

// RunnerScript is the /bin/sh command a runner pod runs: it picks its
// segment from $K6_SEGMENTS by $JOB_COMPLETION_INDEX and execs k6.
// K6_EXECUTION_SEGMENT and K6_EXECUTION_SEGMENT_SEQUENCE are k6's own
// environment options.
func RunnerScript(scriptPath, optionsPath string, extraArgs []string) string {
	args := ""
	for _, a := range extraArgs {
		args += " " + shellQuote(a)
	}
	return fmt.Sprintf(`set -eu
set -- $K6_SEGMENTS
shift "${JOB_COMPLETION_INDEX:-0}"
export K6_EXECUTION_SEGMENT="$1"
echo "runner ${JOB_COMPLETION_INDEX:-0}: segment $K6_EXECUTION_SEGMENT of $K6_EXECUTION_SEGMENT_SEQUENCE" >&2
exec k6 run --config %s%s %s`, shellQuote(optionsPath), args, shellQuote(scriptPath))
}

// SegmentList is the K6_SEGMENTS value: every segment, space-separated.
func SegmentList(segs []Segment) string {
	parts := make([]string, len(segs))
	for i, s := range segs {
		parts[i] = s.String()
	}
	return strings.Join(parts, " ")
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
