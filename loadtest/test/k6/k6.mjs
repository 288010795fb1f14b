// Double of k6's 'k6' module (internal/js/modules/k6/k6.go): sleep advances
// the VU's virtual clock; check and group run synchronously and record.
import { currentVU, forbidInInit, state } from './runtime.mjs';

/** @param {number} seconds */
export function sleep(seconds) {
  const vu = currentVU();
  if (typeof seconds !== 'number' || !(seconds >= 0)) {
    throw new Error(`sleep(${seconds}): k6 takes a number of seconds`);
  }
  vu.run.sleeps.push({ vu: vu.id, phase: state.phase, seconds });
  vu.clock += seconds * 1000;
}

export function check(value, checks, tags) {
  forbidInInit('Using check()');
  const vu = currentVU();
  let all = true;
  for (const [name, fn] of Object.entries(checks)) {
    const ok = Boolean(typeof fn === 'function' ? fn(value) : fn);
    vu.run.checks.push({ vu: vu.id, name, ok, tags });
    all = all && ok;
  }
  return all;
}

export function group(name, fn) {
  forbidInInit('Using group()');
  if (typeof fn !== 'function') {
    throw new Error('group() requires a callback as a second argument');
  }
  currentVU().run.groups.push(name);
  return fn();
}

/** k6's fail: `throw` with the message (k6.go Fail). */
export function fail(msg) {
  throw new Error(msg);
}

export function randomSeed() {}

export default { sleep, check, group, fail, randomSeed };
