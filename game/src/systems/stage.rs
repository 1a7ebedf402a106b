//! Checking a mod's commands for one tick before any of them is applied,
//! and applying them once all passed.
//!
//! Staging decodes every value into its component type and checks every
//! entity and name against the world as it is now, so applying the staged
//! result cannot fail half way: a tick is applied whole or not at all. A
//! new kind of command is checked in [`Stager::stage`] and applied in
//! [`Staged::apply`], both here.
//!
//! Batches rewrite rows the mod read this tick (the worker checks that); a
//! row whose entity the game despawned or stripped since is skipped, which
//! is no fault of the mod's.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bevy::ecs::entity::{EntityHashMap, EntityHashSet};
use bevy::prelude::*;
use bevy::reflect::TypeRegistry;

use super::PreparedQuery;
use mod_rules::Refusal;

use crate::codec::column::Rows;
use crate::codec::value;
use crate::expose::{Exposed, ModData};
use crate::ids::{ModId, ModIds, id_of};
use crate::manifest::ModManifest;
use crate::ownership::{Footprint, SlotKey, SpawnTick, SpawnedByMod, ValueWriters, data_key};
use crate::protocol::{Column, Command, Encoding, WireComponent, WireEvent};
use crate::registry::ModEvent;

/// Main-thread CPU time staging may use, read every few steps.
pub(crate) struct Budget {
    started: crate::cpu_clock::ThreadClock,
    limit: Duration,
    steps: Cell<u32>,
    exceeded: Cell<bool>,
}

impl Budget {
    /// Steps between two readings of the clock.
    const EVERY: u32 = 32;

    pub(crate) fn start(limit: Duration) -> Self {
        Self {
            started: crate::cpu_clock::ThreadClock::now(),
            limit,
            steps: Cell::new(0),
            exceeded: Cell::new(false),
        }
    }

    /// One step of work; an error once the budget is spent.
    fn step(&self) -> Result<(), String> {
        let n = self.steps.get().wrapping_add(1);
        self.steps.set(n);
        if !n.is_multiple_of(Self::EVERY) {
            return Ok(());
        }
        let spent = self.spent();
        if spent > self.limit {
            self.exceeded.set(true);
            return Err(format!(
                "checking its commands took {spent:?} of the main thread, over the {:?} limit",
                self.limit
            ));
        }
        Ok(())
    }

    /// CPU time since the start.
    pub(crate) fn spent(&self) -> Duration {
        self.started.elapsed()
    }

    /// Whether staging stopped because the budget was spent.
    pub(crate) fn exceeded(&self) -> bool {
        self.exceeded.get()
    }
}

/// The bytes a tick sets on the mod's own entities, per value slot, and
/// how the mod's total changes.
#[derive(Default)]
struct Charges {
    /// By entity, in the order the tick's commands first charged them:
    /// footprints are put on the entities in this order, which moves them
    /// between tables, so it orders the tables later queries walk. Spawns
    /// come first in id order, and stay in id order in their table (a
    /// snapshot then reads it as it is, without sorting).
    by_entity: Vec<(Entity, Vec<(SlotKey, u32)>)>,
    /// Where each entity is in `by_entity`.
    index: EntityHashMap<usize>,
    despawned: EntityHashSet,
    delta: i64,
}

/// What staging has seen so far in a tick.
#[derive(Default)]
struct Seen {
    spawned: EntityHashSet,
    despawned: EntityHashSet,
    /// Reserved ids the tick's spawns used.
    next_reserved: usize,
    charges: RefCell<Charges>,
}

/// Names the command an error is about.
type At = dyn Fn(String) -> String;

/// What applied ticks send on: events for other mods' next ticks, and
/// reports of bad input.
#[derive(Default)]
pub(crate) struct Outbox {
    pub events: Vec<WireEvent>,
    pub rejections: Vec<Rejection>,
}

