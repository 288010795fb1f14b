// @ts-check
// The flows' end-of-test summary, shared by every flow: each exports
//   export const handleSummary = summaryHandler('<flow>');
// k6 v1.3.0 takes any exported function value named handleSummary
// (internal/js/runner.go runUserProvidedHandleSummaryCallback:
// vu.getExported(consts.HandleSummaryFn), sobek.AssertFunction), so the
// closure serves as well as a function declaration.
//
// The flows import it as './summary.js', which k6 v1.3.0 resolves against
// the importing script's directory, as './pacing.js' (js/modules/resolution.go
// ModuleResolver.reversePath, internal/loader/loader.go Resolve; the
// details are in pacing.js), so it must stand next to the flow: the Go side
// ships it in the Job's ConfigMap and in `loadtest export`
// (loadtest.Flow.Files follows the flows' relative imports).
import exec from 'k6/execution';

/**
 * Marks the one stdout line handleSummary() writes: the marker, then compact
 * JSON {flow, runner, segment, tags, summary}. `go run . loadtest report`
 * finds the runners' summaries among k6's banner and logs by this prefix;
 * the Go side's loadtest.SummaryMarker is the same string (a Go test reads
 * it from this file).
 */
export const SUMMARY_MARKER = '@@k6-summary@@ ';

/**
 * The flow's handleSummary(data): it returns {stdout: line}, the line being
 * SUMMARY_MARKER, then compact JSON {"flow","runner","segment","tags",
 * "summary"}, then a newline. tags are the run's tags as k6 consolidated
 * them, the ones on every sample (k6/execution test.options is the VU's
 * lib.Options, whose RunTags marshal as "tags":
 * internal/js/modules/k6/execution/execution.go newTestInfo,
 * optionsAsObject; handleSummary's VU has that state: internal/js/runner.go
 * newVU). A returned {stdout: string} replaces k6's text summary
 * (internal/js/summary-wrapper.js; internal/cmd/run.go,
 * handleSummaryResult). handleSummary() runs in a VU with id 0 where
 * __ITER is not defined (internal/js/runner.go, HandleSummary), so it reads
 * only __ENV: JOB_COMPLETION_INDEX (runner, default 0) and RUNNER_SEGMENT
 * (segment, default 0:1).
 * @param {string} flow the flow's name, as the Go side's loadtest.Flow
 * @returns {(data: any) => {stdout: string}}
 */
export function summaryHandler(flow) {
  return (data) => {
    const runner = Number(__ENV.JOB_COMPLETION_INDEX || '0');
    return {
      stdout: SUMMARY_MARKER + JSON.stringify({
        flow,
        runner: Number.isSafeInteger(runner) && runner >= 0 ? runner : 0,
        segment: __ENV.RUNNER_SEGMENT || '0:1',
        tags: exec.test.options.tags || {},
        summary: data,
      }) + '\n',
    };
  };
}
