// starter.js against fake k6 runner REST APIs (k6 v1.3.0 api/v1): it waits
// for every runner, runs setup() on runner 0 only, PUTs the data to the
// others, resumes each runner exactly once; when a runner never answers it
// stops the others and aborts (exit 108) naming the missing one.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { Run } from './harness.mjs';
import { Backend } from './fakes/backend.mjs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** @type {Backend} */
let be;
/** The ServiceAccount token file the starter reads at init. */
let tokenFile = '';
before(async () => {
  be = await Backend.start();
  const dir = mkdtempSync(path.join(tmpdir(), 'starter-'));
  tokenFile = path.join(dir, 'token');
  writeFileSync(tokenFile, 'starter-token\n');
});
after(async () => { await be.stop(); });

/** Runs the starter with the fake Kubernetes API's env and `env`. */
async function start(env) {
  const run = new Run('starter.js', { ...be.kubernetes(tokenFile), ...env });
  const vu = await run.vu(1);
  return { run, vu, exit: run.exit(vu) };
}

/** Seconds of virtual time the starter slept. */
const slept = (run) => run.sleeps.reduce((sum, s) => sum + s.seconds, 0);

/** Requests each runner saw: [index] → [{method, path, body, status}]. */
async function byRunner(n) {
  const log = (await be.log()).filter((e) => e.server === 'runner');
  return Array.from({ length: n }, (_, i) => log.filter((e) => e.runner === i));
}

const isResume = (e) => e.method === 'PATCH' && e.path === '/v1/status' && e.body.data.attributes.paused === false;
const isStop = (e) => e.method === 'PATCH' && e.path === '/v1/status' && e.body.data.attributes.stopped === true;
const is = (method, path) => (e) => e.method === method && e.path === path;

test('starter options: one shared iteration, maxDuration = START_TIMEOUT_SECONDS + 120 s; summary prints nothing', async () => {
  const hosts = 'a:6565,b:6565';
  for (const [env, maxDuration] of [[{ RUNNERS: hosts }, '720s'], [{ RUNNERS: hosts, START_TIMEOUT_SECONDS: '60' }, '180s']]) {
    const run = new Run('starter.js', { ...be.kubernetes(tokenFile), ...env });
    const vu = await run.vu(1);
    assert.deepEqual(vu.module.options.scenarios, {
      start: { executor: 'shared-iterations', vus: 1, iterations: 1, maxDuration },
    });
    assert.deepEqual(await run.handleSummary({ metrics: {} }), {});
  }
});

test('starter: RUNNERS missing or malformed, or the Kubernetes env missing, fails the init context', async () => {
  for (const env of [{}, { RUNNERS: ' , ' }, { RUNNERS: 'http://a:6565' }, { RUNNERS: 'a' }, { RUNNERS: 'a:1', POLL_SECONDS: '0' }]) {
    await assert.rejects(new Run('starter.js', { ...be.kubernetes(tokenFile), ...env }).vu(1), /RUNNERS|POLL_SECONDS/, JSON.stringify(env));
  }
  for (const key of ['KUBERNETES_API', 'KUBERNETES_NAMESPACE', 'RUNNER_JOB']) {
    await assert.rejects(new Run('starter.js', { ...be.kubernetes(tokenFile), RUNNERS: 'a:1', [key]: '' }).vu(1), new RegExp(`${key} must be set`));
  }
});

