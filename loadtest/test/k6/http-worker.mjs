// The thread that makes the http double's requests: the main thread posts a
// batch, blocks on Atomics.wait, and reads the answer with
// receiveMessageOnPort once this thread has posted it and notified.
import { parentPort, workerData } from 'node:worker_threads';

/** @type {import('node:worker_threads').MessagePort} */
const reply = workerData.port;

function body(b) {
  switch (b.kind) {
    case 'none': return undefined;
    case 'text': return b.text;
    case 'bytes': return b.data;
    case 'form': return new URLSearchParams(b.fields);
    case 'multipart': {
      const form = new FormData();
      for (const p of b.parts) {
        if (p.filename !== undefined) {
          form.append(p.name, new Blob([p.data], { type: p.contentType }), p.filename);
        } else {
          form.append(p.name, p.value);
        }
      }
      return form;
    }
    default: throw new Error(`unknown body kind ${b.kind}`);
  }
}

/** k6-style error text and code for a failed request (lib/netext/httpext/error_codes.go). */
function failure(err, timeoutMs) {
  if (err.name === 'TimeoutError' || err.name === 'AbortError') {
    return { error: `request timeout after ${timeoutMs}ms`, error_code: 1050 };
  }
  const cause = err.cause || err;
  const code = cause.code || '';
  const errorCode = code === 'ECONNREFUSED' ? 1212 : code === 'ENOTFOUND' ? 1101 : 1000;
  return { error: `${code ? code + ': ' : ''}${cause.message || String(cause)}`, error_code: errorCode };
}

async function one(req) {
  const started = performance.now();
  try {
    const res = await fetch(req.url, {
      method: req.method,
      headers: req.headers,
      body: body(req.body),
      signal: AbortSignal.timeout(req.timeoutMs),
    });
    const text = await res.text();
    return {
      status: res.status,
      body: text,
      headers: Object.fromEntries(res.headers),
      duration: performance.now() - started,
      error: '',
      error_code: 0,
    };
  } catch (err) {
    return { status: 0, body: null, headers: {}, duration: performance.now() - started, ...failure(err, req.timeoutMs) };
  }
}

parentPort.on('message', async ({ reqs, flag }) => {
  let msg;
  try {
    msg = { responses: await Promise.all(reqs.map(one)) };
  } catch (err) {
    msg = { fatal: String(err && err.stack || err) };
  }
  reply.postMessage(msg);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});
