// The flows' exports and metrics: the contract with the Go side (the flow
// registry, loadtest/flows.go, as testdata/flows.json: FLOWS) and with the
// distributed run (no teardown(): it would run on every runner). Every flow
// of the registry is checked; a new flow needs no row here.
import test from 'node:test';
import assert from 'node:assert/strict';
import { FLOWS, Run } from './harness.mjs';

for (const [flow, { script, metrics, setup, env }] of Object.entries(FLOWS)) {
  test(`${flow}: exports default and handleSummary, setup() as the registry says, no options and no teardown`, async () => {
    const run = new Run(script, {});
    const vu = await run.vu(1);
    const m = vu.module;
    assert.equal(typeof m.default, 'function');
    assert.equal(typeof m.handleSummary, 'function');
    assert.equal(m.teardown, undefined, 'teardown() would run on every runner of a distributed run');
    assert.equal(m.options, undefined, 'options come from options.json (the Go side)');
    assert.equal(typeof m.setup, setup ? 'function' : 'undefined', 'FlowSpec.Setup');
  });

  test(`${flow}: declares exactly the metrics the Go side expects, at init; its Trends are times`, async () => {
    const run = new Run(script, {});
    await run.vu(1);
    const got = Object.fromEntries([...run.metrics].map(([name, m]) => [name, m.type]));
    assert.deepEqual(got, metrics);
    for (const [name, m] of run.metrics) {
      assert.equal(m.isTime, m.type === 'trend', `${name}: the flows' Trends are durations, which k6 reports as times`);
    }
  });

  test(`${flow}: a REQUEST_INTERVAL_SECONDS that is not a number >= 0 fails the init context`, async () => {
    for (const bad of ['abc', '-1', '30s']) {
      const run = new Run(script, { REQUEST_INTERVAL_SECONDS: bad });
      await assert.rejects(run.vu(1), /REQUEST_INTERVAL_SECONDS/);
    }
    for (const ok of ['', '0', '30', '0.5']) {
      await new Run(script, { REQUEST_INTERVAL_SECONDS: ok }).vu(1);
    }
  });

  test(`${flow}: requires every setting the Go side passes (no default of its own), as a number >= 0`, async () => {
    assert.ok('THINK_SECONDS' in env, 'every flow thinks (pacing.js)');
    for (const name of Object.keys(env)) {
      for (const bad of [undefined, '', 'abc', '-1', 'Infinity']) {
        await assert.rejects(new Run(script, { [name]: bad }).vu(1), new RegExp(`${name} must be a number >= 0`), `${name}=${bad}`);
      }
      await new Run(script, { [name]: '0' }).vu(1);
    }
  });
}
