//! Finding mod files, starting their workers, and starting the mods that
//! loaded, all together and in file name order.

use std::sync::Arc;
use std::time::Duration;

use bevy::prelude::*;

use super::ModRegistry;
use super::faults::{on_fault, restart_due};
use super::folder::{FolderWatch, find_mods};
use super::lifecycle::{Lifecycle, Started, State};
use super::loader::{GAME, Loader, adopt_manifest, load_fault};
use super::replies::on_reply;
use super::{ModEntry, ModHost, ModSlot, with_mods};
use crate::expose::Exposed;
use crate::grants::{ModGrants, read_grants_file};
use crate::ready::ModsStarted;
use crate::registry::{ModInfo, ModLoaded, ModRecovered, ReloadMod};
use crate::settings::ModSettings;
use crate::worker::engine::{CacheSpot, Runtime};
use crate::worker::pool::WorkerPool;

/// Scans the mods folder and starts one worker per `.wasm` file; each
/// compiles its mod off the main thread. Watches the folder when the
/// settings say so.
pub(crate) fn start_mods(world: &mut World) {
    let settings = world.resource::<ModSettings>().clone();
    // Names the game opens to all are the game's (an id no file has), shared.
    let exposed = world.resource::<Exposed>();
    for name in &settings.shared_names {
        exposed.mod_types.claim(name, &GAME, true);
        exposed.mod_events.claim(name, &GAME, true);
    }
    let catalog = exposed.catalog();
    let files = find_mods(&settings.mods_dir);
    tracing::info!(
        "found {} mod(s) in {}",
        files.len(),
        settings.mods_dir.display()
    );
    let player_grants = read_grants_file(&settings.mods_dir).unwrap_or_else(|e| {
        tracing::error!("grants file refused, so no mod gets more than the defaults: {e}");
        Default::default()
    });
    let threads = match settings.worker_threads {
        0 => files.len(),
        n => n.min(files.len()),
    };
    let cache = settings.compile_cache.as_ref().map(|dir| CacheSpot {
        dir: dir.clone(),
        mods_dir: settings.mods_dir.clone(),
        max_bytes: settings.compile_cache_bytes,
    });
    let fuel = settings.limits.fuel_per_call.is_some();
    let started = Runtime::new(fuel, cache.as_ref()).and_then(|runtime| {
        let nice = (settings.worker_nice > 0).then_some(settings.worker_nice.min(19));
        let pool = WorkerPool::new(threads, nice)
            .map_err(|e| format!("cannot start worker threads: {e}"))?;
        Ok((Arc::new(runtime), pool))
    });
    let mut entries = Vec::with_capacity(files.len());
    let (pool, loader) = match started {
        Ok((runtime, pool)) => {
            let loader = Loader {
                runtime,
                catalog,
                settings: settings.clone(),
                player_grants,
                #[cfg(feature = "test-seam")]
                tap: world
                    .get_resource::<crate::worker::tap::TrafficTap>()
                    .cloned(),
            };
            for (id, paths) in &files {
                let (mut entry, why) = loader.found(&pool, id, paths);
                if let Some(why) = why {
                    on_fault(world, 0, &mut entry, load_fault(why));
                }
                entries.push(entry);
            }
            (Some(pool), Some(loader))
        }
        Err(why) => {
            tracing::error!("mods are disabled: {why}");
            for (id, paths) in &files {
                let mut entry = ModEntry {
                    life: Lifecycle::loading(ModInfo::found(paths[0].clone(), id.clone())),
                    slot: ModSlot::new(id.as_str().into(), ModGrants::default(), None),
                };
                on_fault(world, 0, &mut entry, load_fault(why.clone()));
                entries.push(entry);
            }
            (None, None)
        }
    };
    let watch = (settings.watch && loader.is_some())
        .then(|| FolderWatch::start(&settings.mods_dir))
        .and_then(|started| {
            started
                .map_err(|e| tracing::warn!("the mods folder is not watched: {e}"))
                .ok()
        });
    world.resource_mut::<ModRegistry>().entries = entries;
    let reloads = world.resource::<Messages<ReloadMod>>().get_cursor();
    let enables = world
        .resource::<Messages<crate::registry::SetModEnabled>>()
        .get_cursor();
    let tape = super::tape::open(world, &settings);
    world.insert_resource(ModHost {
        tape,
        pool,
        loader,
        watch,
        started_up: false,
        outbox: Default::default(),
        deps: Default::default(),
        reloads,
        enables,
        frame: 0,
        game_messages: Vec::new(),
        game_time_nanos: 0,
        time_shift: 0,
        frame_shift: 0,
        saves: world
            .resource::<Messages<crate::save::SaveGame>>()
            .get_cursor(),
        loads: world
            .resource::<Messages<crate::save::LoadGame>>()
            .get_cursor(),
        load_at_start: settings.load.clone(),
    });
}

