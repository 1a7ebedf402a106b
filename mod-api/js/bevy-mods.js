// Bevy game mods in JavaScript: the game's WIT interfaces and MessagePack
// hidden. Build with componentize-js (see mod-api/js/README.md):
//
//   import { Mod, hooksFor, updateBatch } from './bevy-mods.js';
//   class Drift extends Mod {
//     manifest(m) { return m.query('Position', 'Velocity'); }
//     tick(tick) {
//       updateBatch(['Position', 'Velocity'], 'Position',
//         (e, p, v) => ({ x: p.x + v.x, y: p.y + v.y }));
//     }
//   }
//   export const hooks = hooksFor(Drift);
//
// Components, events and configs are plain data (objects, arrays, numbers,
// strings, Uint8Array); entities and tick numbers are BigInts, as the WIT's
// u64 is. A call the game refuses throws a ModError; an exception a hook
// lets out becomes the mod's fault, with its message and stack.

import * as wit from 'bevy-wasm:mods/entities@0.2.0';
import * as witEvents from 'bevy-wasm:mods/events@0.2.0';
import { log as witLog } from 'bevy-wasm:mods/log@0.2.0';

// ------------------------------------------------------------ MessagePack

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** MessagePack for a value, as the game reads it. */
export function encode(value) {
  const out = [];
  const bytes = (b) => { for (const x of b) out.push(x); };
  const be = (n, size) => { for (let i = size - 1; i >= 0; i--) out.push(Number((BigInt(n) >> BigInt(8 * i)) & 0xffn)); };
  const put = (v) => {
    if (v === null || v === undefined) return out.push(0xc0);
    if (v === false) return out.push(0xc2);
    if (v === true) return out.push(0xc3);
    if (typeof v === 'bigint') {
      if (v >= 0n) { out.push(0xcf); return be(v, 8); }
      out.push(0xd3); return be(BigInt.asUintN(64, v), 8);
    }
    if (typeof v === 'number') {
      if (Number.isInteger(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER) {
        if (v >= 0 && v < 128) return out.push(v);
        if (v < 0 && v >= -32) return out.push(v & 0xff);
        if (v >= 0) { out.push(0xcf); return be(v, 8); }
        out.push(0xd3); return be(BigInt.asUintN(64, BigInt(v)), 8);
      }
      out.push(0xcb);
      const f = new DataView(new ArrayBuffer(8));
      f.setFloat64(0, v);
      return bytes(new Uint8Array(f.buffer));
    }
    if (typeof v === 'string') {
      const s = utf8.encode(v);
      if (s.length < 32) out.push(0xa0 | s.length); else { out.push(0xdb); be(s.length, 4); }
      return bytes(s);
    }
    if (v instanceof Uint8Array) { out.push(0xc6); be(v.length, 4); return bytes(v); }
    if (Array.isArray(v) || ArrayBuffer.isView(v)) {
      const items = Array.from(v);
      if (items.length < 16) out.push(0x90 | items.length); else { out.push(0xdd); be(items.length, 4); }
      return items.forEach(put);
    }
    const entries = v instanceof Map ? [...v.entries()] : Object.entries(v);
    if (entries.length < 16) out.push(0x80 | entries.length); else { out.push(0xdf); be(entries.length, 4); }
    for (const [k, x] of entries) { put(k); put(x); }
  };
  put(value);
  return new Uint8Array(out);
}

// Reads MessagePack values one after another from `data`: `get` decodes
// the next, `skip` steps over it without decoding (so a value that does
// not decode can be passed), `at` is where the next one starts.
function reader(data) {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let at = 0;
  const need = (n) => { if (at + n > data.length) throw new Error('MessagePack ends early'); };
  const uint = (size) => {
    need(size);
    let n = 0n;
    for (let i = 0; i < size; i++) n = (n << 8n) | BigInt(data[at + i]);
    at += size;
    return n;
  };
  const small = (n) => (n <= BigInt(Number.MAX_SAFE_INTEGER) && n >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n);
  const str = (n) => { need(n); const s = fromUtf8.decode(data.subarray(at, at + n)); at += n; return s; };
  const bin = (n) => { need(n); const b = data.slice(at, at + n); at += n; return b; };
  const arr = (n) => { const a = []; for (let i = 0; i < n; i++) a.push(get()); return a; };
  const map = (n) => { const o = {}; for (let i = 0; i < n; i++) { const k = get(); o[k] = get(); } return o; };
  const get = () => {
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
      case 0xc4: return bin(Number(uint(1)));
      case 0xc5: return bin(Number(uint(2)));
      case 0xc6: return bin(Number(uint(4)));
      case 0xca: { need(4); const f = view.getFloat32(at); at += 4; return f; }
      case 0xcb: { need(8); const f = view.getFloat64(at); at += 8; return f; }
      case 0xcc: return Number(uint(1));
      case 0xcd: return Number(uint(2));
      case 0xce: return Number(uint(4));
      case 0xcf: return small(uint(8));
      case 0xd0: return Number(BigInt.asIntN(8, uint(1)));
      case 0xd1: return Number(BigInt.asIntN(16, uint(2)));
      case 0xd2: return Number(BigInt.asIntN(32, uint(4)));
      case 0xd3: return small(BigInt.asIntN(64, uint(8)));
      case 0xd9: return str(Number(uint(1)));
      case 0xda: return str(Number(uint(2)));
      case 0xdb: return str(Number(uint(4)));
      case 0xdc: return arr(Number(uint(2)));
      case 0xdd: return arr(Number(uint(4)));
      case 0xde: return map(Number(uint(2)));
      case 0xdf: return map(Number(uint(4)));
      default: throw new Error(`MessagePack marker 0x${m.toString(16)} is not supported`);
    }
  };
  const LENGTHS = { 0xc4: 1, 0xc5: 2, 0xc6: 4, 0xd9: 1, 0xda: 2, 0xdb: 4 };
  const EXTS = { 0xc7: 1, 0xc8: 2, 0xc9: 4 };
  const FIXED = {
    0xca: 4, 0xcb: 8, 0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8, 0xd0: 1, 0xd1: 2, 0xd2: 4, 0xd3: 8,
    0xd4: 2, 0xd5: 3, 0xd6: 5, 0xd7: 9, 0xd8: 17,
  };
  const over = (n) => { need(n); at += n; };
  const skipAll = (n) => { for (let i = 0; i < n; i++) skip(); };
  const skip = () => {
    need(1);
    const m = data[at++];
    if (m < 0x80 || m >= 0xe0 || m === 0xc0 || m === 0xc2 || m === 0xc3) return;
    if (m < 0x90) return skipAll((m & 0x0f) * 2);
    if (m < 0xa0) return skipAll(m & 0x0f);
    if (m < 0xc0) return over(m & 0x1f);
    if (m in LENGTHS) return over(Number(uint(LENGTHS[m])));
    if (m in EXTS) return over(Number(uint(EXTS[m])) + 1);
    if (m in FIXED) return over(FIXED[m]);
    if (m === 0xdc || m === 0xdd) return skipAll(Number(uint(m === 0xdc ? 2 : 4)));
    if (m === 0xde || m === 0xdf) return skipAll(Number(uint(m === 0xde ? 2 : 4)) * 2);
    throw new Error(`MessagePack marker 0x${m.toString(16)} is not valid`);
  };
  const arrayLength = () => {
    need(1);
    const m = data[at++];
    if (m >= 0x90 && m < 0xa0) return m & 0x0f;
    if (m === 0xdc || m === 0xdd) return Number(uint(m === 0xdc ? 2 : 4));
    throw new Error('not a MessagePack array');
  };
  return { get, skip, arrayLength, at: () => at };
}

