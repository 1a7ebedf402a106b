"""The mover, in Python: spawns `count` entities (10 unless the game's
config says otherwise) with a Position and a Velocity, then moves every
entity that has both by its velocity each tick, in one batch each way
(`update_batch`, or `read_batch` and `write_batch` when the config says
`api = "read-write"`). Same behaviour as `mods/mover`, in Rust."""

from bevy_mods import LimitExceeded, Mod, hooks_for, read_batch, spawn, update_batch, write_batch


def moved(p, v):
    return {"x": p["x"] + v["x"], "y": p["y"] + v["y"]}


class Mover(Mod):
    def __init__(self):
        self.name = None
        self.wanted = 10
        self.spawned = 0
        self.read_write = False
        self.fail_at = None

    def init(self, config):
        if isinstance(config, dict):
            self.wanted = config.get("count", 10)
            self.name = config.get("name")
            self.read_write = config.get("api") == "read-write"
            # The tick in which to fail on purpose, once (for tests of recovery).
            self.fail_at = config.get("fail_at")

    def manifest(self, m):
        return m.named(self.name or "mover-py").query("Position", "Velocity")

    def tick(self, tick):
        if tick.frame == self.fail_at:
            raise RuntimeError(f"failing on purpose in tick {tick.frame}")
        if self.read_write:
            rows = read_batch("Position", "Velocity")
            write_batch("Position", [e for e, _ in rows], [moved(p, v) for _, (p, v) in rows])
        else:
            update_batch(("Position", "Velocity"), "Position", lambda e, p, v: moved(p, v))

        # Entity `i` starts at (i, 0) and moves by (1, i / 10) each tick.
        while self.spawned < self.wanted:
            i = float(self.spawned)
            try:
                spawn({"Position": {"x": i, "y": 0.0}, "Velocity": {"x": 1.0, "y": i / 10.0}})
            except LimitExceeded:
                break  # the game reserves more ids next tick
            self.spawned += 1


Hooks = hooks_for(Mover)
