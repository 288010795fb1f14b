// handleSummary() (scripts/summary.js, exported by every flow): exactly one
// stdout line, the marker then compact JSON, which the Go report command
// parses back.
import test from 'node:test';
import assert from 'node:assert/strict';
import { FLOWS, Run, scriptModule } from './harness.mjs';

// The marker as the flows' shared module defines it; the Go side's
// loadtest.SummaryMarker is tied to it by a Go test (TestSummaryMarkerIsTheScripts).
const { SUMMARY_MARKER: MARKER } = await scriptModule('summary.js');

// A summary shaped like k6's (internal/js/summary.go summarizeMetricsToObject),
// with a string holding a newline to prove the line stays one line.
const data = {
  root_group: { name: '', path: '', groups: [], checks: [{ name: 'health: status 200\nsecond line', passes: 3, fails: 0 }] },
  metrics: {
    http_reqs: { type: 'counter', contains: 'default', values: { count: 42, rate: 1.4 } },
    http_req_duration: { type: 'trend', contains: 'time', values: { avg: 12.5, 'p(95)': 30, 'p(90)': 25, min: 1, med: 10, max: 40 } },
  },
  state: { isStdOutTTY: false, isStdErrTTY: false, testRunDurationMs: 30000 },
};

for (const [flow, { script }] of Object.entries(FLOWS)) {
  test(`${script}: handleSummary writes one marker line that parses back`, async () => {
    const cases = [
      [{}, 0, '0:1'],
      [{ JOB_COMPLETION_INDEX: '3', RUNNER_SEGMENT: '3/4:1' }, 3, '3/4:1'],
      [{ JOB_COMPLETION_INDEX: '12', RUNNER_SEGMENT: '12/20:13/20' }, 12, '12/20:13/20'],
    ];
    const tags = { stack: 'staging', run: '7', environment: 'staging', runner: '3' };
    for (const [env, runner, segment] of cases) {
      const run = new Run(script, env, { tags });
      const out = await run.handleSummary(data); // VU 0, no __ITER
      assert.deepEqual(Object.keys(out), ['stdout'], 'only stdout: no files, no text summary');
      const text = out.stdout;
      assert.equal(typeof text, 'string');
      assert.ok(text.endsWith('\n'));
      const lines = text.slice(0, -1).split('\n');
      assert.equal(lines.length, 1, 'exactly one line');
      assert.ok(lines[0].startsWith(MARKER));
      assert.deepEqual(JSON.parse(lines[0].slice(MARKER.length)), { flow, runner, segment, tags, summary: data });
      assert.ok(!/\n\s/.test(text), 'compact JSON');
    }
  });
}