/** A value from MessagePack: maps as objects, u64 beyond 2^53 as BigInt. */
export function decode(data) {
  const r = reader(data);
  const value = r.get();
  if (r.at() !== data.length) throw new Error('trailing bytes after the MessagePack value');
  return value;
}

// In place of a value that did not decode: why.
class Bad {
  constructor(reason) { this.reason = reason; }
}

// The values of a MessagePack array: all at once when all decode (the
// usual case), else one by one, each that does not as a `Bad`.
function eachValue(data) {
  try {
    return decode(data);
  } catch {
    // One at a time, below.
  }
  const r = reader(data);
  const out = [];
  for (let i = 0, n = r.arrayLength(); i < n; i++) {
    const start = r.at();
    r.skip();
    try {
      out.push(decode(data.subarray(start, r.at())));
    } catch (e) {
      out.push(new Bad(e.message));
    }
  }
  return out;
}



// ------------------------------------------------------------ errors

/** A call the game refused: `kind` is the WIT error's name
 * (`limit-exceeded`, `not-owner`, ...), `value` what the game said. */
export class ModError extends Error {
  constructor(kind, value) {
    super(`${kind}: ${value}`);
    this.kind = kind;
    this.value = value;
  }
}

function call(f, ...args) {
  try {
    return f(...args);
  } catch (e) {
    if (e && e.payload && typeof e.payload.tag === 'string') {
      throw new ModError(e.payload.tag, e.payload.val);
    }
    throw e;
  }
}