/// A component value ready to insert.
pub(crate) enum Value {
    /// An exposed game type (index into [`Exposed::components`]).
    Game(usize, Box<dyn Reflect>),
    /// A mod-defined type, stored as MessagePack in `ModData`.
    Data(String, Vec<u8>),
}

/// A command that passed every check.
pub(crate) enum Staged {
    /// A spawn at a reserved entity, with the id mods know it by.
    Spawn(Entity, u64, Vec<Value>),
    Despawn(Entity),
    Insert(Entity, Vec<Value>),
    Remove(Entity, Vec<(Option<usize>, String)>),
    Emit(String, Vec<u8>),
    WriteBatch(Vec<Entity>, Vec<(usize, Rows)>),
    /// A batch over the rows of the mod's query with this index, as sent.
    WriteQueryRows(usize, Vec<(usize, Rows)>),
    /// A report of input the mod could not decode, against `culprit`.
    Reject(Rejection),
}

/// A mod's report that it could not decode an input.
#[derive(Clone, Debug)]
pub(crate) struct Rejection {
    /// The reporting mod's id.
    pub by: Arc<str>,
    /// The id of the mod that made the input, if a mod did.
    pub culprit: Option<String>,
    pub about: String,
    pub reason: String,
}

/// What staging needs to know of the mod and the world.
pub(crate) struct Stager<'a> {
    pub world: &'a World,
    pub exposed: &'a Exposed,
    pub registry: &'a TypeRegistry,
    pub manifest: &'a ModManifest,
    /// The entities reserved for the mod's spawns, with their ids.
    pub reserved: &'a VecDeque<(Entity, u64)>,
    pub depth: usize,
    /// The mod's name, which marks the entities it spawned.
    pub owner: &'a str,
    /// Whether the mod may change entities it did not spawn.
    pub modify_any_entity: bool,
    /// The rows of each of the mod's queries as this tick sent them, and
    /// whether the mod spawned every one of them.
    pub query_rows: &'a [(&'a [Entity], bool)],
    /// Main-thread time staging may take.
    pub budget: &'a Budget,
    /// Bytes of values the mod's entities hold now, and its cap.
    pub state_bytes: (u64, u64),
    /// The host's frame whose world the mod's tick saw.
    pub seen_frame: u64,
}

/// The result of staging: the checked commands, how many reserved ids
/// the spawns used, and the bytes to charge per value slot of the mod's
/// entities once they are applied.
pub(crate) struct StagedTick {
    pub commands: Vec<Staged>,
    pub spawned: usize,
    pub footprint: Vec<(Entity, SlotKey, u32)>,
}

