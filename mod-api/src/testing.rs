//! Unit tests for mods, natively: a small in-memory world that runs a
//! mod's hooks under plain `cargo test`, with the game's rules.
//!
//! The same calls a mod makes in the game ([`spawn`](crate::spawn),
//! [`update_batch`](crate::update_batch), [`emit`](crate::emit),
//! [`log`](crate::log), ...) reach a [`TestWorld`] when the crate is built
//! for the machine running the tests instead of for `wasm32-wasip2`. The
//! world decides by the game host's own rule book (the `mod-rules` crate:
//! caps, names, values, who may write and emit what) and says a refusal in
//! the same words, so a test that passes here fails for the same reasons in
//! the game:
//!
//! - a tick sees the world as it was when the tick began plus its own
//!   changes; its writes land after the tick, all of them or none: a hook
//!   that returns an error, panics or makes a write the host refuses
//!   changes nothing (the tick returns a [`Fault`]);
//! - a mod changes only the entities it spawned (unless
//!   [granted](TestWorld::grant_modify_any_entity)); the game's types it
//!   may write only when [exposed](TestWorld::expose) read-write; its own
//!   types only when it defines them and no other mod defined them first;
//! - queries and `get` answer only for the manifest's queries;
//! - caps: spawns per tick (16 ids on the first tick, then twice what the
//!   last tick spawned, as the game reserves them), entities per mod,
//!   events, commands and bytes per tick, log lines, nesting of values,
//!   bytes a mod keeps on its entities ([`Limits`]); and the bounds on one
//!   call (256 components, 16 query names or batch columns, 128-byte type
//!   names, 256-byte event names);
//! - events a mod emits are not delivered back to it; the game's messages
//!   may not be emitted; event names another mod claimed may not either.
//!
//! What it does not do: run WebAssembly, bound a hook's time or memory,
//! restart a faulted mod (the test goes on ticking the same value), or
//! check the game's own component types beyond decoding values into the
//! mod's type for them. `modkit check` runs the built `.wasm` in the real
//! host for that.
//!
//! ```
//! use mod_api::prelude::*;
//! use mod_api::testing::TestWorld;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
//! struct Position { x: f32, y: f32 }
//! component!(Position { x: f32, y: f32 });
//!
//! #[derive(Default)]
//! struct Drift;
//! impl Mod for Drift {
//!     fn manifest(&self, manifest: Manifest) -> Manifest {
//!         manifest.query::<Position>()
//!     }
//!     fn tick(&mut self, tick: &Tick) -> Result<()> {
//!         if tick.frame == 0 {
//!             spawn(&Position { x: 0.0, y: 0.0 })?;
//!         }
//!         update_batch::<Position, _>(|_, p| Position { x: p.x + 1.0, ..p })
//!     }
//! }
//! register_mod!(Drift);
//!
//! let mut world = TestWorld::<Drift>::new().expose::<Position>();
//! // The game's own entity: the mod reads it but may not move it.
//! let rock = world.spawn(&Position { x: 5.0, y: 5.0 });
//! world.run(3).unwrap();
//! let mine = world.entities_owned_by_mod();
//! assert_eq!(world.get::<Position>(mine[0]), Some(Position { x: 2.0, y: 0.0 }));
//! assert_eq!(world.get::<Position>(rock), Some(Position { x: 5.0, y: 5.0 }));
//! ```

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use mod_api_packed as packed;
use serde::Serialize;

use crate::__private::Describe;
use crate::__private::bindings::bevy_wasm::mods::types::{
    Batch, Column, ColumnEncoding, Component as WitComponent, ModError, PackedField, Scalar,
};
use crate::component::{Bundle, Component, ComponentSet};
use crate::{Entity, Event, Manifest, Mod, Tick};

packed::wit_scalar_conversions!(Scalar);

/// The game's caps on one mod's commands, with the game's defaults: the
/// shared rule book's own type, which the game's `ModLimits` carries too.
/// Lower them to test how a mod copes.
pub use mod_rules::Limits;
use mod_rules::caps::{MAX_COMPONENTS, MAX_LOG, MAX_QUERY_NAMES};
use mod_rules::{Ledger, Refusal};

/// Which hook failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    /// `init`, with the manifest.
    Init,
    /// `on-tick` with the `on-event` before it.
    Tick,
    /// `save`.
    Save,
    /// `restore`.
    Restore,
}

/// How a hook failed.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    /// The hook returned this error.
    Error(crate::Error),
    /// The hook panicked (in the game, a trap).
    Panic,
    /// The host refused the tick: a write it refused or a cap broken (in
    /// the game, `InvalidOutput`), or a manifest it refused.
    Refused,
}

/// A hook that failed: in the game the mod would fault. Nothing the hook
/// did was applied.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    /// Which hook.
    pub hook: Hook,
    /// How.
    pub kind: FaultKind,
    /// What happened, in words.
    pub message: String,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} hook: {}", self.hook, self.message)
    }
}

impl std::error::Error for Fault {}

/// An event the mod emitted, from a tick the world applied.
#[derive(Clone, Debug, PartialEq)]
pub struct Emitted {
    /// The tick's frame number (0 for the mod's first).
    pub frame: u64,
    /// The event's name.
    pub name: String,
    /// Its payload, MessagePack.
    pub payload: Vec<u8>,
}

impl Emitted {
    /// The payload decoded into a serde type.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, rmp_serde::decode::Error> {
        rmp_serde::from_slice(&self.payload)
    }
}

/// How important a log line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Very detailed tracing.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal information.
    Info,
    /// Something unexpected the mod survives.
    Warn,
    /// A failure.
    Error,
}

/// A line the mod logged (kept even when its tick was refused, as the
/// game's log keeps it).
#[derive(Clone, Debug, PartialEq)]
pub struct LogLine {
    /// The frame it was logged in.
    pub frame: u64,
    /// Its level.
    pub level: Level,
    /// The text (cut at 4,096 bytes).
    pub message: String,
}

/// An input the mod reported it could not use ([`Error::BadInput`](crate::Error::BadInput)
/// returned from a hook).
#[derive(Clone, Debug, PartialEq)]
pub struct Rejected {
    /// The frame.
    pub frame: u64,
    /// What it was about: `event NAME`, `component NAME of entity BITS`
    /// (a value), or `component NAME` (from a mod's own `BadInput`).
    pub about: String,
    /// Who made the input: the event's sender, the mod that wrote the value
    /// (`None`: the game, or the mod itself).
    pub culprit: Option<String>,
    /// The mod's reason.
    pub reason: String,
}