/** A hook's exception as the error the game shows. */
function toWitError(e) {
  if (e instanceof ModError) return { tag: e.kind, val: e.value };
  const text = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack || ''}`.trimEnd() : String(e);
  return { tag: 'failed', val: text };
}

// ------------------------------------------------------------ manifest

/**
 * What a mod tells the game in `init`; every method returns it. The types
 * and events a mod defines are its own, named under its id (`Badge` from
 * mod `greeter` is `greeter:Badge`); it writes them short. Another mod's
 * are written full (`greeter:greeting`); the game's names (`Position`,
 * `PlayerJoined`, names the game opens to all) stay plain.
 */
export class Manifest {
  constructor(name, version = '0.1.0') {
    Object.assign(this, { name, version, subscribes: [], queries: [], defines: [], emits_: [], shares: [] });
  }
  named(name) { this.name = name; return this; }
  versioned(version) { this.version = version; return this; }
  subscribe(...names) { this.subscribes.push(...names); return this; }
  query(...components) { this.queries.push(components); return this; }
  define(...components) { this.defines.push(...components); return this; }
  emits(...events) { this.emits_.push(...events); return this; }
  share(...names) { this.shares.push(...names); return this; }
  toWit() {
    return {
      name: this.name, version: this.version, subscribes: this.subscribes,
      queries: this.queries.map((components) => ({ components })),
      defines: this.defines, emits: this.emits_, shares: this.shares,
    };
  }
}

/** An event: `source` is null for a game message, else the sending mod's
 * id; `payload` is decoded on first use. */
export class Event {
  constructor(index, w) {
    Object.assign(this, { index, name: w.name, source: w.source ?? null, raw: w.payload });
  }
  get payload() {
    if (!('_payload' in this)) {
      try {
        this._payload = decode(this.raw);
      } catch (e) {
        rejectEvent(this, `payload does not decode: ${e.message}`);
        throw new ModError('invalid-value', `event \`${this.name}\`: ${e.message}`);
      }
    }
    return this._payload;
  }
}

// ------------------------------------------------------------ the mod

/** A mod: override the hooks you need. `save` returns any value MessagePack
 * holds (by default the instance's own fields); `restore` gets it back on
 * the new code's instance after `init`. `restoreFrom(state, savedBy)` is
 * called instead, with the version of the mod that saved the state (an
 * older one when the mod was updated or an old saved game is loaded;
 * `null` when a build older than this library saved it): convert the
 * state there. By default it calls `restore(state)`. */
