"""Bevy game mods in Python: the game's WIT interfaces and MessagePack hidden.

A mod is a class deriving from `Mod`, made into the component's exported
hooks with `hooks_for`:

    from bevy_mods import Mod, Manifest, hooks_for, update_batch

    class Mover(Mod):
        def manifest(self, m: Manifest) -> Manifest:
            return m.named("mover-py").query("Position", "Velocity")

        def tick(self, tick):
            update_batch(("Position", "Velocity"), "Position",
                         lambda e, p, v: {"x": p["x"] + v["x"], "y": p["y"] + v["y"]})

    Hooks = hooks_for(Mover)

Components, events and configs are plain data (dicts, lists, numbers,
strings, bytes), MessagePack on the wire: structs are maps keyed by field
name. Entities are ints. A call the game refuses raises a `ModError`
subclass; an exception a hook lets out becomes the mod's fault, with its
traceback, in the game's mod registry.
"""

import operator
import struct
import traceback

from componentize_py_types import Err
from wit_world.imports import entities as _entities
from wit_world.imports import events as _events
from wit_world.imports import log as _log
from wit_world.imports import types as _types

from ._msgpack import decode, decode_each, encode

__all__ = [
    "Mod", "Manifest", "Tick", "Event", "hooks_for",
    "spawn", "despawn", "insert", "remove", "get", "query",
    "read_batch", "update_batch", "write_batch", "emit", "reject_event",
    "reject_value",
    "log", "encode", "decode",
    "ModError", "UnknownComponent", "ReadOnly", "NotQueried", "NoSuchEntity",
    "NotOwner", "InvalidValue", "LimitExceeded", "Denied", "Failed",
]


# ---------------------------------------------------------------- errors

class ModError(Exception):
    """A call the game refused. `value` is what the game said (a message,
    or the entity concerned)."""

    def __init__(self, value):
        super().__init__(value)
        self.value = value


class UnknownComponent(ModError):
    """The game exposes no component of that name."""


class ReadOnly(ModError):
    """The component may be read, not written."""


class NotQueried(ModError):
    """The query was not declared in the manifest."""


class NoSuchEntity(ModError):
    """The entity does not exist (any more)."""


class NotOwner(ModError):
    """The entity is another mod's, or the game's."""


class InvalidValue(ModError):
    """A value did not decode as the component's type."""


class LimitExceeded(ModError):
    """A per-tick or per-mod limit was reached (commands, bytes, spawns)."""


class Denied(ModError):
    """The game does not allow it."""


class Failed(ModError):
    """Anything else; the mod's own errors use it too."""


_FROM_WIT = {
    _types.ModError_UnknownComponent: UnknownComponent,
    _types.ModError_ReadOnly: ReadOnly,
    _types.ModError_NotQueried: NotQueried,
    _types.ModError_NoSuchEntity: NoSuchEntity,
    _types.ModError_NotOwner: NotOwner,
    _types.ModError_InvalidValue: InvalidValue,
    _types.ModError_LimitExceeded: LimitExceeded,
    _types.ModError_Denied: Denied,
    _types.ModError_Failed: Failed,
}

_TO_WIT = {python: wit for wit, python in _FROM_WIT.items()}


def _call(f, *args):
    """Calls a game function, turning its refusal into a `ModError`."""
    try:
        return f(*args)
    except Err as e:
        wit = e.value
        raise _FROM_WIT.get(type(wit), Failed)(wit.value) from None


def _to_wit_error(e):
    """A hook's exception as the WIT error the game shows."""
    if isinstance(e, ModError):
        return _TO_WIT.get(type(e), _types.ModError_Failed)(e.value)
    text = "".join(traceback.format_exception(e)).rstrip()
    return _types.ModError_Failed(text)


# ---------------------------------------------------------------- manifest

class Manifest:
    """What a mod tells the game in `init`: its name and version, the game
    messages and mod events it subscribes to, the queries it reads in
    batches, the component types and event names it defines.

    The types and events a mod defines are its own, named under its id
    (`Badge` from mod `greeter` is `greeter:Badge`); it writes them short.
    Another mod's are written full (`greeter:greeting`); the game's names
    (`Position`, `PlayerJoined`, names the game opens to all) stay plain."""

    def __init__(self, name, version="0.1.0"):
        self.name = name
        self.version = version
        self.subscribes = []
        self.queries = []
        self.defines = []
        self.emits_ = []
        self.shares = []

    def named(self, name):
        self.name = name
        return self

    def versioned(self, version):
        self.version = version
        return self

    def subscribe(self, *names):
        self.subscribes.extend(names)
        return self

    def query(self, *components):
        self.queries.append(list(components))
        return self

    def define(self, *components):
        self.defines.extend(components)
        return self

    def emits(self, *events):
        self.emits_.extend(events)
        return self

    def share(self, *names):
        self.shares.extend(names)
        return self

    def _to_wit(self):
        return _types.Manifest(
            name=self.name,
            version=self.version,
            subscribes=list(self.subscribes),
            queries=[_types.QuerySpec(components=list(q)) for q in self.queries],
            defines=list(self.defines),
            emits=list(self.emits_),
            shares=list(self.shares),
        )


