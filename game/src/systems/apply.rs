//! Collecting each mod's reply and applying its commands, in load order and
//! then issue order, so two runs with the same inputs end in the same world.

use std::sync::Arc;
use std::time::Duration;

use bevy::prelude::*;

use super::lifecycle::State;
use super::replies::{on_no_reply, on_reply};
use super::stage::{Staged, Stager, Value};
use super::{MIN_RESERVE, ModHost, ModRegistry, ModSlot, PreparedQuery, with_mods};
use crate::codec::column::Rows;
use crate::expose::{Exposed, ModData};
use crate::fault::{Fault, FaultKind, Hook};
use crate::ownership::SpawnedByMod;
use crate::protocol::{Command, WireEvent};
use crate::registry::ModEvent;
use crate::settings::ModSettings;

/// Time allowed beyond a call's hard limit for the worker to answer: the
/// epoch ticker's granularity, the trap unwinding, and a busy machine.
const REPLY_MARGIN: Duration = Duration::from_millis(50);

pub(crate) fn apply_commands(world: &mut World) {
    with_mods(world, collect_replies);
}

/// Waits for each tick in flight, in load order, and handles its reply.
fn collect_replies(world: &mut World, mods: &mut ModRegistry, host: &mut ModHost) {
    let limits = world.resource::<ModSettings>().limits.clone();
    // One deadline bounds a whole tick (on-event and on-tick), and a worker
    // thread runs its mods, and any restart, one after another.
    let per_tick = limits.hard_call_limit + REPLY_MARGIN;
    let mut queued = vec![0u32; host.pool.as_ref().map_or(0, |p| p.len())];
    for entry in &mods.entries {
        let busy =
            entry.life.in_flight_since().is_some() || entry.life.state() == State::Restarting;
        if let (true, Some(w)) = (busy, &entry.slot.worker) {
            queued[w.thread] += 1;
        }
    }
    for entry in &mut mods.entries {
        let Some(sent) = entry.life.in_flight_since() else {
            continue;
        };
        let reply = entry.slot.worker.as_ref().and_then(|worker| {
            let allowed = per_tick * queued[worker.thread].max(1);
            worker.recv_timeout(allowed.saturating_sub(sent.elapsed()))
        });
        match reply {
            Some(reply) => on_reply(world, host, entry, reply),
            None => on_no_reply(world, host, entry),
        }
    }
}

fn fault(kind: FaultKind, message: String) -> Fault {
    Fault {
        kind,
        hook: Hook::Tick,
        message,
    }
}

/// Stages a mod's commands and, when all pass, applies them; the events
/// it emitted go to `events` for other mods' next ticks.
pub(crate) fn apply_tick(
    world: &mut World,
    slot: &mut ModSlot,
    commands: Vec<Command>,
    limits: &crate::settings::ModLimits,
    events: &mut Vec<WireEvent>,
) -> Result<(), Fault> {
    let registry = world.resource::<AppTypeRegistry>().clone();
    let registry = registry.read();
    let Some(manifest) = slot.manifest.as_ref() else {
        return Err(fault(FaultKind::Unresponsive, "no manifest".into()));
    };
    let query_rows: Vec<(&[Entity], bool)> = slot
        .queries
        .iter()
        .map(|q| (q.last.as_slice(), q.last_owned))
        .collect();
    let staged = timed!(
        "main: stage the commands",
        world.resource_scope(|world, exposed: Mut<Exposed>| {
            Stager {
                world,
                exposed: &exposed,
                registry: &registry,
                manifest,
                reserved: &slot.reserved,
                depth: limits.value_depth,
                owner: &slot.owner,
                modify_any_entity: slot.grants.modify_any_entity,
                query_rows: &query_rows,
            }
            .stage(commands)
        })
    );
    let staged = staged.map_err(|message| fault(FaultKind::InvalidOutput, message))?;
    drop(registry);

    // Reserve as many ids next time as this tick used, twice over.
    slot.reserved.drain(..staged.spawned);
    slot.reserve_target = (staged.spawned * 2).clamp(MIN_RESERVE, limits.spawns_per_tick);
    if slot.reserved.len() > slot.reserve_target * 4 {
        let extra: Vec<Entity> = slot.reserved.drain(slot.reserve_target..).collect();
        world.entity_allocator_mut().free_many(&extra);
    }

    let owner = slot.owner.clone();
    let queries = &mut slot.queries;
    timed!(
        "main: apply the commands",
        world.resource_scope(|world, exposed: Mut<Exposed>| {
            for command in staged.commands {
                apply_one(world, &exposed, &owner, command, events, queries);
            }
        })
    );
    Ok(())
}

fn apply_one(
    world: &mut World,
    exposed: &Exposed,
    owner: &Arc<str>,
    command: Staged,
    events: &mut Vec<WireEvent>,
    queries: &mut [PreparedQuery],
) {
    match command {
        Staged::Spawn(entity, values) => {
            if let Err(e) = world.spawn_empty_at(entity) {
                tracing::error!(mod_name = &**owner, "cannot spawn a reserved entity: {e:?}");
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
            Value::Data(name, bytes) => {
                let mut e = world.entity_mut(entity);
                match e.get_mut::<ModData>() {
                    Some(mut data) => {
                        data.values.insert(name, bytes);
                    }
                    None => {
                        e.insert(ModData {
                            values: [(name, bytes)].into(),
                        });
                    }
                }
            }
        }
    }
}
