"""Fireflies, in Python: eight yellow lights circling the arena's centre,
a quarter turn every two seconds; the game's `KeyPressed` (Space) turns
them another colour, and one of them carries a sign with the name of the
last player who joined."""

import math

from bevy_mods import Mod, hooks_for, insert, log, spawn, update_batch

COLOURS = ["yellow", "cyan", "#ff77ff", "orange"]
# Radians a second.
TURN = math.pi / 4
COUNT = 8
RADIUS = 220.0


def turned(p, angle):
    """`p` turned by `angle` around the origin."""
    c, s = math.cos(angle), math.sin(angle)
    return {"x": p["x"] * c - p["y"] * s, "y": p["x"] * s + p["y"] * c}


class Fireflies(Mod):
    def __init__(self):
        self.colour = 0
        self.spawned = False
        self.leader = None
        self.joined = None

    def manifest(self, m):
        return (
            m.named("fireflies-py")
            .query("Position", "Look")
            .subscribe("KeyPressed", "PlayerJoined")
        )

    def event(self, event):
        if event.name == "KeyPressed" and event.payload.get("key") == "Space":
            self.colour = (self.colour + 1) % len(COLOURS)
            log.info(f"fireflies turn {COLOURS[self.colour]}")
        elif event.name == "PlayerJoined":
            self.joined = event.payload.get("name")

    def look(self):
        # A halo of light from its package (assets/firefly.png), in the colour.
        return {"shape": "circle", "color": COLOURS[self.colour], "size": 16.0, "sprite": "firefly.png"}

    def tick(self, tick):
        if not self.spawned:
            for i in range(COUNT):
                a = 2 * math.pi * i / COUNT
                e = spawn({
                    "Position": {"x": RADIUS * math.cos(a), "y": RADIUS * math.sin(a)},
                    "Look": self.look(),
                })
                if self.leader is None:
                    self.leader = e
            self.spawned = True
            return
        dt = max(0.0, min(float(tick.delta_seconds), 1.0))
        look = self.look()
        update_batch(("Position", "Look"), "Position", lambda e, p, l: turned(p, TURN * dt))
        update_batch(("Position", "Look"), "Look", lambda e, p, l: look)
        if self.joined is not None:
            insert(self.leader, {"Nameplate": {"text": f"hello {self.joined}", "tags": []}})
            self.joined = None


Hooks = hooks_for(Fireflies)
