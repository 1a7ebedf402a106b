//! Live modding: the mods folder is watched while the game runs. A file
//! or package that appears is loaded and ticks in its place in the load
//! order (dependencies first, then by id); one
//! that changes is compiled off the main thread and swapped in between two
//! ticks with the mod's state kept (the running version goes on if the new
//! one fails); one that goes is unloaded. [`ReloadMod`] re-reads the file
//! the same way.

use std::path::PathBuf;

use bevy::prelude::*;
use crossbeam_channel::TryRecvError;

use super::ModRegistry;
use super::folder::{claimants, conflict, id_of};
use super::loader::load_fault;
use super::slot::Update;
use super::{ModEntry, ModHost};
use crate::fault::Fault;
use crate::ownership::SpawnedByMod;
use crate::registry::{ModUnloaded, ModUpdateRefused, ReloadMod};
use crate::settings::ModSettings;

/// Loads, updates or unloads the mods whose files changed in the folder.
pub(crate) fn follow_folder(world: &mut World, registry: &mut ModRegistry, host: &mut ModHost) {
    let dir = world.resource::<ModSettings>().mods_dir.clone();
    let Some(watch) = host.watch.as_mut() else {
        return;
    };
    let mut ids: Vec<String> = watch
        .changed(&dir)
        .iter()
        .map(|name| id_of(&dir.join(name)))
        .collect();
    ids.sort();
    ids.dedup();
    for id in ids {
        // Whatever the paths are now: a link, a device or a broken
        // package is refused by name when it is read, like at start-up.
        let paths = claimants(&dir, &id);
        host.tape.folder_changed(&id, &paths);
        entries_changed(world, registry, host, &id, &paths);
    }
}

/// In a replay, the recording's changes of the mods folder in this frame,
/// in place of the folder's (which is not watched).
pub(crate) fn replay_folder(world: &mut World, registry: &mut ModRegistry, host: &mut ModHost) {
    for (id, paths) in host.tape.replayed_files() {
        tracing::info!(mod_id = %crate::text::escape(&id), "replay: the mods folder changed here");
        entries_changed(world, registry, host, &id, &paths);
    }
}

/// The entries for mod `id` are now `paths`: it is loaded, updated,
/// unloaded or put in conflict.
fn entries_changed(
    world: &mut World,
    registry: &mut ModRegistry,
    host: &mut ModHost,
    id: &str,
    paths: &[PathBuf],
) {
    let at = registry.entries.iter().position(|e| *e.slot.owner == *id);
    match (at, paths) {
        (Some(at), []) => unload(world, registry, at),
        (Some(at), [one]) => {
            let entry = &mut registry.entries[at];
            if entry.life.info().file != *one {
                entry.life.moved_to(one.clone());
            }
            update_from_file(world, host, entry);
        }
        (Some(at), many) => in_conflict(world, host, &mut registry.entries[at], id, many),
        (None, []) => {}
        (None, paths) => add(world, registry, host, id, paths),
    }
}

/// More than one path claims a mod's id: a running mod goes on as it is
/// (the update is refused, saying why); any other waits, in conflict,
/// until the player leaves one.
fn in_conflict(
    world: &mut World,
    host: &mut ModHost,
    entry: &mut ModEntry,
    id: &str,
    paths: &[PathBuf],
) {
    if entry.life.is_running() {
        refuse_update(world, entry, load_fault(conflict(id, paths)));
        return;
    }
    let Some(loader) = host.loader.as_ref() else {
        return;
    };
    free_reserved(world, entry);
    let (mut fresh, why) = loader.conflicted(id, paths);
    if let Some(why) = why {
        super::faults::on_fault(world, host.frame, &mut fresh, load_fault(why));
    }
    *entry = fresh;
}

/// Re-reads the file of every mod a [`ReloadMod`] names.
pub(crate) fn reloads_asked(world: &mut World, registry: &mut ModRegistry, host: &mut ModHost) {
    let wanted: Vec<String> = host
        .reloads
        .read(world.resource::<Messages<ReloadMod>>())
        .map(|r| r.id.clone())
        .collect();
    for id in wanted {
        match registry.entries.iter_mut().find(|e| *e.slot.owner == *id) {
            Some(entry) => update_from_file(world, host, entry),
            None => {
                tracing::warn!(mod_id = %crate::text::escape(&id), "cannot reload: no mod of that id")
            }
        }
    }
}