/// Takes in changes of the mods folder and asked-for reloads, collects
/// workers' start-up, swap and restart replies, and starts the mods that
/// are ready: those found at start-up all together once none is still
/// loading, any later one as soon as it is.
pub(crate) fn receive_loaded(world: &mut World) {
    with_mods(world, |world, registry, host| {
        host.frame += 1;
        super::live::replay_folder(world, registry, host);
        super::live::follow_folder(world, registry, host);
        super::live::reloads_asked(world, registry, host);
        super::live::enables_asked(world, registry, host);
        super::live::advance_updates(world, registry, host);
        restart_due(registry, host.frame);
        // In lockstep a restart ends in the frame it was asked for, so when
        // a mod runs again does not depend on how long making its instance
        // took on this machine; the frame waits for it as for a tick, up
        // to a tick's limit (a restart that takes longer, a looping
        // `init`, lands when it is done, and the frames go on meanwhile).
        let settings = world.resource::<ModSettings>();
        let restart_wait =
            (settings.frame_mode == crate::settings::FrameMode::Lockstep).then(|| {
                settings.limits.hard_call_limit * crate::worker::deadline::WALL_CEILING
                    + Duration::from_millis(50)
            });
        // So does a swap to a mod's new version, whatever the machine: the
        // mod misses no tick to it. It runs `save`, `init` and `restore`.
        let swap_wait = (settings.frame_mode == crate::settings::FrameMode::Lockstep).then(|| {
            settings.limits.hook_call_limit * 3 * crate::worker::deadline::WALL_CEILING
                + Duration::from_millis(50)
        });
        // A replay starts a mod that came while the recording ran at the
        // frame the recording did, and no other: one not ready by then is
        // waited for.
        let loads = host.tape.due("loaded");
        for entry in &mut registry.entries {
            let state = entry.life.state();
            let waiting = matches!(state, State::Loading | State::Swapping | State::Restarting);
            let load_due = loads
                .as_ref()
                .filter(|_| state == State::Loading)
                .map(|l| l.iter().any(|id| *id == *entry.slot.owner));
            let reply = waiting
                .then(|| {
                    let worker = entry.slot.worker.as_ref()?;
                    match (restart_wait, load_due) {
                        (_, Some(false)) => None,
                        (_, Some(true)) => worker.recv_timeout(Duration::from_secs(600)),
                        (Some(wait), _) if state == State::Restarting => worker.recv_timeout(wait),
                        _ if state == State::Swapping => match swap_wait {
                            Some(wait) => worker.recv_timeout(wait),
                            None => worker.try_recv(),
                        },
                        _ => worker.try_recv(),
                    }
                })
                .flatten();
            if let Some(reply) = reply {
                on_reply(world, host, entry, reply);
            }
        }
        super::live::reread_changed(world, registry, host);
        for entry in &mut registry.entries {
            track_phase(entry);
        }
        let loading = registry
            .entries
            .iter()
            .any(|e| e.life.state() == State::Loading);
        // Bevy's first frame has no time step: mods never begin on it, so
        // their first tick has the game's step whatever loading took.
        if (!loading && host.frame > 1) || host.started_up {
            let beginning = !host.started_up;
            if beginning {
                host.started_up = true;
                let at = world
                    .get_resource::<Time>()
                    .map_or(Duration::ZERO, Time::elapsed);
                world.insert_resource(ModsStarted {
                    frame: host.frame,
                    at,
                });
            }
            start_ready(world, registry);
            if beginning {
                // The player's grants file counts as the game's grants do.
                let mods_dir = world.resource::<ModSettings>().mods_dir.clone();
                let player_grants = host
                    .loader
                    .as_ref()
                    .map(|l| crate::grants::describe(&l.player_grants, &mods_dir))
                    .unwrap_or_default();
                host.tape.begin(world, registry, &player_grants);
            }
        }
        super::deps::settle(registry, &mut host.deps);
    });
}

/// Copies what a loading mod's file is going through into the registry,
/// and logs a long phase (a big mod compiling) once a second at most.
fn track_phase(entry: &mut ModEntry) {
    let preparing = matches!(entry.life.state(), State::Loading | State::Swapping)
        || entry.slot.update.is_some();
    let phase = preparing
        .then(|| entry.slot.worker.as_ref().and_then(|w| w.gauge().phase()))
        .flatten();
    entry.life.set_phase(phase);
    let Some(phase) = phase else {
        entry.slot.progress = None;
        return;
    };
    let now = std::time::Instant::now();
    let progress = match entry.slot.progress {
        Some(seen) if seen.0 == phase => seen,
        _ => (phase, now, 0),
    };
    let seconds = now.duration_since(progress.1).as_secs();
    entry.slot.progress = Some((phase, progress.1, seconds.max(progress.2)));
    if seconds > progress.2 {
        let info = entry.life.info();
        tracing::info!(
            mod_id = %info.id,
            "{}: {} for {seconds} s",
            crate::text::escape(&info.file.display().to_string()),
            phase.describe()
        );
    }
}

/// Starts every `Ready` mod, in load order. A display name is a label:
/// two mods may show the same one, told apart by their ids, so no mod can
/// keep another from starting by naming itself first.
fn start_ready(world: &mut World, registry: &mut ModRegistry) {
    for entry in &mut registry.entries {
        if !matches!(entry.life.state(), State::Ready { .. }) {
            continue;
        }
        let Some(manifest) = entry.slot.manifest.clone() else {
            continue;
        };
        adopt_manifest(world, entry, &manifest);
        entry.life.adopt_build(&manifest);
        let started = entry.life.start(&manifest.name, &manifest.version);
        let info = entry.life.info();
        match started {
            Ok(Started::Recovered) => {
                let resumed_at = entry.slot.resumed_at;
                tracing::info!(
                    mod_id = %info.id,
                    faults = info.faults,
                    resumed_at,
                    "mod restarted after a fault"
                );
                crate::registry::announce(
                    world,
                    ModRecovered {
                        id: info.id.clone(),
                        name: manifest.name,
                        file: info.file.clone(),
                        faults: info.faults,
                        resumed_at,
                    },
                );
            }
            Ok(Started::Loaded) => {
                tracing::info!(
                    mod_id = %info.id,
                    name = %manifest.name,
                    version = %manifest.version,
                    "mod loaded"
                );
                crate::registry::announce(
                    world,
                    ModLoaded {
                        id: info.id.clone(),
                        name: manifest.name,
                        version: manifest.version,
                        file: info.file.clone(),
                    },
                );
            }
            // Only `Ready` mods get here.
            Err(e) => tracing::error!(mod_id = %info.id, "host error: {e}"),
        }
    }
}
