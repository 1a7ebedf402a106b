// Beacons, in JavaScript: four purple squares at the arena's corners that
// pulse (grow and shrink with game time) and count, on their labels, the
// keys the player pressed and the players who joined (the game's
// `KeyPressed` and `PlayerJoined`).

import { Mod, hooksFor, insert, spawn } from '../../../mod-api/js/bevy-mods.js';

const CORNERS = [[-320, 230], [320, 230], [-320, -200], [320, -200]];

class Beacons extends Mod {
  constructor() {
    super();
    this.beacons = [];
    this.clock = 0;
    this.keys = 0;
    this.players = 0;
  }

  manifest(m) {
    return m.named('beacons-js').subscribe('KeyPressed', 'PlayerJoined');
  }

  event(event) {
    if (event.name === 'KeyPressed') this.keys += 1;
    if (event.name === 'PlayerJoined') this.players += 1;
  }

  components(i) {
    const pulse = 14 + 6 * Math.sin(this.clock * 3 + i);
    return {
      // The shape from its package (assets/beacon.png), in purple.
      Look: { shape: 'square', color: 'purple', size: pulse, sprite: 'beacon.png' },
      Nameplate: { text: `${this.keys} keys, ${this.players} players`, tags: ['beacon'] },
    };
  }

  tick(tick) {
    const dt = Number.isFinite(tick.deltaSeconds) ? Math.min(Math.max(tick.deltaSeconds, 0), 1) : 0;
    this.clock += dt;
    if (this.beacons.length === 0) {
      this.beacons = CORNERS.map(([x, y], i) => spawn({ Position: { x, y }, ...this.components(i) }));
      return;
    }
    this.beacons.forEach((e, i) => insert(e, this.components(i)));
  }
}

export const hooks = hooksFor(Beacons);
