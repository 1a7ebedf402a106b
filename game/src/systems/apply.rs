//! Collecting each mod's reply and applying its commands, in load order and
//! then issue order, so two runs with the same inputs end in the same world.

use std::time::Duration;

use bevy::prelude::*;

use super::lifecycle::State;
use super::replies::{on_no_reply, on_reply};
use super::stage::Stager;
use super::{MIN_RESERVE, ModHost, ModRegistry, ModSlot, with_mods};
use crate::expose::Exposed;
use crate::fault::{Fault, FaultKind, Hook};
use crate::protocol::{Command, WireEvent};
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
    // Staging's reasons quote what the mod sent.
    let staged = staged.map_err(|message| {
        fault(
            FaultKind::InvalidOutput,
            crate::text::escape(&message).into_owned(),
        )
    })?;
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
                command.apply(world, &exposed, &owner, events, queries);
            }
        })
    );
    Ok(())
}
