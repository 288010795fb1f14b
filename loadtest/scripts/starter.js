// @ts-check
// The starter of a distributed load test: run once, in its own pod with the
// runners' image (`k6 run /scripts/starter.js`), it starts N runners that
// wait with `k6 run --paused --no-setup --address 0.0.0.0:6565`, all at
// once, as grafana/k6-operator does (internal/controller/common.go runSetup;
// pkg/resources/containers/curl_start.go), but it needs no Kubernetes API
// access: it only talks to the runners' REST API.
//
//   (a) poll GET /v1/status on every runner until each reports its VUs
//       initialised and paused; meanwhile read the runners' pods from the
//       Kubernetes API each round: a runner pod that has ended (k6 exited
//       during init: 104 invalid config, 107 script exception, ...) stops
//       every runner that answered and aborts at once, naming the runner,
//       k6's exit code and k6's last error line (the pod's termination
//       message); after START_TIMEOUT_SECONDS, stop the runners that
//       answered and abort, naming every runner that never got ready;
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
//     "default","attributes":{"status":<lib.ExecutionStatus, a number>,
//     "paused":…,"vus":…,"vus-max":…,"stopped":…,"running":…,"tainted":…}}};
//   k6 starts the REST API before it initialises the VUs (internal/cmd/run.go:
//     the API server starts, then execScheduler.Init), so a 200 is not
//     readiness: lib/execution.go numbers the statuses Created 0, InitVUs 1,
//     InitExecutors 2, InitDone 3, PausedBeforeRun 4, Started 5, Setup 6,
//     Running 7, Teardown 8, Ended 9, Interrupted 10, and a --paused runner
//     reports PausedBeforeRun only once Init has returned (internal/execution/
//     scheduler.go Run: SetExecutionStatus(ExecutionStatusPausedBeforeRun)
//     then waits for the resume);
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
// k6 parses the script, the options and the thresholds before it starts the
// REST API (internal/cmd/run.go: loadConfiguredTest, then the metrics
// engine's InitSubMetricsAndThresholds, then api.GetServer), so a runner
// that fails there never answers at all: only its pod tells.
//
// The Kubernetes API (read-only, the starter's ServiceAccount may list pods
// in its namespace): GET /api/v1/namespaces/<ns>/pods?labelSelector=
// job-name=<job> (the Job controller labels its pods job-name and
// annotates batch.kubernetes.io/job-completion-index); a runner container's
// status.containerStatuses[].state.terminated holds k6's exit code and, with
// terminationMessagePolicy FallbackToLogsOnError, the tail of its log.
//
// Env:
//   RUNNERS: comma-separated host:port of runners 0..N-1, in index order;
//   RUNNER_JOB: the runners' Job; KUBERNETES_NAMESPACE: its namespace;
//   KUBERNETES_API: the API server's base URL (https://kubernetes.default.svc);
//   KUBERNETES_TOKEN_FILE: the ServiceAccount token
//     (default /var/run/secrets/kubernetes.io/serviceaccount/token);
//   START_TIMEOUT_SECONDS (default 600): how long to wait for every runner;
//   POLL_SECONDS (default 2): pause between status polls.
import http from 'k6/http';
import exec from 'k6/execution';
import { sleep } from 'k6';

const RUNNERS = parseRunners(__ENV.RUNNERS);
const START_TIMEOUT_SECONDS = positiveNumber('START_TIMEOUT_SECONDS', 600);
const POLL_SECONDS = positiveNumber('POLL_SECONDS', 2);
const KUBERNETES_API = required('KUBERNETES_API').replace(/\/+$/, '');
const KUBERNETES_NAMESPACE = required('KUBERNETES_NAMESPACE');
const RUNNER_JOB = required('RUNNER_JOB');
/** The ServiceAccount token (open() reads files only in the init context). */
const TOKEN = open(__ENV.KUBERNETES_TOKEN_FILE || '/var/run/secrets/kubernetes.io/serviceaccount/token').trim();

/** lib/execution.go ExecutionStatusPausedBeforeRun: VUs initialised, waiting for the resume. */
const PAUSED_BEFORE_RUN = 4;
/** lib/execution.go ExecutionStatus names, by number. */
const EXECUTION_STATUS = ['Created', 'InitVUs', 'InitExecutors', 'InitDone', 'PausedBeforeRun',
  'Started', 'Setup', 'Running', 'Teardown', 'Ended', 'Interrupted'];

/** errext/exitcodes/codes.go (k6 v1.3.0); 137 is a SIGKILL, e.g. the OOM killer. */
const EXIT_CODES = /** @type {Record<number, string>} */ ({
  99: 'thresholds have failed', 100: 'setup timeout', 103: 'stopped from the REST API',
  104: 'invalid configuration', 105: 'aborted by a signal', 106: 'cannot start the REST API',
  107: 'script exception', 108: 'script aborted', 109: 'Go panic', 110: 'marked as failed',
  137: 'killed (SIGKILL, e.g. out of memory)',
});

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

