// The fakes, in their own thread (the test's main thread blocks while the
// http double waits): the cirkelline and PartyPic API on one server, and
// fake k6 runner REST APIs (api/v1 of k6 v1.3.0) made on demand. Every
// request is recorded; the control API under /__control/ serves the records.
import http from 'node:http';
import { parentPort } from 'node:worker_threads';

const META = 'x-k6-double-';

/** @type {any[]} */
let log = [];
let config = {};
let seq = 0;
const next = () => ++seq;

// App state.
const cirkellineTokens = new Map(); // token → email
const ppUsers = new Map(); // email → {token, name}
const ppTokens = new Map(); // token → email
const sessions = new Map(); // id → {owner, name, guests: Set<email>}

function resetApp() {
  cirkellineTokens.clear();
  ppUsers.clear();
  ppTokens.clear();
  sessions.clear();
}

/** @type {Map<number, any>} */
const runners = new Map(); // port → runner state

function read(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function split(headers) {
  const meta = {};
  const plain = {};
  for (const [k, v] of Object.entries(headers)) {
    if (k.startsWith(META)) {
      meta[k.slice(META.length)] = v;
    } else {
      plain[k] = v;
    }
  }
  return { meta, plain };
}

async function parseBody(req, buf) {
  const ct = req.headers['content-type'] || '';
  if (buf.length === 0) {
    return null;
  }
  if (ct.startsWith('multipart/form-data')) {
    const form = await new Response(buf, { headers: { 'content-type': ct } }).formData();
    const fields = [];
    for (const [name, v] of form) {
      if (typeof v === 'string') {
        fields.push({ name, value: v });
      } else {
        const bytes = new Uint8Array(await v.arrayBuffer());
        let sum = 0;
        for (const b of bytes) sum = (sum * 31 + b) >>> 0;
        fields.push({ name, filename: v.name, type: v.type, size: bytes.length, checksum: sum });
      }
    }
    return { multipart: fields };
  }
  const text = buf.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return { raw: text };
  }
}

function send(res, status, body, extra = {}) {
  const data = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', ...extra });
  res.end(data);
}

function bearer(req) {
  const m = /^Bearer (.+)$/.exec(req.headers.authorization || '');
  return m ? m[1] : null;
}

async function app(req, res) {
  const buf = await read(req);
  const url = new URL(req.url, 'http://x');
  if (url.pathname.startsWith('/__control/')) {
    return control(req, res, url, buf);
  }
  if (url.pathname.startsWith('/k8s/')) {
    return k8s(req, res, url);
  }
  const { meta, plain } = split(req.headers);
  const body = await parseBody(req, buf);
  const entry = { seq: next(), server: 'app', method: req.method, path: url.pathname, headers: plain, body, meta, status: 0, response: null };
  log.push(entry);
  const [status, payload] = route(req.method, url.pathname, body, req);
  entry.status = status;
  entry.response = payload;
  const extra = {};
  if (config.latency && (config.latency.path === undefined || config.latency.path === url.pathname)) {
    const n = log.filter((e) => e.server === 'app' && e.meta.vu === meta.vu && e.meta.run === meta.run).length;
    if (n % config.latency.every === 0) {
      extra['x-fake-latency-ms'] = String(config.latency.ms);
    }
  }
  send(res, status, payload, extra);
}

function route(method, path, body, req) {
  // cirkelline
  if (method === 'GET' && path === '/health') {
    return [200, { status: 'healthy' }];
  }
  if (method === 'POST' && path === '/api/auth/login') {
    const user = config.cirkellineUser || { email: 'user@example.com', password: 'secret' };
    if (!body || body.email !== user.email || body.password !== user.password) {
      return [401, { detail: 'invalid credentials' }];
    }
    const token = `ck-${next()}`;
    cirkellineTokens.set(token, body.email);
    return [200, { access_token: token, token_type: 'bearer' }];
  }
  if (method === 'POST' && path === '/api/chat') {
    const token = bearer(req);
    if (!token || !cirkellineTokens.has(token)) {
      return [401, { detail: 'not authenticated' }];
    }
    if (!body || typeof body.message !== 'string' || body.message === '') {
      return [422, { detail: 'message required' }];
    }
    return [200, { response: `echo: ${body.message}` }];
  }
  // PartyPic
  if (method === 'POST' && path === '/api/auth/register') {
    if (!body || typeof body.email !== 'string' || !body.email.includes('@') || !body.password || !body.name) {
      return [400, { error: 'email, password and name required' }];
    }
    if (ppUsers.has(body.email)) {
      return [409, { error: 'email already registered' }];
    }
    const token = `pp-${next()}`;
    ppUsers.set(body.email, { token, name: body.name });
    ppTokens.set(token, body.email);
    return [201, { token, user: { email: body.email, name: body.name } }];
  }
  const user = ppTokens.get(bearer(req) || '');
  if (method === 'POST' && path === '/api/sessions') {
    if (!user) {
      return [401, { error: 'not authenticated' }];
    }
    const id = 100 + sessions.size + 1; // numeric, as a database id
    sessions.set(String(id), { owner: user, name: body && body.name, guests: new Set() });
    return [201, { id, name: body && body.name }];
  }
  let m = /^\/api\/sessions\/([^/]+)\/join$/.exec(path);
  if (method === 'POST' && m) {
    if (!user) {
      return [401, { error: 'not authenticated' }];
    }
    const s = sessions.get(m[1]);
    if (!s) {
      return [404, { error: 'no such session' }];
    }
    s.guests.add(user);
    return [200, { joined: m[1] }];
  }
  m = /^\/api\/sessions\/([^/]+)\/photos$/.exec(path);
  if (method === 'POST' && m) {
    if (!user) {
      return [401, { error: 'not authenticated' }];
    }
    const s = sessions.get(m[1]);
    if (!s) {
      return [404, { error: 'no such session' }];
    }
    if (!s.guests.has(user)) {
      return [403, { error: 'join the session first' }];
    }
    const photo = body && body.multipart && body.multipart.find((f) => f.name === 'photo' && f.filename);
    if (!photo) {
      return [400, { error: 'multipart field "photo" with a file required' }];
    }
    return [201, { id: next() }];
  }
  return [404, { error: `no route ${method} ${path}` }];
}

