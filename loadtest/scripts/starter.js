// @ts-check
// The starter of a distributed load test: run once, in its own pod with the
// runners' image (`k6 run /scripts/starter.js`), it starts N runners that
// wait with `k6 run --paused --no-setup --address 0.0.0.0:6565`, all at
// once, as grafana/k6-operator does (internal/controller/common.go runSetup;
// pkg/resources/containers/curl_start.go), but it needs no Kubernetes API
// access: it only talks to the runners' REST API.
//
//   (a) poll GET /v1/status on every runner until all answer 200; after
//       START_TIMEOUT_SECONDS, stop the runners that answered and abort,
//       naming every runner that never did;
//   (b) POST /v1/setup on runner 0 (runs the flow's setup() there) and PUT
//       its data to runners 1..N-1;
//   (c) PATCH paused:false on every runner, once each, and check each
//       answers paused === false;
//   (d) print `started N runners` and exit 0.
// Any failure in (b) or (c) stops every runner (PATCH stopped:true, which
// makes it exit 103) and aborts the starter (exit 108).
//
// k6's REST API, at v1.3.0:
//   api/v1/routes.go: GET/PATCH /v1/status, GET/POST/PUT /v1/setup;
//   api/v1/status_jsonapi.go, status.go: {"data":{"type":"status","id":
//     "default","attributes":{"paused":…,"stopped":…,…}}};
//   api/v1/status_routes.go handlePatchStatus: attributes.stopped aborts the
//     run with exit code 103 (errext/exitcodes/codes.go
//     ScriptStoppedFromRESTAPI); else attributes.paused calls SetPaused,
//     which fails with 500 when the test has already started and its
//     executors cannot pause (internal/execution/scheduler.go SetPaused):
//     hence resume exactly once;
//   api/v1/setup_teardown_routes.go, setup_jsonapi.go: POST runs setup() and
//     answers {"data":{"type":"setupData","id":"default","attributes":
//     {"data":<setup data>}}}, with attributes {} when setup() returned
//     undefined or does not exist; PUT takes the raw JSON setup data as body;
//   api/v1/errors.go: failures answer {"errors":[{"status","title","detail"}]}.
//
// Env:
//   RUNNERS: comma-separated host:port of runners 0..N-1, in index order;
//   START_TIMEOUT_SECONDS (default 600): how long to wait for every runner;
//   POLL_SECONDS (default 2): pause between status polls.
import http from 'k6/http';
import exec from 'k6/execution';
import { sleep } from 'k6';

const RUNNERS = parseRunners(__ENV.RUNNERS);
const START_TIMEOUT_SECONDS = positiveNumber('START_TIMEOUT_SECONDS', 600);
const POLL_SECONDS = positiveNumber('POLL_SECONDS', 2);

/** Per-request timeout of a status poll: a runner not yet up must not hold up the poll loop. */
const STATUS_TIMEOUT = '5s';
/**
 * Timeout of POST /v1/setup: above k6's default setupTimeout of 60 s
 * (internal/cmd/config.go), which bounds setup() on the runner.
 */
const SETUP_TIMEOUT = '90s';
/** Timeout of the PUT /v1/setup and PATCH /v1/status calls. */
const CONTROL_TIMEOUT = '10s';

export const options = {
  scenarios: {
    start: {
      executor: 'shared-iterations',
      vus: 1,
      iterations: 1,
      // Waiting, then setup (90 s at most) and the control calls.
      maxDuration: `${START_TIMEOUT_SECONDS + 120}s`,
    },
  },
  // http.batch runs at most `batch` requests at once (default 20:
  // internal/cmd/options.go; lib/netext/httpext/batch.go): all runners at once.
  batch: Math.max(20, RUNNERS.length),
};

/**
 * @param {string | undefined} value
 * @returns {string[]}
 */
function parseRunners(value) {
  const runners = (value || '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (runners.length === 0) {
    throw new Error('RUNNERS must list the runners as host:port, comma-separated, in index order');
  }
  const bad = runners.filter((r) => !/^[^\s/]+:\d+$/.test(r));
  if (bad.length > 0) {
    throw new Error(`RUNNERS entries must be host:port: ${bad.join(', ')}`);
  }
  return runners;
}

/**
 * @param {string} name
 * @param {number} fallback
 */
