// Runs a k6 script under Node the way k6 v1.3.0 runs it, as far as the
// flows depend on it:
// - every VU is its own module instance (a fresh import), as each k6 VU has
//   its own JS runtime (internal/js/bundle.go Bundle.instantiate); so are
//   the modules a script imports by a relative path, e.g. ./pacing.js
//   (./k6/loader.mjs);
// - __ENV is defined in every VU (bundle.go setupJSRuntime) and, for
//   `k6 run`, holds the process environment (internal/cmd/runtime_options.go,
//   include-system-env-vars): here, a flow's env as the Go side gives every
//   runner (FLOWS: the flow's settings, e.g. THINK_SECONDS), then the env
//   the test gives;
// - __VU is the VU's id, set at init (setupJSRuntime); setup(), teardown()
//   and handleSummary() each run in a new VU with id 0 (internal/js/runner.go
//   runPart, HandleSummary: newVU(ctx, 0, 0, out));
// - __ITER is defined only while the default function runs an iteration
//   (internal/js/runner.go ActiveVU.RunOnce), and deleted otherwise;
// - open(path) reads a file as text, in the init context only (k6:
//   internal/js/bundle.go defines it, internal/js/initcontext.go openImpl
//   reads it; outside init "the "open" function is only available in the
//   init stage");
// - setup() data reaches the VUs as JSON (runner.go Setup: json.Marshal;
//   RunOnce: json.Unmarshal once per VU);
// - sleep() advances the VU's virtual clock, and Date.now() follows it.
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { K6Abort, state } from './k6/runtime.mjs';

/** The scripts under test; K6_SCRIPTS_DIR points elsewhere (e.g. an old revision). */
export const SCRIPTS_DIR = process.env.K6_SCRIPTS_DIR || path.join(import.meta.dirname, '..', 'scripts');

/**
 * The Go registry's side of each flow's contract, by flow name: its script,
 * the metrics it declares, whether it exports setup(), and the env every
 * runner gets (loadtest.FlowEnv of an unpaced run). Written from
 * loadtest/flows.go by `go test ./loadtest -update` (TestFlowContractsGolden).
 * @type {Record<string, {script: string, metrics: Record<string, string>, setup: boolean, env: Record<string, string>}>}
 */
export const FLOWS = JSON.parse(readFileSync(path.join(import.meta.dirname, '..', 'testdata', 'flows.json'), 'utf8'));

/**
 * Imports a module of SCRIPTS_DIR outside any VU, for the constants it
 * exports (summary.js's SUMMARY_MARKER); its init code must not read k6's
 * per-VU globals.
 * @param {string} name file name under SCRIPTS_DIR
 */
export function scriptModule(name) {
  return import(pathToFileURL(path.join(SCRIPTS_DIR, name)).href);
}

/** Virtual time at which every run starts. */
export const EPOCH = Date.UTC(2025, 0, 1);

let instances = 0;
let runs = 0;

export class Run {
  /**
   * @param {string} script file name under SCRIPTS_DIR, or an absolute path (the harness's own fixtures)
   * @param {Record<string, string | undefined>} env the runner's environment (__ENV) on top of a flow's FLOWS env
   * @param {any} k6Options the consolidated options k6/execution's test.options returns
   */
  constructor(script, env = {}, k6Options = {}) {
    this.script = script;
    const flow = Object.values(FLOWS).find((f) => f.script === script);
    this.env = { ...(flow ? flow.env : {}), ...env };
    this.k6Options = k6Options;
    this.id = `run-${++runs}`;
    /** @type {Map<string, {type: string, isTime: boolean, samples: any[]}>} */
    this.metrics = new Map();
    this.checks = [];
    this.groups = [];
    this.sleeps = [];
    this.requests = [];
    this.logs = [];
    /** @type {string | null} */
    this.aborted = null;
    /** @type {string | null} setup data as JSON, as k6 keeps it */
    this.setupJSON = null;
  }

