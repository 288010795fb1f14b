// @ts-check
// The PartyPic request flow: an organiser creates sessions in setup();
// guests register with unique emails, join a session and upload photos,
// with think time. Options come from options.json (workloads/loadtest).
import http from 'k6/http';
import { check, fail, sleep } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';

const BASE_URL = __ENV.BASE_URL || 'http://localhost:3000';
const SESSIONS = Number(__ENV.SESSIONS || '1'); // the peak test uses 5
const THINK_SECONDS = Number(__ENV.THINK_SECONDS || '3');
const PHOTOS_PER_GUEST = Number(__ENV.PHOTOS_PER_GUEST || '3');

const sessionCreateDuration = new Trend('session_create_duration', true);
const registerDuration = new Trend('register_duration', true);
const uploadDuration = new Trend('upload_duration', true);
const errors = new Rate('errors');
const registrations = new Counter('registrations');
const photosUploaded = new Counter('photos_uploaded');

const json = { 'Content-Type': 'application/json' };

/** A small JPEG-sized payload; the server stores it in S3 like a photo. */
const photo = new Uint8Array(64 * 1024).map((_, i) => (i * 31) % 256).buffer;

/**
 * @param {string} role
 * @returns {string} an email no other VU, iteration or run uses
 */
function uniqueEmail(role) {
  const runner = __ENV.JOB_COMPLETION_INDEX || '0';
  return `${role}-${runner}-${__VU}-${__ITER}-${Date.now()}@loadtest.partypic.invalid`;
}

/**
 * Registers a user and returns its token.
 * @param {string} role
 */
function register(role) {
  const res = http.post(`${BASE_URL}/api/auth/register`, JSON.stringify({
    email: uniqueEmail(role), password: 'load-test-password', name: role,
  }), { headers: json, tags: { endpoint: 'register' } });
  registerDuration.add(res.timings.duration);
  const ok = check(res, { 'register: status 2xx': (r) => r.status >= 200 && r.status < 300 });
  errors.add(!ok);
  if (!ok) {
    return null;
  }
  registrations.add(1);
  const body = /** @type {{token?: string}} */ (res.json());
  return body.token || null;
}

/** The organiser creates the sessions guests join. */
export function setup() {
  const organiser = register('organiser');
  if (organiser === null) {
    fail('the organiser could not register: is BASE_URL right?');
  }
  /** @type {string[]} */
  const sessionIds = [];
  for (let i = 0; i < SESSIONS; i++) {
    const res = http.post(`${BASE_URL}/api/sessions`, JSON.stringify({ name: `load test event ${i + 1}` }), {
      headers: { ...json, Authorization: `Bearer ${organiser}` }, tags: { endpoint: 'create-session' },
    });
    sessionCreateDuration.add(res.timings.duration);
    if (check(res, { 'session: status 2xx': (r) => r.status >= 200 && r.status < 300 })) {
      sessionIds.push(String(/** @type {{id: string|number}} */ (res.json()).id));
    }
  }
  if (sessionIds.length === 0) {
    fail('No sessions available: setup() could not create any');
  }
  return { sessionIds };
}

/** @param {{sessionIds: string[]}} data */
export default function (data) {
  const token = register('guest');
  if (token === null) {
    sleep(THINK_SECONDS);
    return;
  }
  const auth = { Authorization: `Bearer ${token}` };
  const session = data.sessionIds[(__VU + __ITER) % data.sessionIds.length];
  const join = http.post(`${BASE_URL}/api/sessions/${session}/join`, null, { headers: auth, tags: { endpoint: 'join' } });
  errors.add(!check(join, { 'join: status 2xx': (r) => r.status >= 200 && r.status < 300 }));
  sleep(THINK_SECONDS);

  for (let i = 0; i < PHOTOS_PER_GUEST; i++) {
    const res = http.post(`${BASE_URL}/api/sessions/${session}/photos`, {
      photo: http.file(photo, `photo-${__VU}-${__ITER}-${i}.jpg`, 'image/jpeg'),
    }, { headers: auth, tags: { endpoint: 'upload' }, timeout: '60s' });
    uploadDuration.add(res.timings.duration);
    const ok = check(res, { 'upload: status 2xx': (r) => r.status >= 200 && r.status < 300 });
    errors.add(!ok);
    if (ok) {
      photosUploaded.add(1);
    }
    sleep(THINK_SECONDS);
  }
}

/** @param {any} data */
export function handleSummary(data) {
  return {
    stdout: JSON.stringify({ flow: 'partypic', runner: __ENV.JOB_COMPLETION_INDEX || '0', summary: data }) + '\n',
  };
}
