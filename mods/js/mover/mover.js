// The mover, in JavaScript: spawns `count` entities (10 unless the game's
// config says otherwise) with a Position and a Velocity, then moves every
// entity that has both by its velocity each tick, in one batch each way
// (`updateBatch`, or `readBatch` and `writeBatch` when the config says
// `api = "read-write"`). Same behaviour as `mods/mover`, in Rust.

import { Mod, ModError, hooksFor, readBatch, spawn, updateBatch, writeBatch } from '../../../mod-api/js/bevy-mods.js';

const moved = (p, v) => ({ x: p.x + v.x, y: p.y + v.y });

class Mover extends Mod {
  constructor() {
    super();
    this.name = null;
    this.wanted = 10;
    this.spawned = 0;
    this.readWrite = false;
    this.failAt = null;
  }

  init(config) {
    if (config && typeof config === 'object') {
      this.wanted = config.count ?? 10;
      this.name = config.name ?? null;
      this.readWrite = config.api === 'read-write';
      // The tick in which to fail on purpose, once (for tests of recovery).
      this.failAt = config.fail_at ?? null;
    }
  }

  manifest(m) {
    return m.named(this.name ?? 'mover-js').query('Position', 'Velocity');
  }

  tick(tick) {
    if (this.failAt !== null && BigInt(this.failAt) === tick.frame) {
      throw new Error(`failing on purpose in tick ${tick.frame}`);
    }
    if (typeof this.wanted !== 'number') {
      throw new TypeError(`count must be a number, not ${JSON.stringify(this.wanted)}`);
    }
    if (this.readWrite) {
      const rows = readBatch('Position', 'Velocity');
      writeBatch('Position', rows.map(([e]) => e), rows.map(([, [p, v]]) => moved(p, v)));
    } else {
      updateBatch(['Position', 'Velocity'], 'Position', (e, p, v) => moved(p, v));
    }
    // Entity `i` starts at (i, 0) and moves by (1, i / 10) each tick.
    while (this.spawned < this.wanted) {
      const i = this.spawned;
      try {
        spawn({ Position: { x: i, y: 0 }, Velocity: { x: 1, y: i / 10 } });
      } catch (e) {
        if (e instanceof ModError && e.kind === 'limit-exceeded') break; // more ids next tick
        throw e;
      }
      this.spawned += 1;
    }
  }
}

export const hooks = hooksFor(Mover);