for (const n of [1, 2, 3, 20]) {
  test(`starter: ${n} runner(s): setup on runner 0 only, data PUT to the others, each resumed exactly once`, async () => {
    await be.reset();
    const setupData = { sessionIds: ['101', '102'], note: 'from runner 0' };
    // Some runners come up late: their first status polls are refused.
    const hosts = await be.runners(Array.from({ length: n }, (_, i) => ({ refuseFirst: i % 3, setupData })));
    const { run, exit } = await start({ RUNNERS: hosts.join(','), START_TIMEOUT_SECONDS: '60', POLL_SECONDS: '2' });
    assert.deepEqual(exit, { code: 0, message: '' });
    const seen = await byRunner(n);
    assert.equal(seen[0].filter(is('POST', '/v1/setup')).length, 1);
    assert.equal(seen[0].filter(is('PUT', '/v1/setup')).length, 0, 'runner 0 already has the data');
    for (let i = 0; i < n; i++) {
      assert.equal(seen[i].filter(isResume).length, 1, `runner ${i} resumed once`);
      assert.equal(seen[i].filter(isStop).length, 0);
      assert.ok(seen[i].some((e) => e.method === 'GET' && e.status === 200));
      if (i > 0) {
        assert.equal(seen[i].filter(is('POST', '/v1/setup')).length, 0, `setup() must not run on runner ${i}`);
        const puts = seen[i].filter(is('PUT', '/v1/setup'));
        assert.equal(puts.length, 1);
        assert.deepEqual(puts[0].body, setupData);
      }
    }
    // Every runner has its data before any runner starts.
    const all = (await be.log()).filter((e) => e.server === 'runner');
    const firstResume = all.findIndex(isResume);
    assert.ok(all.slice(firstResume).every((e) => isResume(e)), 'only resumes after the first resume');
    assert.equal(all.filter(isResume).length, n);
    const lines = run.logs.map((l) => l.msg);
    assert.equal(lines.at(-1), `started ${n} runners`);
    assert.ok(lines.includes(`${n}/${n} runners ready`));
  });
}

test('starter: a flow without setup data (cirkelline) PUTs nothing and resumes all', async () => {
  await be.reset();
  const hosts = await be.runners([{}, {}, {}]); // setup() undefined: attributes {}
  const { exit } = await start({ RUNNERS: hosts.join(',') });
  assert.equal(exit.code, 0);
  const seen = await byRunner(3);
  assert.ok(seen.every((r) => r.filter(is('PUT', '/v1/setup')).length === 0));
  assert.ok(seen.every((r) => r.filter(isResume).length === 1));
});

test('starter: a runner that never answers: the ready ones are stopped, none resumed, exit 108 naming it', async () => {
  await be.reset();
  const hosts = await be.runners([{}, { down: true }, {}]);
  const { run, exit } = await start({ RUNNERS: hosts.join(','), START_TIMEOUT_SECONDS: '60', POLL_SECONDS: '2' });
  assert.equal(exit.code, 108);
  assert.match(exit.message, /^test aborted: 1 of 3 runners not ready after 60s: /);
  assert.ok(exit.message.includes(`runner 1 (${hosts[1]})`), exit.message);
  assert.match(exit.message, /ECONNREFUSED/);
  assert.ok(!exit.message.includes(`runner 0 (`) && !exit.message.includes(`runner 2 (`));
  const seen = await byRunner(3);
  for (const i of [0, 2]) {
    assert.equal(seen[i].filter(isStop).length, 1, `runner ${i} stopped`);
    assert.equal(seen[i].filter(isResume).length, 0);
    assert.equal(seen[i].filter((e) => e.path === '/v1/setup').length, 0);
  }
  // It polled for the whole timeout (virtual time), every POLL_SECONDS.
  const polls = seen[0].filter(is('GET', '/v1/status')).length;
  assert.equal(polls, 1, 'a ready runner is not polled again');
  assert.ok(run.sleeps.length >= 29 && run.sleeps.every((s) => s.seconds === 2), `${run.sleeps.length} sleeps`);
  assert.ok(run.logs.some((l) => l.msg === '2/3 runners ready'));
});