impl Stager<'_> {
    /// Checks the commands, taking them out of `commands` as it goes;
    /// those after a refused one are left there.
    pub(crate) fn stage(&self, commands: &mut Vec<Command>) -> Result<StagedTick, String> {
        let mut seen = Seen::default();
        let mut out = Vec::with_capacity(commands.len());
        let mut commands = commands.drain(..);
        for (i, command) in commands.by_ref().enumerate() {
            let at = move |e: String| format!("command {i}: {e}");
            self.budget.step().map_err(at)?;
            out.push(self.stage_one(command, &mut seen, &at)?);
        }
        let charges = seen.charges.into_inner();
        let (now, cap) = self.state_bytes;
        let after = (now as i64).saturating_add(charges.delta).max(0) as u64;
        if charges.delta > 0 && after > cap {
            return Err(Refusal::too_much_state(after, cap).to_string());
        }
        let footprint = charges
            .by_entity
            .into_iter()
            .filter(|(e, _)| !charges.despawned.contains(e))
            .flat_map(|(e, slots)| slots.into_iter().map(move |(k, size)| (e, k, size)))
            .collect();
        Ok(StagedTick {
            commands: out,
            spawned: seen.next_reserved,
            footprint,
        })
    }

    /// Checks one command against the world and what the tick did before
    /// it. What the rule book refuses is said in its words, as the worker
    /// and the test world say it; what only a host bug could cause says
    /// which command (`at`).
    fn stage_one(&self, command: Command, seen: &mut Seen, at: &At) -> Result<Staged, String> {
        Ok(match command {
            Command::Spawn { entity, components } => {
                let Some(&(e, _)) = self
                    .reserved
                    .get(seen.next_reserved)
                    .filter(|(_, id)| *id == entity)
                else {
                    return Err(at(format!(
                        "spawn used id {entity}, not the next reserved one"
                    )));
                };
                seen.next_reserved += 1;
                seen.spawned.insert(e);
                let values = self.values(components)?;
                self.charge_values(&seen.charges, e, &values, &seen.spawned);
                Staged::Spawn(e, entity, values.into_iter().map(|(v, _)| v).collect())
            }
            Command::Despawn { entity } => {
                let e = self.target(entity, seen)?;
                seen.despawned.insert(e);
                self.charge_despawn(&seen.charges, e, &seen.spawned);
                Staged::Despawn(e)
            }
            Command::Insert { entity, components } => {
                let e = self.target(entity, seen)?;
                let values = self.values(components)?;
                self.charge_values(&seen.charges, e, &values, &seen.spawned);
                Staged::Insert(e, values.into_iter().map(|(v, _)| v).collect())
            }
            Command::Remove { entity, names } => {
                let e = self.target(entity, seen)?;
                let mut removed = Vec::with_capacity(names.len());
                for name in names {
                    let i = self.writable(&name)?;
                    if let Some(key) = self.key(i, &name) {
                        self.charge(&seen.charges, e, key, 0, &seen.spawned);
                    }
                    removed.push((i, name));
                }
                Staged::Remove(e, removed)
            }
            Command::Emit { name, payload } => {
                mod_rules::access::may_emit(self.exposed, self.owner, &name)
                    .map_err(|r| r.to_string())?;
                mod_rules::value::check(&payload, self.depth)
                    .map_err(|e| Refusal::InvalidValue(format!("{name}: {e}")).to_string())?;
                Staged::Emit(name, payload.into_vec())
            }
            Command::WriteBatch { entities, columns } => {
                let mut rows = Vec::with_capacity(entities.0.len());
                for bits in &entities.0 {
                    let e = self.entity(*bits)?;
                    // Existence is checked with each column's component.
                    // (No hashing of every row when nothing was despawned.)
                    if !seen.despawned.is_empty() && seen.despawned.contains(&e) {
                        return Err(Refusal::NoSuchEntity(*bits).to_string());
                    }
                    rows.push(e);
                }
                // The usual batch rewrites a snapshot the mod spawned all
                // of; anything else is checked row by row.
                let all_owned = self
                    .query_rows
                    .iter()
                    .any(|(query, owned)| *owned && *query == rows.as_slice());
                let columns = self.batch(&rows, all_owned, columns, seen, at)?;
                Staged::WriteBatch(rows, columns)
            }
            Command::WriteQueryRows { query, columns } => {
                let Some(&(rows, all_owned)) = self.query_rows.get(query as usize) else {
                    return Err(at(format!(
                        "batch over query {query}; the mod has {}",
                        self.query_rows.len()
                    )));
                };
                let gone = (!seen.despawned.is_empty())
                    .then(|| rows.iter().find(|e| seen.despawned.contains(*e)))
                    .flatten();
                if let Some(e) = gone {
                    return Err(Refusal::NoSuchEntity(id_of(self.world, *e)).to_string());
                }
                let columns = self.batch(rows, all_owned, columns, seen, at)?;
                Staged::WriteQueryRows(query as usize, columns)
            }
            Command::Reject {
                culprit,
                about,
                reason,
            } => Staged::Reject(Rejection {
                by: Arc::from(self.owner),
                culprit,
                about,
                reason,
            }),
            Command::RejectValue {
                entity,
                name,
                reason,
            } => Staged::Reject(self.rejected_value(entity, &name, reason)),
        })
    }

    /// The entity a despawn, insert or remove changes: one that exists
    /// (or was spawned this tick and not despawned since) and that the
    /// mod may change.
    fn target(&self, bits: u64, seen: &Seen) -> Result<Entity, String> {
        let e = self.entity(bits)?;
        let alive = !seen.despawned.contains(&e)
            && (seen.spawned.contains(&e) || self.world.get_entity(e).is_ok());
        if !alive {
            return Err(Refusal::NoSuchEntity(bits).to_string());
        }
        self.may_change(e, seen)?;
        Ok(e)
    }

    /// Whether the mod may change `e`: one it spawned (before or this
    /// tick), or any when granted.
    fn may_change(&self, e: Entity, seen: &Seen) -> Result<(), String> {
        if self.modify_any_entity || seen.spawned.contains(&e) || self.owns(e) {
            Ok(())
        } else {
            Err(self.not_owner(e))
        }
    }

    /// A batch's columns over `rows`, checked, with the rows' owner
    /// checked unless the mod spawned all of a snapshot's rows.
    fn batch(
        &self,
        rows: &[Entity],
        all_owned: bool,
        columns: Vec<Column>,
        seen: &Seen,
        at: &At,
    ) -> Result<Vec<(usize, Rows)>, String> {
        if !self.modify_any_entity && !all_owned {
            for e in rows {
                self.may_change(*e, seen)?;
            }
        }
        let mut staged = Vec::with_capacity(columns.len());
        for column in columns {
            let (i, data, sizes) = self.batch_column(rows, column).map_err(at)?;
            self.charge_rows(&seen.charges, rows, i, &sizes, &seen.spawned);
            staged.push((i, data));
        }
        Ok(staged)
    }

    /// A report that the mod could not decode the value of mod-defined
    /// `name` on entity `bits`, against the mod that wrote the value it saw.
    fn rejected_value(&self, bits: u64, name: &str, reason: String) -> Rejection {
        let culprit = self
            .world
            .get_resource::<ModIds>()
            .and_then(|ids| ids.entity(bits))
            .and_then(|e| {
                let now = self.world.get::<ModData>(e)?.values.get(name)?;
                self.world
                    .get::<ValueWriters>(e)?
                    .writer_seen(name, self.seen_frame, now)
            })
            .filter(|by| ***by != *self.owner)
            .map(|by| by.to_string());
        let mut shown = name.to_string();
        shown.truncate(shown.floor_char_boundary(128));
        Rejection {
            by: Arc::from(self.owner),
            culprit,
            about: format!(
                "the value of component `{}` on entity {bits}",
                crate::text::escape(&shown)
            ),
            reason,
        }
    }

    /// The footprint key of exposed type `i`, or of mod-defined `name`.
    fn key(&self, i: Option<usize>, name: &str) -> Option<SlotKey> {
        match i {
            Some(i) => Some(i as SlotKey),
            None => self
                .manifest
                .defines
                .iter()
                .position(|d| d == name)
                .map(data_key),
        }
    }

    /// Whether values set on `e` count toward the mod's state: it spawned
    /// `e`. (Values a granted mod sets on others' entities are not charged.)
    fn charged(&self, e: Entity, spawned: &EntityHashSet) -> bool {
        spawned.contains(&e) || self.owns(e)
    }

    /// Charges `size` bytes for slot `key` of `e`, replacing what it held.
    fn charge(
        &self,
        charges: &RefCell<Charges>,
        e: Entity,
        key: SlotKey,
        size: u32,
        spawned: &EntityHashSet,
    ) {
        if !self.charged(e, spawned) {
            return;
        }
        let mut charges = charges.borrow_mut();
        let charges = &mut *charges;
        let at = *charges.index.entry(e).or_insert_with(|| {
            charges.by_entity.push((e, Vec::new()));
            charges.by_entity.len() - 1
        });
        let slots = &mut charges.by_entity[at].1;
        let old = match slots.iter_mut().find(|(k, _)| *k == key) {
            Some((_, s)) => std::mem::replace(s, size),
            None => {
                slots.push((key, size));
                self.world.get::<Footprint>(e).map_or(0, |f| f.size(key))
            }
        };
        charges.delta += i64::from(size) - i64::from(old);
    }

    fn charge_values(
        &self,
        charges: &RefCell<Charges>,
        e: Entity,
        values: &[(Value, u32)],
        spawned: &EntityHashSet,
    ) {
        for (value, size) in values {
            let key = match value {
                Value::Game(i, _) => Some(*i as SlotKey),
                Value::Data(name, _) => self.key(None, name),
            };
            if let Some(key) = key {
                self.charge(charges, e, key, *size, spawned);
            }
        }
    }

    /// Charges a batch column's rows; packed rows keep their fixed size,
    /// so only MessagePack rows (`sizes` not empty) change the total.
    fn charge_rows(
        &self,
        charges: &RefCell<Charges>,
        rows: &[Entity],
        i: usize,
        sizes: &[u32],
        spawned: &EntityHashSet,
    ) {
        for (e, size) in rows.iter().zip(sizes) {
            self.charge(charges, *e, i as SlotKey, *size, spawned);
        }
    }

    /// A despawned entity frees everything charged on it.
    fn charge_despawn(&self, charges: &RefCell<Charges>, e: Entity, spawned: &EntityHashSet) {
        if !self.charged(e, spawned) {
            return;
        }
        let mut charges = charges.borrow_mut();
        let stored = self.world.get::<Footprint>(e);
        let mut freed = stored.map_or(0, Footprint::total) as i64;
        if let Some(slots) = charges.index.get(&e).map(|&at| &charges.by_entity[at].1) {
            for (key, size) in slots {
                freed += i64::from(*size) - i64::from(stored.map_or(0, |f| f.size(*key)));
            }
        }
        charges.delta -= freed;
        charges.despawned.insert(e);
    }

    /// Whether the mod spawned `e`.
    fn owns(&self, e: Entity) -> bool {
        self.world
            .get::<SpawnedByMod>(e)
            .is_some_and(|s| &*s.0 == self.owner)
    }

    fn not_owner(&self, e: Entity) -> String {
        Refusal::NotOwner(id_of(self.world, e)).to_string()
    }

    /// The entity mods know as `bits`.
    fn entity(&self, bits: u64) -> Result<Entity, String> {
        self.world
            .get_resource::<ModIds>()
            .and_then(|ids| ids.entity(bits))
            .ok_or_else(|| Refusal::NoSuchEntity(bits).to_string())
    }

    /// The exposed index of a writable game type, `None` for a type this mod
    /// defined, or why the mod may not write it.
    fn writable(&self, name: &str) -> Result<Option<usize>, String> {
        let defines = |n: &str| self.manifest.defines.iter().any(|d| d == n);
        mod_rules::access::may_write(self.exposed, self.owner, defines, name)
            .map_err(|r| r.to_string())?;
        Ok(self.exposed.by_name.get(name).copied())
    }

    /// The values of a spawn or insert, each with its encoded size.
    fn values(&self, components: Vec<WireComponent>) -> Result<Vec<(Value, u32)>, String> {
        let mut seen = BTreeMap::new();
        let mut values = Vec::with_capacity(components.len());
        for c in components {
            if seen.insert(c.name.clone(), ()).is_some() {
                return Err(Refusal::InvalidValue(format!(
                    "component `{}` given twice in one call",
                    c.name
                ))
                .to_string());
            }
            let size = u32::try_from(c.value.len()).unwrap_or(u32::MAX);
            let value = match self.writable(&c.name)? {
                Some(i) => Value::Game(i, self.decode(i, &c.value)?),
                None => {
                    self.budget.step()?;
                    mod_rules::value::check(&c.value, self.depth).map_err(|e| {
                        Refusal::InvalidValue(format!("{}: {e}", c.name)).to_string()
                    })?;
                    Value::Data(c.name, c.value.into_vec())
                }
            };
            values.push((value, size));
        }
        Ok(values)
    }

    /// Decodes MessagePack into exposed type `i`.
    fn decode(&self, i: usize, bytes: &[u8]) -> Result<Box<dyn Reflect>, String> {
        self.budget.step()?;
        let c = &self.exposed.components[i];
        let registration = self
            .registry
            .get_with_type_path(c.type_path)
            .ok_or_else(|| format!("`{}` is not registered for reflection", c.name))?;
        let invalid = |why: String| Refusal::InvalidValue(format!("{}: {why}", c.name)).to_string();
        let dynamic =
            value::from_msgpack(bytes, registration, self.registry, self.depth).map_err(invalid)?;
        (c.ops.from_reflect)(&*dynamic).ok_or_else(|| {
            invalid(
                value::missing_field(&*dynamic, registration, self.registry)
                    .unwrap_or_else(|| "the value does not fit the type".into()),
            )
        })
    }

    /// A batch column checked against `rows`, with each row's encoded size
    /// when it is MessagePack (packed rows have a fixed size: none given).
    fn batch_column(
        &self,
        rows: &[Entity],
        column: Column,
    ) -> Result<(usize, Rows, Vec<u32>), String> {
        let i = self
            .writable(&column.name)?
            .ok_or_else(|| format!("`{}` is mod-defined; batches write game types", column.name))?;
        let c = &self.exposed.components[i];
        if column.rows() != rows.len() {
            return Err(format!(
                "column `{}` has {} rows for {} entities",
                c.name,
                column.rows(),
                rows.len()
            ));
        }
        match &column.encoding {
            Encoding::Packed(layout) => {
                if Some(layout) != c.codec.layout() {
                    return Err(format!("column `{}` has the wrong packed layout", c.name));
                }
                // The worker checked every record against the layout.
                if column.data.len() != layout.stride() * rows.len() {
                    return Err(format!("column `{}` has the wrong length", c.name));
                }
                Ok((i, Rows::Packed(column), Vec::new()))
            }
            Encoding::MsgPack => {
                let mut values = Vec::with_capacity(rows.len());
                let mut sizes = Vec::with_capacity(rows.len());
                for row in 0..rows.len() {
                    let bytes = column
                        .row(row)
                        .ok_or_else(|| format!("column `{}` is short", c.name))?;
                    values.push(self.decode(i, bytes)?);
                    sizes.push(u32::try_from(bytes.len()).unwrap_or(u32::MAX));
                }
                Ok((i, Rows::Values(values), sizes))
            }
        }
    }
}