/// How the world checks, packs and unpacks values of a game type.
#[derive(Clone)]
struct GameType {
    writable: bool,
    check: fn(&[u8]) -> Result<(), String>,
    packed: Option<PackedCodec>,
}

/// Values (MessagePack each) to packed records.
type Pack = fn(&[&[u8]]) -> Result<Vec<u8>, String>;
/// Packed records of a layout, so many rows, to values.
type Unpack = fn(&[u8], &[PackedField], usize) -> Result<Vec<Vec<u8>>, String>;

#[derive(Clone)]
struct PackedCodec {
    fields: Vec<PackedField>,
    pack: Pack,
    unpack: Unpack,
}

fn check_as<T: Component>(bytes: &[u8]) -> Result<(), String> {
    rmp_serde::from_slice::<T>(bytes)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn pack_as<T: Component>(values: &[&[u8]]) -> Result<Vec<u8>, String> {
    let (kinds, _) = T::LAYOUT.ok_or("no packed layout")?;
    let decoded = values
        .iter()
        .map(|v| rmp_serde::from_slice::<T>(v))
        .collect::<Result<Vec<T>, _>>()
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    T::write_records(&decoded, kinds, &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

fn unpack_as<T: Component>(
    data: &[u8],
    fields: &[PackedField],
    rows: usize,
) -> Result<Vec<Vec<u8>>, String> {
    let layout = packed::Layout::new(
        fields
            .iter()
            .map(|f| (f.path.clone(), scalar_from_wit(f.kind)))
            .collect(),
    );
    if data.len() != layout.stride() * rows {
        return Err(format!(
            "{} bytes of packed records for {rows} rows of {} bytes",
            data.len(),
            layout.stride()
        ));
    }
    let values: Vec<T> =
        packed::read_all(data, layout.kinds(), &layout.paths()).map_err(|e| e.to_string())?;
    values
        .iter()
        .map(|v| crate::component::encode(v).map_err(|e| e.to_string()))
        .collect()
}

#[derive(Clone, Debug, Default)]
struct Stored {
    /// The mod that spawned it; `None` for the game's.
    owner: Option<String>,
    components: BTreeMap<String, Vec<u8>>,
    /// The mod that wrote each value a mod wrote, by component name (the
    /// game's values have none).
    writers: BTreeMap<String, String>,
}

impl Stored {
    /// An entity `owner` spawned with `components`.
    fn written_by(owner: &str, components: Vec<(String, Vec<u8>)>) -> Self {
        let mut stored = Stored {
            owner: Some(owner.to_string()),
            ..Stored::default()
        };
        stored.put(Some(owner), components);
        stored
    }

    /// Sets values, written by mod `by` (`None`: the game).
    fn put(&mut self, by: Option<&str>, components: Vec<(String, Vec<u8>)>) {
        for (name, value) in components {
            match by {
                Some(by) => self.writers.insert(name.clone(), by.to_string()),
                None => self.writers.remove(&name),
            };
            self.components.insert(name, value);
        }
    }
}

/// Everything outside the mod.
struct World {
    id: String,
    entities: BTreeMap<u64, Stored>,
    next_index: u64,
    game_types: BTreeMap<String, GameType>,
    messages: BTreeSet<String>,
    /// Types other mods defined first: name → (owner, shared).
    foreign_types: BTreeMap<String, (String, bool)>,
    /// Event names other mods claimed first.
    foreign_events: BTreeMap<String, (String, bool)>,
    limits: Limits,
    modify_any: bool,
    frame: u64,
    reserve_target: usize,
    emitted: Vec<Emitted>,
    logs: Vec<LogLine>,
    rejects: Vec<Rejected>,
}

impl World {
    fn new_entity(&mut self) -> u64 {
        self.next_index += 1;
        // A Bevy entity's bits: generation 1 above the index.
        (1 << 32) | self.next_index
    }

    fn owned_by(&self, owner: &str) -> usize {
        self.entities
            .values()
            .filter(|e| e.owner.as_deref() == Some(owner))
            .count()
    }
}

/// One query's rows as the tick began.
struct Snapshot {
    names: Vec<String>,
    entities: Vec<u64>,
    owned: Vec<bool>,
    /// Per column, per row.
    values: Vec<Vec<Vec<u8>>>,
}

enum Command {
    Spawn(u64, Vec<(String, Vec<u8>)>),
    Despawn(u64),
    Insert(u64, Vec<(String, Vec<u8>)>),
    Remove(u64, Vec<String>),
    Write(Vec<u64>, String, Vec<Vec<u8>>),
    Emit(String, Vec<u8>),
}

/// The world while a hook runs: what the host functions see.
struct Session {
    world: World,
    defines: Vec<String>,
    queries: Vec<Snapshot>,
    overlay: HashMap<(u64, String), Option<Vec<u8>>>,
    spawned: HashSet<u64>,
    despawned: HashSet<u64>,
    reserved: VecDeque<u64>,
    at_entity_cap: bool,
    commands: Vec<Command>,
    /// The tick's count against its caps (whether the hook may change the
    /// world, commands, bytes, events, reports) and why it is refused.
    ledger: Ledger,
    lines: usize,
    delivered: Vec<(Option<String>, String)>,
}

thread_local! {
    static ACTIVE: RefCell<Option<Session>> = const { RefCell::new(None) };
}

/// Runs `f` on the session of the hook running on this thread.
fn with_session<R>(f: impl FnOnce(&mut Session) -> R) -> R {
    ACTIVE.with(|a| {
        let mut a = a.borrow_mut();
        let session = a.as_mut().unwrap_or_else(|| {
            panic!(
                "a mod_api call was made outside a mod's hook: natively, the world \
                 exists only while a mod_api::testing::TestWorld runs a hook"
            )
        });
        f(session)
    })
}

impl Session {
    fn new(world: World, defines: Vec<String>) -> Self {
        Session {
            world,
            defines,
            queries: Vec::new(),
            overlay: HashMap::new(),
            spawned: HashSet::new(),
            despawned: HashSet::new(),
            reserved: VecDeque::new(),
            at_entity_cap: false,
            commands: Vec::new(),
            ledger: Ledger::default(),
            lines: 0,
            delivered: Vec::new(),
        }
    }

    /// Opens a tick: the manifest's queries as the world is now, and the
    /// ids the game would reserve.
    fn begin_tick(&mut self, queries: &[Vec<String>]) {
        self.ledger.begin();
        let id = self.world.id.clone();
        self.queries = queries
            .iter()
            .map(|names| {
                let rows: Vec<(&u64, &Stored)> = self
                    .world
                    .entities
                    .iter()
                    .filter(|(_, e)| names.iter().all(|n| e.components.contains_key(n)))
                    .collect();
                Snapshot {
                    names: names.clone(),
                    entities: rows.iter().map(|(id, _)| **id).collect(),
                    owned: rows
                        .iter()
                        .map(|(_, e)| e.owner.as_deref() == Some(id.as_str()))
                        .collect(),
                    values: names
                        .iter()
                        .map(|n| rows.iter().map(|(_, e)| e.components[n].clone()).collect())
                        .collect(),
                }
            })
            .collect();
        let room = self
            .world
            .limits
            .entities_per_mod
            .saturating_sub(self.world.owned_by(&id));
        let n = self.world.reserve_target.min(room);
        self.reserved = (0..n).map(|_| self.world.new_entity()).collect();
        self.at_entity_cap = n >= room;
    }

    /// A refused call refuses the tick, except running out of spawn ids.
    fn refuse_on_error<T>(&mut self, result: Result<T, ModError>) -> Result<T, ModError> {
        if let Err(e) = &result {
            let _ = self.ledger.refuse_on_error::<()>(Err(refusal(e)));
        }
        result
    }

    fn record(&mut self, command: Command, bytes: usize) -> Result<(), ModError> {
        self.ledger.record(&self.world.limits, bytes)?;
        self.commands.push(command);
        Ok(())
    }

    fn check_room(&mut self, bytes: usize) -> Result<(), ModError> {
        Ok(self.ledger.room(&self.world.limits, bytes)?)
    }

    fn check_writable(&self, name: &str) -> Result<(), ModError> {
        let defines = |n: &str| self.defines.iter().any(|d| d == n);
        Ok(mod_rules::access::may_write(
            &self.world,
            &self.world.id,
            defines,
            name,
        )?)
    }

    fn check_value(&self, name: &str, value: &[u8]) -> Result<(), ModError> {
        mod_rules::value::check(value, self.world.limits.value_depth)
            .and_then(|()| match self.world.game_types.get(name) {
                Some(t) => (t.check)(value),
                None => Ok(()),
            })
            .map_err(|e| ModError::InvalidValue(format!("{name}: {e}")))
    }

    fn check_components(&mut self, components: &[WitComponent]) -> Result<usize, ModError> {
        mod_rules::access::check_component_list(components.iter().map(|c| c.name.as_str()))?;
        let total: usize = components
            .iter()
            .map(|c| c.name.len() + c.value.len())
            .sum();
        self.check_room(total)?;
        for c in components {
            self.check_writable(&c.name)?;
            self.check_value(&c.name, &c.value)?;
        }
        Ok(total)
    }

    fn check_alive(&self, entity: u64) -> Result<(), ModError> {
        let exists = self.spawned.contains(&entity) || self.world.entities.contains_key(&entity);
        if self.despawned.contains(&entity) || !exists {
            return Err(ModError::NoSuchEntity(entity));
        }
        Ok(())
    }

    fn check_owner(&self, entity: u64) -> Result<(), ModError> {
        let owner = self
            .world
            .entities
            .get(&entity)
            .and_then(|e| e.owner.as_deref());
        if self.world.modify_any
            || self.spawned.contains(&entity)
            || owner == Some(self.world.id.as_str())
        {
            return Ok(());
        }
        Err(ModError::NotOwner(entity))
    }

    fn remember(&mut self, entity: u64, components: &[WitComponent]) {
        for c in components {
            self.overlay
                .insert((entity, c.name.clone()), Some(c.value.clone()));
        }
    }

    /// The query whose component set is exactly `names`, in any order.
    fn query_index(&self, names: &[String]) -> Result<usize, ModError> {
        mod_rules::access::check_names(names, MAX_QUERY_NAMES)?;
        let wanted: BTreeSet<&str> = names.iter().map(String::as_str).collect();
        self.queries
            .iter()
            .position(|q| {
                q.names.len() == wanted.len() && q.names.iter().all(|n| wanted.contains(n.as_str()))
            })
            .ok_or_else(|| ModError::NotQueried(names.join(", ")))
    }

    /// Rows of query `q` not despawned this tick.
    fn live_rows(&self, q: usize) -> Vec<usize> {
        let query = &self.queries[q];
        (0..query.entities.len())
            .filter(|row| !self.despawned.contains(&query.entities[*row]))
            .collect()
    }

    /// Applies a finished tick's commands to the world, or says why the
    /// game would refuse them.
    /// A hook that failed (`commit` false) changes nothing either way.
    fn finish(mut self, commit: bool) -> (World, Result<Vec<Emitted>, String>) {
        if let Err(why) = self.ledger.close() {
            return (self.world, Err(why));
        }
        if !commit {
            return (self.world, Ok(Vec::new()));
        }
        let id = self.world.id.clone();
        let mut entities = self.world.entities.clone();
        let mut emitted = Vec::new();
        let mut spawned = 0;
        for command in std::mem::take(&mut self.commands) {
            match command {
                Command::Spawn(entity, components) => {
                    spawned += 1;
                    entities.insert(entity, Stored::written_by(&id, components));
                }
                Command::Despawn(entity) => {
                    entities.remove(&entity);
                }
                Command::Insert(entity, components) => {
                    if let Some(e) = entities.get_mut(&entity) {
                        e.put(Some(&id), components);
                    }
                }
                Command::Remove(entity, names) => {
                    if let Some(e) = entities.get_mut(&entity) {
                        for n in names {
                            e.writers.remove(&n);
                            e.components.remove(&n);
                        }
                    }
                }
                Command::Write(rows, name, values) => {
                    for (entity, value) in rows.into_iter().zip(values) {
                        if let Some(e) = entities.get_mut(&entity) {
                            e.components.insert(name.clone(), value);
                        }
                    }
                }
                Command::Emit(name, payload) => emitted.push(Emitted {
                    frame: self.world.frame,
                    name,
                    payload,
                }),
            }
        }
        let kept: u64 = entities
            .values()
            .filter(|e| e.owner.as_deref() == Some(id.as_str()))
            .flat_map(|e| e.components.values())
            .map(|v| v.len() as u64)
            .sum();
        let cap = self.world.limits.state_bytes_per_mod;
        if kept > cap {
            return (
                self.world,
                Err(Refusal::too_much_state(kept, cap).describe()),
            );
        }
        self.world.entities = entities;
        self.world.reserve_target =
            mod_rules::caps::next_reserve(spawned, self.world.limits.spawns_per_tick);
        (self.world, Ok(emitted))
    }
}

/// The values of a MessagePack array of `rows` values, each as its own
/// bytes, each checked as the game checks a column's values.
fn split_array(data: &[u8], rows: usize, depth: usize) -> Result<Vec<Vec<u8>>, String> {
    let (offsets, body) = mod_rules::value::split_array(data, rows, depth)?;
    let values = &data[body..];
    let ends = offsets
        .iter()
        .skip(1)
        .map(|o| *o as usize)
        .chain([values.len()]);
    Ok(offsets
        .iter()
        .zip(ends)
        .map(|(start, end)| values[*start as usize..end].to_vec())
        .collect())
}

/// A contract error as the rule book's refusal.
fn refusal(e: &ModError) -> Refusal {
    match e.clone() {
        ModError::UnknownComponent(s) => Refusal::UnknownComponent(s),
        ModError::ReadOnly(s) => Refusal::ReadOnly(s),
        ModError::NotQueried(s) => Refusal::NotQueried(s),
        ModError::NoSuchEntity(e) => Refusal::NoSuchEntity(e),
        ModError::NotOwner(e) => Refusal::NotOwner(e),
        ModError::InvalidValue(s) => Refusal::InvalidValue(s),
        ModError::LimitExceeded(s) => Refusal::LimitExceeded(s),
        ModError::Denied(s) => Refusal::Denied(s),
        ModError::Failed(s) => Refusal::Failed(s),
    }
}

impl From<Refusal> for ModError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::UnknownComponent(s) => ModError::UnknownComponent(s),
            Refusal::ReadOnly(s) => ModError::ReadOnly(s),
            Refusal::NotQueried(s) => ModError::NotQueried(s),
            Refusal::NoSuchEntity(e) => ModError::NoSuchEntity(e),
            Refusal::NotOwner(e) => ModError::NotOwner(e),
            Refusal::InvalidValue(s) => ModError::InvalidValue(s),
            Refusal::LimitExceeded(s) => ModError::LimitExceeded(s),
            Refusal::Denied(s) => ModError::Denied(s),
            Refusal::Failed(s) => ModError::Failed(s),
        }
    }
}

