//! The values a mod's queries see at the start of its tick.

use std::sync::Arc;

use bevy::prelude::*;
use bevy::reflect::TypeRegistry;

use super::{PreparedQuery, SpawnedByMod};
use crate::bulk::ColumnStates;
use crate::codec::{packed, value};
use crate::expose::{Exposed, ModData};
use crate::wire::{Column, Encoding, EntityList, QueryResult, pack_bits};

/// Runs one query and encodes its columns: packed where the type allows,
/// MessagePack by reflection otherwise, mod-defined data as stored.
/// `owner` is the mod's name: rows it spawned are marked as its own.
pub(crate) fn take(
    world: &World,
    exposed: &Exposed,
    registry: &TypeRegistry,
    query: &mut PreparedQuery,
    owner: &Arc<str>,
) -> QueryResult {
    let mut entities: Vec<Entity> = Vec::with_capacity(query.last.len());
    let mut owned: Vec<bool> = Vec::with_capacity(query.last.len());
    let mine = |s: &SpawnedByMod| Arc::ptr_eq(&s.0, owner) || *s.0 == **owner;
    match query.state.contiguous_iter(world) {
        // A table at a time: its entities as a slice, and who spawned them.
        Ok(tables) => {
            for (rows, spawners) in tables {
                entities.extend_from_slice(rows);
                match spawners {
                    Some(spawners) => owned.extend(spawners.iter().map(mine)),
                    None => owned.resize(entities.len(), false),
                }
            }
        }
        Err(_) => {
            for (e, spawner) in query.state.iter(world) {
                entities.push(e);
                owned.push(spawner.is_some_and(mine));
            }
        }
    }
    let defined: Vec<&str> = query
        .names
        .iter()
        .filter(|n| exposed.component(n).is_none())
        .map(String::as_str)
        .collect();
    if !defined.is_empty() {
        let keep: Vec<bool> = entities
            .iter()
            .map(|e| {
                world
                    .get::<ModData>(*e)
                    .is_some_and(|d| defined.iter().all(|n| d.values.contains_key(*n)))
            })
            .collect();
        let mut row = 0;
        owned.retain(|_| {
            row += 1;
            keep[row - 1]
        });
        let mut row = 0;
        entities.retain(|_| {
            row += 1;
            keep[row - 1]
        });
    }
    let columns = query
        .names
        .iter()
        .zip(query.columns.iter_mut())
        .map(|(name, states)| column(world, exposed, registry, name, &entities, states.as_mut()))
        .collect();
    query.last.clone_from(&entities);
    query.last_owned = owned.iter().all(|o| *o);
    QueryResult {
        components: query.names.clone(),
        entities: EntityList(entities.iter().map(|e| e.to_bits()).collect()),
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
    let mut data = Vec::new();
    let mut offsets = Vec::new();
    let encoding = match exposed.component(name) {
        Some(c) => match &c.layout {
            Some(layout) => {
                data.reserve(entities.len() * crate::wire::stride(layout));
                let fast = c.bulk_ops(world, entities.first().copied()).map(|ops| {
                    let by_tables = states.is_some_and(|states| {
                        (ops.encode_column)(states, world, entities, &c.kinds, &mut data)
                    });
                    if by_tables {
                        Ok(())
                    } else {
                        (ops.encode_rows)(world, entities, &c.kinds, &mut data)
                    }
                });
                if let Some(Err(e)) = &fast {
                    tracing::error!(component = name, "cannot pack a column for mods: {e}");
                }
                for e in entities.iter().filter(|_| !matches!(fast, Some(Ok(())))) {
                    let ok = (c.ops.get)(world, *e)
                        .is_some_and(|v| packed::encode(v, &c.kinds, &mut data));
                    if !ok {
                        tracing::error!(component = name, "cannot pack a component for mods");
                    }
                }
                Encoding::Packed(layout.clone())
            }
            None => {
                for e in entities {
                    offsets.push(data.len() as u32);
                    let encoded = (c.ops.get)(world, *e)
                        .ok_or_else(|| "missing".to_string())
                        .and_then(|v| value::to_msgpack(v, registry, &mut data));
                    if let Err(err) = encoded {
                        tracing::error!(
                            component = name,
                            "cannot encode a component for mods: {err}"
                        );
                        data.push(0xc0);
                    }
                }
                Encoding::MsgPack
            }
        },
        None => {
            for e in entities {
                offsets.push(data.len() as u32);
                match world.get::<ModData>(*e).and_then(|d| d.values.get(name)) {
                    Some(bytes) => data.extend_from_slice(bytes),
                    None => data.push(0xc0),
                }
            }
            Encoding::MsgPack
        }
    };
    Column {
        name: name.to_string(),
        encoding,
        data: data.into(),
        offsets,
    }
}
