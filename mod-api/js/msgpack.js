// MessagePack for the JavaScript guest library, written for an interpreter.
//
// componentize-js runs SpiderMonkey without a JIT, so every bytecode
// counts: one module-level buffer grown and reused, no closures or
// iterators per value, native calls (TextEncoder.encodeInto, TextDecoder,
// DataView) for whatever is longer than a few bytes, and BigInt only for
// integers beyond 2^53. Integers take their shortest form, floats are
// float64, `Uint8Array` is `bin`: the bytes Python's msgpack writes for the
// same values (mod-api/js/tests checks both against shared vectors).
//
// Plain JavaScript with no imports, so node runs its tests.

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });
const encodeInto = typeof utf8.encodeInto === 'function';
const TWO_32 = 4294967296;

// ------------------------------------------------------------ encoding

let out = new Uint8Array(1024);
let outView = new DataView(out.buffer);
let pos = 0;
// Nested encodes (a getter that encodes) get buffers of their own.
let encoding = false;

function room(n) {
  if (pos + n <= out.length) return;
  let size = out.length * 2;
  while (size < pos + n) size *= 2;
  const bigger = new Uint8Array(size);
  bigger.set(out.subarray(0, pos));
  out = bigger;
  outView = new DataView(out.buffer);
}

function header(n, fix, fixMax, m8, m16, m32) {
  room(5);
  if (n <= fixMax) out[pos++] = fix | n;
  else if (m8 !== 0 && n < 0x100) { out[pos++] = m8; out[pos++] = n; }
  else if (n < 0x10000) { out[pos++] = m16; outView.setUint16(pos, n); pos += 2; }
  else { out[pos++] = m32; outView.setUint32(pos, n); pos += 4; }
}

function putInt(v) {
  room(9);
  if (v >= 0) {
    if (v < 0x80) out[pos++] = v;
    else if (v < 0x100) { out[pos++] = 0xcc; out[pos++] = v; }
    else if (v < 0x10000) { out[pos++] = 0xcd; outView.setUint16(pos, v); pos += 2; }
    else if (v < TWO_32) { out[pos++] = 0xce; outView.setUint32(pos, v); pos += 4; }
    else {
      out[pos++] = 0xcf;
      outView.setUint32(pos, Math.floor(v / TWO_32));
      outView.setUint32(pos + 4, v >>> 0);
      pos += 8;
    }
  } else if (v >= -32) out[pos++] = v & 0xff;
  else if (v >= -0x80) { out[pos++] = 0xd0; outView.setInt8(pos, v); pos += 1; }
  else if (v >= -0x8000) { out[pos++] = 0xd1; outView.setInt16(pos, v); pos += 2; }
  else if (v >= -0x80000000) { out[pos++] = 0xd2; outView.setInt32(pos, v); pos += 4; }
  else { out[pos++] = 0xd3; outView.setBigInt64(pos, BigInt(v)); pos += 8; }
}

function putString(s) {
  const n = s.length;
  // Short ASCII, the usual name or key: written as it is read.
  if (n < 32) {
    room(1 + n);
    const start = pos++;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      out[pos++] = c;
    }
    if (i === n) { out[start] = 0xa0 | n; return; }
    pos = start;
  }
  // Anything else in one native call, with room for the longest header
  // and three bytes a UTF-16 unit; the header is then made as short as
  // the length allows.
  const most = 3 * n;
  room(5 + most);
  let written;
  if (encodeInto) {
    written = utf8.encodeInto(s, out.subarray(pos + 5, pos + 5 + most)).written;
  } else {
    const bytes = utf8.encode(s);
    out.set(bytes, pos + 5);
    written = bytes.length;
  }
  const body = pos + 5;
  header(written, 0xa0, 31, 0xd9, 0xda, 0xdb);
  out.copyWithin(pos, body, body + written);
  pos += written;
}

