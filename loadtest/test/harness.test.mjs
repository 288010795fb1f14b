// The harness itself: what the flows' tests rely on it to do as k6 does.
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Run } from './harness.mjs';

test('harness: a module a script imports by a relative path is instantiated per VU, as in k6', async () => {
  const run = new Run(path.join(import.meta.dirname, 'fixtures', 'per-vu-script.js'));
  const vus = [await run.vu(1), await run.vu(2)];
  for (const vu of vus) {
    assert.equal(vu.module.atInit, 1, `VU ${vu.id}: the imported module's state starts fresh`);
  }
  const got = [];
  for (let i = 0; i < 2; i++) {
    for (const vu of vus) {
      got.push([vu.id, run.iterate(vu)]);
    }
  }
  assert.deepEqual(got, [[1, 2], [2, 2], [1, 3], [2, 3]]);
});
