// @ts-check
// The PartyPic request flow: an organiser creates sessions in setup();
// guests register with unique emails, join a session and upload photos,
// with think time. Options come from options.json (loadtest/).
//
// Env (k6 puts the process environment in __ENV for `k6 run`:
// internal/cmd/runtime_options.go, include-system-env-vars):
//   BASE_URL, SESSIONS (default 1);
//   PHOTOS_PER_GUEST (required; the Go side sets it: loadtest/flows.go);
//   REQUEST_INTERVAL_SECONDS: when > 0, each VU sends one request per interval
//     on average (the capacity model's pacing) and THINK_SECONDS is ignored;
//   THINK_SECONDS: sleep between steps when not paced (required; the Go
//     side sets it: loadtest/flows.go);
//   JOB_COMPLETION_INDEX, RUNNER_SEGMENT: name the runner in emails and in
//     the summary line.
// In a distributed run the runners start with --no-setup and a starter runs
// setup() once, on runner 0 through k6's REST API (POST /v1/setup), and sends
// its data to the others (PUT /v1/setup): setup() must be self-contained.
// The flow must not export teardown(): it would run on every runner.
import http from 'k6/http';
import { check, fail } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';
import { newPacer, setting } from './pacing.js';
import { summaryHandler } from './summary.js';

const BASE_URL = __ENV.BASE_URL || 'http://localhost:3000';
const SESSIONS = Number(__ENV.SESSIONS || '1'); // the peak test uses 5
const PHOTOS_PER_GUEST = setting(__ENV, 'PHOTOS_PER_GUEST');
// This VU's pacing: pace() before each request, think() between steps
// (pacing.js; a REQUEST_INTERVAL_SECONDS or THINK_SECONDS that is not a
// number >= 0 fails here).
const { pace, think } = newPacer(__ENV);
const RUNNER = __ENV.JOB_COMPLETION_INDEX || '0';

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
 * This VU's part of every email: a random tag drawn once per VU, so two runs
 * (or two runners given the same index by mistake) that start in the same
 * millisecond still differ. Math.random is seeded per VU from crypto/rand
 * (js/common/randsource.go).
 */
const VU_TAG = Math.random().toString(36).slice(2, 10);

/**
 * An email no other runner, VU, iteration or run uses: runner index, VU id,
 * iteration (or 'setup'), the VU's random tag and the time. The caller passes
 * the iteration: k6 defines __ITER only before each iteration of the default
 * function (internal/js/runner.go, ActiveVU.RunOnce sets "__ITER"), so setup()
 * (a VU with id 0, internal/js/runner.go runPart: newVU(ctx, 0, 0, out))
 * must not read it.
 * @param {string} role
 * @param {number | 'setup'} iteration
 * @returns {string}
 */
function uniqueEmail(role, iteration) {
  return `${role}-${RUNNER}-${__VU}-${iteration}-${VU_TAG}-${Date.now()}@loadtest.partypic.invalid`;
}

/**
 * Registers a user and returns its token.
 * @param {string} role
 * @param {number | 'setup'} iteration
 */
function register(role, iteration) {
  const res = http.post(`${BASE_URL}/api/auth/register`, JSON.stringify({
    email: uniqueEmail(role, iteration), password: 'load-test-password', name: role,
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

/**
 * The organiser creates the sessions guests join. Not paced: setup() runs
 * once for the whole test, within setupTimeout (60 s by default:
 * internal/cmd/config.go).
 */
export function setup() {
  const organiser = register('organiser', 'setup');
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
  pace();
  const token = register('guest', __ITER);
  if (token === null) {
    think();
    return;
  }
  const auth = { Authorization: `Bearer ${token}` };
  const session = data.sessionIds[(__VU + __ITER) % data.sessionIds.length];
  pace();
  const join = http.post(`${BASE_URL}/api/sessions/${session}/join`, null, { headers: auth, tags: { endpoint: 'join' } });
  errors.add(!check(join, { 'join: status 2xx': (r) => r.status >= 200 && r.status < 300 }));
  think();

  for (let i = 0; i < PHOTOS_PER_GUEST; i++) {
    pace();
    const res = http.post(`${BASE_URL}/api/sessions/${session}/photos`, {
      photo: http.file(photo, `photo-${__VU}-${__ITER}-${i}.jpg`, 'image/jpeg'),
    }, { headers: auth, tags: { endpoint: 'upload' }, timeout: '60s' });
    uploadDuration.add(res.timings.duration);
    const ok = check(res, { 'upload: status 2xx': (r) => r.status >= 200 && r.status < 300 });
    errors.add(!ok);
    if (ok) {
      photosUploaded.add(1);
    }
    think();
  }
}

// The summary line `go run . loadtest report` reads (summary.js).
export const handleSummary = summaryHandler('partypic');
