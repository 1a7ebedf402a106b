"""The greeter, in Python: for each PlayerJoined the game sends, counts the
player, emits a `greeting` event with a nested payload, and keeps a Badge
(a component type the mod defines) on an entity of its own; every tick it
reads the badge back and reports it in a `badge-seen` event. Same
behaviour as `mods/greeter`, in Rust; the build's `NEXT` variant greets
"Welcome back" as version 0.2.0, for live updates."""

from bevy_mods import Mod, emit, hooks_for, insert, log, read_batch, spawn

NEXT = False
VERSION = "0.2.0" if NEXT else "0.1.0"

# Names a badge keeps: a game runs for hours, and a mod's state must not
# grow with it.
RECENT = 8


class Greeter(Mod):
    def __init__(self):
        self.count = 0
        self.names = []
        self.badge = None

    def manifest(self, m):
        return (
            m.named("greeter-py")
            .versioned(VERSION)
            .subscribe("PlayerJoined")
            .emits("greeting", "badge-seen")
            .define("Badge")
            .query("Badge")
        )

    def event(self, event):
        joined = event.payload
        name, level = joined["name"], joined["level"]
        self.count += 1
        self.names = (self.names + [name])[-RECENT:]
        detail = {
            "name": name,
            "level": float(level),
            "milestones": list(range(1, level + 1)),
        }
        text = f"Welcome back, {name}!" if NEXT else f"Welcome, {name}!"
        emit("greeting", {"text": text, "count": self.count, "player": {"joined": [detail]}})
        log.info(f"greeted {name} ({self.count} so far)")
        print(f"stdout works too: {name}")

    def restore_from(self, state, saved_by):
        # Every version so far keeps its state alike; one that changes it
        # converts an older version's here.
        if saved_by is not None and saved_by != VERSION:
            log.info(f"carrying on from the state version {saved_by} saved")
        self.restore(state)

    def tick(self, tick):
        # Report the badge as the world holds it (written last tick).
        for _, (badge,) in read_batch("Badge"):
            emit("badge-seen", badge)
        badge = {"greeted": self.count, "names": list(self.names)}
        if self.badge is None:
            self.badge = spawn({"Badge": badge})
        else:
            insert(self.badge, {"Badge": badge})


Hooks = hooks_for(Greeter)
