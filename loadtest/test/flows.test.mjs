// The flows' exports and metrics: the contract with the Go side
// (loadtest/flows.go CustomMetrics, the report command's marker) and with
// the distributed run (no teardown(): it would run on every runner).
import test from 'node:test';
import assert from 'node:assert/strict';
import { Run } from './harness.mjs';

// loadtest/flows.go CustomMetrics; the Go side reads these names and types.
const metrics = {
  'cirkelline.js': {
    health_check_duration: ['trend', true], auth_duration: ['trend', true], chat_duration: ['trend', true],
    errors: ['rate', false], successful_logins: ['counter', false], chat_messages: ['counter', false],
  },
  'partypic.js': {
    session_create_duration: ['trend', true], register_duration: ['trend', true], upload_duration: ['trend', true],
    errors: ['rate', false], registrations: ['counter', false], photos_uploaded: ['counter', false],
  },
};

for (const [script, want] of Object.entries(metrics)) {
  test(`${script}: exports default and handleSummary, no options and no teardown`, async () => {
    const run = new Run(script, {});
    const vu = await run.vu(1);
    const m = vu.module;
    assert.equal(typeof m.default, 'function');
    assert.equal(typeof m.handleSummary, 'function');
    assert.equal(m.teardown, undefined, 'teardown() would run on every runner of a distributed run');
    assert.equal(m.options, undefined, 'options come from options.json (the Go side)');
    assert.equal(typeof m.setup, script === 'partypic.js' ? 'function' : 'undefined');
  });

  test(`${script}: declares exactly the metrics the Go side expects, at init`, async () => {
    const run = new Run(script, {});
    await run.vu(1);
    const got = Object.fromEntries([...run.metrics].map(([name, m]) => [name, [m.type, m.isTime]]));
    assert.deepEqual(got, want);
  });

  test(`${script}: a REQUEST_INTERVAL_SECONDS that is not a number >= 0 fails the init context`, async () => {
    for (const bad of ['abc', '-1', '30s']) {
      const run = new Run(script, { REQUEST_INTERVAL_SECONDS: bad });
      await assert.rejects(run.vu(1), /REQUEST_INTERVAL_SECONDS/);
    }
    for (const ok of ['', '0', '30', '0.5']) {
      await new Run(script, { REQUEST_INTERVAL_SECONDS: ok }).vu(1);
    }
  });
}
