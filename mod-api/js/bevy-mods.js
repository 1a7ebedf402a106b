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
import { decode, decodeEach, encode } from './msgpack.js';

// ------------------------------------------------------------ MessagePack

export { encode, decode };

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

// In place of a value that did not decode: why.
class Bad {
  constructor(reason) { this.reason = reason; }
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

// Each scalar's size and the DataView methods that read and write it.
const SCALARS = {
  boolean: [1, 'Uint8', 'Uint8'],
  u8: [1, 'Uint8'], u16: [2, 'Uint16'], u32: [4, 'Uint32'], u64: [8, 'BigUint64'],
  s8: [1, 'Int8'], s16: [2, 'Int16'], s32: [4, 'Int32'], s64: [8, 'BigInt64'],
  f32: [4, 'Float32'], f64: [8, 'Float64'],
};

// Whether this engine compiles code at run time: then each packed layout
// gets a reader and a writer of its own, straight-line code for its
// fields, which an interpreter runs several times faster than a loop over
// them.
const compiles = (() => {
  try {
    return new Function('return 1')() === 1;
  } catch {
    return false;
  }
})();

// The nested object a record's fields make, as source: `{"x": <x>, ...}`.
function literal(paths, leaf, depth = 0) {
  const groups = new Map();
  paths.forEach((path, i) => {
    const key = path[depth];
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(i);
  });
  const parts = [];
  for (const [key, fields] of groups) {
    const name = `[${JSON.stringify(key)}]`;
    if (fields.length === 1 && paths[fields[0]].length === depth + 1) parts.push(`${name}: ${leaf(fields[0])}`);
    else parts.push(`${name}: ${literal(fields.map((i) => paths[i]), (j) => leaf(fields[j]), depth + 1)}`);
  }
  return `{${parts.join(', ')}}`;
}

function compileLayout(layout) {
  const { paths, kinds, offsets, stride } = layout;
  const read = (i) => {
    const get = `view.get${kinds[i][1]}(at + ${offsets[i]}, true)`;
    return layout.fields[i].kind === 'boolean' ? `(${get} !== 0)` : get;
  };
  const access = (path) => path.map((key) => `[${JSON.stringify(key)}]`).join('');
  const writes = paths.map((path, i) => {
    const kind = layout.fields[i].kind;
    const value = kind === 'boolean' ? '(x ? 1 : 0)' : kind === 'u64' || kind === 's64' ? 'BigInt(x)' : 'x';
    return `x = v${access(path)}; if (x === undefined) throw new Error(${JSON.stringify(`no field ${path.join('.')}`)});
      view.set${kinds[i][2] ?? kinds[i][1]}(at + ${offsets[i]}, ${value}, true);`;
  });
  layout.readRows = new Function('view', 'rows', `
    const out = new Array(rows);
    for (let row = 0, at = 0; row < rows; row++, at += ${stride}) out[row] = ${literal(paths, read)};
    return out;`);
  layout.writeRows = new Function('view', 'values', `
    let x;
    for (let row = 0, at = 0; row < values.length; row++, at += ${stride}) {
      const v = values[row];
      ${writes.join('\n      ')}
    }`);
}

// The generic reader and writer, for engines that compile nothing.
function readRows(layout, view, rows) {
  const out = new Array(rows);
  for (let row = 0, at = 0; row < rows; row++, at += layout.stride) {
    const value = {};
    layout.paths.forEach((path, i) => {
      let o = value;
      for (let d = 0; d < path.length - 1; d++) {
        if (!Object.hasOwn(o, path[d])) Object.defineProperty(o, path[d], { value: {}, enumerable: true, writable: true, configurable: true });
        o = o[path[d]];
      }
      const x = view[`get${layout.kinds[i][1]}`](at + layout.offsets[i], true);
      Object.defineProperty(o, path[path.length - 1], {
        value: layout.fields[i].kind === 'boolean' ? x !== 0 : x, enumerable: true, writable: true, configurable: true,
      });
    });
    out[row] = value;
  }
  return out;
}

function writeRows(layout, view, values) {
  values.forEach((value, row) => {
    layout.paths.forEach((path, i) => {
      let x = value;
      for (const key of path) x = x[key];
      if (x === undefined) throw new Error(`no field ${path.join('.')}`);
      const kind = layout.fields[i].kind;
      x = kind === 'boolean' ? (x ? 1 : 0) : kind === 'u64' || kind === 's64' ? BigInt(x) : x;
      view[`set${layout.kinds[i][2] ?? layout.kinds[i][1]}`](row * layout.stride + layout.offsets[i], x, true);
    });
  });
}

// The packed layout the game last sent for each component: writes use it.
// It is made once and kept while the game sends the same fields.
const layouts = new Map();

function sameFields(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i].path !== b[i].path || a[i].kind !== b[i].kind) return false;
  }
  return true;
}

