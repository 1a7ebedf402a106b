//! Collecting each mod's reply and applying its commands, in load order and
//! then issue order, so two runs with the same inputs end in the same world.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bevy::prelude::*;

use super::faults::on_fault;
use super::stage::{Rows, Staged, Stager, Value};
use super::{MIN_RESERVE, ModHost, Phase, PreparedQuery, SpawnedByMod};
use crate::bulk::{BulkOps, ColumnStates};
use crate::expose::{Exposed, ExposedComponent, ModData};
use crate::registry::{ModEvent, ModRegistry};
use crate::settings::ModSettings;
use crate::wire::{self, Command, Fault, FaultKind, Hook, Reply, WireEvent};

/// Time allowed beyond a call's hard limit for the worker to answer: the
/// epoch ticker's granularity, the trap unwinding, and a busy machine.
const REPLY_MARGIN: Duration = Duration::from_millis(50);

pub(crate) fn apply_commands(world: &mut World) {
    let Some(mut host) = world.remove_resource::<ModHost>() else {
        return;
    };
    let limits = world.resource::<ModSettings>().limits.clone();
    // One deadline bounds a whole tick (on-event and on-tick), and a worker
    // thread runs its mods, and any restart, one after another.
    let per_tick = limits.hard_call_limit + REPLY_MARGIN;
    let mut queued = vec![0u32; host.pool.as_ref().map_or(0, |p| p.len())];
    for slot in &host.slots {
        if let (Phase::InFlight(_) | Phase::Restarting, Some(w)) = (&slot.phase, &slot.worker) {
            queued[w.thread] += 1;
        }
    }
    for index in 0..host.slots.len() {
        let Phase::InFlight(sent) = host.slots[index].phase else {
            continue;
        };
        let reply = match &host.slots[index].worker {
            Some(worker) => {
                let allowed = per_tick * queued[worker.thread].max(1);
                let wait = allowed.saturating_sub(sent.elapsed());
                worker.recv_timeout(wait)
            }
            None => None,
        };
        let decoded = timed!(
            "main: decode the reply",
            reply.as_deref().map(wire::decode::<Reply>)
        );
        let outcome = match decoded {
            Some(Ok(Reply::Ticked(commands))) => {
                apply_tick(world, &mut host, index, commands, &limits)
            }
            Some(Ok(Reply::Failed(fault))) => Err(fault),
            Some(Ok(other)) => Err(fault(
                FaultKind::Unresponsive,
                format!("unexpected reply to a tick: {other:?}"),
            )),
            Some(Err(e)) => Err(fault(
                FaultKind::InvalidOutput,
                format!("unreadable reply: {e}"),
            )),
            None => Err(fault(
                FaultKind::Unresponsive,
                format!("no reply within {:?}", Instant::now() - sent),
            )),
        };
        // A failed tick counts too: tick numbers go on across a restart, so
        // a mod never sees the same number twice.
        let slot = &mut host.slots[index];
        slot.ticks += 1;
        world.resource_mut::<ModRegistry>().mods[index].ticks = slot.ticks;
        match outcome {
            Ok(()) => host.slots[index].phase = Phase::Idle,
            // Nothing of this tick was applied.
            Err(fault) => on_fault(world, &mut host, index, fault),
        }
    }
    world.insert_resource(host);
}

fn fault(kind: FaultKind, message: String) -> Fault {
    Fault {
        kind,
        hook: Hook::Tick,
        message,
    }
}

/// Stages a mod's commands and, when all pass, applies them.
pub(crate) fn apply_tick(
    world: &mut World,
    host: &mut ModHost,
    index: usize,
    commands: Vec<Command>,
    limits: &crate::settings::ModLimits,
) -> Result<(), Fault> {
    let registry = world.resource::<AppTypeRegistry>().clone();
    let registry = registry.read();
    let slot = &mut host.slots[index];
    let Some(manifest) = slot.manifest.clone() else {
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
                manifest: &manifest,
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
    let ModHost {
        slots,
        pending_events,
        ..
    } = host;
    let queries = &mut slots[index].queries;
    timed!(
        "main: apply the commands",
        world.resource_scope(|world, exposed: Mut<Exposed>| {
            for command in staged.commands {
                apply_one(world, &exposed, &owner, command, pending_events, queries);
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
        match rows {
            Rows::Packed(column) => {
                if let Some(ops) = c.bulk_ops(world, entities.first().copied()) {
                    let states = query.and_then(|q| {
                        let q = &mut queries[q];
                        let at = q.names.iter().position(|n| *n == c.name)?;
                        q.columns[at].as_mut()
                    });
                    if write_bulk(world, c, ops, entities, &column.data, states) {
                        continue;
                    }
                }
                let stride = column.data.len() / entities.len().max(1);
                for (e, record) in entities.iter().zip(column.data.chunks_exact(stride.max(1))) {
                    (c.ops.write_packed)(world, *e, &c.kinds, record);
                }
            }
            Rows::Values(values) => {
                for (e, v) in entities.iter().zip(values) {
                    if (c.ops.has)(world, *e) {
                        (c.ops.insert)(world, *e, v);
                    }
                }
            }
        }
    }
}

/// Writes a packed column of a type with a bulk codec: by tables through
/// `states` (the typed states of the query the rows came from) when there
/// are some, else entity by entity. False when neither worked (then
/// reflection tries).
fn write_bulk(
    world: &mut World,
    c: &ExposedComponent,
    ops: BulkOps,
    entities: &[Entity],
    data: &[u8],
    states: Option<&mut ColumnStates>,
) -> bool {
    let paths: Vec<&str> = c.paths.iter().map(String::as_str).collect();
    if let Some(states) = states {
        match (ops.write_column)(states, world, entities, &c.kinds, &paths, data) {
            Ok(true) => return true,
            Ok(false) => {}
            Err(e) => tracing::error!(component = %c.name, "cannot apply a packed column: {e}"),
        }
    }
    match (ops.write_rows)(world, entities, &c.kinds, &paths, data) {
        Ok(()) => true,
        // The worker checked the records; this is a host bug, not the mod's.
        Err(e) => {
            tracing::error!(component = %c.name, "cannot apply a packed column: {e}");
            false
        }
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
