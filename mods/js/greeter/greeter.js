// The greeter, in JavaScript: for each PlayerJoined the game sends, counts
// the player, emits a `greeting` event with a nested payload, and keeps a
// Badge (a component type the mod defines) on an entity of its own; every
// tick it reads the badge back and reports it in a `badge-seen` event. Same
// behaviour as `mods/greeter`, in Rust; the build's NEXT variant greets
// "Welcome back" as version 0.2.0, for live updates.

import { Mod, emit, hooksFor, insert, log, readBatch, spawn } from '../../../mod-api/js/bevy-mods.js';

const NEXT = false;
const VERSION = NEXT ? '0.2.0' : '0.1.0';
const RECENT = 8;

class Greeter extends Mod {
  constructor() {
    super();
    this.count = 0;
    this.names = [];
    this.badge = null;
  }

  manifest(m) {
    return m.named('greeter-js').versioned(VERSION)
      .subscribe('PlayerJoined').emits('greeting', 'badge-seen')
      .define('Badge').query('Badge');
  }

  event(event) {
    const { name, level } = event.payload;
    this.count += 1;
    // A badge keeps the last few names: a game runs for hours, and a
    // mod's state must not grow with it.
    this.names = [...this.names, name].slice(-RECENT);
    const milestones = Array.from({ length: level }, (_, i) => i + 1);
    const detail = { name, level, milestones };
    const text = NEXT ? `Welcome back, ${name}!` : `Welcome, ${name}!`;
    emit('greeting', { text, count: this.count, player: { joined: [detail] } });
    log.info(`greeted ${name} (${this.count} so far)`);
    console.log(`stdout works too: ${name}`);
  }

  restoreFrom(state, savedBy) {
    // Every version so far keeps its state alike; one that changes it
    // converts an older version's here.
    if (savedBy !== null && savedBy !== VERSION) log.info(`carrying on from the state version ${savedBy} saved`);
    this.restore(state);
  }

  tick() {
    // Report the badge as the world holds it (written last tick).
    for (const [, [badge]] of readBatch('Badge')) emit('badge-seen', badge);
    const badge = { greeted: this.count, names: [...this.names] };
    if (this.badge === null) this.badge = spawn({ Badge: badge });
    else insert(this.badge, { Badge: badge });
  }
}

export const hooks = hooksFor(Greeter);