class Tick:
    """The frame being played: `frame` (the mod's tick count) and
    `delta_seconds`."""

    def __init__(self, frame, delta_seconds):
        self.frame = frame
        self.delta_seconds = delta_seconds


class Event:
    """An event: a game message (`source` None) or another mod's event
    (`source` is that mod's id). `payload` is the decoded value."""

    def __init__(self, index, wit):
        self.index = index
        self.name = wit.name
        self.source = wit.source
        self.raw = wit.payload
        self._payload = None
        self._decoded = False

    @property
    def payload(self):
        if not self._decoded:
            try:
                self._payload = decode(self.raw)
            except Exception as e:
                reject_event(self, f"payload does not decode: {e}")
                raise InvalidValue(f"event `{self.name}`: {e}") from None
            self._decoded = True
        return self._payload

    def __repr__(self):
        return f"Event({self.name!r}, source={self.source!r})"


# ---------------------------------------------------------------- the mod

class Mod:
    """A mod. Every hook has a default; override those you need.

    - `manifest(m)`: returns the manifest, given one named after the class;
    - `init(config)`: the game's config for the mod, decoded (None when
      there is none);
    - `tick(tick)`: once a frame;
    - `event(event)`: each event subscribed to, before `tick`;
    - `save()`: the mod's state as any value MessagePack can hold (a dict,
      say); by default the instance's attributes;
    - `restore(state)`: on a fresh instance after `init`, what `save`
      returned; by default sets the attributes back;
    - `restore_from(state, saved_by)`: called instead, with the version
      of the mod that saved the state (an older one, when the mod was
      updated or a game saved long ago is loaded; None when a build older
      than this library saved it): convert the state here. By default
      calls `restore(state)`.
    """

    def manifest(self, m):
        return m

    def init(self, config):
        pass

    def tick(self, tick):
        pass

    def event(self, event):
        pass

    def save(self):
        return dict(vars(self))

    def restore(self, state):
        for key, value in state.items():
            setattr(self, key, value)

    def restore_from(self, state, saved_by):
        self.restore(state)


# Saved state says which version of the mod saved it: these bytes (one
# MessagePack never starts a value with, then "BWMS"), the version's
# length in one byte, the version, then the state. The Rust and
# JavaScript libraries write and read the same.
_SAVED_BY = b"\xc1BWMS"


def _frame_state(version, data):
    v = (version or "").encode()
    if not data or len(v) > 255:
        return data
    return _SAVED_BY + bytes([len(v)]) + v + data


def _unframe_state(data):
    data = bytes(data)
    if data.startswith(_SAVED_BY) and len(data) > len(_SAVED_BY):
        n = data[len(_SAVED_BY)]
        start = len(_SAVED_BY) + 1
        if len(data) >= start + n:
            try:
                return data[start:start + n].decode(), data[start + n:]
            except UnicodeDecodeError:
                pass
    return None, data


def _default_name(cls):
    name = cls.__name__
    out = []
    for i, c in enumerate(name):
        if c.isupper() and i > 0:
            out.append("-")
        out.append(c.lower())
    return "".join(out)


def hooks_for(mod_class):
    """The class componentize-py exports as the component's `hooks`: assign
    it to `Hooks` in the mod's main module."""

    state = {"mod": None, "version": ""}

    def guarded(f):
        def run(*args):
            try:
                return f(*args)
            except Err:
                raise
            except Exception as e:
                raise Err(_to_wit_error(e)) from None
        return run

    class Hooks:
        @guarded
        def init(self, config):
            mod = mod_class()
            state["mod"] = mod
            mod.init(decode(config))
            manifest = mod.manifest(Manifest(_default_name(mod_class)))._to_wit()
            state["version"] = manifest.version
            return manifest

        @guarded
        def on_tick(self, tick):
            state["mod"].tick(Tick(tick.frame, tick.delta_seconds))

        @guarded
        def on_event(self, events):
            mod = state["mod"]
            for i, wit in enumerate(events):
                mod.event(Event(i, wit))

        @guarded
        def save(self):
            return _frame_state(state["version"], encode(state["mod"].save()))

        @guarded
        def restore(self, data):
            saved_by, data = _unframe_state(data)
            state["mod"].restore_from(decode(data), saved_by)

    Hooks.__name__ = "Hooks"
    return Hooks


# ---------------------------------------------------------------- entities

