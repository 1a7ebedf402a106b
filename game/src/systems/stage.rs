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

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;

use bevy::prelude::*;
use bevy::reflect::TypeRegistry;

use super::PreparedQuery;
use crate::codec::column::Rows;
use crate::codec::value;
use crate::expose::{Exposed, ModAccess, ModData};
use crate::manifest::ModManifest;
use crate::ownership::SpawnedByMod;
use crate::protocol::{Column, Command, Encoding, WireComponent, WireEvent};
use crate::registry::ModEvent;

/// A component value ready to insert.
pub(crate) enum Value {
    /// An exposed game type (index into [`Exposed::components`]).
    Game(usize, Box<dyn Reflect>),
    /// A mod-defined type, stored as MessagePack in `ModData`.
    Data(String, Vec<u8>),
}

/// A command that passed every check.
pub(crate) enum Staged {
    Spawn(Entity, Vec<Value>),
    Despawn(Entity),
    Insert(Entity, Vec<Value>),
    Remove(Entity, Vec<(Option<usize>, String)>),
    Emit(String, Vec<u8>),
    WriteBatch(Vec<Entity>, Vec<(usize, Rows)>),
    /// A batch over the rows of the mod's query with this index, as sent.
    WriteQueryRows(usize, Vec<(usize, Rows)>),
}

/// What staging needs to know of the mod and the world.
pub(crate) struct Stager<'a> {
    pub world: &'a World,
    pub exposed: &'a Exposed,
    pub registry: &'a TypeRegistry,
    pub manifest: &'a ModManifest,
    pub reserved: &'a VecDeque<Entity>,
    pub depth: usize,
    /// The mod's name, which marks the entities it spawned.
    pub owner: &'a str,
    /// Whether the mod may change entities it did not spawn.
    pub modify_any_entity: bool,
    /// The rows of each of the mod's queries as this tick sent them, and
    /// whether the mod spawned every one of them.
    pub query_rows: &'a [(&'a [Entity], bool)],
}

/// The result of staging: the checked commands and how many reserved ids
/// the spawns used.
pub(crate) struct StagedTick {
    pub commands: Vec<Staged>,
    pub spawned: usize,
}