function positiveNumber(name, fallback) {
  const value = __ENV[name];
  if (value === undefined || value === '') {
    return fallback;
  }
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    throw new Error(`${name} must be a number > 0, got ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * @param {number} i
 * @param {string} path
 */
function url(i, path) {
  return `http://${RUNNERS[i]}${path}`;
}

/** @param {number} i */
function name(i) {
  return `runner ${i} (${RUNNERS[i]})`;
}

/**
 * The status document of PATCH /v1/status (api/v1/status_jsonapi.go).
 * @param {Record<string, boolean>} attributes
 */
function statusBody(attributes) {
  return JSON.stringify({ data: { type: 'status', id: 'default', attributes } });
}

const jsonHeaders = { 'Content-Type': 'application/json' };

/**
 * What went wrong with a response: k6's error (status 0: the request failed,
 * lib/netext/httpext/request.go MakeRequest) or the status and body.
 * @param {import('k6/http').RefinedResponse<any>} res
 */
function describe(res) {
  if (res.error) {
    return res.error;
  }
  const body = typeof res.body === 'string' ? res.body.trim().slice(0, 500) : '';
  return `HTTP ${res.status}${body ? `: ${body}` : ''}`;
}

/**
 * Stops runners (they exit 103). Returns the runners that could not be
 * stopped, described.
 * @param {number[]} indices
 * @returns {string[]}
 */
function stop(indices) {
  if (indices.length === 0) {
    return [];
  }
  const responses = http.batch(indices.map((i) => ({
    method: 'PATCH',
    url: url(i, '/v1/status'),
    body: statusBody({ stopped: true }),
    params: { headers: jsonHeaders, timeout: CONTROL_TIMEOUT },
  })));
  /** @type {string[]} */
  const failed = [];
  responses.forEach((res, k) => {
    if (res.status !== 200) {
      failed.push(`${name(indices[k])}: ${describe(res)}`);
    }
  });
  return failed;
}

/**
 * Stops the given runners and aborts the starter with the message (k6 exits
 * 108: internal/js/modules/k6/execution/execution.go test.abort,
 * errext/exitcodes/codes.go ScriptAborted).
 * @param {number[]} indices
 * @param {string} message
 * @returns {never}
 */
function stopAndAbort(indices, message) {
  const failed = stop(indices);
  const full = failed.length === 0 ? message : `${message}; could not stop ${failed.join('; ')}`;
  exec.test.abort(full);
  // test.abort interrupts the runtime; this line is not reached under k6.
  throw new Error(full);
}

/** (a) Waits until every runner answers GET /v1/status with 200. */
function waitForRunners() {
  const deadline = Date.now() + START_TIMEOUT_SECONDS * 1000;
  const ready = RUNNERS.map(() => false);
  /** @type {string[]} */
  const last = RUNNERS.map(() => 'no answer yet');
  let reported = -1;
  for (;;) {
    const pending = RUNNERS.map((_, i) => i).filter((i) => !ready[i]);
    const responses = http.batch(pending.map((i) => ({
      method: 'GET',
      url: url(i, '/v1/status'),
      params: { timeout: STATUS_TIMEOUT },
    })));
    responses.forEach((res, k) => {
      if (res.status === 200) {
        ready[pending[k]] = true;
      } else {
        last[pending[k]] = describe(res);
      }
    });
    const count = ready.filter(Boolean).length;
    if (count !== reported) {
      console.log(`${count}/${RUNNERS.length} runners ready`);
      reported = count;
    }
    if (count === RUNNERS.length) {
      return;
    }
    if (Date.now() >= deadline) {
      const missing = RUNNERS.map((_, i) => i).filter((i) => !ready[i]);
      stopAndAbort(
        RUNNERS.map((_, i) => i).filter((i) => ready[i]),
        `${missing.length} of ${RUNNERS.length} runners not ready after ${START_TIMEOUT_SECONDS}s: ` +
          missing.map((i) => `${name(i)}: ${last[i]}`).join('; '),
      );
    }
    sleep(POLL_SECONDS);
  }
}

const all = () => RUNNERS.map((_, i) => i);

/** (b) Runs setup() on runner 0 and gives its data to the others. */
function runSetup() {
  const res = http.post(url(0, '/v1/setup'), null, { timeout: SETUP_TIMEOUT });
  /** @type {any} */
  let attributes;
  try {
    attributes = /** @type {any} */ (res.json()).data.attributes;
  } catch (_) {
    attributes = undefined;
  }
  if (res.status !== 200 || attributes === null || typeof attributes !== 'object') {
    stopAndAbort(all(), `setup() on ${name(0)} failed: ${describe(res)}`);
  }
  // No "data" key: setup() returned undefined or is not defined; the runners'
  // VUs then get undefined too (internal/js/runner.go Setup, RunOnce).
  if (!('data' in attributes)) {
    return;
  }
  const body = JSON.stringify(attributes.data);
  const others = all().slice(1);
  const responses = http.batch(others.map((i) => ({
    method: 'PUT',
    url: url(i, '/v1/setup'),
    body,
    params: { headers: jsonHeaders, timeout: CONTROL_TIMEOUT },
  })));
  const failed = responses.map((r, k) => (r.status === 200 ? '' : `${name(others[k])}: ${describe(r)}`)).filter(Boolean);
  if (failed.length > 0) {
    stopAndAbort(all(), `could not send the setup data to ${failed.join('; ')}`);
  }
}

/** (c) Resumes every runner, once each. */
function resume() {
  const responses = http.batch(all().map((i) => ({
    method: 'PATCH',
    url: url(i, '/v1/status'),
    body: statusBody({ paused: false }),
    params: { headers: jsonHeaders, timeout: CONTROL_TIMEOUT },
  })));
  /** @type {string[]} */
  const failed = [];
  responses.forEach((res, i) => {
    /** @type {any} */
    let paused;
    try {
      paused = /** @type {any} */ (res.json()).data.attributes.paused;
    } catch (_) {
      paused = undefined;
    }
    if (res.status !== 200 || paused !== false) {
      failed.push(`${name(i)}: ${describe(res)}`);
    }
  });
  if (failed.length > 0) {
    stopAndAbort(all(), `could not resume ${failed.join('; ')}`);
  }
}

export default function () {
  waitForRunners();
  runSetup();
  resume();
  console.log(`started ${RUNNERS.length} runners`);
}

/** Prints nothing: the log lines above are the starter's result. */
export function handleSummary() {
  return {};
}
