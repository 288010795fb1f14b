// The cirkelline flow against the fake backend: what the backend sees.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { Run } from './harness.mjs';
import { Backend } from './fakes/backend.mjs';

const USER = { email: 'loadtest@example.com', password: 'pw-123' };
/** @type {Backend} */
let be;
before(async () => { be = await Backend.start(); });
after(async () => { await be.stop(); });

async function runVUs(env, vus, iterations) {
  const run = new Run('cirkelline.js', { BASE_URL: be.url, ...env });
  const list = [];
  for (let id = 1; id <= vus; id++) {
    list.push(await run.vu(id));
  }
  for (let i = 0; i < iterations; i++) {
    for (const vu of list) {
      run.iterate(vu);
    }
  }
  return run;
}

test('cirkelline without credentials sends health checks only', async () => {
  await be.reset({ cirkellineUser: USER });
  const run = await runVUs({}, 3, 4);
  const log = await be.appLog();
  assert.deepEqual(new Set(log.map((e) => `${e.method} ${e.path}`)), new Set(['GET /health']));
  assert.equal(log.length, 12);
  assert.ok(log.every((e) => e.status === 200 && e.meta.phase === 'iteration'));
  assert.equal(run.samples('health_check_duration').length, 12);
  assert.deepEqual(run.samples('errors'), Array(12).fill(0));
  assert.equal(run.samples('successful_logins').length, 0);
  // Not paced: THINK_SECONDS (the Go side's 1, which the harness passes as a runner gets it) after each iteration.
  assert.deepEqual(run.sleeps.map((s) => s.seconds), Array(12).fill(1));
});

test('cirkelline logs in once per VU and chats with its own bearer token', async () => {
  await be.reset({ cirkellineUser: USER });
  const run = await runVUs({ TEST_EMAIL: USER.email, TEST_PASSWORD: USER.password, THINK_SECONDS: '2' }, 3, 3);
  const log = await be.appLog();
  const logins = log.filter((e) => e.path === '/api/auth/login');
  assert.equal(logins.length, 3, 'one login per VU');
  for (const l of logins) {
    assert.equal(l.method, 'POST');
    assert.deepEqual(l.body, USER);
    assert.equal(l.headers['content-type'], 'application/json');
  }
  const tokenOf = Object.fromEntries(logins.map((l) => [l.meta.vu, l.response.access_token]));
  assert.equal(new Set(Object.values(tokenOf)).size, 3);
  const chats = log.filter((e) => e.path === '/api/chat');
  assert.equal(chats.length, 9);
  for (const c of chats) {
    assert.equal(c.method, 'POST');
    assert.equal(c.status, 200);
    assert.equal(c.headers.authorization, `Bearer ${tokenOf[c.meta.vu]}`);
    assert.deepEqual(c.body, { message: `load test message from VU ${c.meta.vu}, iteration ${c.meta.iter}` });
  }
  // Per iteration: health, then (login,) then chat.
  for (const vu of ['1', '2', '3']) {
    const paths = log.filter((e) => e.meta.vu === vu).map((e) => e.path);
    assert.deepEqual(paths, ['/health', '/api/auth/login', '/api/chat', '/health', '/api/chat', '/health', '/api/chat']);
  }
  assert.equal(run.samples('successful_logins').length, 3);
  assert.equal(run.samples('chat_messages').length, 9);
  assert.equal(run.samples('auth_duration').length, 3);
  assert.equal(run.samples('chat_duration').length, 9);
  assert.ok(run.samples('errors').every((v) => v === 0));
  assert.deepEqual(run.sleeps.map((s) => s.seconds), Array(9).fill(2));
});

test('cirkelline logs in again after a 401 on chat', async () => {
  await be.reset({ cirkellineUser: USER });
  const run = new Run('cirkelline.js', { BASE_URL: be.url, TEST_EMAIL: USER.email, TEST_PASSWORD: USER.password });
  const vu = await run.vu(1);
  run.iterate(vu);
  await be.revoke();
  run.iterate(vu); // chat answers 401
  run.iterate(vu); // logs in again
  const log = await be.appLog();
  assert.deepEqual(log.map((e) => `${e.path} ${e.status}`), [
    '/health 200', '/api/auth/login 200', '/api/chat 200',
    '/health 200', '/api/chat 401',
    '/health 200', '/api/auth/login 200', '/api/chat 200',
  ]);
  assert.deepEqual(run.samples('errors'), [0, 0, 0, 0, 1, 0, 0, 0]);
});

test('cirkelline with a wrong password records the failed login and sends no chat', async () => {
  await be.reset({ cirkellineUser: USER });
  const run = await runVUs({ TEST_EMAIL: USER.email, TEST_PASSWORD: 'wrong' }, 1, 2);
  const log = await be.appLog();
  assert.deepEqual(log.map((e) => `${e.path} ${e.status}`), ['/health 200', '/api/auth/login 401', '/health 200', '/api/auth/login 401']);
  assert.equal(run.samples('successful_logins').length, 0);
  assert.deepEqual(run.samples('errors'), [0, 1, 0, 1]);
});