/// The test world answers the rule book's questions about names from its
/// setup.
impl mod_rules::access::Names for World {
    fn game_component(&self, name: &str) -> Option<bool> {
        self.game_types.get(name).map(|t| t.writable)
    }

    fn type_claimed_by(&self, name: &str, me: &str) -> Option<String> {
        match self.foreign_types.get(name) {
            Some((owner, false)) if owner != me => Some(owner.clone()),
            _ => None,
        }
    }

    fn is_game_message(&self, name: &str) -> bool {
        self.messages.contains(name)
    }

    fn event_claimed_by(&self, name: &str, me: &str) -> Option<String> {
        match self.foreign_events.get(name) {
            Some((owner, false)) if owner != me => Some(owner.clone()),
            _ => None,
        }
    }
}

/// The host functions the crate calls natively, against the running
/// [`TestWorld`].
pub(crate) mod host {
    /// `entities`.
    pub(crate) mod entities {
        use super::super::*;

        fn components(list: &[WitComponent]) -> Vec<(String, Vec<u8>)> {
            list.iter()
                .map(|c| (c.name.clone(), c.value.clone()))
                .collect()
        }

        pub(crate) fn spawn(list: &[WitComponent]) -> Result<u64, ModError> {
            with_session(|s| {
                let result = (|| {
                    let bytes = s.check_components(list)?;
                    let Some(&entity) = s.reserved.front() else {
                        return Err(Refusal::out_of_ids(s.at_entity_cap).into());
                    };
                    s.record(Command::Spawn(entity, components(list)), bytes + 8)?;
                    s.remember(entity, list);
                    s.reserved.pop_front();
                    s.spawned.insert(entity);
                    Ok(entity)
                })();
                s.refuse_on_error(result)
            })
        }