export class Mod {
  manifest(m) { return m; }
  init(config) {}
  tick(tick) {}
  event(event) {}
  save() { return { ...this }; }
  restore(state) { Object.assign(this, state); }
  restoreFrom(state, savedBy) { this.restore(state); }
}

// Saved state says which version of the mod saved it: these bytes (one
// MessagePack never starts a value with, then "BWMS"), the version's
// length in one byte, the version, then the state. The Rust and Python
// libraries write and read the same.
const SAVED_BY = [0xc1, 0x42, 0x57, 0x4d, 0x53];

function frameState(version, data) {
  const v = utf8.encode(version ?? '');
  if (data.length === 0 || v.length > 255) return data;
  const out = new Uint8Array(SAVED_BY.length + 1 + v.length + data.length);
  out.set(SAVED_BY, 0);
  out[SAVED_BY.length] = v.length;
  out.set(v, SAVED_BY.length + 1);
  out.set(data, SAVED_BY.length + 1 + v.length);
  return out;
}

function unframeState(data) {
  const n = SAVED_BY.length;
  if (data.length > n && SAVED_BY.every((b, i) => data[i] === b)) {
    const len = data[n];
    if (data.length >= n + 1 + len) {
      return [fromUtf8.decode(data.subarray(n + 1, n + 1 + len)), data.subarray(n + 1 + len)];
    }
  }
  return [null, data];
}

function defaultName(cls) {
  return cls.name.replace(/(?<=.)([A-Z])/g, '-$1').toLowerCase();
}

/** The `hooks` the component exports: `export const hooks = hooksFor(MyMod)`. */
export function hooksFor(ModClass) {
  let mod = null;
  const guarded = (f) => (...args) => {
    try {
      return f(...args);
    } catch (e) {
      const err = new Error(String(e && e.message));
      err.payload = toWitError(e);
      throw err;
    }
  };
  let version = '';
  return {
    init: guarded((config) => {
      mod = new ModClass();
      mod.init(decode(config));
      const manifest = mod.manifest(new Manifest(defaultName(ModClass))).toWit();
      version = manifest.version;
      return manifest;
    }),
    onTick: guarded((tick) => mod.tick({ frame: tick.frame, deltaSeconds: tick.deltaSeconds })),
    onEvent: guarded((events) => events.forEach((w, i) => mod.event(new Event(i, w)))),
    save: guarded(() => frameState(version, encode(mod.save()))),
    restore: guarded((state) => {
      const [savedBy, data] = unframeState(state);
      mod.restoreFrom(decode(data), savedBy);
    }),
  };
}

// ------------------------------------------------------------ entities

const components = (values) => Object.entries(values).map(([name, v]) => ({ name, value: encode(v) }));

/** Spawns an entity with `{name: value}` components; returns it (a BigInt). */
export const spawn = (values) => call(wit.spawn, components(values));
/** Despawns an entity the mod spawned. */
export const despawn = (entity) => call(wit.despawn, BigInt(entity));
/** Inserts or overwrites components on an entity. */
export const insert = (entity, values) => call(wit.insert, BigInt(entity), components(values));
/** Removes components from an entity. */
export const remove = (entity, ...names) => call(wit.remove, BigInt(entity), names);
/** One component of an entity, decoded; null when it has none. A value
 * that does not decode (another mod wrote it in another shape) is read as
 * null and reported: the game blames the mod that wrote it. */
export function get(entity, name) {
  const data = call(wit.get, BigInt(entity), name);
  if (data === undefined || data === null) return null;
  try {
    return decode(data);
  } catch (e) {
    rejectValue(entity, name, e.message);
    return null;
  }
}
/** The entities that have all the components named. */
export const query = (...names) => Array.from(call(wit.query, names));

// ------------------------------------------------------------ batches

