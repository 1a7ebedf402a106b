"""MessagePack for the Python guest library, written for an interpreter.

A component cannot load msgpack's C extension, and its pure-Python
fallback makes an object and checks a dozen options for every value it
packs or unpacks. This does only what the game's values need: one
function each way, dispatch on the exact type first, `struct` for
numbers, slices for strings and bytes. It writes the bytes msgpack's
`packb(value, use_bin_type=True)` writes (integers in their shortest
form, floats as float64, `bytes` as bin), and reads what it reads with
`raw=False, strict_map_key=False`, ext types excepted
(mod-api/python/tests checks both against msgpack itself).
"""

import struct

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_I8 = struct.Struct(">b")
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")
_F32 = struct.Struct(">f")
_F64 = struct.Struct(">d")

# Values nested deeper than these are refused: msgpack's limit for
# packing, and for reading one that keeps to the interpreter's stack (the
# game refuses values nested more than 64 deep).
MAX_DEPTH = 511
MAX_READ_DEPTH = 200


# ---------------------------------------------------------------- encoding

def _header(out, n, fix, fix_max, m8, m16, m32):
    if n <= fix_max:
        out.append(fix | n)
    elif m8 and n < 0x100:
        out.append(m8)
        out.append(n)
    elif n < 0x10000:
        out.append(m16)
        out += _U16.pack(n)
    elif n < 0x100000000:
        out.append(m32)
        out += _U32.pack(n)
    else:
        raise ValueError(f"{n} items or bytes is too many for MessagePack")


def _int(out, v):
    if v >= 0:
        if v < 0x80:
            out.append(v)
        elif v < 0x100:
            out.append(0xCC)
            out.append(v)
        elif v < 0x10000:
            out.append(0xCD)
            out += _U16.pack(v)
        elif v < 0x100000000:
            out.append(0xCE)
            out += _U32.pack(v)
        elif v < 0x10000000000000000:
            out.append(0xCF)
            out += _U64.pack(v)
        else:
            raise OverflowError("Integer value out of range")
    elif v >= -32:
        out.append(v & 0xFF)
    elif v >= -0x80:
        out.append(0xD0)
        out += _I8.pack(v)
    elif v >= -0x8000:
        out.append(0xD1)
        out += _I16.pack(v)
    elif v >= -0x80000000:
        out.append(0xD2)
        out += _I32.pack(v)
    elif v >= -0x8000000000000000:
        out.append(0xD3)
        out += _I64.pack(v)
    else:
        raise OverflowError("Integer value out of range")


def _str(out, v):
    b = v.encode("utf-8")
    n = len(b)
    if n < 32:
        out.append(0xA0 | n)
    else:
        _header(out, n, 0, -1, 0xD9, 0xDA, 0xDB)
    out += b


def _put(out, v, depth):
    t = type(v)
    if t is str:
        _str(out, v)
    elif t is int:
        _int(out, v)
    elif t is float:
        out.append(0xCB)
        out += _F64.pack(v)
    elif t is dict:
        if depth > MAX_DEPTH:
            raise ValueError("recursion limit exceeded")
        _header(out, len(v), 0x80, 15, 0, 0xDE, 0xDF)
        for k, x in v.items():
            if type(k) is str:
                _str(out, k)
            else:
                _put(out, k, depth + 1)
            _put(out, x, depth + 1)
    elif t is list or t is tuple:
        if depth > MAX_DEPTH:
            raise ValueError("recursion limit exceeded")
        _header(out, len(v), 0x90, 15, 0, 0xDC, 0xDD)
        for x in v:
            _put(out, x, depth + 1)
    elif v is None:
        out.append(0xC0)
    elif t is bool:
        out.append(0xC3 if v else 0xC2)
    elif t is bytes or t is bytearray or t is memoryview:
        b = bytes(v)
        _header(out, len(b), 0, -1, 0xC4, 0xC5, 0xC6)
        out += b
    # Subclasses (an IntEnum, an OrderedDict, a named tuple): as their base.
    elif isinstance(v, bool):
        out.append(0xC3 if v else 0xC2)
    elif isinstance(v, int):
        _int(out, int(v))
    elif isinstance(v, float):
        _put(out, float(v), depth)
    elif isinstance(v, str):
        _str(out, str(v))
    elif isinstance(v, (bytes, bytearray)):
        _put(out, bytes(v), depth)
    elif isinstance(v, dict):
        _put(out, dict(v), depth)
    elif isinstance(v, (list, tuple)):
        _put(out, list(v), depth)
    else:
        raise TypeError(f"can not serialize {type(v).__name__!r} object")


def encode(value):
    """MessagePack for a value, as the game reads it (`bin` for bytes)."""
    out = bytearray()
    try:
        _put(out, value, 0)
    except RecursionError:
        raise ValueError("recursion limit exceeded") from None
    return bytes(out)


# ---------------------------------------------------------------- decoding

class _Short(ValueError):
    pass