def _components(components):
    return [_types.Component(name=n, value=encode(v)) for n, v in components.items()]


def spawn(components):
    """Spawns an entity with `components` ({name: value}); returns it."""
    return _call(_entities.spawn, _components(components))


def despawn(entity):
    """Despawns an entity the mod spawned."""
    _call(_entities.despawn, entity)


def insert(entity, components):
    """Inserts or overwrites components ({name: value}) on an entity."""
    _call(_entities.insert, entity, _components(components))


def remove(entity, *names):
    """Removes components from an entity."""
    _call(_entities.remove, entity, list(names))


def get(entity, name):
    """One component of an entity, decoded; None when it has none. A value
    that does not decode (another mod wrote it in another shape) is read as
    None and reported: the game blames the mod that wrote it."""
    data = _call(_entities.get, entity, name)
    if data is None:
        return None
    try:
        return decode(data)
    except Exception as e:
        reject_value(entity, name, f"{type(e).__name__}: {e}")
        return None


def query(*names):
    """The entities that have all of the components named."""
    return _call(_entities.query, list(names))


# ---------------------------------------------------------------- batches

_SCALARS = {
    _types.Scalar.BOOLEAN: "?", _types.Scalar.U8: "B", _types.Scalar.U16: "H",
    _types.Scalar.U32: "I", _types.Scalar.U64: "Q", _types.Scalar.S8: "b",
    _types.Scalar.S16: "h", _types.Scalar.S32: "i", _types.Scalar.S64: "q",
    _types.Scalar.F32: "f", _types.Scalar.F64: "d",
}

# The packed layout the game last sent for each component: writes use it.
# It is made once and kept while the game sends the same fields.
_layouts = {}


class _Layout:
    def __init__(self, fields):
        self.fields = fields
        self.key = [(f.path, f.kind) for f in fields]
        self.paths = [f.path.split(".") for f in fields]
        self.record = struct.Struct("<" + "".join(_SCALARS[f.kind] for f in fields))
        # Records of top-level fields (the usual case) are read and written
        # by C code: `zip` and `itemgetter`, no loop per field.
        self.flat = all(len(p) == 1 for p in self.paths)
        if self.flat:
            self.keys = tuple(p[0] for p in self.paths)
            self.getter = operator.itemgetter(*self.keys)

    def read(self, data, rows):
        if len(data) != self.record.size * rows:
            raise InvalidValue(f"packed column of {len(data)} bytes for {rows} rows")
        if self.flat:
            keys = self.keys
            return [dict(zip(keys, values)) for values in self.record.iter_unpack(data)]
        out = []
        for values in self.record.iter_unpack(data):
            value = {}
            for path, x in zip(self.paths, values):
                at = value
                for key in path[:-1]:
                    at = at.setdefault(key, {})
                at[path[-1]] = x
            out.append(value)
        return out

    def write(self, values):
        pack = self.record.pack
        if self.flat:
            get = self.getter
            if len(self.keys) == 1:
                return b"".join([pack(get(value)) for value in values])
            return b"".join([pack(*get(value)) for value in values])
        out = bytearray()
        for value in values:
            scalars = []
            for path in self.paths:
                at = value
                for key in path:
                    at = at[key]
                scalars.append(at)
            out += pack(*scalars)
        return bytes(out)


def _layout_for(name, fields):
    layout = _layouts.get(name)
    if layout is None or layout.key != [(f.path, f.kind) for f in fields]:
        layout = _Layout(fields)
        _layouts[name] = layout
    return layout


class _Bad:
    """In place of a value that did not decode: why."""
    __slots__ = ("reason",)

    def __init__(self, reason):
        self.reason = reason


def _column_values(column, rows):
    """The column's values, and whether any did not decode."""
    encoding = column.encoding
    if isinstance(encoding, _types.ColumnEncoding_Packed):
        return _layout_for(column.name, encoding.value).read(column.data, rows), False
    bad = []

    def one_bad(reason):
        bad.append(reason)
        return _Bad(reason)

    values = decode_each(column.data, one_bad)
    if len(values) != rows:
        raise InvalidValue(f"column `{column.name}` has {len(values)} values for {rows} rows")
    return values, bool(bad)


# Most values one batch read reports (the game counts 16 a tick).
_MAX_REPORTS = 16


def _batch_rows(names, batch):
    """The batch's entities, and (row, entity, values) of each row whose
    values all decoded; each value that did not is reported against the
    mod that wrote it."""
    entities = batch.entities
    columns, bad = [], False
    for c in batch.columns:
        values, some_bad = _column_values(c, len(entities))
        columns.append(values)
        bad = bad or some_bad
    if not bad:
        return entities, list(zip(range(len(entities)), entities, zip(*columns)))
    return entities, _good_rows(names, entities, columns)


