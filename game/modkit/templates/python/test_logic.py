"""Tests of the mod's rules, run natively with `modkit test` (or
`python3 -m unittest`)."""

import unittest

from logic import start_positions, step


class StepTest(unittest.TestCase):
    def test_moves_by_velocity_per_second(self):
        self.assertEqual(step({"x": 1.0, "y": 2.0}, {"x": 10.0, "y": -4.0}, 0.5), {"x": 6.0, "y": 0.0})

    def test_three_entities_start_apart(self):
        starts = start_positions(3)
        self.assertEqual(len(starts), 3)
        self.assertEqual(len({p["y"] for p, _ in starts}), 3)


if __name__ == "__main__":
    unittest.main()