/// Turns off or on every mod a [`SetModEnabled`](crate::registry::SetModEnabled) names.
pub(crate) fn enables_asked(world: &mut World, registry: &mut ModRegistry, host: &mut ModHost) {
    let wanted: Vec<(String, bool)> = host
        .enables
        .read(world.resource::<Messages<crate::registry::SetModEnabled>>())
        .map(|r| (r.id.clone(), r.enabled))
        .collect();
    for (id, enabled) in wanted {
        match registry.entries.iter_mut().find(|e| *e.slot.owner == *id) {
            Some(entry) => {
                entry.life.set_enabled(enabled);
                tracing::info!(
                    mod_id = &*entry.slot.owner,
                    "mod turned {}",
                    if enabled { "on" } else { "off" }
                );
            }
            None => tracing::warn!(
                mod_id = %crate::text::escape(&id),
                "cannot turn a mod on or off: no mod of that id"
            ),
        }
    }
}

/// A new version of the mod's file: a running mod compiles it while it
/// goes on ticking, then swaps with its state kept; any other (failed,
/// quarantined, restarting) starts afresh from it, in its place in the
/// load order.
///
/// At most one version of a mod's file is on its way in at a time: a file
/// that changes again while one is compiling, loading, restarting or being
/// swapped in is read again once that is done, and the version on its way
/// is dropped if it is not yet in. However often the file is written, one
/// compile per mod runs at a time and the newest file is in within about
/// two compiles of the last write.
fn update_from_file(world: &mut World, host: &mut ModHost, entry: &mut ModEntry) {
    let (Some(pool), Some(loader)) = (host.pool.as_ref(), host.loader.as_ref()) else {
        return;
    };
    if busy(entry) {
        entry.slot.reread = true;
        return;
    }
    entry.slot.reread = false;
    let file = entry.life.info().file.clone();
    if entry.life.is_running() {
        let spec = loader.spec(&file);
        let gauge = entry
            .slot
            .worker
            .as_ref()
            .map_or_else(Default::default, |w| w.gauge().clone());
        match pool.compile(&spec, &gauge) {
            Ok(compiling) => {
                tracing::info!(
                    mod_id = &*entry.slot.owner,
                    "new version of the file: compiling"
                );
                entry.slot.update = Some(Update::Compiling(spec, compiling));
            }
            Err(e) => refuse_update(world, entry, load_fault(format!("cannot compile: {e}"))),
        }
        return;
    }
    tracing::info!(
        mod_id = &*entry.slot.owner,
        "new version of the file: loading it afresh"
    );
    free_reserved(world, entry);
    let (mut fresh, why) = loader.entry(pool, &file);
    if let Some(why) = why {
        super::faults::on_fault(world, host.frame, &mut fresh, load_fault(why));
    }
    *entry = fresh;
}

/// Whether a version of the mod's file is on its way in: compiling,
/// loading, restarting or being swapped in.
fn busy(entry: &ModEntry) -> bool {
    use super::lifecycle::State;
    matches!(entry.slot.update, Some(Update::Compiling(..)))
        || matches!(
            entry.life.state(),
            State::Loading | State::Swapping | State::Restarting
        )
}

/// Reads again the files that changed while a version of them was on its
/// way in, once it is.
pub(crate) fn reread_changed(world: &mut World, registry: &mut ModRegistry, host: &mut ModHost) {
    for entry in &mut registry.entries {
        if entry.slot.reread && !busy(entry) {
            tracing::info!(
                mod_id = &*entry.slot.owner,
                "its file changed again meanwhile: reading the newest"
            );
            update_from_file(world, host, entry);
        }
    }
}

