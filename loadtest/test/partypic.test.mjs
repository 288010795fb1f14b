// The PartyPic flow against the fake backend, run as the distributed Job
// runs it: setup() once (on runner 0, via the starter's POST /v1/setup), its
// data given to every runner (PUT /v1/setup), runners started --no-setup.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { Run } from './harness.mjs';
import { Backend } from './fakes/backend.mjs';

/** @type {Backend} */
let be;
before(async () => { be = await Backend.start(); });
after(async () => { await be.stop(); });

/**
 * One distributed run: setup() on runner 0 only, then `vus` VUs on each of
 * `runners` runners, `iterations` iterations each.
 */
async function distributed({ runners, vus, iterations, env }) {
  const base = { BASE_URL: be.url, ...env };
  const setupRun = new Run('partypic.js', { ...base, JOB_COMPLETION_INDEX: '0' });
  await setupRun.setup();
  const data = setupRun.setupJSON;
  const runs = [];
  for (let r = 0; r < runners; r++) {
    const run = r === 0 ? setupRun : new Run('partypic.js', { ...base, JOB_COMPLETION_INDEX: String(r) });
    run.setSetupData(data);
    const list = [];
    for (let id = 1; id <= vus; id++) {
      list.push(await run.vu(id));
    }
    for (let i = 0; i < iterations; i++) {
      for (const vu of list) {
        run.iterate(vu);
      }
    }
    runs.push(run);
  }
  return { runs, data: JSON.parse(data) };
}

test('partypic setup() runs without __ITER and creates SESSIONS sessions once, as the organiser', async () => {
  await be.reset();
  const run = new Run('partypic.js', { BASE_URL: be.url, SESSIONS: '3' });
  const data = await run.setup(); // ReferenceError: __ITER is not defined, with the old uniqueEmail()
  const log = await be.appLog();
  assert.equal(log.length, 4);
  const [reg, ...creates] = log;
  assert.equal(`${reg.method} ${reg.path} ${reg.status}`, 'POST /api/auth/register 201');
  assert.equal(reg.body.name, 'organiser');
  assert.equal(reg.meta.phase, 'setup');
  assert.equal(reg.meta.vu, '0');
  assert.deepEqual(creates.map((c) => `${c.method} ${c.path} ${c.status}`), Array(3).fill('POST /api/sessions 201'));
  assert.deepEqual(creates.map((c) => c.body), [1, 2, 3].map((i) => ({ name: `load test event ${i}` })));
  assert.ok(creates.every((c) => c.headers.authorization === `Bearer ${reg.response.token}`));
  assert.deepEqual(data, { sessionIds: creates.map((c) => String(c.response.id)) });
  assert.equal(run.samples('session_create_duration').length, 3);
  assert.equal(run.sleeps.length, 0, 'setup() does not sleep');
});

test('partypic setup() fails the test when the organiser cannot register', async () => {
  await be.reset();
  const run = new Run('partypic.js', { BASE_URL: `${be.url}/nowhere` });
  await assert.rejects(run.setup(), /organiser could not register/);
});

test('partypic across 3 runners: guests register with unique emails, join only setup sessions, upload with their own token', async () => {
  await be.reset();
  const env = { SESSIONS: '2', PHOTOS_PER_GUEST: '2', THINK_SECONDS: '3' };
  const { runs, data } = await distributed({ runners: 3, vus: 2, iterations: 3, env });
  const log = await be.appLog();
  const creates = log.filter((e) => e.path === '/api/sessions');
  assert.equal(creates.length, 2, 'sessions are created once for the whole run, not per runner');
  const regs = log.filter((e) => e.path === '/api/auth/register');
  const guests = regs.filter((e) => e.body.name === 'guest');
  assert.equal(guests.length, 3 * 2 * 3);
  assert.ok(regs.every((e) => e.status === 201), 'every email is new to the backend');
  assert.equal(new Set(regs.map((e) => e.body.email)).size, regs.length);
  for (const g of guests) {
    assert.match(g.body.email, new RegExp(`^guest-${g.meta.runner}-${g.meta.vu}-${g.meta.iter}-`));
    assert.equal(g.body.password, 'load-test-password');
  }
  const tokenOwner = new Map(regs.map((e) => [e.response.token, e]));
  const joins = log.filter((e) => e.path.endsWith('/join'));
  const uploads = log.filter((e) => e.path.endsWith('/photos'));
  assert.equal(joins.length, 18);
  assert.equal(uploads.length, 18 * 2);
  const perSession = {};
  for (const e of [...joins, ...uploads]) {
    const id = e.path.split('/')[3];
    assert.ok(data.sessionIds.includes(id), `${e.path} is not a setup() session`);
    assert.ok(e.status >= 200 && e.status < 300, `${e.method} ${e.path}: ${e.status}`);
    const owner = tokenOwner.get(e.headers.authorization.replace('Bearer ', ''));
    assert.ok(owner, 'a token the backend issued');
    assert.deepEqual([owner.meta.runner, owner.meta.vu, owner.meta.iter], [e.meta.runner, e.meta.vu, e.meta.iter],
      'the guest registered in this iteration');
    // (__VU + __ITER) % sessions
    assert.equal(id, data.sessionIds[(Number(e.meta.vu) + Number(e.meta.iter)) % 2]);
    perSession[id] = (perSession[id] || 0) + (e.path.endsWith('/join') ? 1 : 0);
  }
  assert.deepEqual(Object.values(perSession).sort(), [9, 9], 'guests spread over both sessions');
  for (const u of uploads) {
    assert.equal(u.method, 'POST');
    assert.equal(u.body.multipart.length, 1);
    const [photo] = u.body.multipart;
    assert.equal(photo.name, 'photo');
    assert.equal(photo.type, 'image/jpeg');
    assert.equal(photo.size, 64 * 1024);
    assert.match(photo.filename, new RegExp(`^photo-${u.meta.vu}-${u.meta.iter}-[01]\\.jpg$`));
  }
  const all = (name) => runs.flatMap((r) => r.samples(name));
  assert.equal(all('registrations').length, 1 + 18);
  assert.equal(all('photos_uploaded').length, 36);
  assert.equal(all('upload_duration').length, 36);
  assert.ok(all('errors').every((v) => v === 0));
  // Not paced: THINK_SECONDS after the join and after each upload.
  assert.ok(runs.flatMap((r) => r.sleeps).every((s) => s.seconds === 3));
  assert.equal(runs.flatMap((r) => r.sleeps).length, 18 * 3);
});

test('partypic emails stay unique across two runs that start at the same instant', async () => {
  await be.reset();
  await distributed({ runners: 2, vus: 2, iterations: 2, env: {} });
  await distributed({ runners: 2, vus: 2, iterations: 2, env: {} });
  const regs = (await be.appLog()).filter((e) => e.path === '/api/auth/register');
  assert.equal(regs.length, 2 * (1 + 2 * 2 * 2));
  assert.equal(new Set(regs.map((e) => e.body.email)).size, regs.length);
  assert.ok(regs.every((e) => e.status === 201));
});

test('partypic: a guest whose registration fails skips the session', async () => {
  await be.reset();
  const fresh = new Run('partypic.js', { BASE_URL: `${be.url}/nowhere` });
  fresh.setSetupData(JSON.stringify({ sessionIds: ['999'] }));
  const v = await fresh.vu(1);
  fresh.iterate(v);
  const log = await be.appLog();
  assert.deepEqual(log.map((e) => `${e.method} ${e.path} ${e.status}`), ['POST /nowhere/api/auth/register 404']);
  assert.deepEqual(fresh.samples('errors'), [1]);
});