def _get(data, at, depth):
    """The value starting at `at`, and where the next one starts."""
    m = data[at]
    at += 1
    if m < 0x80:
        return m, at
    if m >= 0xE0:
        return m - 0x100, at
    if m < 0x90:
        return _map(data, at, m & 0x0F, depth)
    if m < 0xA0:
        return _list(data, at, m & 0x0F, depth)
    if m < 0xC0:
        end = at + (m & 0x1F)
        if end > len(data):
            raise _Short("MessagePack ends early")
        return data[at:end].decode("utf-8"), end
    if m == 0xC0:
        return None, at
    if m == 0xC2:
        return False, at
    if m == 0xC3:
        return True, at
    if m == 0xCB:
        return _F64.unpack_from(data, at)[0], at + 8
    if m == 0xCA:
        return _F32.unpack_from(data, at)[0], at + 4
    if m == 0xCC:
        return data[at], at + 1
    if m == 0xCD:
        return _U16.unpack_from(data, at)[0], at + 2
    if m == 0xCE:
        return _U32.unpack_from(data, at)[0], at + 4
    if m == 0xCF:
        return _U64.unpack_from(data, at)[0], at + 8
    if m == 0xD0:
        return _I8.unpack_from(data, at)[0], at + 1
    if m == 0xD1:
        return _I16.unpack_from(data, at)[0], at + 2
    if m == 0xD2:
        return _I32.unpack_from(data, at)[0], at + 4
    if m == 0xD3:
        return _I64.unpack_from(data, at)[0], at + 8
    if m == 0xD9 or m == 0xC4:
        n = data[at]
        at += 1
    elif m == 0xDA or m == 0xC5:
        n = _U16.unpack_from(data, at)[0]
        at += 2
    elif m == 0xDB or m == 0xC6:
        n = _U32.unpack_from(data, at)[0]
        at += 4
    elif m == 0xDC:
        return _list(data, at + 2, _U16.unpack_from(data, at)[0], depth)
    elif m == 0xDD:
        return _list(data, at + 4, _U32.unpack_from(data, at)[0], depth)
    elif m == 0xDE:
        return _map(data, at + 2, _U16.unpack_from(data, at)[0], depth)
    elif m == 0xDF:
        return _map(data, at + 4, _U32.unpack_from(data, at)[0], depth)
    else:
        raise ValueError(f"MessagePack marker 0x{m:02x} is not supported")
    end = at + n
    if end > len(data):
        raise _Short("MessagePack ends early")
    if m >= 0xD9:
        return data[at:end].decode("utf-8"), end
    return bytes(data[at:end]), end


def _list(data, at, n, depth):
    if depth >= MAX_READ_DEPTH:
        raise ValueError("MessagePack nested too deep")
    if n > len(data) - at:
        raise _Short("MessagePack ends early")
    out = [None] * n
    for i in range(n):
        out[i], at = _get(data, at, depth + 1)
    return out, at


def _map(data, at, n, depth):
    if depth >= MAX_READ_DEPTH:
        raise ValueError("MessagePack nested too deep")
    if n > len(data) - at:
        raise _Short("MessagePack ends early")
    out = {}
    for _ in range(n):
        k, at = _get(data, at, depth + 1)
        out[k], at = _get(data, at, depth + 1)
    return out, at


def _decode_at(data, at):
    try:
        return _get(data, at, 0)
    except (IndexError, struct.error):
        raise ValueError("MessagePack ends early") from None
    except RecursionError:
        raise ValueError("MessagePack nested too deep") from None


def decode(data):
    """A value from MessagePack (strings as str, `bin` as bytes)."""
    value, at = _decode_at(data, 0)
    if at != len(data):
        raise ValueError("trailing bytes after the MessagePack value")
    return value


_FIXED = {
    0xCA: 4, 0xCB: 8, 0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8, 0xD0: 1, 0xD1: 2,
    0xD2: 4, 0xD3: 8, 0xD4: 2, 0xD5: 3, 0xD6: 5, 0xD7: 9, 0xD8: 17,
}
_SIZED = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4}
_EXT = {0xC7: 1, 0xC8: 2, 0xC9: 4}
_COUNTED = {0xDC: (2, 1), 0xDD: (4, 1), 0xDE: (2, 2), 0xDF: (4, 2)}


def _width(data, at, size):
    if size == 1:
        return data[at]
    return (_U16 if size == 2 else _U32).unpack_from(data, at)[0]


def _skip(data, at):
    """Where the value starting at `at` ends, without decoding it: a loop,
    so no nesting exhausts the stack."""
    count = 1
    while count:
        count -= 1
        m = data[at]
        at += 1
        if m < 0x80 or m >= 0xE0 or m in (0xC0, 0xC2, 0xC3):
            continue
        if m < 0x90:
            count += 2 * (m & 0x0F)
        elif m < 0xA0:
            count += m & 0x0F
        elif m < 0xC0:
            at += m & 0x1F
        elif m in _FIXED:
            at += _FIXED[m]
        elif m in _SIZED:
            size = _SIZED[m]
            at += size + _width(data, at, size)
        elif m in _EXT:
            size = _EXT[m]
            at += size + 1 + _width(data, at, size)
        elif m in _COUNTED:
            size, per = _COUNTED[m]
            count += per * _width(data, at, size)
            at += size
        else:
            raise ValueError(f"MessagePack marker 0x{m:02x} is not valid")
        if at > len(data):
            raise ValueError("MessagePack ends early")
    return at


def decode_each(data, bad):
    """The values of a MessagePack array, each decoded on its own: a value
    that does not decode is given as `bad(reason)` in its place, and the
    others are kept. Raises when `data` is not an array whose items can
    all be stepped over."""
    try:
        m = data[0]
        if 0x90 <= m < 0xA0:
            n, at = m & 0x0F, 1
        elif m == 0xDC:
            n, at = _U16.unpack_from(data, 1)[0], 3
        elif m == 0xDD:
            n, at = _U32.unpack_from(data, 1)[0], 5
        else:
            raise ValueError("not a MessagePack array")
        out = []
        for _ in range(n):
            start = at
            try:
                value, at = _get(data, at, 0)
                out.append(value)
            except Exception as e:
                at = _skip(data, start)
                out.append(bad(f"{type(e).__name__}: {e}"))
    except (IndexError, struct.error):
        raise ValueError("MessagePack ends early") from None
    if at != len(data):
        raise ValueError("trailing bytes after the MessagePack array")
    return out
