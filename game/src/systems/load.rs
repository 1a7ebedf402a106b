//! Finding mod files, starting their workers, and starting the mods that
//! loaded, all together and in file name order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bevy::ecs::query::QueryBuilder;
use bevy::prelude::*;

use super::faults::{on_fault, restart_due};
use super::lifecycle::{Lifecycle, Started, State};
use super::replies::on_reply;
use super::{ModEntry, ModHost, ModSlot, PreparedQuery, with_mods};
use crate::expose::{Exposed, ModData};
use crate::fault::{Fault, FaultKind, Hook};
use crate::grants::{ModGrants, read_grants_file};
use crate::manifest::ModManifest;
use crate::ownership::SpawnedByMod;
use crate::registry::{ModInfo, ModLoaded, ModRecovered, ModRegistry, ReloadMod};
use crate::settings::ModSettings;
use crate::worker::engine::{CacheSpot, Runtime};
use crate::worker::instance::ModSpec;
use crate::worker::pool::{Worker, WorkerPool};

/// The owner of the names the game shares: no mod's id is empty.
pub(crate) static GAME: std::sync::LazyLock<Arc<str>> = std::sync::LazyLock::new(|| Arc::from(""));

/// What it takes to load a mod from its file at any time: the runtime, the
/// workers' view of the exposed types, the settings and the player's
/// grants as read at start-up.
pub(crate) struct Loader {
    runtime: Arc<Runtime>,
    catalog: Arc<crate::expose::Catalog>,
    settings: ModSettings,
    player_grants: BTreeMap<String, ModGrants>,
    #[cfg(feature = "test-seam")]
    tap: Option<crate::worker::tap::TrafficTap>,
}

impl Loader {
    /// What the mod in `file` may do: the game's grants and the player's.
    fn grants(&self, stem: &str) -> ModGrants {
        let game = self.settings.grants.get(stem).cloned().unwrap_or_default();
        match self.player_grants.get(stem) {
            Some(player) => game.and(player),
            None => game,
        }
    }

    /// How to start the mod in `file`.
    pub(crate) fn spec(&self, file: &Path) -> ModSpec {
        let stem = stem_of(file);
        ModSpec {
            file: file.to_path_buf(),
            folder: self.settings.mods_dir.clone(),
            runtime: self.runtime.clone(),
            catalog: self.catalog.clone(),
            limits: self.settings.limits.clone(),
            config: self
                .settings
                .configs
                .get(&stem)
                .cloned()
                .unwrap_or_else(|| vec![0xc0]),
            seed: seed_for(&stem),
            grants: self.grants(&stem),
            #[cfg(feature = "test-seam")]
            tap: self.tap.clone(),
            checkpoint_every: self.settings.faults.checkpoint_every_ticks,
        }
    }

    /// A new registry entry for the mod in `file`, loading on `pool` (or
    /// failed, saying why it could not start).
    pub(crate) fn entry(&self, pool: &WorkerPool, file: &Path) -> (ModEntry, Option<String>) {
        let stem = stem_of(file);
        let (worker, why) = match pool.load(vec![self.spec(file)]) {
            Ok(mut workers) => (workers.pop(), None),
            Err(e) => (None, Some(format!("cannot start a loader thread: {e}"))),
        };
        let entry = ModEntry {
            life: Lifecycle::loading(ModInfo::found(file.to_path_buf(), stem.clone())),
            slot: ModSlot::new(stem.into(), self.grants(&stem_of(file)), worker),
        };
        (entry, why)
    }
}

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
        "found {} mod file(s) in {}",
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
        let pool =
            WorkerPool::new(threads).map_err(|e| format!("cannot start worker threads: {e}"))?;
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
            for file in &files {
                let (mut entry, why) = loader.entry(&pool, file);
                if let Some(why) = why {
                    on_fault(world, 0, &mut entry, load_fault(why));
                }
                entries.push(entry);
            }
            (Some(pool), Some(loader))
        }
        Err(why) => {
            tracing::error!("mods are disabled: {why}");
            for file in &files {
                let stem = stem_of(file);
                let mut entry = ModEntry {
                    life: Lifecycle::loading(ModInfo::found(file.clone(), stem.clone())),
                    slot: ModSlot::new(stem.into(), ModGrants::default(), None),
                };
                on_fault(world, 0, &mut entry, load_fault(why.clone()));
                entries.push(entry);
            }
            (None, None)
        }
    };
    let watch = (settings.watch && loader.is_some())
        .then(|| super::live::FolderWatch::start(&settings.mods_dir))
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
    world.insert_resource(ModHost {
        pool,
        loader,
        watch,
        started_up: false,
        outbox: Default::default(),
        reloads,
        enables,
        frame: 0,
    });
}

pub(crate) fn stem_of(file: &std::path::Path) -> String {
    file.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The `.wasm` files in `dir`, sorted by name: the load order.
pub(crate) fn find_mods(dir: &std::path::Path) -> Vec<PathBuf> {
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

pub(crate) fn load_fault(message: String) -> Fault {
    Fault {
        kind: FaultKind::Invalid,
        hook: Hook::Load,
        message,
    }
}

/// Takes in changes of the mods folder and asked-for reloads, collects
/// workers' start-up, swap and restart replies, and starts the mods that
/// are ready: those found at start-up all together once none is still
/// loading, any later one as soon as it is.
pub(crate) fn receive_loaded(world: &mut World) {
    with_mods(world, |world, registry, host| {
        host.frame += 1;
        super::live::follow_folder(world, registry, host);
        super::live::reloads_asked(world, registry, host);
        super::live::enables_asked(world, registry, host);
        super::live::advance_updates(world, registry, host);
        restart_due(registry, host.frame);
        for entry in &mut registry.entries {
            let waiting = matches!(
                entry.life.state(),
                State::Loading | State::Swapping | State::Restarting
            );
            let reply = waiting
                .then(|| entry.slot.worker.as_ref().and_then(Worker::try_recv))
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
        if !loading || host.started_up {
            host.started_up = true;
            start_ready(world, registry, host.frame);
        }
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
        adopt_manifest(world, entry, &manifest);
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

/// Puts a mod's manifest to work: claims the types and event names it
/// declares (those a mod that started before declared stay that mod's: this
/// one may read them, not write or emit them, unless they are shared) and
/// prepares its queries.
pub(crate) fn adopt_manifest(world: &mut World, entry: &mut ModEntry, manifest: &ModManifest) {
    claim_names(world.resource::<Exposed>(), &entry.slot.owner, manifest);
    entry.slot.queries = manifest
        .queries
        .iter()
        .map(|names| prepare_query(world, names))
        .collect();
    entry.slot.manifest = Some(manifest.clone());
}

/// Claims for mod `id` the types and event names its manifest declares,
/// but those a mod that started before declared.
pub(crate) fn claim_names(exposed: &Exposed, id: &std::sync::Arc<str>, manifest: &ModManifest) {
    for (names, owners, what, may_not) in [
        (&manifest.defines, &exposed.mod_types, "component", "write"),
        (&manifest.emits, &exposed.mod_events, "event", "emit"),
    ] {
        for name in names {
            let shared = manifest.shares.contains(name);
            let owner = owners.claim(name, id, shared);
            if owner != *id && !owner.is_empty() {
                tracing::warn!(
                    mod_id = &**id,
                    "{what} `{}` belongs to mod `{owner}`: this mod may not {may_not} it \
                     unless that mod shares it",
                    crate::text::escape(name)
                );
            }
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
