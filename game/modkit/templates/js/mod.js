// {{name}}: a mod for games built on the bevy-wasm-mods plugin.
//
// It spawns three entities with a `Position` and a `Velocity` (types the
// demo game exposes) and moves every entity of its own by its velocity, in
// units per second of game time.
//
// `modkit test` runs logic.test.js; `modkit build` makes build/{{name}}.wasm;
// `modkit check build/{{name}}.wasm` runs it in the game, headless, and says
// how it did. Entities are BigInts; the module must export `hooks`.

import { Mod, hooksFor, log, spawn, updateBatch } from './bevy-mods.js';
import { startPositions, step } from './logic.js';

class MyMod extends Mod {
  constructor() {
    super();
    this.spawned = false;
  }

  manifest(m) {
    return m.named('{{name}}').query('Position', 'Velocity');
  }

  tick(tick) {
    if (!this.spawned) {
      for (const [position, velocity] of startPositions(3)) {
        spawn({ Position: position, Velocity: velocity });
      }
      this.spawned = true;
      log.info('spawned three entities');
    }
    // Every entity of its own with both components, in one call each way;
    // other mods' and the game's entities are left alone.
    updateBatch(['Position', 'Velocity'], 'Position', (e, p, v) => step(p, v, tick.deltaSeconds));
  }

  // `save` and `restore` default to the instance's fields: a new version of
  // the mod continues from them when the file changes.
}

export const hooks = hooksFor(MyMod);