        pub(crate) fn despawn(entity: u64) -> Result<(), ModError> {
            with_session(|s| {
                let result = (|| {
                    s.check_alive(entity)?;
                    s.check_owner(entity)?;
                    s.record(Command::Despawn(entity), 8)?;
                    s.despawned.insert(entity);
                    Ok(())
                })();
                s.refuse_on_error(result)
            })
        }

        pub(crate) fn insert(entity: u64, list: &[WitComponent]) -> Result<(), ModError> {
            with_session(|s| {
                let result = (|| {
                    s.check_alive(entity)?;
                    s.check_owner(entity)?;
                    let bytes = s.check_components(list)?;
                    s.record(Command::Insert(entity, components(list)), bytes + 8)?;
                    s.remember(entity, list);
                    Ok(())
                })();
                s.refuse_on_error(result)
            })
        }

        pub(crate) fn remove(entity: u64, names: &[String]) -> Result<(), ModError> {
            with_session(|s| {
                let result = (|| {
                    mod_rules::access::check_names(names, MAX_COMPONENTS)?;
                    s.check_alive(entity)?;
                    s.check_owner(entity)?;
                    for name in names {
                        s.check_writable(name)?;
                    }
                    let bytes = names.iter().map(String::len).sum::<usize>() + 8;
                    s.record(Command::Remove(entity, names.to_vec()), bytes)?;
                    for name in names {
                        s.overlay.insert((entity, name.clone()), None);
                    }
                    Ok(())
                })();
                s.refuse_on_error(result)
            })
        }

