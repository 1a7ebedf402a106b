//! What happens after a fault: the mod is restarted from its compiled
//! component after a back-off that doubles with each fault in the window,
//! and quarantined when it faults too often. A file that never loaded is
//! not retried: nothing about it will change until the player replaces it.

use std::sync::Arc;

use bevy::prelude::*;

use super::{ModHost, Phase, SpawnedByMod};
use crate::registry::{ModFailed, ModInfo, ModQuarantined, ModRegistry, ModStatus};
use crate::settings::ModSettings;
use crate::wire::{Fault, Hook, Request};

/// Records a fault of mod `index` (nothing of the failed call was applied)
/// and decides what becomes of the mod.
pub(crate) fn on_fault(world: &mut World, host: &mut ModHost, index: usize, fault: Fault) {
    let policy = world.resource::<ModSettings>().faults.clone();
    let frame = host.frame;
    let slot = &mut host.slots[index];
    let reserved: Vec<Entity> = slot.reserved.drain(..).collect();
    world.entity_allocator_mut().free_many(&reserved);
    slot.recent_faults.push_back(frame);
    while slot
        .recent_faults
        .front()
        .is_some_and(|f| frame - f >= policy.window_frames)
    {
        slot.recent_faults.pop_front();
    }
    let in_window = slot.recent_faults.len() as u32;
    let permanent = fault.hook == Hook::Load || slot.worker.is_none();
    let quarantine = !permanent && in_window >= policy.quarantine_after;
    let status = if permanent {
        ModStatus::Failed
    } else if quarantine {
        ModStatus::Quarantined
    } else {
        ModStatus::Recovering
    };
    if permanent || quarantine {
        slot.worker = None;
        slot.phase = Phase::Stopped;
    } else {
        slot.phase = Phase::BackingOff(frame + policy.backoff(in_window));
        slot.recovering = slot.manifest.is_some();
    }
    let owner = slot.owner.clone();
    let info = {
        let mut registry = world.resource_mut::<ModRegistry>();
        let info = &mut registry.mods[index];
        info.status = status;
        info.faults += 1;
        info.last_error = Some(fault.clone());
        info.clone()
    };
    report_failure(world, &info);
    if quarantine {
        tracing::error!(
            mod_name = %info.name,
            faults = info.faults,
            "mod quarantined: {in_window} faults within {} frames",
            policy.window_frames
        );
        if policy.despawn_on_quarantine {
            despawn_owned(world, &owner);
        }
        world.write_message(ModQuarantined {
            name: info.name.clone(),
            file: info.file.clone(),
            fault,
            faults: info.faults,
        });
    }
}

/// Logs a mod's last fault and sends [`ModFailed`].
pub(crate) fn report_failure(world: &mut World, info: &ModInfo) {
    let Some(fault) = info.last_error.clone() else {
        return;
    };
    tracing::error!(
        mod_name = %info.name,
        file = %info.file.display(),
        kind = ?fault.kind,
        hook = ?fault.hook,
        "mod failed: {}",
        fault.message
    );
    world.write_message(ModFailed {
        name: info.name.clone(),
        file: info.file.clone(),
        fault,
    });
}

/// Asks for a fresh instance of every mod whose back-off is over.
pub(crate) fn restart_due(host: &mut ModHost) {
    let frame = host.frame;
    for slot in &mut host.slots {
        let Phase::BackingOff(at) = slot.phase else {
            continue;
        };
        if at > frame {
            continue;
        }
        if let Some(worker) = slot.worker.as_mut() {
            if worker.send(&Request::Restart) {
                slot.phase = Phase::Restarting;
            }
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
    tracing::info!(
        mod_name = &**owner,
        "despawning its {} entities",
        owned.len()
    );
    for e in owned {
        world.despawn(e);
    }
}
