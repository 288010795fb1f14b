// Double of k6/http (internal/js/modules/k6/http/request.go, response.go;
// lib/netext/httpext): synchronous requests made for real (./synchttp.mjs).
// A failed request is a response with status 0 and `error` set, not an
// exception (k6's default `throw: false`: lib/netext/httpext/request.go
// MakeRequest). Requests are forbidden in the init context.
//
// Each request carries x-k6-double-* headers (VU, iteration, phase, virtual
// time) that the fakes record apart from the real headers. A fake may answer
// x-fake-latency-ms: the VU's virtual clock then advances by that much, as
// if the response had taken that long.
import { currentVU, forbidInInit, state } from './runtime.mjs';
import { requestSync } from './synchttp.mjs';

const USER_AGENT = 'k6/1.3.0 (https://k6.io/) (test double)';

/** k6's timeout param: a number of ms or a duration string (types.GetDurationValue). */
function timeoutMs(t) {
  if (t === undefined || t === null) {
    return 60_000; // k6's default request timeout
  }
  if (typeof t === 'number') {
    return t;
  }
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(String(t));
  if (!m) {
    throw new Error(`invalid timeout value: ${t}`);
  }
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2]];
}

class FileData {
  constructor(data, filename, contentType) {
    this.data = data;
    this.filename = filename;
    this.content_type = contentType;
  }
}

/** http.file(data, [filename], [contentType]) */
export function file(data, filename, contentType) {
  return new FileData(data, filename, contentType || 'application/octet-stream');
}

function bytes(data) {
  if (typeof data === 'string') {
    return new TextEncoder().encode(data);
  }
  if (data instanceof ArrayBuffer) {
    return new Uint8Array(data.slice(0));
  }
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  }
  throw new Error(`unsupported body data ${typeof data}`);
}

/** k6's body rules: string as is; ArrayBuffer as bytes; an object is a form, multipart when it holds a file. */
function encodeBody(body) {
  if (body === null || body === undefined) {
    return { kind: 'none' };
  }
  if (typeof body === 'string') {
    return { kind: 'text', text: body };
  }
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) {
    return { kind: 'bytes', data: bytes(body) };
  }
  if (typeof body === 'object') {
    const entries = Object.entries(body);
    if (entries.some(([, v]) => v instanceof FileData)) {
      return {
        kind: 'multipart',
        parts: entries.map(([name, v]) => (v instanceof FileData
          ? { name, data: bytes(v.data), filename: v.filename || name, contentType: v.content_type }
          : { name, value: String(v) })),
      };
    }
    return { kind: 'form', fields: entries.map(([k, v]) => [k, String(v)]) };
  }
  throw new Error(`unsupported body ${typeof body}`);
}

function prepare(method, url, body, params = {}) {
  const vu = currentVU();
  const headers = { 'User-Agent': USER_AGENT };
  for (const [k, v] of Object.entries((params && params.headers) || {})) {
    headers[k] = String(v);
  }
  headers['x-k6-double-vu'] = String(vu.id);
  headers['x-k6-double-runner'] = vu.env.JOB_COMPLETION_INDEX || '0';
  headers['x-k6-double-phase'] = state.phase;
  headers['x-k6-double-iter'] = state.phase === 'iteration' ? String(vu.iter) : '';
  headers['x-k6-double-time'] = String(Math.floor(vu.clock));
  headers['x-k6-double-run'] = vu.run.id;
  return { method: method.toUpperCase(), url: String(url), headers, body: encodeBody(body), timeoutMs: timeoutMs(params && params.timeout) };
}

function response(req, raw) {
  const vu = currentVU();
  const latency = Number(raw.headers['x-fake-latency-ms'] || 0);
  if (latency > 0) {
    vu.clock += latency;
  }
  vu.run.requests.push({ vu: vu.id, method: req.method, url: req.url, status: raw.status, error: raw.error });
  return {
    status: raw.status,
    body: raw.body,
    headers: raw.headers,
    error: raw.error,
    error_code: raw.error_code,
    url: req.url,
    request: { method: req.method, url: req.url, headers: req.headers },
    timings: { duration: raw.duration + latency, waiting: raw.duration + latency, sending: 0, receiving: 0, blocked: 0, connecting: 0, tls_handshaking: 0 },
    json(selector) {
      if (selector !== undefined) {
        throw new Error('the http double does not support json(selector)');
      }
      if (typeof this.body !== 'string') {
        throw new Error('cannot parse a response without a body as JSON');
      }
      return JSON.parse(this.body);
    },
  };
}

export function request(method, url, body, params) {
  forbidInInit('Making http requests');
  const req = prepare(method, url, body, params);
  const [raw] = requestSync([req]);
  return response(req, raw);
}

export const get = (url, params) => request('GET', url, null, params);
export const head = (url, params) => request('HEAD', url, null, params);
export const post = (url, body, params) => request('POST', url, body, params);
export const put = (url, body, params) => request('PUT', url, body, params);
export const patch = (url, body, params) => request('PATCH', url, body, params);
export const del = (url, body, params) => request('DELETE', url, body, params);
export const options = (url, body, params) => request('OPTIONS', url, body, params);

/** http.batch: an array of [method, url, body, params] or {method, url, body, params}; requests run in parallel. */
export function batch(requests) {
  forbidInInit('Using batch');
  if (!Array.isArray(requests)) {
    throw new Error('the http double supports http.batch with an array only');
  }
  if (requests.length === 0) {
    return [];
  }
  const reqs = requests.map((r) => (Array.isArray(r)
    ? prepare(r[0], r[1], r[2], r[3])
    : prepare(r.method || 'GET', r.url, r.body, r.params)));
  const raws = requestSync(reqs);
  return raws.map((raw, i) => response(reqs[i], raw));
}

export default { request, get, head, post, put, patch, del, options, batch, file };