function put(v) {
  switch (typeof v) {
    case 'number':
      if (Number.isInteger(v) && v <= Number.MAX_SAFE_INTEGER && v >= -Number.MAX_SAFE_INTEGER) putInt(v);
      else { room(9); out[pos++] = 0xcb; outView.setFloat64(pos, v); pos += 8; }
      return;
    case 'string':
      putString(v);
      return;
    case 'boolean':
      room(1);
      out[pos++] = v ? 0xc3 : 0xc2;
      return;
    case 'bigint':
      room(9);
      if (v >= 0n) { out[pos++] = 0xcf; outView.setBigUint64(pos, v); }
      else { out[pos++] = 0xd3; outView.setBigInt64(pos, v); }
      pos += 8;
      return;
    case 'undefined':
      room(1);
      out[pos++] = 0xc0;
      return;
    default:
  }
  if (v === null) { room(1); out[pos++] = 0xc0; return; }
  if (Array.isArray(v)) {
    const n = v.length;
    header(n, 0x90, 15, 0, 0xdc, 0xdd);
    for (let i = 0; i < n; i++) put(v[i]);
    return;
  }
  if (v instanceof Uint8Array) {
    const n = v.length;
    header(n, 0, -1, 0xc4, 0xc5, 0xc6);
    room(n);
    out.set(v, pos);
    pos += n;
    return;
  }
  if (ArrayBuffer.isView(v)) {
    put(Array.from(v));
    return;
  }
  if (v instanceof Map) {
    header(v.size, 0x80, 15, 0, 0xde, 0xdf);
    for (const [k, x] of v) { put(k); put(x); }
    return;
  }
  const keys = Object.keys(v);
  const n = keys.length;
  header(n, 0x80, 15, 0, 0xde, 0xdf);
  for (let i = 0; i < n; i++) { putString(keys[i]); put(v[keys[i]]); }
}

/** MessagePack for a value, as the game reads it. */
export function encode(value) {
  if (encoding) {
    const saved = [out, outView, pos];
    out = new Uint8Array(64);
    outView = new DataView(out.buffer);
    pos = 0;
    try {
      put(value);
      return out.slice(0, pos);
    } finally {
      [out, outView, pos] = saved;
    }
  }
  encoding = true;
  pos = 0;
  try {
    put(value);
    return out.slice(0, pos);
  } finally {
    encoding = false;
  }
}

// ------------------------------------------------------------ decoding

// Values nested deeper than this are refused (the game's own limit on a
// value's depth is lower).
const MAX_DEPTH = 512;

let data = new Uint8Array(0);
let view = new DataView(data.buffer);
let at = 0;
let end = 0;
let depth = 0;

function need(n) {
  if (at + n > end) throw new Error('MessagePack ends early');
}