impl Staged {
    /// Applies the command, which staging checked against the world as it
    /// is: it cannot fail half way. `owner` is the mod's id; its events
    /// go to `out` for other mods' next ticks, with its reports.
    pub(crate) fn apply(
        self,
        world: &mut World,
        exposed: &Exposed,
        (owner, tick, frame): (&Arc<str>, u64, u64),
        out: &mut Outbox,
        queries: &mut [PreparedQuery],
    ) {
        match self {
            Staged::Reject(rejection) => out.rejections.push(rejection),
            Staged::Spawn(entity, id, mut values) => {
                let marks = (
                    ModId::given(id),
                    SpawnedByMod(owner.clone()),
                    SpawnTick(tick),
                );
                // The first game value goes in with the marks: one move
                // into a table fewer a spawn.
                let first = values.iter().position(|v| matches!(v, Value::Game(..)));
                let spawned = match first.map(|at| values.remove(at)) {
                    Some(Value::Game(i, v)) => {
                        (exposed.components[i].ops.spawn_at)(world, entity, v, marks)
                    }
                    _ => world
                        .spawn_at(entity, marks)
                        .map(drop)
                        .map_err(|e| format!("{e:?}")),
                };
                if let Err(e) = spawned {
                    tracing::error!(mod_id = &**owner, "cannot spawn a reserved entity: {e}");
                    return;
                }
                insert_values(world, exposed, entity, values, (owner, frame));
            }
            Staged::Despawn(entity) => {
                world.despawn(entity);
            }
            Staged::Insert(entity, values) => {
                insert_values(world, exposed, entity, values, (owner, frame));
            }
            Staged::Remove(entity, names) => {
                for (i, name) in names {
                    match i {
                        Some(i) => (exposed.components[i].ops.remove)(world, entity),
                        None => {
                            let mut e = world.entity_mut(entity);
                            if let Some(mut data) = e.get_mut::<ModData>() {
                                data.values.remove(&name);
                            }
                            ValueWriters::forget(&mut e, &name);
                        }
                    }
                }
            }
            Staged::Emit(name, payload) => {
                world.write_message(ModEvent {
                    source: owner.to_string(),
                    name: name.clone(),
                    payload: payload.clone(),
                });
                out.events.push(WireEvent {
                    name,
                    source: Some(owner.to_string()),
                    payload: payload.into(),
                });
            }
            Staged::WriteBatch(entities, columns) => {
                // A batch over one of the snapshot's row sets can go by tables.
                let query = queries.iter().position(|q| {
                    q.last == entities
                        && columns
                            .iter()
                            .all(|(i, _)| q.names.contains(&exposed.components[*i].name))
                });
                match query {
                    Some(query) => write_query_rows(world, exposed, columns, queries, query),
                    None => write_columns(world, exposed, &entities, columns, queries, None),
                }
            }
            Staged::WriteQueryRows(query, columns) => {
                write_query_rows(world, exposed, columns, queries, query);
            }
        }
    }
}