        pub(crate) fn get(entity: u64, name: &str) -> Result<Option<Vec<u8>>, ModError> {
            with_session(|s| {
                mod_rules::access::check_names(std::slice::from_ref(&name.to_string()), 1)?;
                if let Some(value) = s.overlay.get(&(entity, name.to_string())) {
                    return Ok(value.clone());
                }
                if s.despawned.contains(&entity) {
                    return Ok(None);
                }
                let mut queried = false;
                for q in &s.queries {
                    let Some(col) = q.names.iter().position(|n| n == name) else {
                        continue;
                    };
                    queried = true;
                    if let Some(row) = q.entities.iter().position(|e| *e == entity) {
                        return Ok(Some(q.values[col][row].clone()));
                    }
                }
                if queried {
                    Ok(None)
                } else {
                    Err(ModError::NotQueried(name.to_string()))
                }
            })
        }

        pub(crate) fn query(names: &[String]) -> Result<Vec<u64>, ModError> {
            with_session(|s| {
                let q = s.query_index(names)?;
                Ok(s.live_rows(q)
                    .into_iter()
                    .map(|row| s.queries[q].entities[row])
                    .collect())
            })
        }

        pub(crate) fn query_batch(names: &[String]) -> Result<Batch, ModError> {
            with_session(|s| {
                let q = s.query_index(names)?;
                let rows = s.live_rows(q);
                let query = &s.queries[q];
                let mut columns = Vec::with_capacity(names.len());
                for (col, name) in names.iter().enumerate() {
                    let values: Vec<&[u8]> = rows
                        .iter()
                        .map(|r| query.values[col][*r].as_slice())
                        .collect();
                    let codec = s.world.game_types.get(name).and_then(|t| t.packed.as_ref());
                    columns.push(match codec {
                        Some(codec) => Column {
                            name: name.clone(),
                            encoding: ColumnEncoding::Packed(codec.fields.clone()),
                            data: (codec.pack)(&values)
                                .map_err(|e| ModError::Failed(format!("packing `{name}`: {e}")))?,
                        },
                        None => {
                            let mut data = Vec::new();
                            let _ = rmp::encode::write_array_len(&mut data, values.len() as u32);
                            for v in values {
                                data.extend_from_slice(v);
                            }
                            Column {
                                name: name.clone(),
                                encoding: ColumnEncoding::Msgpack,
                                data,
                            }
                        }
                    });
                }
                Ok(Batch {
                    entities: rows.iter().map(|r| query.entities[*r]).collect(),
                    columns,
                })
            })
        }

        pub(crate) fn writable_rows(names: &[String]) -> Result<Vec<u8>, ModError> {
            with_session(|s| {
                let q = s.query_index(names)?;
                let rows = s.live_rows(q);
                let mut bits = vec![0u8; rows.len().div_ceil(8)];
                for (i, row) in rows.into_iter().enumerate() {
                    if s.world.modify_any || s.queries[q].owned[row] {
                        bits[i / 8] |= 1 << (i % 8);
                    }
                }
                Ok(bits)
            })
        }

        pub(crate) fn write_batch(batch: &Batch) -> Result<(), ModError> {
            with_session(|s| {
                let result = (|| {
                    let rows = batch.entities.len();
                    mod_rules::access::check_column_count(batch.columns.len(), MAX_QUERY_NAMES)?;
                    let total: usize = batch.columns.iter().map(|c| c.data.len()).sum();
                    s.check_room(rows.saturating_mul(8).saturating_add(total))?;
                    // A row despawned this tick is gone; one the tick never
                    // gave is refused with each column below.
                    if let Some(e) = batch.entities.iter().find(|e| s.despawned.contains(e)) {
                        return Err(ModError::NoSuchEntity(*e));
                    }
                    let mut commands = Vec::new();
                    for column in &batch.columns {
                        let name = &column.name;
                        s.check_writable(name)?;
                        let Some(game_type) = s.world.game_types.get(name).cloned() else {
                            return Err(ModError::InvalidValue(format!(
                                "`{name}` is defined by a mod; write it with `insert`"
                            )));
                        };
                        for e in &batch.entities {
                            let read = s.queries.iter().any(|q| {
                                q.names.contains(name)
                                    && q.entities.contains(e)
                                    && !s.despawned.contains(e)
                            });
                            if !read {
                                return Err(ModError::InvalidValue(format!(
                                    "batch row {e}: not an entity the mod's queries gave with \
                                     `{name}` this tick"
                                )));
                            }
                            s.check_owner(*e)?;
                        }
                        let values = match &column.encoding {
                            ColumnEncoding::Msgpack => {
                                split_array(&column.data, rows, s.world.limits.value_depth)
                                    .map_err(|e| {
                                        ModError::InvalidValue(format!("column `{name}`: {e}"))
                                    })?
                            }
                            ColumnEncoding::Packed(fields) => {
                                let codec = game_type.packed.as_ref().ok_or_else(|| {
                                    ModError::InvalidValue(format!("`{name}` has no packed layout"))
                                })?;
                                if *fields != codec.fields {
                                    return Err(ModError::InvalidValue(format!(
                                        "`{name}`: packed in a layout the host did not give"
                                    )));
                                }
                                (codec.unpack)(&column.data, fields, rows)
                                    .map_err(|e| ModError::InvalidValue(format!("{name}: {e}")))?
                            }
                        };
                        if values.len() != rows {
                            return Err(ModError::InvalidValue(format!(
                                "column `{name}` has {} values for {rows} rows",
                                values.len()
                            )));
                        }
                        for v in &values {
                            s.check_value(name, v)?;
                        }
                        commands.push((name.clone(), values));
                    }
                    for (name, values) in commands {
                        for (e, v) in batch.entities.iter().zip(&values) {
                            s.overlay.insert((*e, name.clone()), Some(v.clone()));
                        }
                        s.record(Command::Write(batch.entities.clone(), name, values), 0)?;
                    }
                    Ok(())
                })();
                s.refuse_on_error(result)
            })
        }
    }

    /// `events`.
    pub(crate) mod events {
        use super::super::*;
        pub(crate) use crate::__private::bindings::bevy_wasm::mods::events::BadInput;

        pub(crate) fn emit(name: &str, payload: &[u8]) -> Result<(), ModError> {
            with_session(|s| {
                let result = (|| {
                    mod_rules::access::may_emit(&s.world, &s.world.id, name)?;
                    s.check_room(name.len() + payload.len())?;
                    s.check_value(name, payload)?;
                    s.ledger.event(&s.world.limits)?;
                    s.record(
                        Command::Emit(name.to_string(), payload.to_vec()),
                        name.len() + payload.len(),
                    )
                })();
                s.refuse_on_error(result)
            })
        }

