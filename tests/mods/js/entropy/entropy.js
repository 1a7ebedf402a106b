// Reads every source of chance and time a JavaScript mod can reach, each
// tick, and reports them in an `entropy` event. The game must give the
// same values in every run and on every machine, and clocks that read game
// time (tests/determinism.rs).

import { Mod, emit, hooksFor } from '../../../../mod-api/js/bevy-mods.js';

class Entropy extends Mod {
  constructor() {
    super();
    // Drawn when the instance starts.
    this.first = Math.random();
  }

  manifest(m) {
    return m.named('entropy-js').emits('entropy');
  }

  tick() {
    const bytes = new Uint8Array(8);
    crypto.getRandomValues(bytes);
    emit('entropy', {
      first: this.first,
      random: Math.random(),
      crypto: Array.from(bytes),
      uuid: crypto.randomUUID(),
      now: Date.now(),
      date: new Date().toISOString(),
      perf: performance.now(),
    });
  }
}

export const hooks = hooksFor(Entropy);