test('starter: setup() failing on runner 0 stops every runner and aborts with the response body', async () => {
  await be.reset();
  const hosts = await be.runners([{ setupStatus: 500, setupError: 'the organiser could not register: is BASE_URL right?' }, {}]);
  const { exit } = await start({ RUNNERS: hosts.join(',') });
  assert.equal(exit.code, 108);
  assert.match(exit.message, /setup\(\) on runner 0 .*HTTP 500: .*the organiser could not register/);
  const seen = await byRunner(2);
  assert.ok(seen.every((r) => r.filter(isStop).length === 1 && r.filter(isResume).length === 0));
  assert.equal(seen[1].filter(is('PUT', '/v1/setup')).length, 0);
});

test('starter: a runner refusing the setup data: every runner stopped, none resumed', async () => {
  await be.reset();
  const hosts = await be.runners([{ setupData: { x: 1 } }, {}, { putStatus: 400 }]);
  const { exit } = await start({ RUNNERS: hosts.join(',') });
  assert.equal(exit.code, 108);
  assert.ok(exit.message.includes(`could not send the setup data to runner 2 (${hosts[2]}): HTTP 400`), exit.message);
  const seen = await byRunner(3);
  assert.ok(seen.every((r) => r.filter(isStop).length === 1 && r.filter(isResume).length === 0));
});

test('starter: a runner that cannot be resumed: all stopped, no runner resumed twice', async () => {
  await be.reset();
  const hosts = await be.runners([{}, { resumeStatus: 500 }, {}]);
  const { exit } = await start({ RUNNERS: hosts.join(',') });
  assert.equal(exit.code, 108);
  assert.ok(exit.message.includes(`could not resume runner 1 (${hosts[1]}): HTTP 500`), exit.message);
  assert.match(exit.message, /Pause error/);
  const seen = await byRunner(3);
  assert.ok(seen.every((r) => r.filter(isResume).length === 1), 'each resumed once, never retried');
  assert.ok(seen.every((r) => r.filter(isStop).length === 1));
});

// issue 21 item 4: k6 answers GET /v1/status before its VUs are initialised
// (internal/cmd/run.go starts the REST API, then execScheduler.Init).
test('starter: a runner still initialising its VUs is not resumed until it reports PausedBeforeRun', async () => {
  await be.reset();
  const hosts = await be.runners([{}, { initPolls: 4 }, {}]);
  const { run, exit } = await start({ RUNNERS: hosts.join(','), POLL_SECONDS: '2' });
  assert.deepEqual(exit, { code: 0, message: '' });
  const seen = await byRunner(3);
  // Runner 1 answered 200 four times with status InitVUs before the test started;
  // nothing was resumed, and setup() did not run, before its fifth answer.
  const all = (await be.log()).filter((e) => e.server === 'runner');
  const readyAt = all.filter((e) => e.runner === 1 && e.method === 'GET')[4].seq;
  const firstControl = all.find((e) => e.method !== 'GET');
  assert.ok(firstControl.seq > readyAt, `setup/resume (${firstControl.method} ${firstControl.path}) before runner 1 was initialised`);
  assert.equal(seen[1].filter(is('GET', '/v1/status')).length, 5);
  assert.ok(seen.every((r) => r.filter(isResume).length === 1));
  assert.ok(run.logs.some((l) => l.msg === '2/3 runners ready'));
  assert.equal(slept(run), 8, 'four polls of 2 s while runner 1 initialised');
});

test('starter: a runner that never finishes initialising: the timeout names its execution status', async () => {
  await be.reset();
  const hosts = await be.runners([{}, { initPolls: 1e9 }]);
  const { exit } = await start({ RUNNERS: hosts.join(','), START_TIMEOUT_SECONDS: '20', POLL_SECONDS: '2' });
  assert.equal(exit.code, 108);
  assert.ok(exit.message.includes(`1 of 2 runners not ready after 20s: runner 1 (${hosts[1]}): execution status InitVUs (0 VUs initialised), paused true`), exit.message);
  const seen = await byRunner(2);
  assert.ok(seen.every((r) => r.filter(isStop).length === 1 && r.filter(isResume).length === 0), 'both answered, both stopped');
});