        pub(crate) fn reject(input: &BadInput, reason: &str) {
            with_session(|s| {
                if !s.ledger.take_report() {
                    return;
                }
                let (culprit, about) = match input {
                    BadInput::Event(i) => match s.delivered.get(*i as usize) {
                        Some((source, name)) => (source.clone(), format!("event {name}")),
                        None => return,
                    },
                    BadInput::Value(name) => {
                        let owner = s.world.foreign_types.get(name).map(|(o, _)| o.clone());
                        (owner, format!("component {name}"))
                    }
                };
                let frame = s.world.frame;
                s.world.rejects.push(Rejected {
                    frame,
                    about,
                    culprit,
                    reason: reason.to_string(),
                });
            })
        }

        pub(crate) fn reject_value(entity: u64, name: &str, reason: &str) {
            with_session(|s| {
                // Only a value the tick gave the mod, not one it wrote.
                let given = !s.overlay.contains_key(&(entity, name.to_string()))
                    && s.queries
                        .iter()
                        .any(|q| q.names.iter().any(|n| n == name) && q.entities.contains(&entity));
                if !s.ledger.is_open() || !given || !s.ledger.take_report() {
                    return;
                }
                // The game's types keep their shape: no one else to blame.
                let culprit = if s.world.game_types.contains_key(name) {
                    None
                } else {
                    s.world
                        .entities
                        .get(&entity)
                        .and_then(|e| e.writers.get(name))
                        .filter(|by| **by != s.world.id)
                        .cloned()
                };
                let frame = s.world.frame;
                s.world.rejects.push(Rejected {
                    frame,
                    about: format!("component {name} of entity {entity}"),
                    culprit,
                    reason: reason.to_string(),
                });
            })
        }
    }

    /// `log`.
    pub(crate) mod log {
        use super::super::*;
        pub(crate) use crate::__private::bindings::bevy_wasm::mods::log::Level;

        pub(crate) fn log(level: Level, message: &str) {
            with_session(|s| {
                if s.lines >= s.world.limits.log_lines_per_tick {
                    return;
                }
                s.lines += 1;
                let mut text = message.to_string();
                text.truncate(text.floor_char_boundary(MAX_LOG));
                let level = match level {
                    Level::Trace => super::super::Level::Trace,
                    Level::Debug => super::super::Level::Debug,
                    Level::Info => super::super::Level::Info,
                    Level::Warn => super::super::Level::Warn,
                    Level::Error => super::super::Level::Error,
                };
                // Shown by the test harness when a test fails.
                println!("[{} {level:?}] {}", s.world.id, text.escape_debug());
                let frame = s.world.frame;
                s.world.logs.push(LogLine {
                    frame,
                    level,
                    message: text,
                });
            })
        }
    }
}

/// A game world for one mod, in memory: spawn the game's entities, send
/// events, tick the mod, look at what it did.
///
/// The mod is known by its crate's name (the id the game gives a mod built
/// from the crate: its `.wasm` file's name), and starts with its manifest
/// named after the crate, as in the game.
pub struct TestWorld<M: Mod + Default> {
    the_mod: M,
    id: String,
    version: String,
    world: Option<World>,
    manifest: Option<Manifest>,
    config: Vec<u8>,
    ticks: u64,
    delta_seconds: f32,
    inbox: Vec<(String, Option<String>, Vec<u8>)>,
}

impl<M: Mod + Default + Describe> Default for TestWorld<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Mod + Default + Describe> TestWorld<M> {
    /// An empty world with the mod `register_mod!` registered, not yet
    /// started (its first [`tick`](Self::tick) starts it, or
    /// [`start`](Self::start)).
    pub fn new() -> Self {
        Self::with_id(M::NAME, M::VERSION)
    }
}

impl<M: Mod + Default> TestWorld<M> {
    /// An empty world with a mod known as `id` (its file's name in the
    /// game), its manifest starting with that name and `version`: for a
    /// type `register_mod!` did not register.
    pub fn with_id(id: &str, version: &str) -> Self {
        // What the crate remembers between calls belongs to one mod.
        crate::batch::forget_layouts();
        TestWorld {
            the_mod: M::default(),
            id: id.to_string(),
            version: version.to_string(),
            world: Some(World {
                id: id.to_string(),
                entities: BTreeMap::new(),
                next_index: 0,
                game_types: BTreeMap::new(),
                messages: BTreeSet::new(),
                foreign_types: BTreeMap::new(),
                foreign_events: BTreeMap::new(),
                limits: Limits::default(),
                modify_any: false,
                frame: 0,
                reserve_target: mod_rules::caps::MIN_RESERVE,
                emitted: Vec::new(),
                logs: Vec::new(),
                rejects: Vec::new(),
            }),
            manifest: None,
            // MessagePack `nil`: the game gives no configuration.
            config: vec![0xc0],
            ticks: 0,
            delta_seconds: 1.0 / 60.0,
            inbox: Vec::new(),
        }
    }

    fn world(&self) -> &World {
        self.world
            .as_ref()
            .expect("the world is back after every hook")
    }

    fn world_mut(&mut self) -> &mut World {
        self.world
            .as_mut()
            .expect("the world is back after every hook")
    }

    /// The game exposes component type `C` read-write: mods may write it on
    /// their own entities. Values are checked by decoding them as `C`, and
    /// a `C` with a field list (`component!(C { x: f32 })`) reaches batches
    /// packed, as the game sends plain-number types.
    pub fn expose<C: Component>(mut self) -> Self {
        self.add_game_type::<C>(true);
        self
    }

    /// The game exposes `C` for mods to read only.
    pub fn expose_read_only<C: Component>(mut self) -> Self {
        self.add_game_type::<C>(false);
        self
    }

    fn add_game_type<C: Component>(&mut self, writable: bool) {
        let packed = C::LAYOUT.map(|(kinds, paths)| PackedCodec {
            fields: kinds
                .iter()
                .zip(paths)
                .map(|(k, p)| PackedField {
                    path: p.to_string(),
                    kind: scalar_to_wit(*k),
                })
                .collect(),
            pack: pack_as::<C>,
            unpack: unpack_as::<C>,
        });
        self.world_mut().game_types.insert(
            C::NAME.to_string(),
            GameType {
                writable,
                check: check_as::<C>,
                packed,
            },
        );
    }

