// Tests of the mod's rules, run natively with `modkit test` (or
// `node --test`).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startPositions, step } from './logic.js';

test('moves by velocity per second', () => {
  assert.deepEqual(step({ x: 1, y: 2 }, { x: 10, y: -4 }, 0.5), { x: 6, y: 0 });
});

test('three entities start apart', () => {
  const starts = startPositions(3);
  assert.equal(starts.length, 3);
  assert.equal(new Set(starts.map(([p]) => p.y)).size, 3);
});
