// A mod whose hooks return at once, through the guest library: what a
// JavaScript mod costs a tick when it does nothing (the benchmark's floor).

import { Mod, hooksFor } from '../../../../mod-api/js/bevy-mods.js';

class Idle extends Mod {
  manifest(m) {
    return m.named('idle-js');
  }
}

export const hooks = hooksFor(Idle);
