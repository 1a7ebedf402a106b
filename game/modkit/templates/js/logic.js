// The mod's rules, as plain functions of plain values: tested natively by
// logic.test.js (`modkit test`), used by mod.js in the game.

/** Where an entity at `p` is after `dt` seconds at velocity `v`. */
export const step = (p, v, dt) => ({ x: p.x + v.x * dt, y: p.y + v.y * dt });

/** The first `n` entities' `Position` and `Velocity`. */
export const startPositions = (n) =>
  Array.from({ length: n }, (_, i) => [{ x: 0, y: 10 * i }, { x: 10 * (i + 1), y: 0 }]);
