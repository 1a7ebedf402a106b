//! What happens after a fault: the lifecycle decides (restart after a
//! back-off that doubles with each fault in the window, quarantine when
//! the mod faults too often, or stop for good when the file never loaded);
//! this module does what it decided.

use std::sync::Arc;

use bevy::prelude::*;

use super::lifecycle::AfterFault;
use super::{ModEntry, ModRegistry};
use crate::fault::Fault;
use crate::ownership::{SpawnTick, SpawnedByMod};
use crate::protocol::Request;
use crate::registry::{ModFailed, ModInfo, ModQuarantined};
use crate::settings::ModSettings;

/// Records a fault of a mod in app frame `frame` (nothing of the failed
/// call was applied) and does what its lifecycle decides.
pub(crate) fn on_fault(world: &mut World, frame: u64, entry: &mut ModEntry, mut fault: Fault) {
    // What a mod returned as its error can be megabytes: kept short.
    crate::text::cut(&mut fault.message, crate::text::MAX_FAULT);
    let policy = world.resource::<ModSettings>().faults.clone();
    let reserved: Vec<(Entity, u64)> = entry.slot.reserved.drain(..).collect();
    crate::ids::free_reserved(world, reserved);
    let can_restart = entry.slot.worker.is_some();
    let after = entry.life.fault(fault.clone(), frame, &policy, can_restart);
    if !matches!(after, AfterFault::Retry { .. }) {
        entry.slot.worker = None;
    }
    let info = entry.life.info().clone();
    report_failure(world, &info);
    if let AfterFault::Quarantined { in_window } = after {
        tracing::error!(
            mod_id = %info.id,
            faults = info.faults,
            "mod quarantined: {in_window} faults within {} frames",
            policy.window_frames
        );
        if policy.despawn_on_quarantine {
            despawn_owned(world, &entry.slot.owner);
        }
        crate::registry::announce(
            world,
            ModQuarantined {
                id: info.id.clone(),
                name: info.name.clone(),
                file: info.file.clone(),
                fault,
                faults: info.faults,
            },
        );
    }
}

/// Logs a mod's last fault and sends [`ModFailed`].
fn report_failure(world: &mut World, info: &ModInfo) {
    let Some(fault) = info.last_error.clone() else {
        return;
    };
    tracing::error!(
        mod_id = %crate::text::escape(&info.id),
        file = %crate::text::escape(&info.file.display().to_string()),
        kind = ?fault.kind,
        hook = ?fault.hook,
        "mod failed: {}",
        crate::text::escape(&fault.message)
    );
    crate::registry::announce(
        world,
        ModFailed {
            id: info.id.clone(),
            name: info.name.clone(),
            file: info.file.clone(),
            fault,
        },
    );
}

/// Asks for a fresh instance of every mod whose back-off is over.
pub(crate) fn restart_due(registry: &mut ModRegistry, frame: u64) {
    for entry in &mut registry.entries {
        if !entry.life.restart_due(frame) {
            continue;
        }
        let sent = entry
            .slot
            .worker
            .as_mut()
            .is_some_and(|w| w.send(Request::Restart));
        if sent {
            entry.life.restarting();
        }
    }
}

/// Despawns every entity marked as spawned by `owner`.
fn despawn_owned(world: &mut World, owner: &Arc<str>) {
    let mut query = world.query::<(Entity, &SpawnedByMod)>();
    let owned: Vec<Entity> = query
        .iter(world)
        .filter(|(_, s)| *s.0 == **owner)
        .map(|(e, _)| e)
        .collect();
    tracing::info!(mod_id = &**owner, "despawning its {} entities", owned.len());
    for e in owned {
        world.despawn(e);
    }
}

/// A restarted mod resumed from its checkpoint of tick `resumed_at`, so
/// the entities it spawned since, which its state does not know, go; those
/// it knew stay as the world has them. A mod restarted afresh (it saves no
/// state, or had no checkpoint) keeps every entity.
pub(crate) fn roll_back_spawns(world: &mut World, entry: &ModEntry, resumed_at: u64) {
    let owner = &entry.slot.owner;
    let mut query = world.query::<(Entity, &SpawnedByMod, Option<&SpawnTick>)>();
    let unknown: Vec<Entity> = query
        .iter(world)
        .filter(|(_, s, tick)| *s.0 == **owner && tick.is_none_or(|t| t.0 >= resumed_at))
        .map(|(e, _, _)| e)
        .collect();
    tracing::info!(
        mod_id = %entry.life.info().id,
        "resumed from its checkpoint of tick {resumed_at}; despawning the {} entities it spawned since",
        unknown.len()
    );
    for e in unknown {
        world.despawn(e);
    }
}
