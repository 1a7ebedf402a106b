//! Finding mod files, starting their workers, and starting the mods that
//! loaded, all together and in file name order.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use bevy::ecs::query::QueryBuilder;
use bevy::prelude::*;

use super::faults::{on_fault, restart_due};
use super::lifecycle::{Lifecycle, ReloadAnswer, Started, State};
use super::replies::on_reply;
use super::{ModEntry, ModHost, ModSlot, PreparedQuery, with_mods};
use crate::expose::{Exposed, ModData};
use crate::fault::{Fault, FaultKind, Hook};
use crate::grants::{ModGrants, read_grants_file};
use crate::ownership::SpawnedByMod;
use crate::protocol::Request;
use crate::registry::{ModInfo, ModLoaded, ModRecovered, ModRegistry, ReloadMod};
use crate::settings::ModSettings;
use crate::worker::engine::Runtime;
use crate::worker::instance::ModSpec;
use crate::worker::pool::{Worker, WorkerPool};

/// The owner of the names the game shares: no mod's id is empty.
pub(crate) static GAME: std::sync::LazyLock<Arc<str>> = std::sync::LazyLock::new(|| Arc::from(""));

/// Scans the mods folder and starts one worker per `.wasm` file; each
/// compiles its mod off the main thread.
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
        "found {} mod file(s) in {}",
        files.len(),
        settings.mods_dir.display()
    );
    let player_grants = read_grants_file(&settings.mods_dir).unwrap_or_else(|e| {
        tracing::error!("grants file refused, so no mod gets more than the defaults: {e}");
        Default::default()
    });
    let grants: Vec<ModGrants> = files
        .iter()
        .map(|file| {
            let stem = stem_of(file);
            let game = settings.grants.get(&stem).cloned().unwrap_or_default();
            match player_grants.get(&stem) {
                Some(player) => game.and(player),
                None => game,
            }
        })
        .collect();
    let threads = match settings.worker_threads {
        0 => files.len(),
        n => n.min(files.len()),
    };
    let started = Runtime::new(settings.limits.fuel_per_call.is_some()).and_then(|runtime| {
        let pool =
            WorkerPool::new(threads).map_err(|e| format!("cannot start worker threads: {e}"))?;
        Ok((Arc::new(runtime), pool))
    });
    let (pool, workers, why) = match started {
        Ok((runtime, pool)) => {
            let specs = files
                .iter()
                .enumerate()
                .map(|(index, file)| {
                    let stem = stem_of(file);
                    ModSpec {
                        file: file.clone(),
                        folder: settings.mods_dir.clone(),
                        runtime: runtime.clone(),
                        catalog: catalog.clone(),
                        limits: settings.limits.clone(),
                        config: settings
                            .configs
                            .get(&stem)
                            .cloned()
                            .unwrap_or_else(|| vec![0xc0]),
                        seed: seed_for(&stem),
                        grants: grants[index].clone(),
                        tap: settings.traffic_tap.clone(),
                    }
                })
                .collect();
            match pool.load(specs) {
                Ok(workers) => (Some(pool), workers.into_iter().map(Some).collect(), None),
                Err(e) => (
                    None,
                    Vec::new(),
                    Some(format!("cannot start loader threads: {e}")),
                ),
            }
        }
        Err(e) => {
            tracing::error!("mods are disabled: {e}");
            (None, Vec::new(), Some(e))
        }
    };
    let mut workers: Vec<Option<Worker>> = workers;
    workers.resize_with(files.len(), || None);
    let mut entries: Vec<ModEntry> = files
        .iter()
        .zip(grants)
        .zip(workers)
        .map(|((file, grants), worker)| {
            let stem = stem_of(file);
            let info = ModInfo::found(file.clone(), stem.clone());
            ModEntry {
                life: Lifecycle::loading(info),
                slot: ModSlot::new(stem.into(), grants, worker),
            }
        })
        .collect();
    if let Some(why) = why {
        for entry in &mut entries {
            on_fault(world, 0, entry, load_fault(why.clone()));
        }
    }
    world.resource_mut::<ModRegistry>().entries = entries;
    let reloads = world.resource::<Messages<ReloadMod>>().get_cursor();
    world.insert_resource(ModHost {
        pool,
        outbox: Default::default(),
        reloads,
        frame: 0,
    });
}