/// Writes columns over the rows the snapshot of `query` sent, in their
/// order: a table at a time, put back in the tables' order first when the
/// ids' order differs.
fn write_query_rows(
    world: &mut World,
    exposed: &Exposed,
    columns: Vec<(usize, Rows)>,
    queries: &mut [PreparedQuery],
    query: usize,
) {
    let q = &mut queries[query];
    if q.order.is_empty() {
        let entities = std::mem::take(&mut q.last);
        write_columns(world, exposed, &entities, columns, queries, Some(query));
        queries[query].last = entities;
        return;
    }
    // Row `k` in the ids' order is row `order[k]` of the tables'.
    let mut back = vec![0; q.order.len()];
    for (k, t) in q.order.iter().enumerate() {
        back[*t] = k;
    }
    let columns = columns
        .into_iter()
        .map(|(i, rows)| (i, rows.in_order(&back)))
        .collect();
    let entities = std::mem::take(&mut q.tables);
    write_columns(world, exposed, &entities, columns, queries, Some(query));
    queries[query].tables = entities;
}

/// Writes a batch's columns to its rows' entities; `query` is the mod's
/// query whose snapshot rows they are, if any.
fn write_columns(
    world: &mut World,
    exposed: &Exposed,
    entities: &[Entity],
    columns: Vec<(usize, Rows)>,
    queries: &mut [PreparedQuery],
    query: Option<usize>,
) {
    for (i, rows) in columns {
        let c = &exposed.components[i];
        let states = query.and_then(|q| {
            let q = &mut queries[q];
            let at = q.names.iter().position(|n| *n == c.name)?;
            q.columns[at].as_mut()
        });
        c.column().write_column(world, entities, rows, states);
    }
}

/// Inserts values `by` a mod wrote in `frame` on an entity.
fn insert_values(
    world: &mut World,
    exposed: &Exposed,
    entity: Entity,
    values: Vec<Value>,
    (by, frame): (&Arc<str>, u64),
) {
    for value in values {
        match value {
            Value::Game(i, v) => {
                (exposed.components[i].ops.insert)(world, entity, v);
            }
            Value::Data(name, bytes) => {
                let mut e = world.entity_mut(entity);
                ValueWriters::record(&mut e, &name, (by, frame), &bytes);
                ModData::put(&mut e, name, bytes);
            }
        }
    }
}