/// Moves each update along: a compiled one is swapped in when its mod is
/// between ticks; one that did not compile is refused; one whose file has
/// changed since is dropped (the newest is read next). (In lockstep the
/// frame then waits for the swap, see `receive_loaded`.)
pub(crate) fn advance_updates(world: &mut World, registry: &mut ModRegistry, host: &mut ModHost) {
    // A replay swaps each update in at the frame the recording did, and
    // no other: one not compiled yet by then is waited for.
    let due = host.tape.due("updated");
    for entry in &mut registry.entries {
        let Some(update) = entry.slot.update.take() else {
            continue;
        };
        let due_now = due
            .as_ref()
            .map(|d| d.iter().any(|id| *id == *entry.slot.owner));
        if entry.slot.reread && matches!(update, Update::Ready(..)) {
            tracing::debug!(mod_id = &*entry.slot.owner, "superseded version dropped");
            continue;
        }
        let update = match update {
            Update::Compiling(spec, compiling) => match match due_now {
                Some(true) => compiling
                    .recv_timeout(REPLAY_COMPILE_WAIT)
                    .map_err(|_| TryRecvError::Disconnected),
                _ => compiling.try_recv(),
            } {
                Ok(Ok(_)) | Ok(Err(_)) if entry.slot.reread => {
                    tracing::debug!(mod_id = &*entry.slot.owner, "superseded version dropped");
                    continue;
                }
                Ok(Ok(pre)) => Update::Ready(spec, pre),
                Ok(Err(fault)) => {
                    refuse_update(world, entry, fault);
                    continue;
                }
                Err(TryRecvError::Empty) => Update::Compiling(spec, compiling),
                Err(TryRecvError::Disconnected) => {
                    let fault = load_fault("the compiler thread stopped".into());
                    refuse_update(world, entry, fault);
                    continue;
                }
            },
            ready => ready,
        };
        match update {
            Update::Ready(spec, pre) if entry.life.can_tick() && due_now != Some(false) => {
                let sent = entry
                    .slot
                    .worker
                    .as_mut()
                    .is_some_and(|w| w.send_swap(spec, pre));
                if sent {
                    entry.life.swapping();
                }
            }
            // A tick is out, or a swap already: next frame.
            waiting => entry.slot.update = Some(waiting),
        }
    }
}

/// How long a replay waits for a new version to compile at the frame the
/// recording swapped it in (a Python mod on a busy machine: minutes).
const REPLAY_COMPILE_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

/// A new version of a running mod was refused; the running one goes on.
pub(crate) fn refuse_update(world: &mut World, entry: &mut ModEntry, fault: Fault) {
    let file = entry.life.info().file.clone();
    tracing::error!(
        mod_id = &*entry.slot.owner,
        file = %crate::text::escape(&file.display().to_string()),
        kind = ?fault.kind,
        hook = ?fault.hook,
        "new version refused, the running one goes on: {fault}"
    );
    entry.life.update_refused(fault.clone());
    crate::registry::announce(
        world,
        ModUpdateRefused {
            id: entry.slot.owner.to_string(),
            file,
            fault,
        },
    );
}

/// A file that appeared: loaded, it ticks after every mod already there.
fn add(
    world: &mut World,
    registry: &mut ModRegistry,
    host: &mut ModHost,
    id: &str,
    paths: &[PathBuf],
) {
    let (Some(pool), Some(loader)) = (host.pool.as_ref(), host.loader.as_ref()) else {
        return;
    };
    tracing::info!(
        file = %crate::text::escape(&paths[0].display().to_string()),
        "new mod: loading"
    );
    let (mut entry, why) = loader.found(pool, id, paths);
    if let Some(why) = why {
        super::faults::on_fault(world, host.frame, &mut entry, load_fault(why));
    }
    registry.entries.push(entry);
}

/// A file that went: the mod is stopped and leaves the registry, its
/// entities despawned or kept as the settings say, its names free again.
fn unload(world: &mut World, registry: &mut ModRegistry, at: usize) {
    let mut entry = registry.entries.remove(at);
    free_reserved(world, &mut entry);
    // Dropping the worker's end stops the instance.
    entry.slot.worker = None;
    let owner = entry.slot.owner.clone();
    let exposed = world.resource::<crate::expose::Exposed>();
    exposed.mod_types.release(&owner);
    exposed.mod_events.release(&owner);
    world
        .resource_mut::<crate::ModAssets>()
        .forget(&entry.life.info().id);
    let despawned = if world.resource::<ModSettings>().despawn_on_remove {
        let mine: Vec<Entity> = world
            .query::<(Entity, &SpawnedByMod)>()
            .iter(world)
            .filter(|(_, s)| s.0 == owner)
            .map(|(e, _)| e)
            .collect();
        for e in &mine {
            world.despawn(*e);
        }
        mine.len()
    } else {
        0
    };
    let info = entry.life.info();
    tracing::info!(mod_id = %info.id, despawned, "mod file removed: unloaded");
    crate::registry::announce(
        world,
        ModUnloaded {
            id: info.id.clone(),
            name: info.name.clone(),
            file: info.file.clone(),
            despawned,
        },
    );
}

/// Gives the ids reserved for a mod's spawns back.
fn free_reserved(world: &mut World, entry: &mut ModEntry) {
    let reserved: Vec<(Entity, u64)> = entry.slot.reserved.drain(..).collect();
    crate::ids::free_reserved(world, reserved);
}
