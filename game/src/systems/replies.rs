//! The one place a worker's reply is matched: each kind of reply is a
//! transition of the mod's lifecycle, and a tick's commands are applied.

use std::time::Duration;

use bevy::prelude::*;

use super::lifecycle::Unexpected;
use super::{ModEntry, ModHost, faults};
use crate::fault::{Fault, FaultKind, Hook};
use crate::protocol::{Command, Reply};
use crate::settings::ModSettings;

/// The assets of the code the mod now runs reach the game; what was left
/// of them is said against the mod.
fn take_assets(world: &mut World, entry: &mut ModEntry) {
    let Some(worker) = &entry.slot.worker else {
        return;
    };
    let assets = worker.gauge().assets();
    if assets.problems != entry.life.info().asset_problems {
        for problem in &assets.problems {
            tracing::warn!(mod_id = &*entry.slot.owner, "{problem}");
        }
        entry.life.set_asset_problems(assets.problems.clone());
    }
    world
        .resource_mut::<crate::ModAssets>()
        .set(&entry.life.info().id, assets);
}

/// Handles `reply` from `entry`'s worker.
pub(crate) fn on_reply(world: &mut World, host: &mut ModHost, entry: &mut ModEntry, reply: Reply) {
    let outcome = match reply {
        Reply::Ready {
            manifest,
            resumed_at,
        } => {
            let first = !entry.life.has_run();
            if !first {
                if let Some(tick) = resumed_at {
                    faults::roll_back_spawns(world, entry, tick);
                }
                entry.slot.resumed_at = resumed_at;
            }
            let ready = entry.life.ready();
            if first && let Some(worker) = &entry.slot.worker {
                let from_disk = worker.gauge().cached();
                entry.life.loaded_in(entry.slot.found.elapsed(), from_disk);
            }
            ready
                .map(|()| {
                    entry.slot.manifest = Some(manifest);
                    take_assets(world, entry);
                })
                .map_err(|e| host_error(e, Hook::Init))
        }
        Reply::Swapped(manifest) => match entry.life.swapped(&manifest.version) {
            Ok(()) => {
                super::loader::adopt_manifest(world, entry, &manifest);
                entry.life.adopt_build(&manifest);
                take_assets(world, entry);
                let info = entry.life.info();
                tracing::info!(
                    mod_id = %info.id,
                    version = %crate::text::escape(&manifest.version),
                    "mod updated to the new version of its file, its state kept"
                );
                crate::registry::announce(
                    world,
                    crate::registry::ModUpdated {
                        id: info.id.clone(),
                        name: info.name.clone(),
                        version: info.version.clone(),
                        file: info.file.clone(),
                    },
                );
                Ok(())
            }
            Err(e) => Err(host_error(e, Hook::Restore)),
        },
        Reply::UpdateRefused(fault) => {
            super::live::refuse_update(world, entry, fault);
            Ok(())
        }
        Reply::Ticked(commands) => match entry.life.tick_returned() {
            Ok(()) => {
                if host.tape.active() {
                    let digest = || crate::replay::digest_of(&commands);
                    host.tape.ticked(&entry.slot.owner, digest);
                }
                let limits = world.resource::<ModSettings>().limits.clone();
                let bytes_out = commands.iter().map(Command::bytes).sum::<usize>() as u64;
                let (spent, result) = super::tick::apply_tick(
                    world,
                    &mut entry.slot,
                    commands,
                    &limits,
                    &mut host.outbox,
                    host.frame,
                );
                let ownership = world.resource::<crate::ownership::ModOwnership>();
                let (bytes, entities) = (
                    ownership.bytes_of(&entry.slot.owner),
                    ownership.entities_of(&entry.slot.owner),
                );
                let ticks = entry.life.info().ticks;
                let gauge = entry.slot.worker.as_ref().map(|w| w.gauge().clone());
                let cost = entry.life.cost_mut();
                cost.main_thread += spent;
                cost.main_thread_avg =
                    moving_average(cost.main_thread_avg, cost.main_thread, ticks);
                cost.state_bytes = bytes;
                cost.entities = entities as u64;
                cost.bytes_out = bytes_out;
                if let Some(gauge) = gauge {
                    cost.guest_time = gauge.guest_time();
                    cost.guest_time_avg =
                        moving_average(cost.guest_time_avg, cost.guest_time, ticks);
                    cost.memory_bytes = gauge.memory_bytes();
                    cost.renewals = gauge.renewals();
                }
                result
            }
            Err(e) => Err(host_error(e, Hook::Tick)),
        },
        // A saved or loaded game's replies are waited for where it is
        // saved or loaded; one that comes here came after its time.
        Reply::Saved(_) | Reply::Loaded { .. } => {
            tracing::error!(
                mod_id = &*entry.slot.owner,
                "host error: a late reply to a save or load"
            );
            Ok(())
        }
        Reply::Failed(fault) => {
            if entry.life.in_flight_since().is_some() {
                // A failed tick counts as a tick.
                let _ = entry.life.tick_returned();
                let kind = format!("fault {:?}", fault.kind);
                host.tape
                    .ticked(&entry.slot.owner, || crate::replay::digest_of(&kind));
            }
            Err(fault)
        }
    };
    if let Err(fault) = outcome {
        faults::on_fault(world, host.frame, entry, fault);
    }
}

/// Ticks a moving average spans, about.
const AVERAGE_TICKS: u64 = 60;

/// The average of the last [`AVERAGE_TICKS`] values, about, after tick
/// number `ticks` (counted from 1) brought `value`: a plain mean until
/// there are that many, then exponential.
fn moving_average(average: Duration, value: Duration, ticks: u64) -> Duration {
    let n = ticks.clamp(1, AVERAGE_TICKS) as u32;
    if value >= average {
        average + (value - average) / n
    } else {
        average - (average - value) / n
    }
}

/// The tick in flight got no reply in time.
pub(crate) fn on_no_reply(world: &mut World, host: &mut ModHost, entry: &mut ModEntry) {
    let waited = entry
        .life
        .in_flight_since()
        .map(|sent| sent.elapsed())
        .unwrap_or_default();
    let _ = entry.life.tick_returned();
    host.tape.ticked(&entry.slot.owner, || {
        crate::replay::digest_of(&"unresponsive")
    });
    let fault = Fault {
        kind: FaultKind::Unresponsive,
        hook: Hook::Tick,
        message: format!("no reply within {waited:?}"),
    };
    faults::on_fault(world, host.frame, entry, fault);
}

/// A reply that does not fit the mod's state is the host's error, not the
/// mod's; the mod is restarted to get back to a known state.
fn host_error(e: Unexpected, hook: Hook) -> Fault {
    tracing::error!("host error: {e}");
    Fault {
        kind: FaultKind::Unresponsive,
        hook,
        message: format!("host error: {e}"),
    }
}
