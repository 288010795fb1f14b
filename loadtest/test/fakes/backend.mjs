// Starts the fakes (./backend-worker.mjs) in a worker thread and talks to
// their control API (async: the test's main thread is free between its
// synchronous k6 calls).
import { Worker } from 'node:worker_threads';

export class Backend {
  /** @param {string} url @param {Worker} worker */
  constructor(url, worker) {
    this.url = url;
    this.worker = worker;
  }

  static async start() {
    const worker = new Worker(new URL('./backend-worker.mjs', import.meta.url), { execArgv: [] });
    const port = await new Promise((resolve, reject) => {
      worker.once('message', (m) => resolve(m.port));
      worker.once('error', reject);
    });
    return new Backend(`http://127.0.0.1:${port}`, worker);
  }

  async #call(method, path, body) {
    const res = await fetch(this.url + path, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) {
      throw new Error(`fake control ${method} ${path}: ${res.status}`);
    }
    return res.json();
  }

  /** Forgets all requests and app state; `config` tunes the fakes. */
  reset(config = {}) { return this.#call('POST', '/__control/reset', { config }); }

  /** Every request the fakes saw, in arrival order. */
  log() { return this.#call('GET', '/__control/log'); }

  /** The app requests (not the control API, not the runners). */
  async appLog() { return (await this.log()).filter((e) => e.server === 'app'); }

  /** Invalidates every cirkelline token (the next chat answers 401). */
  revoke() { return this.#call('POST', '/__control/revoke', {}); }

  /**
   * Fake k6 runners, one per spec: {down, refuseFirst, initPolls, dies:
   * {afterGets, exitCode, log}, setupData, setupStatus, setupError,
   * putStatus, resumeStatus}. Returns host:port each. The fake Kubernetes
   * API (`kubernetes()`) lists their pods (job loadtest-1, namespace shop).
   * @returns {Promise<string[]>}
   */
  async runners(specs) { return (await this.#call('POST', '/__control/runners', { specs })).hosts; }

  /** The starter's Kubernetes env for the fake API; the token file holds `starter-token`. */
  kubernetes(tokenFile) {
    return { KUBERNETES_API: `${this.url}/k8s`, KUBERNETES_NAMESPACE: 'shop', RUNNER_JOB: 'loadtest-1', KUBERNETES_TOKEN_FILE: tokenFile };
  }

  async stop() { await this.worker.terminate(); }
}