const SCALARS = {
  boolean: [1, (v, o) => v.getUint8(o) !== 0, (v, o, x) => v.setUint8(o, x ? 1 : 0)],
  u8: [1, (v, o) => v.getUint8(o), (v, o, x) => v.setUint8(o, x)],
  u16: [2, (v, o) => v.getUint16(o, true), (v, o, x) => v.setUint16(o, x, true)],
  u32: [4, (v, o) => v.getUint32(o, true), (v, o, x) => v.setUint32(o, x, true)],
  u64: [8, (v, o) => v.getBigUint64(o, true), (v, o, x) => v.setBigUint64(o, BigInt(x), true)],
  s8: [1, (v, o) => v.getInt8(o), (v, o, x) => v.setInt8(o, x)],
  s16: [2, (v, o) => v.getInt16(o, true), (v, o, x) => v.setInt16(o, x, true)],
  s32: [4, (v, o) => v.getInt32(o, true), (v, o, x) => v.setInt32(o, x, true)],
  s64: [8, (v, o) => v.getBigInt64(o, true), (v, o, x) => v.setBigInt64(o, BigInt(x), true)],
  f32: [4, (v, o) => v.getFloat32(o, true), (v, o, x) => v.setFloat32(o, x, true)],
  f64: [8, (v, o) => v.getFloat64(o, true), (v, o, x) => v.setFloat64(o, x, true)],
};

// The packed layout the game last sent for each component: writes use it.
const layouts = new Map();

function layoutOf(fields) {
  const paths = fields.map((f) => f.path.split('.'));
  const kinds = fields.map((f) => SCALARS[f.kind]);
  const stride = kinds.reduce((n, k) => n + k[0], 0);
  return { fields, paths, kinds, stride };
}