  #url() {
    const file = path.isAbsolute(this.script) ? this.script : path.join(SCRIPTS_DIR, this.script);
    return `${pathToFileURL(file).href}?instance=${++instances}`;
  }

  /** Runs fn as VU `vu` in `phase`, with k6's globals for it. */
  #enter(vu, phase, fn) {
    const saved = { vu: state.vu, phase: state.phase };
    const consoleSaved = { log: console.log, info: console.info, warn: console.warn, error: console.error, debug: console.debug };
    state.vu = vu;
    state.phase = phase;
    globalThis.__ENV = vu.env;
    globalThis.__VU = vu.id;
    globalThis.open = (/** @type {string} */ file) => {
      if (state.phase !== 'init') {
        throw new Error('the "open" function is only available in the init stage');
      }
      return readFileSync(file, 'utf8');
    };
    if (phase === 'iteration') {
      globalThis.__ITER = vu.iter;
    } else {
      delete globalThis.__ITER;
    }
    for (const level of Object.keys(consoleSaved)) {
      console[level] = (...args) => this.logs.push({ vu: vu.id, level, msg: args.map(String).join(' ') });
    }
    const done = () => {
      Object.assign(console, consoleSaved);
      delete globalThis.__ITER;
      delete globalThis.__VU;
      delete globalThis.__ENV;
      delete globalThis.open;
      state.vu = saved.vu;
      state.phase = saved.phase;
    };
    let result;
    try {
      result = fn();
    } catch (err) {
      done();
      throw err;
    }
    if (result instanceof Promise) {
      return result.finally(done);
    }
    done();
    return result;
  }

  /**
   * A new VU: a fresh module instance whose init code runs with __VU = id.
   * @param {number} id
   */
  async vu(id) {
    const vu = { id, iter: 0, clock: EPOCH, env: { ...this.env }, run: this, module: null, data: undefined, dataReady: false };
    vu.module = await this.#enter(vu, 'init', () => import(this.#url()));
    return vu;
  }

  /** Runs setup() in a new VU 0 and keeps its data as JSON; returns the data as VUs see it. */
  async setup() {
    const vu = await this.vu(0);
    if (typeof vu.module.setup !== 'function') {
      this.setupJSON = null;
      return undefined;
    }
    const value = this.#enter(vu, 'setup', () => vu.module.setup());
    this.setupJSON = value === undefined ? null : JSON.stringify(value);
    return this.setupJSON === null ? undefined : JSON.parse(this.setupJSON);
  }

  /** Sets the setup data as PUT /v1/setup does on a runner started with --no-setup. */
  setSetupData(json) {
    this.setupJSON = json;
  }

  /** One iteration of the default function on `vu`. */
  iterate(vu) {
    if (!vu.dataReady) {
      vu.data = this.setupJSON === null ? undefined : JSON.parse(this.setupJSON);
      vu.dataReady = true;
    }
    try {
      return this.#enter(vu, 'iteration', () => vu.module.default(vu.data));
    } finally {
      vu.iter++;
    }
  }

  /**
   * Runs the default function once and maps the outcome to k6's exit code:
   * 0, 108 for test.abort (errext/exitcodes/codes.go ScriptAborted), 107 for
   * an exception (ScriptException).
   */
  exit(vu) {
    try {
      this.iterate(vu);
    } catch (err) {
      if (err instanceof K6Abort || this.aborted) {
        return { code: 108, message: this.aborted };
      }
      return { code: 107, message: String(err && err.message) };
    }
    return this.aborted ? { code: 108, message: this.aborted } : { code: 0, message: '' };
  }

  /** Runs handleSummary(data) in a new VU 0; returns what k6 would write per destination. */
  async handleSummary(data) {
    const vu = await this.vu(0);
    return this.#enter(vu, 'summary', () => vu.module.handleSummary(data));
  }

  /** @param {string} name */
  samples(name) {
    const m = this.metrics.get(name);
    return m ? m.samples.map((s) => s.value) : [];
  }
}