def _good_rows(names, entities, columns):
    reports = 0
    out = []
    for i, values in enumerate(zip(*columns)):
        entity = entities[i]
        if not any(type(v) is _Bad for v in values):
            out.append((i, entity, values))
            continue
        for name, value in zip(names, values):
            if type(value) is _Bad and reports < _MAX_REPORTS:
                reports += 1
                reject_value(entity, name, value.reason)
    return out


def _encode_column(name, values):
    layout = _layouts.get(name)
    if layout is not None:
        try:
            data = layout.write(values)
            encoding = _types.ColumnEncoding_Packed(layout.fields)
            return _types.Column(name=name, encoding=encoding, data=data)
        except (KeyError, TypeError, IndexError, struct.error):
            pass  # a value of another shape: MessagePack says it all
    return _types.Column(
        name=name, encoding=_types.ColumnEncoding_Msgpack(), data=encode(list(values))
    )


# The rows of each query the mod may not change (other mods' entities and
# the game's), as of its last batch read: batch writes leave them out.
_not_writable = {}

# Whether the mod may write each entity it has read, as the game said: an
# entity's owner never changes, so the game is asked again only when a read
# holds an entity not seen before. Forgotten when it grows well past what
# the reads hold.
_may_write = {}


def _writable(names, entities):
    try:
        flags = [_may_write[e] for e in entities]
    except KeyError:
        bits = _call(_entities.writable_rows, list(names))
        flags = [row // 8 < len(bits) and bits[row // 8] & (1 << (row % 8)) != 0
                 for row in range(len(entities))]
        if len(_may_write) > 4 * len(entities) + 1024:
            _may_write.clear()
        _may_write.update(zip(entities, flags))
    _not_writable[tuple(names)] = {e for e, ok in zip(entities, flags) if not ok}
    return flags


def read_batch(*names):
    """Every entity of a query declared in the manifest, with its
    components: a list of (entity, (value, ...)) in the query's order. It
    may hold other mods' entities; `write_batch` leaves those out."""
    batch = _call(_entities.query_batch, list(names))
    entities, rows = _batch_rows(names, batch)
    _writable(names, entities)
    return [(e, values) for _, e, values in rows]


def update_batch(names, component, f):
    """Reads query `names` and writes `component` of each row the mod may
    change with `f(entity, *values)`: one call each way."""
    names = (names,) if isinstance(names, str) else tuple(names)
    batch = _call(_entities.query_batch, list(names))
    entities, rows = _batch_rows(names, batch)
    writable = _writable(names, entities)
    ids, values = [], []
    for i, entity, row in rows:
        if writable[i]:
            ids.append(entity)
            values.append(f(entity, *row))
    if ids:
        write_batch(component, ids, values)


def write_batch(component, entities, values):
    """Writes `component` on many entities: `values[i]` on `entities[i]`.
    Entities the mod's batch reads showed it may not change are left out."""
    foreign = set().union(*_not_writable.values()) if _not_writable else set()
    if foreign:
        kept = [(e, v) for e, v in zip(entities, values) if e not in foreign]
        entities, values = [e for e, _ in kept], [v for _, v in kept]
        if not entities:
            return
    column = _encode_column(component, values)
    _call(_entities.write_batch, _types.Batch(entities=list(entities), columns=[column]))


# ---------------------------------------------------------------- events

def emit(name, payload):
    """Emits an event to the game and to the mods subscribed to it."""
    _call(_events.emit, name, encode(payload))


def reject_event(event, reason):
    """Reports that an event could not be used; the game blames its sender."""
    _events.reject(_events.BadInput_Event(event.index), str(reason))


def reject_value(entity, name, reason):
    """Reports that the value of component `name` on `entity`, as this tick
    gave it, is of no use to the mod (a field missing, a wrong type): the
    game blames the mod that wrote it (no one, for the game's own types).
    The readers report values that do not decode themselves and leave their
    rows out; a mod checks the shape of what it reads and goes on:

        for entity, (badge,) in read_batch("Badge"):
            if not isinstance(badge, dict) or not isinstance(badge.get("greeted"), int):
                reject_value(entity, "Badge", "no `greeted` count")
                continue
    """
    _events.reject_value(entity, name, str(reason))


# ---------------------------------------------------------------- logs

class log:
    """Lines in the game's log, under the mod's id."""

    @staticmethod
    def trace(message):
        _log.log(_log.Level.TRACE, str(message))

    @staticmethod
    def debug(message):
        _log.log(_log.Level.DEBUG, str(message))

    @staticmethod
    def info(message):
        _log.log(_log.Level.INFO, str(message))

    @staticmethod
    def warn(message):
        _log.log(_log.Level.WARN, str(message))

    @staticmethod
    def error(message):
        _log.log(_log.Level.ERROR, str(message))