// issue 21 item 3: a runner that exits during init (k6 104: a threshold k6
// refuses) fails the run within seconds, naming the runner and k6's reason,
// and leaves no runner paused.
const THRESHOLD_LOG = [
  'time="2025-01-01T00:00:04Z" level=info msg="runner 1: segment 1/3:2/3 of 0,1/3,2/3,1"',
  'time="2025-01-01T00:00:05Z" level=error msg="invalid threshold \\"max<=10\\" applied on metric vus; reason: unsupported aggregation method max on metric of type gauge. supported aggregation methods for this metric are: value"',
].join('\n');
const BOUND_SECONDS = 30;

for (const [when, afterGets] of [['before its REST API started', 0], ['after answering, while initialising VUs', 2]]) {
  test(`starter: a runner exiting 104 ${when}: abort within ${BOUND_SECONDS} s naming it and k6's reason, the others stopped`, async () => {
    await be.reset();
    const hosts = await be.runners([{}, { initPolls: 1e9, dies: { afterGets, exitCode: 104, log: THRESHOLD_LOG } }, { initPolls: 1 }]);
    const { run, exit } = await start({ RUNNERS: hosts.join(','), POLL_SECONDS: '2' }); // START_TIMEOUT_SECONDS: 600
    assert.equal(exit.code, 108);
    assert.equal(exit.message, `test aborted: runner 1 (${hosts[1]}) exited 104 (invalid configuration) before the test started: ` +
      'invalid threshold "max<=10" applied on metric vus; reason: unsupported aggregation method max on metric of type gauge. ' +
      'supported aggregation methods for this metric are: value');
    assert.ok(slept(run) <= BOUND_SECONDS, `gave up after ${slept(run)} s of virtual time`);
    const seen = await byRunner(3);
    for (const i of [0, 2]) {
      assert.equal(seen[i].filter(isStop).length, 1, `runner ${i} stopped, not left paused`);
      assert.equal(seen[i].filter(isResume).length, 0);
    }
    assert.equal(seen[1].filter((e) => e.method !== 'GET').length, 0);
    const api = (await be.log()).filter((e) => e.server === 'kubernetes');
    assert.ok(api.length > 0 && api.every((e) => e.auth === 'Bearer starter-token' && e.status === 200), 'pods listed with the token');
  });
}

test('starter: every runner exits 107 before answering (a script error): abort at the first poll', async () => {
  await be.reset();
  const log = 'time="2025-01-01T00:00:02Z" level=error msg="SyntaxError: file:///scripts/cirkelline.js: Unexpected token (12:4)"';
  const hosts = await be.runners([0, 1].map((i) => ({ dies: { afterGets: 0, exitCode: 107, log, finishedAt: `2025-01-01T00:00:0${3 - i}Z` } })));
  const { run, exit } = await start({ RUNNERS: hosts.join(',') });
  assert.equal(exit.code, 108);
  assert.equal(exit.message, `test aborted: runner 1 (${hosts[1]}) exited 107 (script exception) before the test started: ` +
    'SyntaxError: file:///scripts/cirkelline.js: Unexpected token (12:4); also ended: runner 0 (exit 107)');
  assert.equal(slept(run), 0);
});

test('starter: the Kubernetes API refusing the pods list aborts at once with the fix', async () => {
  await be.reset({ kubernetesStatus: 403 });
  const hosts = await be.runners([{}, {}]);
  const { exit } = await start({ RUNNERS: hosts.join(',') });
  assert.equal(exit.code, 108);
  assert.match(exit.message, /the Kubernetes API refused to list the runners' pods: HTTP 403: .*cannot list resource .*pods.*; give the starter's ServiceAccount the Role to list pods/);
  const seen = await byRunner(2);
  assert.ok(seen.every((r) => r.filter(isStop).length === 1 && r.filter(isResume).length === 0));
});
