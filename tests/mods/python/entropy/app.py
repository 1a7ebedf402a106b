"""Reads every source of chance and time a Python mod can reach, each
tick, and reports them in an `entropy` event. The game must give the same
values in every run and on every machine, and clocks that read game time
(tests/determinism.rs)."""

import os
import random
import time

from bevy_mods import Mod, emit, hooks_for


class Entropy(Mod):
    def __init__(self):
        # Drawn when the instance starts.
        self.first = random.getrandbits(32)

    def manifest(self, m):
        return m.named("entropy-py").emits("entropy")

    def tick(self, tick):
        emit(
            "entropy",
            {
                "first": self.first,
                "random": random.random(),
                # Python salts the hashes of strings per process.
                "hash": hash("bevy") & 0xFFFFFFFFFFFF,
                # So the order of a set of strings follows the salt.
                "set": list({"alpha", "beta", "gamma", "delta", "epsilon", "zeta"}),
                "urandom": list(os.urandom(8)),
                "time": time.time(),
                "monotonic": time.monotonic_ns(),
                "perf": time.perf_counter_ns(),
            },
        )


Hooks = hooks_for(Entropy)