    /// Another mod, loaded before this one, defined component type `name`
    /// (shared: other mods may write it too when they define it).
    pub fn defined_by(mut self, name: &str, owner: &str, shared: bool) -> Self {
        self.world_mut()
            .foreign_types
            .insert(name.to_string(), (owner.to_string(), shared));
        self
    }

    /// Another mod, loaded before this one, claimed event name `name`.
    pub fn event_claimed_by(mut self, name: &str, owner: &str, shared: bool) -> Self {
        self.world_mut()
            .foreign_events
            .insert(name.to_string(), (owner.to_string(), shared));
        self
    }

    /// The configuration the game passes to the mod's `init`.
    pub fn config(mut self, config: &impl Serialize) -> Self {
        self.config = crate::component::encode(config).expect("the configuration encodes");
        self
    }

    /// Lets the mod change any entity (what a player's grants file can
    /// give).
    pub fn grant_modify_any_entity(mut self) -> Self {
        self.world_mut().modify_any = true;
        self
    }

    /// Sets the caps.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.world_mut().limits = limits;
        self
    }

    /// Seconds of game time each tick reports (1/60 unless set).
    pub fn delta_seconds(mut self, seconds: f32) -> Self {
        self.delta_seconds = seconds;
        self
    }

    /// Runs `init` and takes the manifest, checked as the game checks it.
    /// Done by the first tick when not called.
    pub fn start(&mut self) -> Result<&Manifest, Fault> {
        if self.manifest.is_none() {
            let config = self.config.clone();
            let start = Manifest::new(self.id.clone(), self.version.clone());
            let manifest = self.call(Hook::Init, false, |m| {
                m.init(&config)?;
                Ok(m.manifest(start))
            })?;
            check_manifest(&manifest).map_err(|message| Fault {
                hook: Hook::Init,
                kind: FaultKind::Refused,
                message,
            })?;
            self.manifest = Some(manifest);
        }
        Ok(self.manifest.as_ref().expect("set above"))
    }

    /// One frame: the events sent since the last tick that the mod
    /// subscribed to go to [`Mod::event`] (the game's first, then other
    /// mods' in the order sent), then [`Mod::tick`]. When both succeed and
    /// the host accepts every write, the world changes; otherwise nothing
    /// does and the fault is returned.
    pub fn tick(&mut self) -> Result<(), Fault> {
        self.start()?;
        let manifest = self.manifest.clone().expect("started");
        let id = self.id.as_str();
        let mut events: Vec<(String, Option<String>, Vec<u8>)> = std::mem::take(&mut self.inbox)
            .into_iter()
            .filter(|(name, source, _)| {
                manifest.subscribes.contains(name) && source.as_deref() != Some(id)
            })
            .collect();
        events.sort_by_key(|(_, source, _)| source.is_some());
        let frame = self.ticks;
        self.ticks += 1;
        self.world_mut().frame = frame;
        let tick = Tick {
            frame,
            delta_seconds: self.delta_seconds,
        };
        let mut session = Session::new(
            self.world.take().expect("between hooks"),
            manifest.defines.clone(),
        );
        session.begin_tick(&manifest.queries);
        session.delivered = events
            .iter()
            .map(|(n, s, _)| (s.clone(), n.clone()))
            .collect();
        let result = self.run_in(session, |m| {
            for (index, (name, source, payload)) in events.into_iter().enumerate() {
                let event = Event {
                    name,
                    source,
                    payload,
                    index: index as u32,
                };
                crate::__private::reported(m.event(&event))?;
            }
            crate::__private::reported(m.tick(&tick))
        });
        let (world, finished) = result.1;
        self.world = Some(world);
        match (result.0, finished) {
            (_, Err(message)) => Err(Fault {
                hook: Hook::Tick,
                kind: FaultKind::Refused,
                message,
            }),
            (Err(fault), Ok(_)) => Err(fault),
            (Ok(()), Ok(emitted)) => {
                self.world_mut().emitted.extend(emitted);
                Ok(())
            }
        }
    }

    /// `frames` ticks, stopping at the first fault.
    pub fn run(&mut self, frames: u64) -> Result<(), Fault> {
        for _ in 0..frames {
            self.tick()?;
        }
        Ok(())
    }

    /// What the game does when the mod's file is replaced by a new build:
    /// `save` on the running mod, then a fresh one gets `init` and
    /// `restore` with what `save` returned. The world is kept.
    pub fn reload(&mut self) -> Result<(), Fault> {
        self.start()?;
        let state = self.call(Hook::Save, false, |m| m.save())?;
        let old = std::mem::take(&mut self.the_mod);
        self.manifest = None;
        let restored = self
            .start()
            .map(|_| ())
            .and_then(|()| self.call(Hook::Restore, false, |m| m.restore(&state)));
        if restored.is_err() {
            // The game keeps the old version running when the new one fails.
            self.the_mod = old;
        }
        restored
    }

    /// Runs a hook outside a tick (`init`, `save`, `restore`): the world
    /// cannot be changed from it.
    fn call<R>(
        &mut self,
        hook: Hook,
        open: bool,
        f: impl FnOnce(&mut M) -> crate::Result<R>,
    ) -> Result<R, Fault> {
        let mut session = Session::new(self.world.take().expect("between hooks"), Vec::new());
        if open {
            session.ledger.begin();
        }
        let (result, (world, _)) = self.run_in(session, f);
        self.world = Some(world);
        result.map_err(|mut fault| {
            fault.hook = hook;
            fault
        })
    }

    /// Runs `f` on the mod with `session` as the world the host functions
    /// see; a panic is a fault.
    #[allow(clippy::type_complexity)]
    fn run_in<R>(
        &mut self,
        session: Session,
        f: impl FnOnce(&mut M) -> crate::Result<R>,
    ) -> (Result<R, Fault>, (World, Result<Vec<Emitted>, String>)) {
        ACTIVE.with(|a| *a.borrow_mut() = Some(session));
        let the_mod = &mut self.the_mod;
        let outcome = catch_unwind(AssertUnwindSafe(|| f(the_mod)));
        let session = ACTIVE
            .with(|a| a.borrow_mut().take())
            .expect("the session stays while the hook runs");
        let result = match outcome {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(Fault {
                hook: Hook::Tick,
                message: e.to_string(),
                kind: FaultKind::Error(e),
            }),
            Err(panic) => Err(Fault {
                hook: Hook::Tick,
                kind: FaultKind::Panic,
                message: panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "the mod panicked".into()),
            }),
        };
        let commit = result.is_ok();
        (result, session.finish(commit))
    }

    /// The mod, to look at its state.
    pub fn the_mod(&self) -> &M {
        &self.the_mod
    }

    /// The manifest, once started.
    pub fn manifest(&self) -> Option<&Manifest> {
        self.manifest.as_ref()
    }

    /// Ticks run so far (the next tick's `frame`).
    pub fn ticks(&self) -> u64 {
        self.ticks
    }

    /// Spawns an entity of the game's (no mod owns it).
    pub fn spawn(&mut self, bundle: &impl Bundle) -> Entity {
        self.spawn_owned(None, bundle)
    }

    /// Spawns an entity as another mod, `owner`, would.
    pub fn spawn_as(&mut self, owner: &str, bundle: &impl Bundle) -> Entity {
        self.spawn_owned(Some(owner.to_string()), bundle)
    }

    fn spawn_owned(&mut self, owner: Option<String>, bundle: &impl Bundle) -> Entity {
        let components = encoded(bundle);
        let world = self.world_mut();
        let id = world.new_entity();
        let stored = match &owner {
            Some(owner) => Stored::written_by(owner, components),
            None => {
                let mut stored = Stored::default();
                stored.put(None, components);
                stored
            }
        };
        world.entities.insert(id, stored);
        Entity(id)
    }

    /// Inserts components on any entity, as the game.
    pub fn insert(&mut self, entity: Entity, bundle: &impl Bundle) {
        self.insert_by(None, entity, bundle);
    }

    /// Inserts components on any entity as another mod, `writer`, would
    /// (one it spawned, or one it was granted): a value the mod under test
    /// cannot decode is blamed on `writer`.
    pub fn insert_as(&mut self, writer: &str, entity: Entity, bundle: &impl Bundle) {
        self.insert_by(Some(writer), entity, bundle);
    }

    fn insert_by(&mut self, writer: Option<&str>, entity: Entity, bundle: &impl Bundle) {
        let components = encoded(bundle);
        if let Some(e) = self.world_mut().entities.get_mut(&entity.0) {
            e.put(writer, components);
        }
    }

    /// Despawns any entity, as the game.
    pub fn despawn(&mut self, entity: Entity) {
        self.world_mut().entities.remove(&entity.0);
    }

    /// Component `C` of an entity, decoded; `None` when the entity or the
    /// component is missing (a value that does not decode as `C` panics).
    pub fn get<C: Component>(&self, entity: Entity) -> Option<C> {
        let bytes = self
            .world()
            .entities
            .get(&entity.0)?
            .components
            .get(C::NAME)?;
        Some(
            rmp_serde::from_slice(bytes)
                .unwrap_or_else(|e| panic!("{entity:?}'s `{}` does not decode: {e}", C::NAME)),
        )
    }

    /// The entities that have every component of `Q`, in id order.
    pub fn entities_with<Q: ComponentSet>(&self) -> Vec<Entity> {
        let names = Q::names();
        self.world()
            .entities
            .iter()
            .filter(|(_, e)| names.iter().all(|n| e.components.contains_key(n)))
            .map(|(id, _)| Entity(*id))
            .collect()
    }

    /// The entities the mod spawned and still has, in id order.
    pub fn entities_owned_by_mod(&self) -> Vec<Entity> {
        self.world()
            .entities
            .iter()
            .filter(|(_, e)| e.owner.as_deref() == Some(self.id.as_str()))
            .map(|(id, _)| Entity(*id))
            .collect()
    }

    /// Who spawned an entity: a mod's id, or `None` for the game's (and
    /// for an entity that does not exist).
    pub fn owner(&self, entity: Entity) -> Option<&str> {
        self.world().entities.get(&entity.0)?.owner.as_deref()
    }

    /// Sends a game message (a Bevy message the game exposes, such as
    /// `PlayerJoined`): delivered on the mod's next tick if it subscribed;
    /// mods may not emit this name.
    pub fn send(&mut self, name: &str, payload: &impl Serialize) {
        self.world_mut().messages.insert(name.to_string());
        let payload = crate::component::encode(payload).expect("the payload encodes");
        self.inbox.push((name.to_string(), None, payload));
    }

    /// Sends an event as another mod, `source`, would.
    pub fn send_from(&mut self, source: &str, name: &str, payload: &impl Serialize) {
        let payload = crate::component::encode(payload).expect("the payload encodes");
        self.inbox
            .push((name.to_string(), Some(source.to_string()), payload));
    }

    /// Sends an event whose payload is raw bytes (to test how a mod takes
    /// bad input).
    pub fn send_raw(&mut self, source: Option<&str>, name: &str, payload: Vec<u8>) {
        self.inbox
            .push((name.to_string(), source.map(str::to_string), payload));
    }

    /// Every event the mod emitted in ticks the world applied, in order.
    pub fn emitted(&self) -> &[Emitted] {
        &self.world().emitted
    }

    /// The events named `name` the mod emitted, decoded as `T`.
    pub fn emitted_as<T: serde::de::DeserializeOwned>(&self, name: &str) -> Vec<T> {
        self.emitted()
            .iter()
            .filter(|e| e.name == name)
            .map(|e| {
                e.decode()
                    .unwrap_or_else(|err| panic!("event `{name}` does not decode: {err}"))
            })
            .collect()
    }

    /// Every line the mod logged.
    pub fn logs(&self) -> &[LogLine] {
        &self.world().logs
    }

    /// Every input the mod reported it could not use.
    pub fn rejects(&self) -> &[Rejected] {
        &self.world().rejects
    }
}

/// A bundle's values by name.
fn encoded(bundle: &impl Bundle) -> Vec<(String, Vec<u8>)> {
    let components = bundle.encode().expect("the bundle encodes");
    components.into_iter().map(|c| (c.name, c.value)).collect()
}

/// The game's checks on a manifest, those a mod can break: the rule
/// book's.
fn check_manifest(m: &Manifest) -> Result<(), String> {
    mod_rules::manifest::check(mod_rules::manifest::ManifestRef {
        name: &m.name,
        version: &m.version,
        subscribes: &m.subscribes,
        queries: &m.queries,
        defines: &m.defines,
        emits: &m.emits,
        shares: &m.shares,
    })
}
