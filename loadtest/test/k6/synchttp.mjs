// Synchronous HTTP for the http double, as k6's http calls are synchronous:
// a worker thread does the fetches while this thread waits on a
// SharedArrayBuffer with Atomics.wait.
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';

let worker = null;
let port = null;
const flag = new Int32Array(new SharedArrayBuffer(4));

function ensure() {
  if (worker) {
    return;
  }
  const ch = new MessageChannel();
  worker = new Worker(new URL('./http-worker.mjs', import.meta.url), {
    workerData: { port: ch.port2 },
    transferList: [ch.port2],
    execArgv: [],
  });
  worker.unref();
  port = ch.port1;
  port.unref();
}

/**
 * Sends the requests in parallel and returns their responses, in order.
 * @param {object[]} reqs
 */
export function requestSync(reqs) {
  ensure();
  Atomics.store(flag, 0, 0);
  worker.postMessage({ reqs, flag });
  const deadline = performance.now() + 180_000;
  for (;;) {
    const waited = Atomics.wait(flag, 0, 0, 1000);
    const msg = receiveMessageOnPort(port);
    if (msg) {
      if (msg.message.fatal) {
        throw new Error(`http double worker: ${msg.message.fatal}`);
      }
      return msg.message.responses;
    }
    if (waited !== "ok" && performance.now() > deadline) {
      throw new Error('http double: no answer from the worker in 180 s');
    }
  }
}
