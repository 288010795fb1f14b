// Double of k6/execution (internal/js/modules/k6/execution/execution.go):
// test.abort(reason) interrupts the run with "test aborted: <reason>", and
// k6 exits 108 (errext/exitcodes/codes.go ScriptAborted). The harness turns
// the K6Abort into that exit code; the abort is also recorded, so a script
// that catches it still counts as aborted (k6 interrupts the runtime, which
// try/catch cannot stop).
import { K6Abort, currentVU, state } from './runtime.mjs';

export const test = {
  /**
   * The consolidated options, as k6 gives them (lib.Options as JSON, e.g.
   * {tags: {...}}): the Run's k6Options. Not in the init context
   * (execution.go: errTestInfoInitContext).
   */
  get options() {
    if (state.phase === 'init') {
      throw new Error('getting test options in the init context is not supported');
    }
    return currentVU().run.k6Options;
  },
  /** @param {string} [reason] */
  abort(reason) {
    const vu = currentVU();
    const msg = reason === undefined || reason === null ? 'test aborted' : `test aborted: ${reason}`;
    vu.run.aborted = msg;
    throw new K6Abort(msg);
  },
};

export const vu = {
  get idInTest() { return currentVU().id; },
  get iterationInInstance() { return state.phase === 'iteration' ? currentVU().iter : 0; },
};

export default { test, vu };
