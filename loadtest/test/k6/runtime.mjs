// The state the k6 doubles share with the harness (../harness.mjs): which
// simulated VU is running, in which phase, its virtual clock, and what the
// script recorded (metrics, checks, sleeps, logs, an abort).
//
// Phases follow k6: 'init' (module top level: metrics may be declared, no
// requests, checks or metric samples: internal/js/modules/k6/metrics/metrics.go,
// internal/js/modules/k6/http/request.go, internal/js/modules/k6/k6.go), then
// 'setup', 'iteration', 'teardown' or 'summary'.

export class K6Abort extends Error {
  /** @param {string} reason */
  constructor(reason) {
    super(reason);
    this.name = 'K6Abort';
  }
}

export const state = {
  /** @type {null | {id: number, clock: number, env: Record<string,string>, run: any}} */
  vu: null,
  /** @type {'none'|'init'|'setup'|'iteration'|'teardown'|'summary'} */
  phase: 'none',
};

/** The running VU; k6 code outside a VU is a harness bug. */
export function currentVU() {
  if (state.vu === null) {
    throw new Error('k6 double used outside a simulated VU');
  }
  return state.vu;
}

/** @param {string} what */
export function forbidInInit(what) {
  if (state.phase === 'init') {
    throw new Error(`${what} in the init context is not supported`);
  }
}

const realDateNow = Date.now.bind(Date);
// Date.now follows the running VU's virtual clock, which sleep() advances.
Date.now = () => (state.vu ? Math.floor(state.vu.clock) : realDateNow());
