"""{{name}}: a mod for games built on the bevy-wasm-mods plugin.

It spawns three entities with a `Position` and a `Velocity` (types the demo
game exposes) and moves every entity of its own by its velocity, in units
per second of game time.

`modkit test` runs test_logic.py; `modkit build` makes build/{{name}}.wasm;
`modkit check build/{{name}}.wasm` runs it in the game, headless, and says
how it did. The exported class must be called `Hooks`."""

from bevy_mods import Mod, hooks_for, log, spawn, update_batch

from logic import start_positions, step


class MyMod(Mod):
    def __init__(self):
        self.spawned = False

    def manifest(self, m):
        return m.named("{{name}}").query("Position", "Velocity")

    def tick(self, tick):
        if not self.spawned:
            for position, velocity in start_positions(3):
                spawn({"Position": position, "Velocity": velocity})
            self.spawned = True
            log.info("spawned three entities")
        # Every entity of its own with both components, in one call each
        # way; other mods' and the game's entities are left alone.
        dt = tick.delta_seconds
        update_batch(("Position", "Velocity"), "Position", lambda e, p, v: step(p, v, dt))

    # `save` and `restore` default to the instance's attributes: a new
    # version of the mod continues from them when the file changes.


Hooks = hooks_for(MyMod)