/** @param {string} name */
function required(name) {
  const value = (__ENV[name] || '').trim();
  if (value === '') {
    throw new Error(`${name} must be set`);
  }
  return value;
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

/**
 * Whether a GET /v1/status answer says the runner's VUs are initialised and
 * it waits for the resume; else what it is doing.
 * @param {import('k6/http').RefinedResponse<any>} res
 * @returns {{ready: boolean, why: string}}
 */
function readiness(res) {
  if (res.status !== 200) {
    return { ready: false, why: describe(res) };
  }
  /** @type {any} */
  let attributes;
  try {
    attributes = /** @type {any} */ (res.json()).data.attributes;
  } catch (_) {
    return { ready: false, why: `unreadable status: ${describe(res)}` };
  }
  if (attributes.status === PAUSED_BEFORE_RUN && attributes.paused === true) {
    return { ready: true, why: '' };
  }
  const name = EXECUTION_STATUS[attributes.status] || String(attributes.status);
  return { ready: false, why: `execution status ${name} (${attributes['vus-max']} VUs initialised), paused ${attributes.paused}` };
}

/**
 * The runners whose pod has ended, from the Kubernetes API: index, exit
 * code and k6's last error line. Throws on a refused request (a missing
 * Role is a broken setup, not a slow runner); other failures count as
 * "nothing known yet".
 * @returns {{index: number, exitCode: number, reason: string}[]}
 */
function endedRunners() {
  const res = http.get(
    `${KUBERNETES_API}/api/v1/namespaces/${encodeURIComponent(KUBERNETES_NAMESPACE)}/pods?labelSelector=${encodeURIComponent(`job-name=${RUNNER_JOB}`)}`,
    { headers: { Authorization: `Bearer ${TOKEN}` }, timeout: STATUS_TIMEOUT },
  );
  if (res.status === 401 || res.status === 403) {
    throw new Error(`the Kubernetes API refused to list the runners' pods: ${describe(res)}`);
  }
  if (res.status !== 200) {
    console.warn(`cannot list the runners' pods: ${describe(res)}`);
    return [];
  }
  /** @type {any[]} */
  let pods;
  try {
    pods = /** @type {any} */ (res.json()).items || [];
  } catch (_) {
    return [];
  }
  /** @type {{index: number, exitCode: number, reason: string, finished: string}[]} */
  const ended = [];
  for (const pod of pods) {
    const index = Number(((pod.metadata || {}).annotations || {})['batch.kubernetes.io/job-completion-index']);
    const k6 = ((pod.status || {}).containerStatuses || []).find((/** @type {any} */ c) => c.name === 'k6');
    const terminated = k6 && k6.state && k6.state.terminated;
    if (!Number.isInteger(index) || index < 0 || index >= RUNNERS.length || !terminated) {
      continue;
    }
    ended.push({ index, exitCode: terminated.exitCode, reason: k6Reason(terminated), finished: terminated.finishedAt || '' });
  }
  // The runner that failed first is the cause: when it fails the Job, the
  // Job controller ends the others (k6 exits 105 on SIGTERM).
  ended.sort((a, b) => (a.finished < b.finished ? -1 : a.finished > b.finished ? 1 : a.index - b.index));
  return ended.map(({ index, exitCode, reason }) => ({ index, exitCode, reason }));
}

/**
 * k6's reason from a terminated container: the msg of the last error line
 * of its log tail (k6 logs logfmt: level=error msg="..."), else the last
 * line, else the kubelet's reason.
 * @param {any} terminated
 */
function k6Reason(terminated) {
  const lines = String(terminated.message || '').split('\n').map((l) => l.trim()).filter((l) => l !== '');
  for (let i = lines.length - 1; i >= 0; i--) {
    if (/\blevel=(error|fatal)\b/.test(lines[i])) {
      const m = /\bmsg="((?:[^"\\]|\\.)*)"/.exec(lines[i]);
      return m ? m[1].replace(/\\"/g, '"').replace(/\\\\/g, '\\') : lines[i];
    }
  }
  return lines.length > 0 ? lines[lines.length - 1] : (terminated.reason || 'no message');
}

/** @param {number} code */
function exitMeaning(code) {
  return EXIT_CODES[code] ? `${code} (${EXIT_CODES[code]})` : String(code);
}

/**
 * (a) Waits until every runner reports its VUs initialised and paused;
 * aborts as soon as a runner's pod has ended.
 */
function waitForRunners() {
  const deadline = Date.now() + START_TIMEOUT_SECONDS * 1000;
  const ready = RUNNERS.map(() => false);
  /** Runners that answered at least once: they can be stopped. */
  const answered = RUNNERS.map(() => false);
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
      const i = pending[k];
      answered[i] = answered[i] || res.status === 200;
      const r = readiness(res);
      ready[i] = r.ready;
      last[i] = r.why;
    });
    /** @type {{index: number, exitCode: number, reason: string}[]} */
    let ended;
    try {
      ended = endedRunners();
    } catch (err) {
      stopAndAbort(RUNNERS.map((_, i) => i).filter((i) => answered[i]),
        `${String(/** @type {any} */ (err).message || err)}; give the starter's ServiceAccount the Role to list pods`);
    }
    if (ended.length > 0) {
      const first = ended[0];
      stopAndAbort(
        RUNNERS.map((_, i) => i).filter((i) => answered[i] && !ended.some((e) => e.index === i)),
        `${name(first.index)} exited ${exitMeaning(first.exitCode)} before the test started: ${first.reason}` +
          (ended.length > 1 ? `; also ended: ${ended.slice(1).map((e) => `runner ${e.index} (exit ${e.exitCode})`).join(', ')}` : ''),
      );
    }
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
        RUNNERS.map((_, i) => i).filter((i) => answered[i]),
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
