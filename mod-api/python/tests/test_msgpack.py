"""The Python guest library's MessagePack against msgpack itself: the same
bytes for the same values, the same values from the same bytes, and
broken input refused, never misread. Writes the vectors the JavaScript
library's test checks too (mod-api/js/tests/msgpack.test.mjs).

    PYTHONPATH=<a folder with msgpack> python3 test_msgpack.py VECTORS.json

Run by tests/languages.rs with the msgpack the Python mods are built with.
"""

import importlib.util
import json
import math
import random
import struct
import sys
from pathlib import Path

import msgpack

HERE = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("_msgpack", HERE.parent / "bevy_mods" / "_msgpack.py")
ours = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ours)

rng = random.Random(20261207)

INTS = [0, 1, 31, 32, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**53, 2**53 + 1,
        2**63, 2**64 - 1, -1, -31, -32, -33, -128, -129, -32768, -32769, -2**31, -2**31 - 1,
        -2**53, -2**63]
STRINGS = ["", "a", "x" * 31, "x" * 32, "y" * 255, "y" * 256, "héllo", "名前",
           "emoji 🎮", "quote \" and \\ and \u2028", "__proto__", "é" * 20]


def value(depth, js):
    """A random value; `js`: one JavaScript holds the same way (string
    keys, floats that are not whole numbers)."""
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return rng.choice(INTS) if rng.random() < 0.5 else rng.randrange(-10**6, 10**6)
    if kind == 1:
        f = rng.choice([0.5, -1.25, 1e300, -1e-300, math.inf, -math.inf, rng.uniform(-1e6, 1e6)])
        return f if js or rng.random() < 0.8 else 3.0
    if kind == 2:
        return rng.choice(STRINGS)
    if kind == 3:
        return bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 5, 300])))
    if kind == 4:
        return rng.choice([None, True, False])
    if kind == 5:
        return "".join(chr(rng.randrange(32, 0x3000)) for _ in range(rng.randrange(40)))
    if kind == 6:
        return [value(depth + 1, js) for _ in range(rng.choice([0, 3, 15, 16, 40]))]
    if kind == 7:
        # (JavaScript objects put keys that read as numbers first.)
        prefixes = STRINGS[1:6] if js else STRINGS[:6]
        return {rng.choice(prefixes) + str(i): value(depth + 1, js) for i in range(rng.choice([0, 2, 15, 16, 20]))}
    if js:
        return {"k": value(depth + 1, js)}
    return {rng.choice([1, -5, 2**40, None, True]): value(depth + 1, js), "n": (1, 2, [3])}


def same(a, b):
    """Equal, NaN and tuples aside."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and (a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)))


def tagged(v):
    """The value as JSON the JavaScript test reads back."""
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int):
        return {"i": str(v)}
    if isinstance(v, float):
        return {"f": struct.pack(">d", v).hex()}
    if isinstance(v, str):
        return {"s": v}
    if isinstance(v, bytes):
        return {"b": v.hex()}
    if isinstance(v, list):
        return [tagged(x) for x in v]
    return {"m": [[k, tagged(x)] for k, x in v.items()]}


def main():
    vectors = []
    for n in range(3000):
        js = n % 5 == 0
        v = value(0, js)
        theirs = msgpack.packb(v, use_bin_type=True)
        mine = ours.encode(v)
        assert mine == theirs, f"encode({v!r}):\n  ours   {mine.hex()}\n  theirs {theirs.hex()}"
        back = ours.decode(theirs)
        want = msgpack.unpackb(theirs, raw=False, strict_map_key=False)
        assert same(back, want), f"decode({theirs.hex()}): {back!r} != {want!r}"
        if js:
            vectors.append({"value": tagged(v), "hex": theirs.hex()})

    # The longest headers.
    for v in ["z" * 70000, b"z" * 70000, list(range(70000)), {str(i): i for i in range(70000)}]:
        theirs = msgpack.packb(v, use_bin_type=True)
        assert ours.encode(v) == theirs and same(ours.decode(theirs), v)
    vectors.append({"value": tagged("z" * 70000), "hex": msgpack.packb("z" * 70000).hex()})

    # float32, which the game sends for f32 fields, and every int width.
    for f in [1.5, -0.25, 3.4e38]:
        data = b"\xca" + struct.pack(">f", f)
        assert ours.decode(data) == msgpack.unpackb(data)
    for i in INTS:
        for fmt, marker in [(">b", 0xD0), (">h", 0xD1), (">i", 0xD2), (">q", 0xD3),
                            (">B", 0xCC), (">H", 0xCD), (">I", 0xCE), (">Q", 0xCF)]:
            try:
                data = bytes([marker]) + struct.pack(fmt, i)
            except struct.error:
                continue
            assert ours.decode(data) == i, data.hex()

    # Broken input is refused with a ValueError, never read as something.
    good = msgpack.packb({"a": [1, "two", b"3", 4.5, {"b": None}]}, use_bin_type=True)
    for cut in range(len(good)):
        try:
            ours.decode(good[:cut])
        except ValueError:
            continue
        raise AssertionError(f"a value cut at {cut} bytes decoded")
    for bad in [b"\xc1", b"\xd9\x02\xff\xfe", b"\x91\xc7\x01\x05\x00", good + b"\x00",
                b"\xdd\xff\xff\xff\xff", b"\x91" * 600 + b"\x00"]:
        try:
            ours.decode(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad[:16].hex()} decoded")

    # One value that does not decode costs only itself.
    items = [msgpack.packb(x, use_bin_type=True) for x in [1, "ok", {"k": [2]}]]
    array = b"\x95" + items[0] + b"\xd9\x02\xff\xfe" + items[1] + b"\xc7\x01\x05\x00" + items[2]
    got = ours.decode_each(array, lambda reason: ("bad", reason))
    assert got[0] == 1 and got[2] == "ok" and got[4] == {"k": [2]}, got
    assert got[1][0] == "bad" and got[3][0] == "bad", got
    for broken in [b"\x92\x01", b"\x81\x01\x02", b"\x92\xd9\x05ab"]:
        try:
            ours.decode_each(broken, lambda reason: None)
        except ValueError:
            continue
        raise AssertionError(f"{broken.hex()} stepped over")

    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(json.dumps(vectors))
    print(f"{n + 1} values, every byte the same as msgpack's")


main()