function str(n) {
  need(n);
  const start = at;
  at += n;
  if (n < 16) {
    let s = '';
    for (let i = start; i < at; i++) {
      const c = data[i];
      if (c >= 0x80) return fromUtf8.decode(data.subarray(start, at));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return fromUtf8.decode(data.subarray(start, at));
}

function bin(n) {
  need(n);
  at += n;
  return data.slice(at - n, at);
}

function arr(n) {
  if (++depth > MAX_DEPTH) throw new Error('MessagePack nested too deep');
  const a = new Array(n);
  for (let i = 0; i < n; i++) a[i] = get();
  depth--;
  return a;
}

function map(n) {
  if (++depth > MAX_DEPTH) throw new Error('MessagePack nested too deep');
  const o = {};
  for (let i = 0; i < n; i++) {
    const k = get();
    const x = get();
    if (k === '__proto__') Object.defineProperty(o, k, { value: x, enumerable: true, writable: true, configurable: true });
    else o[k] = x;
  }
  depth--;
  return o;
}

function u8() { need(1); return data[at++]; }
function u16() { need(2); const n = view.getUint16(at); at += 2; return n; }
function u32() { need(4); const n = view.getUint32(at); at += 4; return n; }

// A u64 or s64 as a Number when it fits in 53 bits, else a BigInt.
function big(signed) {
  need(8);
  const n = signed ? view.getBigInt64(at) : view.getBigUint64(at);
  at += 8;
  return n <= 9007199254740991n && n >= -9007199254740991n ? Number(n) : n;
}

function get() {
  need(1);
  const m = data[at++];
  if (m < 0x80) return m;
  if (m < 0x90) return map(m & 0x0f);
  if (m < 0xa0) return arr(m & 0x0f);
  if (m < 0xc0) return str(m & 0x1f);
  if (m >= 0xe0) return m - 0x100;
  switch (m) {
    case 0xc0: return null;
    case 0xc2: return false;
    case 0xc3: return true;
    case 0xc4: return bin(u8());
    case 0xc5: return bin(u16());
    case 0xc6: return bin(u32());
    case 0xca: { need(4); const f = view.getFloat32(at); at += 4; return f; }
    case 0xcb: { need(8); const f = view.getFloat64(at); at += 8; return f; }
    case 0xcc: return u8();
    case 0xcd: return u16();
    case 0xce: return u32();
    case 0xcf: return big(false);
    case 0xd0: { need(1); const n = view.getInt8(at); at += 1; return n; }
    case 0xd1: { need(2); const n = view.getInt16(at); at += 2; return n; }
    case 0xd2: { need(4); const n = view.getInt32(at); at += 4; return n; }
    case 0xd3: return big(true);
    case 0xd9: return str(u8());
    case 0xda: return str(u16());
    case 0xdb: return str(u32());
    case 0xdc: return arr(u16());
    case 0xdd: return arr(u32());
    case 0xde: return map(u16());
    case 0xdf: return map(u32());
    default: throw new Error(`MessagePack marker 0x${m.toString(16)} is not supported`);
  }
}

// Steps over one value without decoding it. `count` values in all: a loop,
// not recursion, so no nesting can exhaust the stack.
function skip(count) {
  while (count > 0) {
    count--;
    need(1);
    const m = data[at++];
    if (m < 0x80 || m >= 0xe0 || m === 0xc0 || m === 0xc2 || m === 0xc3) continue;
    if (m < 0x90) { count += 2 * (m & 0x0f); continue; }
    if (m < 0xa0) { count += m & 0x0f; continue; }
    if (m < 0xc0) { need(m & 0x1f); at += m & 0x1f; continue; }
    let n;
    switch (m) {
      case 0xc4: case 0xd9: n = u8(); break;
      case 0xc5: case 0xda: n = u16(); break;
      case 0xc6: case 0xdb: n = u32(); break;
      case 0xc7: n = u8() + 1; break;
      case 0xc8: n = u16() + 1; break;
      case 0xc9: n = u32() + 1; break;
      case 0xcc: case 0xd0: case 0xd4: n = m === 0xd4 ? 2 : 1; break;
      case 0xcd: case 0xd1: n = 2; break;
      case 0xd5: n = 3; break;
      case 0xca: case 0xce: case 0xd2: n = 4; break;
      case 0xd6: n = 5; break;
      case 0xcb: case 0xcf: case 0xd3: n = 8; break;
      case 0xd7: n = 9; break;
      case 0xd8: n = 17; break;
      case 0xdc: count += u16(); continue;
      case 0xdd: count += u32(); continue;
      case 0xde: count += 2 * u16(); continue;
      case 0xdf: count += 2 * u32(); continue;
      default: throw new Error(`MessagePack marker 0x${m.toString(16)} is not valid`);
    }
    need(n);
    at += n;
  }
}

function begin(bytes) {
  const saved = [data, view, at, end, depth];
  data = bytes;
  view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  at = 0;
  end = bytes.length;
  depth = 0;
  return saved;
}

function finish(saved) {
  [data, view, at, end, depth] = saved;
}

/** A value from MessagePack: maps as objects, u64 beyond 2^53 as BigInt. */
export function decode(bytes) {
  const saved = begin(bytes);
  try {
    const value = get();
    if (at !== end) throw new Error('trailing bytes after the MessagePack value');
    return value;
  } finally {
    finish(saved);
  }
}

/** The values of a MessagePack array, each decoded on its own: a value
 * that does not decode is given as `bad(reason)` in its place, and the
 * others are kept. Throws when `bytes` is not an array whose items can
 * all be stepped over. */
export function decodeEach(bytes, bad) {
  const saved = begin(bytes);
  try {
    need(1);
    const m = data[at++];
    let n;
    if (m >= 0x90 && m < 0xa0) n = m & 0x0f;
    else if (m === 0xdc) n = u16();
    else if (m === 0xdd) n = u32();
    else throw new Error('not a MessagePack array');
    const values = [];
    for (let i = 0; i < n; i++) {
      const start = at;
      try {
        depth = 0;
        values.push(get());
      } catch (e) {
        at = start;
        skip(1);
        values.push(bad(e.message));
      }
    }
    if (at !== end) throw new Error('trailing bytes after the MessagePack array');
    return values;
  } finally {
    finish(saved);
  }
}