fn stem_of(file: &std::path::Path) -> String {
    file.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The `.wasm` files in `dir`, sorted by name: the load order.
fn find_mods(dir: &std::path::Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        tracing::warn!("no mods folder at {}", dir.display());
        return Vec::new();
    };
    // Every `.wasm` entry, whatever it is: reading refuses anything but a
    // regular file in the folder, by name, rather than skipping it unseen.
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    files.sort();
    files
}

/// A mod's seed for its random numbers, from its id alone: the same in
/// every run, whatever other mods are installed.
fn seed_for(stem: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in stem.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn load_fault(message: String) -> Fault {
    Fault {
        kind: FaultKind::Invalid,
        hook: Hook::Load,
        message,
    }
}

/// Collects workers' start-up, reload and restart replies; once no start-up
/// mod is still loading, starts every ready one in the same frame.
pub(crate) fn receive_loaded(world: &mut World) {
    with_mods(world, |world, registry, host| {
        host.frame += 1;
        start_reloads(world, registry, host);
        restart_due(registry, host.frame);
        for entry in &mut registry.entries {
            let waiting = matches!(
                entry.life.state(),
                State::Loading | State::Reloading | State::Restarting
            );
            let reply = waiting
                .then(|| entry.slot.worker.as_ref().and_then(Worker::try_recv))
                .flatten();
            if let Some(reply) = reply {
                on_reply(world, host, entry, reply);
            }
        }
        let loading = registry
            .entries
            .iter()
            .any(|e| e.life.state() == State::Loading);
        if !loading {
            start_ready(world, registry, host.frame);
        }
    });
}

/// Sends a reload to each mod a [`ReloadMod`] names (once its tick in
/// flight is back, if it has one), and to mods whose reload waited.
fn start_reloads(world: &mut World, registry: &mut ModRegistry, host: &mut ModHost) {
    let wanted: Vec<String> = host
        .reloads
        .read(world.resource::<Messages<ReloadMod>>())
        .map(|r| r.id.clone())
        .collect();
    for id in wanted {
        let entry = registry.entries.iter_mut().find(|e| *e.slot.owner == *id);
        let Some(entry) = entry else {
            tracing::warn!(mod_id = %id.escape_debug(), "cannot reload: no mod of that id");
            continue;
        };
        match entry.life.want_reload() {
            ReloadAnswer::Now => send_reload(entry),
            ReloadAnswer::Later => {}
            ReloadAnswer::Refused(why) => {
                tracing::warn!(mod_id = %id, "cannot reload: {why}");
            }
        }
    }
    for entry in &mut registry.entries {
        if entry.life.take_pending_reload() {
            send_reload(entry);
        }
    }
}

fn send_reload(entry: &mut ModEntry) {
    let sent = entry
        .slot
        .worker
        .as_mut()
        .is_some_and(|w| w.send(Request::Reload));
    if sent {
        entry.life.reloading();
    }
}

/// Starts every `Ready` mod, in load order. A display name must differ
/// from every other mod's the registry knows, whatever its state: the mod
/// that had it first keeps it, and the newcomer is refused.
fn start_ready(world: &mut World, registry: &mut ModRegistry, frame: u64) {
    // Names of mods that started before, by the id that holds them.
    let mut names: BTreeMap<String, Arc<str>> = registry
        .entries
        .iter()
        .filter(|e| e.life.has_run())
        .map(|e| (e.life.info().name.clone(), e.slot.owner.clone()))
        .collect();
    for entry in &mut registry.entries {
        if !matches!(entry.life.state(), State::Ready { .. }) {
            continue;
        }
        let Some(manifest) = entry.slot.manifest.clone() else {
            continue;
        };
        let holder = names
            .entry(manifest.name.clone())
            .or_insert_with(|| entry.slot.owner.clone());
        if **holder != *entry.slot.owner {
            let fault = Fault {
                kind: FaultKind::Invalid,
                hook: Hook::Init,
                message: format!(
                    "the mod in {}.wasm is already named {:?}; display names are unique",
                    holder, manifest.name
                ),
            };
            // Nothing changes until one of the two files does: not retried.
            entry.slot.worker = None;
            on_fault(world, frame, entry, fault);
            continue;
        }
        // Types and event names the mod declares are its own, unless a mod
        // that started before declared them: then it may read them, not
        // write or emit them (unless that mod shares them).
        let exposed = world.resource::<Exposed>();
        let (mod_types, mod_events) = (exposed.mod_types.clone(), exposed.mod_events.clone());
        for (names, owners, what, may_not) in [
            (&manifest.defines, &mod_types, "component", "write"),
            (&manifest.emits, &mod_events, "event", "emit"),
        ] {
            for name in names {
                let shared = manifest.shares.contains(name);
                let owner = owners.claim(name, &entry.slot.owner, shared);
                if owner != entry.slot.owner && !owner.is_empty() {
                    tracing::warn!(
                        mod_id = &*entry.slot.owner,
                        "{what} `{}` belongs to mod `{owner}`: this mod may not {may_not} it \
                         unless that mod shares it",
                        crate::text::escape(name)
                    );
                }
            }
        }
        entry.slot.queries = manifest
            .queries
            .iter()
            .map(|names| prepare_query(world, names))
            .collect();
        let started = entry.life.start(&manifest.name, &manifest.version);
        let info = entry.life.info();
        match started {
            Ok(Started::Recovered) => {
                tracing::info!(mod_id = %info.id, faults = info.faults, "mod restarted after a fault");
                world.write_message(ModRecovered {
                    id: info.id.clone(),
                    name: manifest.name,
                    file: info.file.clone(),
                    faults: info.faults,
                });
            }
            Ok(Started::Loaded) => {
                tracing::info!(
                    mod_id = %info.id,
                    name = %manifest.name,
                    version = %manifest.version,
                    "mod loaded"
                );
                world.write_message(ModLoaded {
                    id: info.id.clone(),
                    name: manifest.name,
                    version: manifest.version,
                    file: info.file.clone(),
                });
            }
            // Only `Ready` mods get here.
            Err(e) => tracing::error!(mod_id = %info.id, "host error: {e}"),
        }
    }
}

/// Builds the ECS query for a list of component names: exposed types by
/// their component id, anything else as mod-defined data.
pub(crate) fn prepare_query(world: &mut World, names: &[String]) -> PreparedQuery {
    let ids: Vec<_> = {
        let exposed = world.resource::<Exposed>();
        names
            .iter()
            .map(|n| exposed.component(n).map(|c| c.id))
            .collect()
    };
    let data_id = world.register_component::<ModData>();
    let all: Vec<_> = ids.iter().map(|id| id.unwrap_or(data_id)).collect();
    let mut builder = QueryBuilder::<(Entity, Option<&SpawnedByMod>)>::new(world);
    for id in &all {
        builder.with_id(*id);
    }
    let state = builder.build();
    let columns = world.resource_scope(|world, exposed: Mut<Exposed>| {
        names
            .iter()
            .map(|n| {
                exposed
                    .component(n)
                    .and_then(|c| c.codec.column_states(world, &all))
            })
            .collect()
    });
    PreparedQuery {
        names: names.to_vec(),
        state,
        columns,
        last: Vec::new(),
        last_owned: false,
    }
}
