"""The mod's rules, as plain functions of plain values: tested natively by
test_logic.py (`modkit test`), used by app.py in the game."""


def step(p, v, dt):
    """Where an entity at `p` is after `dt` seconds at velocity `v`
    (components are dicts keyed by field name)."""
    return {"x": p["x"] + v["x"] * dt, "y": p["y"] + v["y"] * dt}


def start_positions(n):
    """The first `n` entities' `Position` and `Velocity`."""
    return [
        ({"x": 0.0, "y": 10.0 * i}, {"x": 10.0 * (i + 1), "y": 0.0})
        for i in range(n)
    ]