impl Stager<'_> {
    pub(crate) fn stage(&self, commands: Vec<Command>) -> Result<StagedTick, String> {
        let mut spawned: HashSet<Entity> = HashSet::new();
        let mut despawned: HashSet<Entity> = HashSet::new();
        let mut next_reserved = 0;
        let mut out = Vec::with_capacity(commands.len());
        for (i, command) in commands.into_iter().enumerate() {
            let at = |e: String| format!("command {i}: {e}");
            let alive = |e: Entity, spawned: &HashSet<Entity>, despawned: &HashSet<Entity>| {
                !despawned.contains(&e)
                    && (spawned.contains(&e) || self.world.get_entity(e).is_ok())
            };
            let mine = |e: Entity, spawned: &HashSet<Entity>| -> Result<(), String> {
                if self.modify_any_entity || spawned.contains(&e) || self.owns(e) {
                    Ok(())
                } else {
                    Err(self.not_owner(e))
                }
            };
            let staged = match command {
                Command::Spawn { entity, components } => {
                    let e = self.entity(entity).map_err(at)?;
                    if self.reserved.get(next_reserved) != Some(&e) {
                        return Err(at(format!(
                            "spawn used id {entity}, not the next reserved one"
                        )));
                    }
                    next_reserved += 1;
                    spawned.insert(e);
                    Staged::Spawn(e, self.values(components).map_err(at)?)
                }
                Command::Despawn { entity } => {
                    let e = self.entity(entity).map_err(at)?;
                    if !alive(e, &spawned, &despawned) {
                        return Err(at(format!(
                            "despawn of entity {entity}, which does not exist"
                        )));
                    }
                    mine(e, &spawned).map_err(at)?;
                    despawned.insert(e);
                    Staged::Despawn(e)
                }
                Command::Insert { entity, components } => {
                    let e = self.entity(entity).map_err(at)?;
                    if !alive(e, &spawned, &despawned) {
                        return Err(at(format!(
                            "insert on entity {entity}, which does not exist"
                        )));
                    }
                    mine(e, &spawned).map_err(at)?;
                    Staged::Insert(e, self.values(components).map_err(at)?)
                }
                Command::Remove { entity, names } => {
                    let e = self.entity(entity).map_err(at)?;
                    if !alive(e, &spawned, &despawned) {
                        return Err(at(format!(
                            "remove on entity {entity}, which does not exist"
                        )));
                    }
                    mine(e, &spawned).map_err(at)?;
                    let mut removed = Vec::with_capacity(names.len());
                    for name in names {
                        removed.push((self.writable(&name).map_err(at)?, name));
                    }
                    Staged::Remove(e, removed)
                }
                Command::Emit { name, payload } => {
                    if self.exposed.is_message(&name) {
                        return Err(at(format!(
                            "`{name}` is the game's message; mods cannot send it"
                        )));
                    }
                    value::check_msgpack(&payload, self.depth)
                        .map_err(|e| at(format!("event `{name}`: {e}")))?;
                    Staged::Emit(name, payload.into_vec())
                }
                Command::WriteBatch { entities, columns } => {
                    let mut rows_of = Vec::with_capacity(entities.0.len());
                    for bits in &entities.0 {
                        let e = self.entity(*bits).map_err(at)?;
                        // Existence is checked with each column's component.
                        if !despawned.is_empty() && despawned.contains(&e) {
                            return Err(at(format!("batch row entity {bits} was despawned")));
                        }
                        rows_of.push(e);
                    }
                    // The usual batch rewrites a snapshot the mod spawned
                    // all of; anything else is checked row by row.
                    let all_owned = self
                        .query_rows
                        .iter()
                        .any(|(rows, owned)| *owned && *rows == rows_of.as_slice());
                    if !self.modify_any_entity && !all_owned {
                        for e in &rows_of {
                            mine(*e, &spawned).map_err(at)?;
                        }
                    }
                    let mut staged_columns = Vec::with_capacity(columns.len());
                    for column in columns {
                        staged_columns.push(self.batch_column(&rows_of, column).map_err(at)?);
                    }
                    Staged::WriteBatch(rows_of, staged_columns)
                }
                Command::WriteQueryRows { query, columns } => {
                    let Some(&(rows, all_owned)) = self.query_rows.get(query as usize) else {
                        return Err(at(format!(
                            "batch over query {query}; the mod has {}",
                            self.query_rows.len()
                        )));
                    };
                    let gone = (!despawned.is_empty())
                        .then(|| rows.iter().find(|e| despawned.contains(e)))
                        .flatten();
                    if let Some(e) = gone {
                        return Err(at(format!(
                            "batch row entity {} was despawned",
                            e.to_bits()
                        )));
                    }
                    if !self.modify_any_entity && !all_owned {
                        for e in rows {
                            mine(*e, &spawned).map_err(at)?;
                        }
                    }
                    let mut staged_columns = Vec::with_capacity(columns.len());
                    for column in columns {
                        staged_columns.push(self.batch_column(rows, column).map_err(at)?);
                    }
                    Staged::WriteQueryRows(query as usize, staged_columns)
                }
            };
            out.push(staged);
        }
        Ok(StagedTick {
            commands: out,
            spawned: next_reserved,
        })
    }

    /// Whether the mod spawned `e`.
    fn owns(&self, e: Entity) -> bool {
        self.world
            .get::<SpawnedByMod>(e)
            .is_some_and(|s| &*s.0 == self.owner)
    }

    fn not_owner(&self, e: Entity) -> String {
        let by = match self.world.get::<SpawnedByMod>(e) {
            Some(s) => format!("mod `{}`", s.0),
            None => "the game".to_string(),
        };
        format!(
            "entity {} was spawned by {by}, and this mod may change only its own",
            e.to_bits()
        )
    }

    fn entity(&self, bits: u64) -> Result<Entity, String> {
        Entity::try_from_bits(bits).ok_or_else(|| format!("{bits} is not an entity id"))
    }

    /// The exposed index of a writable game type, `None` for a type this mod
    /// defined, or why the mod may not write it.
    fn writable(&self, name: &str) -> Result<Option<usize>, String> {
        match self.exposed.by_name.get(name) {
            Some(&i) if self.exposed.components[i].access == ModAccess::ReadWrite => Ok(Some(i)),
            Some(_) => Err(format!("component `{name}` is read-only")),
            None if self.manifest.defines.iter().any(|d| d == name) => {
                match self.exposed.mod_types.owner(name) {
                    Some(owner) if *owner != *self.owner => Err(format!(
                        "component `{name}` is defined by mod `{owner}`; only it writes it"
                    )),
                    _ => Ok(None),
                }
            }
            None => Err(format!(
                "component `{name}` is neither exposed by the game nor defined by the mod"
            )),
        }
    }

    fn values(&self, components: Vec<WireComponent>) -> Result<Vec<Value>, String> {
        let mut seen = BTreeMap::new();
        let mut values = Vec::with_capacity(components.len());
        for c in components {
            if seen.insert(c.name.clone(), ()).is_some() {
                return Err(format!("component `{}` given twice", c.name));
            }
            values.push(match self.writable(&c.name)? {
                Some(i) => Value::Game(i, self.decode(i, &c.value)?),
                None => {
                    value::check_msgpack(&c.value, self.depth)
                        .map_err(|e| format!("`{}`: {e}", c.name))?;
                    Value::Data(c.name, c.value.into_vec())
                }
            });
        }
        Ok(values)
    }

    /// Decodes MessagePack into exposed type `i`.
    fn decode(&self, i: usize, bytes: &[u8]) -> Result<Box<dyn Reflect>, String> {
        let c = &self.exposed.components[i];
        let registration = self
            .registry
            .get_with_type_path(c.type_path)
            .ok_or_else(|| format!("`{}` is not registered for reflection", c.name))?;
        let dynamic = value::from_msgpack(bytes, registration, self.registry, self.depth)
            .map_err(|e| format!("`{}`: {e}", c.name))?;
        (c.ops.from_reflect)(&*dynamic)
            .ok_or_else(|| format!("`{}`: the value does not fit the type", c.name))
    }

    fn batch_column(&self, rows: &[Entity], column: Column) -> Result<(usize, Rows), String> {
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
                Ok((i, Rows::Packed(column)))
            }
            Encoding::MsgPack => {
                let mut values = Vec::with_capacity(rows.len());
                for row in 0..rows.len() {
                    let bytes = column
                        .row(row)
                        .ok_or_else(|| format!("column `{}` is short", c.name))?;
                    values.push(self.decode(i, bytes)?);
                }
                Ok((i, Rows::Values(values)))
            }
        }
    }
}