function readPacked(layout, data, rows) {
  if (data.length !== layout.stride * rows) {
    throw new ModError('invalid-value', `packed column of ${data.length} bytes for ${rows} rows`);
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out = [];
  for (let row = 0, at = 0; row < rows; row++) {
    const value = {};
    layout.paths.forEach((path, i) => {
      let o = value;
      for (const key of path.slice(0, -1)) o = o[key] ??= {};
      o[path[path.length - 1]] = layout.kinds[i][1](view, at);
      at += layout.kinds[i][0];
    });
    out.push(value);
  }
  return out;
}

function writePacked(layout, values) {
  const data = new Uint8Array(layout.stride * values.length);
  const view = new DataView(data.buffer);
  let at = 0;
  for (const value of values) {
    layout.paths.forEach((path, i) => {
      let x = value;
      for (const key of path) x = x[key];
      if (x === undefined) throw new Error(`no field ${path.join('.')}`);
      layout.kinds[i][2](view, at, x);
      at += layout.kinds[i][0];
    });
  }
  return data;
}

function columnValues(column, rows) {
  if (column.encoding.tag === 'packed') {
    const layout = layoutOf(column.encoding.val);
    layouts.set(column.name, layout);
    return readPacked(layout, column.data, rows);
  }
  const values = eachValue(column.data);
  if (values.length !== rows) {
    throw new ModError('invalid-value', `column \`${column.name}\` has ${values.length} values for ${rows} rows`);
  }
  return values;
}

function encodeColumn(name, values) {
  const layout = layouts.get(name);
  if (layout) {
    try {
      return { name, encoding: { tag: 'packed', val: layout.fields }, data: writePacked(layout, values) };
    } catch {
      // A value of another shape: MessagePack says it all.
    }
  }
  return { name, encoding: { tag: 'msgpack' }, data: encode(values) };
}

// The rows of each query the mod may not change, as of its last batch read.
const notWritable = new Map();

function writable(names, entities) {
  const bits = call(wit.writableRows, names);
  const flags = Array.from(entities, (_, row) => (bits[row >> 3] ?? 0) & (1 << (row & 7)) ? true : false);
  notWritable.set(names.join('\u0000'), new Set(Array.from(entities).filter((_, row) => !flags[row])));
  return flags;
}

// Most values one batch read reports (the game counts 16 a tick).
const MAX_REPORTS = 16;

// [row, entity, values] of each row whose values all decoded; each value
// that did not is reported against the mod that wrote it.
function goodRows(names, batch, columns) {
  const out = [];
  let reports = 0;
  Array.from(batch.entities).forEach((e, i) => {
    const values = columns.map((c) => c[i]);
    if (!values.some((v) => v instanceof Bad)) {
      out.push([i, e, values]);
      return;
    }
    values.forEach((v, c) => {
      if (v instanceof Bad && reports < MAX_REPORTS) {
        reports++;
        rejectValue(e, names[c], v.reason);
      }
    });
  });
  return out;
}

/** Every entity of a query declared in the manifest with its components:
 * `[[entity, [value, ...]], ...]`. Other mods' rows are read, and left out
 * by `writeBatch`. A row with a value that does not decode is left out,
 * and the value reported. */
export function readBatch(...names) {
  const batch = call(wit.queryBatch, names);
  const rows = batch.entities.length;
  const columns = batch.columns.map((c) => columnValues(c, rows));
  writable(names, batch.entities);
  return goodRows(names, batch, columns).map(([, e, values]) => [e, values]);
}

/** Reads query `names` and writes `component` on each row the mod may
 * change with `f(entity, ...values)`: one call each way. */
export function updateBatch(names, component, f) {
  const batch = call(wit.queryBatch, names);
  const rows = batch.entities.length;
  const columns = batch.columns.map((c) => columnValues(c, rows));
  const flags = writable(names, batch.entities);
  const ids = [];
  const values = [];
  for (const [i, e, row] of goodRows(names, batch, columns)) {
    if (flags[i]) {
      ids.push(e);
      values.push(f(e, ...row));
    }
  }
  if (ids.length) writeBatch(component, ids, values);
}

/** Writes `component` on many entities: `values[i]` on `entities[i]`,
 * leaving out those the mod's batch reads showed it may not change. */
export function writeBatch(component, entities, values) {
  let ids = Array.from(entities, BigInt);
  const foreign = new Set([...notWritable.values()].flatMap((s) => [...s]));
  if (foreign.size) {
    const keep = ids.map((e) => !foreign.has(e));
    ids = ids.filter((_, i) => keep[i]);
    values = values.filter((_, i) => keep[i]);
    if (!ids.length) return;
  }
  call(wit.writeBatch, { entities: new BigUint64Array(ids), columns: [encodeColumn(component, values)] });
}

// ------------------------------------------------------------ events and logs

/** Emits an event to the game and to the mods subscribed to it. */
export const emit = (name, payload) => call(witEvents.emit, name, encode(payload));

/** Reports that an event could not be used; the game blames its sender. */
export const rejectEvent = (event, reason) => witEvents.reject({ tag: 'event', val: event.index }, String(reason));

/** Reports that the value of component `name` on `entity`, as this tick
 * gave it, is of no use to the mod (a field missing, a wrong type): the
 * game blames the mod that wrote it (no one, for the game's own types).
 * The readers report values that do not decode themselves and leave their
 * rows out; a mod checks the shape of what it reads and goes on:
 *
 *     for (const [e, [badge]] of readBatch('Badge')) {
 *       if (typeof badge?.greeted !== 'number') { rejectValue(e, 'Badge', 'no greeted count'); continue; }
 *     }
 */
export const rejectValue = (entity, name, reason) => witEvents.rejectValue(BigInt(entity), name, String(reason));

/** Lines in the game's log, under the mod's id. */
export const log = Object.fromEntries(
  ['trace', 'debug', 'info', 'warn', 'error'].map((level) => [level, (message) => witLog(level, String(message))]),
);