function layoutFor(name, fields) {
  const known = layouts.get(name);
  if (known && sameFields(known.fields, fields)) return known;
  const kinds = fields.map((f) => SCALARS[f.kind]);
  if (kinds.some((k) => k === undefined)) throw new ModError('invalid-value', `packed column \`${name}\` of unknown scalars`);
  const offsets = [];
  let stride = 0;
  for (const k of kinds) { offsets.push(stride); stride += k[0]; }
  const layout = { fields, paths: fields.map((f) => f.path.split('.')), kinds, offsets, stride };
  if (compiles) compileLayout(layout);
  layouts.set(name, layout);
  return layout;
}

function readPacked(layout, data, rows) {
  if (data.length !== layout.stride * rows) {
    throw new ModError('invalid-value', `packed column of ${data.length} bytes for ${rows} rows`);
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return layout.readRows ? layout.readRows(view, rows) : readRows(layout, view, rows);
}

function writePacked(layout, values) {
  const data = new Uint8Array(layout.stride * values.length);
  const view = new DataView(data.buffer);
  if (layout.writeRows) layout.writeRows(view, values);
  else writeRows(layout, view, values);
  return data;
}

// The column's values; `bad.some` is set when one did not decode.
function columnValues(column, rows, bad) {
  if (column.encoding.tag === 'packed') {
    return readPacked(layoutFor(column.name, column.encoding.val), column.data, rows);
  }
  const values = decodeEach(column.data, (reason) => { bad.some = true; return new Bad(reason); });
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

// The rows of each query the mod may not change, as of its last batch
// read: batch writes leave them out.
const notWritable = new Map();

// Whether the mod may write each entity it has read, as the game said: an
// entity's owner never changes, so the game is asked again only when a
// read holds an entity not seen before. Forgotten when it grows well past
// what the reads hold.
const mayWrite = new Map();

function writable(names, entities) {
  const n = entities.length;
  const flags = new Array(n);
  let known = true;
  for (let row = 0; row < n; row++) {
    const ok = mayWrite.get(entities[row]);
    if (ok === undefined) { known = false; break; }
    flags[row] = ok;
  }
  if (!known) {
    const bits = call(wit.writableRows, names);
    if (mayWrite.size > 4 * n + 1024) mayWrite.clear();
    for (let row = 0; row < n; row++) {
      flags[row] = ((bits[row >> 3] ?? 0) & (1 << (row & 7))) !== 0;
      mayWrite.set(entities[row], flags[row]);
    }
  }
  const foreign = new Set();
  for (let row = 0; row < n; row++) if (!flags[row]) foreign.add(entities[row]);
  notWritable.set(names.join('\u0000'), foreign);
  return flags;
}

// Most values one batch read reports (the game counts 16 a tick).
const MAX_REPORTS = 16;

// The batch's entities, and [row, entity, values] of each row whose values
// all decoded; each value that did not is reported against the mod that
// wrote it.
function batchRows(names, batch) {
  const entities = batch.entities;
  const bad = { some: false };
  const columns = batch.columns.map((c) => columnValues(c, entities.length, bad));
  if (bad.some) return [entities, goodRows(names, entities, columns)];
  const n = columns.length;
  const out = new Array(entities.length);
  for (let i = 0; i < entities.length; i++) {
    const values = new Array(n);
    for (let c = 0; c < n; c++) values[c] = columns[c][i];
    out[i] = [i, entities[i], values];
  }
  return [entities, out];
}

function goodRows(names, entities, columns) {
  const out = [];
  let reports = 0;
  const n = columns.length;
  for (let i = 0; i < entities.length; i++) {
    const values = new Array(n);
    let bad = false;
    for (let c = 0; c < n; c++) {
      const v = columns[c][i];
      values[c] = v;
      if (v instanceof Bad) bad = true;
    }
    if (!bad) {
      out.push([i, entities[i], values]);
      continue;
    }
    values.forEach((v, c) => {
      if (v instanceof Bad && reports < MAX_REPORTS) {
        reports++;
        rejectValue(entities[i], names[c], v.reason);
      }
    });
  }
  return out;
}

/** Every entity of a query declared in the manifest with its components:
 * `[[entity, [value, ...]], ...]`. Other mods' rows are read, and left out
 * by `writeBatch`. A row with a value that does not decode is left out,
 * and the value reported. */
export function readBatch(...names) {
  const [entities, rows] = batchRows(names, call(wit.queryBatch, names));
  writable(names, entities);
  for (let i = 0; i < rows.length; i++) rows[i] = [rows[i][1], rows[i][2]];
  return rows;
}

/** Reads query `names` and writes `component` on each row the mod may
 * change with `f(entity, ...values)`: one call each way. */
export function updateBatch(names, component, f) {
  const [entities, rows] = batchRows(names, call(wit.queryBatch, names));
  const flags = writable(names, entities);
  const ids = [];
  const values = [];
  for (let r = 0; r < rows.length; r++) {
    const [i, e, row] = rows[r];
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
  let foreign = null;
  for (const set of notWritable.values()) {
    if (set.size === 0) continue;
    if (foreign === null) foreign = set;
    else foreign = new Set([...foreign, ...set]);
  }
  if (foreign !== null) {
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
