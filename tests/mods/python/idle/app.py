"""A mod whose hooks return at once, through the guest library: what a
Python mod costs a tick when it does nothing (the benchmark's floor)."""

from bevy_mods import Mod, hooks_for


class Idle(Mod):
    def manifest(self, m):
        return m.named("idle-py")


Hooks = hooks_for(Idle)