impl Staged {
    /// Applies the command, which staging checked against the world as it
    /// is: it cannot fail half way. `owner` is the mod's name; its events
    /// go to `events` for other mods' next ticks.
    pub(crate) fn apply(
        self,
        world: &mut World,
        exposed: &Exposed,
        owner: &Arc<str>,
        events: &mut Vec<WireEvent>,
        queries: &mut [PreparedQuery],
    ) {
        match self {
            Staged::Spawn(entity, values) => {
                if let Err(e) = world.spawn_empty_at(entity) {
                    tracing::error!(mod_id = &**owner, "cannot spawn a reserved entity: {e:?}");
                    return;
                }
                world.entity_mut(entity).insert(SpawnedByMod(owner.clone()));
                insert_values(world, exposed, entity, values);
            }
            Staged::Despawn(entity) => {
                world.despawn(entity);
            }
            Staged::Insert(entity, values) => insert_values(world, exposed, entity, values),
            Staged::Remove(entity, names) => {
                for (i, name) in names {
                    match i {
                        Some(i) => (exposed.components[i].ops.remove)(world, entity),
                        None => {
                            if let Some(mut data) = world.get_mut::<ModData>(entity) {
                                data.values.remove(&name);
                            }
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
                events.push(WireEvent {
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
                write_columns(world, exposed, &entities, columns, queries, query);
            }
            Staged::WriteQueryRows(query, columns) => {
                let entities = std::mem::take(&mut queries[query].last);
                write_columns(world, exposed, &entities, columns, queries, Some(query));
                queries[query].last = entities;
            }
        }
    }
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
        c.write_column(world, entities, rows, states);
    }
}

fn insert_values(world: &mut World, exposed: &Exposed, entity: Entity, values: Vec<Value>) {
    for value in values {
        match value {
            Value::Game(i, v) => {
                (exposed.components[i].ops.insert)(world, entity, v);
            }
            Value::Data(name, bytes) => ModData::put(&mut world.entity_mut(entity), name, bytes),
        }
    }
}
