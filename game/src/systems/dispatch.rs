//! Sending each running mod its tick: events, query results and the entity
//! ids it may spawn with. Workers then run while the game's systems do.

use std::time::Instant;

use bevy::prelude::*;

use super::{ModHost, ModRegistry, snapshot, with_mods};
use crate::expose::Exposed;
use crate::ownership::ModOwnership;
use crate::protocol::{EntityList, Request, TickRequest};
use crate::settings::ModSettings;

pub(crate) fn dispatch_ticks(world: &mut World) {
    with_mods(world, dispatch);
}

fn dispatch(world: &mut World, mods: &mut ModRegistry, host: &mut ModHost) {
    let registry = world.resource::<AppTypeRegistry>().clone();
    let registry = registry.read();

    // Game messages first, then what mods emitted last frame.
    let collectors: Vec<_> = world
        .resource::<Exposed>()
        .messages
        .iter()
        .map(|m| m.collect)
        .collect();
    let mut events = Vec::new();
    for collect in collectors {
        collect(world, &registry, &mut events);
    }
    events.append(&mut host.pending_events);

    let (delta, elapsed) = world.get_resource::<Time>().map_or((0.0, 0), |t| {
        (t.delta_secs(), t.elapsed().as_nanos() as u64)
    });
    let limits = &world.resource::<ModSettings>().limits;
    let entity_cap = limits.entities_per_mod;
    let max_bytes = limits.bytes_per_tick;
    let max_inbox = limits.events_per_tick * 4;
    let frozen: &World = world;
    let exposed = frozen.resource::<Exposed>();
    let ownership = frozen.resource::<ModOwnership>();
    let mut to_free = Vec::new();
    for entry in &mut mods.entries {
        // A mod being reloaded keeps its events for its next tick.
        if !entry.life.is_running() {
            continue;
        }
        let slot = &mut entry.slot;
        let (Some(manifest), Some(worker)) = (&slot.manifest, &mut slot.worker) else {
            continue;
        };
        slot.inbox.extend(
            events
                .iter()
                .filter(|e| manifest.subscribes.contains(&e.name))
                .filter(|e| e.source.as_deref() != Some(manifest.name.as_str()))
                .cloned(),
        );
        if slot.inbox.len() > max_inbox {
            let dropped = slot.inbox.len() - max_inbox;
            slot.inbox.drain(..dropped);
            tracing::warn!(mod_id = %manifest.name, "{dropped} undelivered events dropped");
        }
        if !entry.life.can_tick() {
            continue;
        }
        let mod_events = std::mem::take(&mut slot.inbox);
        let queries =
            snapshot::take_all(frozen, exposed, &registry, &mut slot.queries, &slot.owner);
        // Never reserve more ids than the mod may still own entities.
        let owned = ownership.0.get(&slot.owner).copied().unwrap_or(0);
        let room = entity_cap.saturating_sub(owned);
        while slot.reserved.len() < slot.reserve_target.min(room) {
            slot.reserved.push_back(frozen.entity_allocator().alloc());
        }
        if slot.reserved.len() > room {
            to_free.extend(slot.reserved.drain(room..));
        }
        let request = TickRequest {
            frame: entry.life.info().ticks,
            delta_seconds: delta,
            events: mod_events,
            queries,
            reserved: EntityList(slot.reserved.iter().map(|e| e.to_bits()).collect()),
            at_entity_cap: slot.reserved.len() >= room,
            game_time_nanos: elapsed,
        };
        let bytes = request.bytes();
        if bytes > max_bytes {
            tracing::warn!(
                mod_id = %manifest.name,
                "tick of {bytes} bytes is over the {max_bytes}-byte message limit; skipped",
            );
            continue;
        }
        if worker.send(Request::Tick(request)) {
            entry.life.send_tick(Instant::now());
        }
    }
    drop(registry);
    world.entity_allocator_mut().free_many(&to_free);
}