// ---- fake k6 runners (api/v1 of k6 v1.3.0) ----

function apiError(res, title, detail, status) {
  // api/v1/errors.go apiError
  send(res, status, { errors: [{ status: String(status), title, detail }] });
}

// lib/execution.go ExecutionStatus: InitVUs 1, PausedBeforeRun 4, Running 7.
const INIT_VUS = 1;
const PAUSED_BEFORE_RUN = 4;
const RUNNING = 7;

function statusDoc(r) {
  // api/v1/status_jsonapi.go, status.go: k6 answers while it still
  // initialises VUs (the first spec.initPolls GETs here), then reports
  // PausedBeforeRun until resumed.
  const initialising = !r.started && r.gets <= r.spec.initPolls;
  return { data: { type: 'status', id: 'default', attributes: {
    status: r.started ? RUNNING : initialising ? INIT_VUS : PAUSED_BEFORE_RUN,
    paused: r.paused, vus: r.started ? 1 : 0, 'vus-max': initialising ? 0 : 1,
    stopped: r.stopped, running: r.started && !r.stopped, tainted: false,
  } } };
}

function setupDoc(raw) {
  // api/v1/setup_teardown_routes.go handleSetupDataOutput: attributes {} when nil
  return { data: { type: 'setupData', id: 'default', attributes: raw === null ? {} : { data: JSON.parse(raw) } } };
}

async function runner(r, req, res) {
  const buf = await read(req);
  const url = new URL(req.url, 'http://x');
  const text = buf.toString('utf8');
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = { raw: text }; }
  r.gets += req.method === 'GET' ? 1 : 0;
  const entry = { seq: next(), server: 'runner', runner: r.index, method: req.method, path: url.pathname, body, rawBody: text, status: 0 };
  log.push(entry);
  if (r.spec.dies && req.method === 'GET' && r.gets > r.spec.dies.afterGets) {
    // k6 exits: its pod ends and nothing listens any more.
    r.ended = true;
    entry.status = -1;
    req.socket.destroy();
    r.server.close();
    r.server.closeAllConnections();
    return;
  }
  if (req.method === 'GET' && r.gets <= r.spec.refuseFirst) {
    entry.status = -1; // not up yet: the connection is dropped
    req.socket.destroy();
    return;
  }
  const reply = (status, doc) => { entry.status = status; send(res, status, doc); };
  if (url.pathname === '/v1/status' && req.method === 'GET') {
    return reply(200, statusDoc(r));
  }
  if (url.pathname === '/v1/status' && req.method === 'PATCH') {
    const attrs = body && body.data && body.data.attributes;
    if (!attrs) {
      entry.status = 400;
      return apiError(res, 'Invalid data', 'no data.attributes', 400);
    }
    if (attrs.stopped) {
      r.stopped = true;
      return reply(200, statusDoc(r));
    }
    if (attrs.paused === false) {
      // internal/execution/scheduler.go SetPaused: once started, ramping
      // executors cannot pause or resume: "Pause error", 500.
      if (r.started || r.spec.resumeStatus) {
        entry.status = r.spec.resumeStatus || 500;
        return apiError(res, 'Pause error', "ramping-vus executor 'default' doesn't support pause and resume operations after its start", entry.status);
      }
      r.started = true;
      r.paused = false;
    }
    return reply(200, statusDoc(r));
  }
  if (url.pathname === '/v1/setup' && req.method === 'POST') {
    if (r.spec.setupStatus) {
      entry.status = r.spec.setupStatus;
      return apiError(res, 'Error executing setup', r.spec.setupError || 'setup failed', r.spec.setupStatus);
    }
    r.setupRuns++;
    r.setupData = r.spec.setupData === undefined ? null : JSON.stringify(r.spec.setupData);
    return reply(200, setupDoc(r.setupData));
  }
  if (url.pathname === '/v1/setup' && req.method === 'PUT') {
    if (r.spec.putStatus) {
      entry.status = r.spec.putStatus;
      return apiError(res, 'Error parsing request body', 'refused by the test', r.spec.putStatus);
    }
    r.setupData = text === '' ? null : text;
    return reply(200, setupDoc(r.setupData));
  }
  if (url.pathname === '/v1/setup' && req.method === 'GET') {
    return reply(200, setupDoc(r.setupData));
  }
  entry.status = 404;
  send(res, 404, { errors: [{ status: '404', title: 'not found' }] });
}

