// @ts-check
// The flows' load model, shared by every flow: paced requests
// (REQUEST_INTERVAL_SECONDS) or think time (THINK_SECONDS), and the numbers
// the Go side's request model reads (setting).
//
// The flows import it as './pacing.js'. k6 v1.3.0 resolves a relative
// specifier against the directory of the module that imports it: the main
// script's resolver starts at loader.Dir(script URL) (internal/js/bundle.go,
// newBundle: bundle.pwd), an imported module's at its own URL joined with
// ".." (js/modules/resolution.go, ModuleResolver.reversePath), and
// internal/loader/loader.go (Resolve, resolveFilePath) parses './pacing.js'
// against that directory (internal/js/path_resolution_test.go has such
// imports); k6's docs (Using k6 > Modules > Local modules) show the same
// `import { someHelper } from './helpers.js'`. The path is not resolved
// through links, so the Job's ConfigMap volume (each key a link into
// /scripts/..data/) gives file:///scripts/pacing.js. The module must be a
// file next to the flow: a key of the Job's ConfigMap and a file of
// `loadtest export`'s directory; the Go side puts it in both
// (loadtest.Flow.Files).
import { sleep } from 'k6';

/**
 * Parses REQUEST_INTERVAL_SECONDS; unset or empty means not paced (0). A
 * value that is not a number >= 0 fails the init context, so a typo stops
 * the run instead of silently changing the load.
 * @param {string | undefined} value
 * @returns {number} milliseconds
 */
export function intervalMs(value) {
  if (value === undefined || value === '') {
    return 0;
  }
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new Error(`REQUEST_INTERVAL_SECONDS must be a number >= 0, got ${JSON.stringify(value)}`);
  }
  return seconds * 1000;
}

/**
 * A number the Go side passes to every runner: THINK_SECONDS and a flow's
 * own settings (loadtest.FlowEnv, from the flow's entry in
 * loadtest/flows.go, then loadtest.env). The script keeps no default of its
 * own, so the Go side's request model and the script cannot disagree; a
 * value that is missing or not a finite number >= 0 fails the init
 * context. `go run . loadtest export` prints each as a -e flag.
 * @param {Record<string, string | undefined>} env __ENV
 * @param {string} name
 * @returns {number}
 */
export function setting(env, name) {
  const value = env[name];
  const n = Number(value);
  if (value === undefined || value === '' || !Number.isFinite(n) || n < 0) {
    throw new Error(`${name} must be a number >= 0, got ${JSON.stringify(value)}: the Go side sets it (go run . loadtest export prints it as -e ${name}=...)`);
  }
  return n;
}

/**
 * @typedef {object} Pacer
 * @property {() => void} pace call before each HTTP request
 * @property {() => void} think call between steps
 */

/**
 * A VU's pacer. Call it once, in the flow's init context: k6 gives each VU
 * its own JS runtime and its own instance of every module (internal/js/bundle.go,
 * Bundle.instantiate: modules.NewModuleSystem, whose instanceCache is the
 * VU's; js/modules/resolution.go), so the pacer, and the slot it keeps, is
 * per VU.
 *
 * pace(): when paced (interval > 0), sleeps until this VU's next slot; the
 * slot after it is max(now, this slot) + interval, so a slow response delays
 * the VU instead of causing a burst to catch up. The first slot is at a
 * random point of the first interval, so VUs started together do not fire
 * together. N VUs then send N / interval requests per second. Date.now()
 * and Math.random() are ECMAScript; k6 seeds Math.random per VU from
 * crypto/rand (js/common/randsource.go).
 *
 * think(): sleeps THINK_SECONDS when not paced; pacing replaces think time.
 *
 * @param {Record<string, string | undefined>} env __ENV: REQUEST_INTERVAL_SECONDS (see intervalMs) and THINK_SECONDS (see setting)
 * @returns {Pacer}
 */
export function newPacer(env) {
  const interval = intervalMs(env.REQUEST_INTERVAL_SECONDS);
  const thinkSeconds = setting(env, 'THINK_SECONDS');
  /**
   * The time (ms since the epoch) at which this VU's next request may
   * start; 0 before its first request.
   */
  let nextSlot = 0;
  return {
    pace() {
      if (interval <= 0) {
        return;
      }
      const now = Date.now();
      if (nextSlot === 0) {
        nextSlot = now + Math.random() * interval;
      }
      if (nextSlot > now) {
        sleep((nextSlot - now) / 1000); // k6's sleep takes seconds (internal/js/modules/k6/k6.go, Sleep)
      }
      nextSlot = Math.max(Date.now(), nextSlot) + interval;
    },
    think() {
      if (interval <= 0) {
        sleep(thinkSeconds);
      }
    },
  };
}
