//! The values a mod's queries see at the start of its tick.

use std::sync::Arc;

use bevy::prelude::*;
use bevy::reflect::TypeRegistry;

use super::PreparedQuery;
use crate::codec::bulk::ColumnStates;
use crate::expose::{Exposed, ModData};
use crate::ownership::SpawnedByMod;
use crate::protocol::{Column, Encoding, EntityList, QueryResult, pack_bits};

/// Every one of a mod's queries, as its next tick gets them; rows of the
/// mods in `left_out` are left out.
pub(crate) fn take_all(
    world: &World,
    exposed: &Exposed,
    registry: &TypeRegistry,
    queries: &mut [PreparedQuery],
    owner: &Arc<str>,
    left_out: &[Arc<str>],
) -> Vec<QueryResult> {
    queries
        .iter_mut()
        .map(|q| {
            timed!(
                "main: snapshot a query",
                take(world, exposed, registry, q, owner, left_out)
            )
        })
        .collect()
}

/// Runs one query and encodes its columns: packed where the type allows,
/// MessagePack by reflection otherwise, mod-defined data as stored.
/// `owner` is the mod's id: rows it spawned are marked as its own. Rows
/// of entities the mods in `left_out` spawned are left out.
pub(crate) fn take(
    world: &World,
    exposed: &Exposed,
    registry: &TypeRegistry,
    query: &mut PreparedQuery,
    owner: &Arc<str>,
    left_out: &[Arc<str>],
) -> QueryResult {
    let mut entities: Vec<Entity> = Vec::with_capacity(query.last.len());
    let mut owned: Vec<bool> = Vec::with_capacity(query.last.len());
    // The ids mods know the rows by (every moddable entity has one).
    let mut ids: Vec<u64> = Vec::with_capacity(query.last.len());
    let mine = |s: &SpawnedByMod| Arc::ptr_eq(&s.0, owner) || *s.0 == **owner;
    match query.state.contiguous_iter(world) {
        // A table at a time: its entities as a slice, who spawned them and
        // their ids.
        Ok(tables) => {
            for (rows, spawners, given) in tables {
                entities.extend_from_slice(rows);
                match spawners {
                    Some(spawners) => owned.extend(spawners.iter().map(mine)),
                    None => owned.resize(entities.len(), false),
                }
                match given {
                    Some(given) => ids.extend(given.iter().map(|id| id.get())),
                    None => ids.resize(entities.len(), 0),
                }
            }
        }
        Err(_) => {
            for (e, spawner, id) in query.state.iter(world) {
                entities.push(e);
                owned.push(spawner.is_some_and(mine));
                ids.push(id.map_or(0, |id| id.get()));
            }
        }
    }
    let defined: Vec<&str> = query
        .names
        .iter()
        .filter(|n| exposed.component(n).is_none())
        .map(String::as_str)
        .collect();
    if !defined.is_empty() || !left_out.is_empty() {
        let keep: Vec<bool> = entities
            .iter()
            .map(|e| {
                let has_data = defined.is_empty()
                    || world
                        .get::<ModData>(*e)
                        .is_some_and(|d| defined.iter().all(|n| d.values.contains_key(*n)));
                let spawner = || world.get::<SpawnedByMod>(*e);
                has_data
                    && (left_out.is_empty() || !spawner().is_some_and(|s| left_out.contains(&s.0)))
            })
            .collect();
        let mut row = 0;
        owned.retain(|_| {
            row += 1;
            keep[row - 1]
        });
        let mut row = 0;
        ids.retain(|_| {
            row += 1;
            keep[row - 1]
        });
        let mut row = 0;
        entities.retain(|_| {
            row += 1;
            keep[row - 1]
        });
    }
    // Rows in the order of their ids, whatever Bevy's tables hold: a
    // game loaded from a save, or a window that puts components of its
    // own on moddable entities, lays the same entities out otherwise, and
    // mods must see the same rows in the same order. (Usually already so:
    // checked in one pass.) The columns are still read a table at a time,
    // in the tables' order, and then put in the ids' order: a copy of each
    // row, where reading them entity by entity costs a lookup each. The
    // order is sorted out once for a layout of the tables, and kept while
    // they hold the same rows with the same ids.
    let mut order: Vec<usize> = Vec::new();
    let mut tables: Vec<Entity> = Vec::new();
    if !ids.is_sorted() {
        let key = |i: usize| (ids[i], entities[i].to_bits());
        if entities == query.tables {
            order = std::mem::take(&mut query.order);
        }
        if order.len() != ids.len() || !order.is_sorted_by_key(|&i| key(i)) {
            order = (0..ids.len()).collect();
            order.sort_unstable_by_key(|&i| key(i));
        }
        let sorted = order.iter().map(|&i| entities[i]).collect();
        tables = std::mem::replace(&mut entities, sorted);
        owned = order.iter().map(|&i| owned[i]).collect();
        ids = order.iter().map(|&i| ids[i]).collect();
    }
    let read = if order.is_empty() { &entities } else { &tables };
    let columns = query
        .names
        .iter()
        .zip(query.columns.iter_mut())
        .map(|(name, states)| {
            let column = column(world, exposed, registry, name, read, states.as_mut());
            if order.is_empty() {
                column
            } else {
                column.only_rows(&order)
            }
        })
        .collect();
    query.last.clone_from(&entities);
    query.tables = tables;
    query.order = order;
    query.last_owned = owned.iter().all(|o| *o);
    QueryResult {
        components: query.names.clone(),
        entities: EntityList(ids),
        columns,
        owned: pack_bits(&owned).into(),
    }
}

fn column(
    world: &World,
    exposed: &Exposed,
    registry: &TypeRegistry,
    name: &str,
    entities: &[Entity],
    states: Option<&mut ColumnStates>,
) -> Column {
    match exposed.component(name) {
        Some(c) => c.column().read_column(world, registry, entities, states),
        None => read_mod_data(world, name, entities),
    }
}

/// The column of a mod-defined type for `entities`: each value as stored,
/// `nil` where an entity lacks it.
pub(crate) fn read_mod_data(world: &World, name: &str, entities: &[Entity]) -> Column {
    let mut data = Vec::new();
    let mut offsets = Vec::with_capacity(entities.len());
    for e in entities {
        offsets.push(data.len() as u32);
        match world.get::<ModData>(*e).and_then(|d| d.values.get(name)) {
            Some(bytes) => data.extend_from_slice(bytes),
            None => data.push(0xc0),
        }
    }
    Column {
        name: name.to_string(),
        encoding: Encoding::MsgPack,
        data: data.into(),
        offsets,
    }
}
