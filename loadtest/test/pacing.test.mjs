// REQUEST_INTERVAL_SECONDS: N VUs send N / interval requests per second
// (the seed's capacity model: one request per user every 30 s). Measured on
// what the fake backend saw, over a long virtual window.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { EPOCH, Run } from './harness.mjs';
import { Backend } from './fakes/backend.mjs';

/** @type {Backend} */
let be;
before(async () => { be = await Backend.start(); });
after(async () => { await be.stop(); });

const USER = { email: 'loadtest@example.com', password: 'pw-123' };
const WINDOW_INTERVALS = 50;

/**
 * Runs every VU until its virtual clock passes the end of the window
 * (VUs are independent: each has its own clock, all starting at EPOCH),
 * stopping early if a VU sends far more than paced.
 */
async function paced(script, env, vus, interval) {
  const run = new Run(script, { BASE_URL: be.url, ...env, REQUEST_INTERVAL_SECONDS: String(interval), THINK_SECONDS: '1' });
  if (script === 'partypic.js') {
    const setup = new Run(script, { BASE_URL: be.url, SESSIONS: '1' });
    run.setSetupData(JSON.stringify(await setup.setup()));
  }
  const end = EPOCH + (WINDOW_INTERVALS + 2) * interval * 1000;
  const cap = (WINDOW_INTERVALS + 3) * 3;
  for (let id = 1; id <= vus; id++) {
    const vu = await run.vu(id);
    while (vu.clock < end && run.requests.filter((r) => r.vu === id).length < cap) {
      run.iterate(vu);
    }
  }
  return run;
}

/** Requests per second the backend saw in [EPOCH + interval, EPOCH + (1 + WINDOW) * interval). */
async function rate(interval, runId) {
  const from = EPOCH + interval * 1000;
  const to = from + WINDOW_INTERVALS * interval * 1000;
  const seen = (await be.appLog()).filter((e) => e.meta.run === runId && e.meta.phase === 'iteration')
    .map((e) => Number(e.meta.time)).filter((t) => t >= from && t < to);
  return seen.length / (WINDOW_INTERVALS * interval);
}

const cases = [
  ['cirkelline.js', 1, 30], ['cirkelline.js', 10, 30], ['cirkelline.js', 40, 30],
  ['cirkelline.js', 25, 2], ['cirkelline.js', 7, 0.5],
  ['partypic.js', 1, 30], ['partypic.js', 12, 30], ['partypic.js', 5, 3],
];

for (const [script, vus, interval] of cases) {
  test(`${script}: ${vus} VUs every ${interval}s send ${vus}/${interval} req/s within 5%`, async () => {
    await be.reset({ cirkellineUser: USER });
    const run = await paced(script, { TEST_EMAIL: USER.email, TEST_PASSWORD: USER.password, SESSIONS: '1' }, vus, interval);
    const got = await rate(interval, run.id);
    const want = vus / interval;
    assert.ok(Math.abs(got - want) <= 0.05 * want, `${got.toFixed(4)} req/s, want ${want.toFixed(4)} ± 5%`);
    assert.ok(run.sleeps.every((s) => s.seconds !== 1), 'THINK_SECONDS is not slept when paced');
  });
}

test('paced: a VU never sends two requests closer than the interval, even after a slow response', async () => {
  const interval = 30;
  // Every 7th request of a VU takes 4 intervals: a schedule that catches up
  // would then fire several requests at once.
  await be.reset({ cirkellineUser: USER, latency: { every: 7, ms: 4 * interval * 1000 } });
  const run = await paced('cirkelline.js', { TEST_EMAIL: USER.email, TEST_PASSWORD: USER.password }, 3, interval);
  const log = (await be.appLog()).filter((e) => e.meta.run === run.id);
  for (const vu of ['1', '2', '3']) {
    const times = log.filter((e) => e.meta.vu === vu).map((e) => Number(e.meta.time));
    assert.ok(times.length > 20);
    for (let i = 1; i < times.length; i++) {
      assert.ok(times[i] - times[i - 1] >= interval * 1000 - 1, `VU ${vu}: requests ${i - 1} and ${i} ${times[i] - times[i - 1]} ms apart`);
    }
  }
});

test('paced: the first requests of VUs started together are spread over the first interval', async () => {
  await be.reset({ cirkellineUser: USER });
  const run = new Run('cirkelline.js', { BASE_URL: be.url, REQUEST_INTERVAL_SECONDS: '30' });
  for (let id = 1; id <= 20; id++) {
    run.iterate(await run.vu(id));
  }
  const first = (await be.appLog()).map((e) => Number(e.meta.time) - EPOCH);
  assert.equal(first.length, 20);
  assert.ok(first.every((t) => t >= 0 && t < 30_000));
  assert.ok(new Set(first).size > 10, `first requests at ${first}`);
});

test('not paced: THINK_SECONDS sleeps stay as they were', async () => {
  await be.reset({ cirkellineUser: USER });
  const run = new Run('partypic.js', { BASE_URL: be.url, THINK_SECONDS: '4', PHOTOS_PER_GUEST: '2' });
  run.setSetupData(JSON.stringify({ sessionIds: ['s'] }));
  const vu = await run.vu(1);
  run.iterate(vu);
  assert.deepEqual(run.sleeps.map((s) => s.seconds), [4, 4, 4]);
});