function listen(handler) {
  return new Promise((resolve) => {
    const s = http.createServer((req, res) => handler(req, res).catch((err) => {
      res.writeHead(500);
      res.end(String(err && err.stack || err));
    }));
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}

const servers = [];

/** The runners of the last makeRunners call, by index: the fake pods API lists their pods. */
let current = [];

async function makeRunners(specs) {
  const hosts = [];
  current = [];
  for (const [index, spec] of specs.entries()) {
    if (spec.down || (spec.dies && spec.dies.afterGets === 0)) {
      // A port nothing listens on: the connection is refused. `down`: the
      // pod is not scheduled yet; `dies` after 0 GETs: k6 exited before
      // its REST API started (a script or config error).
      const s = await listen(async () => {});
      const { port } = s.address();
      await new Promise((r) => s.close(r));
      current.push({ index, spec, ended: Boolean(spec.dies) });
      hosts.push(`127.0.0.1:${port}`);
      continue;
    }
    const r = { index, spec: { refuseFirst: 0, initPolls: 0, ...spec }, paused: true, started: false, stopped: false, ended: false, gets: 0, setupRuns: 0, setupData: null };
    const s = await listen((req, res) => runner(r, req, res));
    r.server = s;
    servers.push(s);
    runners.set(s.address().port, r);
    current.push(r);
    hosts.push(`127.0.0.1:${s.address().port}`);
  }
  return hosts;
}

// ---- fake Kubernetes API: the runners' pods (core/v1 Pod, as the Job
// controller makes them for an Indexed Job) ----

const K8S_TOKEN = 'starter-token';
const JOB = 'loadtest-1';

function pod(r) {
  const base = {
    metadata: { name: `${JOB}-${r.index}-x${r.index}z`, labels: { 'job-name': JOB },
      annotations: { 'batch.kubernetes.io/job-completion-index': String(r.index) } },
  };
  if (r.spec.down) {
    return { ...base, status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] } };
  }
  if (r.ended) {
    const d = r.spec.dies;
    return { ...base, status: { phase: 'Failed', containerStatuses: [{ name: 'k6', ready: false,
      state: { terminated: { exitCode: d.exitCode, reason: 'Error', message: d.log, finishedAt: d.finishedAt || '2025-01-01T00:00:05Z' } } }] } };
  }
  return { ...base, status: { phase: 'Running', containerStatuses: [{ name: 'k6', ready: !r.started, state: { running: { startedAt: '2025-01-01T00:00:01Z' } } }] } };
}

function k8s(req, res, url) {
  const entry = { seq: next(), server: 'kubernetes', method: req.method, path: url.pathname, query: url.search, auth: req.headers.authorization || '', status: 0 };
  log.push(entry);
  const reply = (status, doc) => { entry.status = status; send(res, status, doc); };
  if (config.kubernetesStatus) {
    return reply(config.kubernetesStatus, { kind: 'Status', status: 'Failure', reason: 'Forbidden', code: config.kubernetesStatus,
      message: 'pods is forbidden: User "system:serviceaccount:shop:loadtest-1-starter" cannot list resource "pods"' });
  }
  if (entry.auth !== `Bearer ${K8S_TOKEN}`) {
    return reply(401, { kind: 'Status', status: 'Failure', reason: 'Unauthorized', code: 401 });
  }
  if (req.method === 'GET' && url.pathname === '/k8s/api/v1/namespaces/shop/pods' && url.searchParams.get('labelSelector') === `job-name=${JOB}`) {
    return reply(200, { kind: 'PodList', apiVersion: 'v1', items: current.map(pod) });
  }
  return reply(404, { kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404 });
}

async function control(req, res, url, buf) {
  const body = buf.length ? JSON.parse(buf.toString('utf8')) : {};
  switch (`${req.method} ${url.pathname}`) {
    case 'GET /__control/log':
      return send(res, 200, log);
    case 'POST /__control/reset':
      log = [];
      config = body.config || {};
      resetApp();
      return send(res, 200, {});
    case 'POST /__control/config':
      config = body;
      return send(res, 200, {});
    case 'POST /__control/revoke':
      cirkellineTokens.clear();
      return send(res, 200, {});
    case 'POST /__control/runners':
      return send(res, 200, { hosts: await makeRunners(body.specs) });
    default:
      return send(res, 404, {});
  }
}

const main = await listen(app);
servers.push(main);
parentPort.postMessage({ port: main.address().port });
