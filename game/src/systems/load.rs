//! Finding mod files, starting their workers, and starting the mods that
//! loaded, all together and in file name order.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use bevy::ecs::query::QueryBuilder;
use bevy::prelude::*;

use super::faults::{on_fault, report_failure, restart_due};
use super::{MIN_RESERVE, ModHost, ModSlot, Phase, PreparedQuery, SpawnedByMod};
use crate::expose::{Exposed, ModData};
use crate::grants::{ModGrants, read_grants_file};
use crate::registry::{ModInfo, ModLoaded, ModRecovered, ModRegistry, ModStatus, ReloadMod};
use crate::runtime::Runtime;
use crate::runtime::instance::ModSpec;
use crate::runtime::worker::{Worker, WorkerPool};
use crate::settings::ModSettings;
use crate::wire::{self, Fault, FaultKind, Hook, Reply, Request};

/// Scans the mods folder and starts one worker per `.wasm` file; each
/// compiles its mod off the main thread.
pub(crate) fn start_mods(world: &mut World) {
    let settings = world.resource::<ModSettings>().clone();
    let catalog = world.resource::<Exposed>().catalog();
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
    let mut infos: Vec<ModInfo> = files
        .iter()
        .map(|file| ModInfo {
            file: file.clone(),
            name: stem_of(file),
            version: String::new(),
            status: ModStatus::Loading,
            ticks: 0,
            faults: 0,
            recoveries: 0,
            last_error: None,
        })
        .collect();
    let (pool, workers) = match started {
        Ok((runtime, pool)) => {
            let specs = files
                .iter()
                .enumerate()
                .map(|(index, file)| {
                    let stem = stem_of(file);
                    ModSpec {
                        file: file.clone(),
                        runtime: runtime.clone(),
                        catalog: catalog.clone(),
                        limits: settings.limits.clone(),
                        config: settings
                            .configs
                            .get(&stem)
                            .cloned()
                            .unwrap_or_else(|| vec![0xc0]),
                        seed: seed_for(&stem, index),
                        grants: grants[index].clone(),
                    }
                })
                .collect();
            match pool.load(specs) {
                Ok(workers) => (Some(pool), workers.into_iter().map(Some).collect()),
                Err(e) => fail_all(&mut infos, format!("cannot start loader threads: {e}")),
            }
        }
        Err(e) => {
            tracing::error!("mods are disabled: {e}");
            fail_all(&mut infos, e)
        }
    };
    let slots: Vec<ModSlot> = workers
        .into_iter()
        .zip(grants)
        .zip(&files)
        .map(
            |((worker, grants), file): ((Option<Worker>, _), _)| ModSlot {
                phase: if worker.is_some() {
                    Phase::Loading
                } else {
                    Phase::Stopped
                },
                worker,
                owner: stem_of(file).into(),
                grants,
                manifest: None,
                reserved: Default::default(),
                reserve_target: MIN_RESERVE,
                inbox: Vec::new(),
                ticks: 0,
                queries: Vec::new(),
                recent_faults: Default::default(),
                recovering: false,
            },
        )
        .collect();
    for info in infos.iter().filter(|i| i.status == ModStatus::Failed) {
        report_failure(world, info);
    }
    world.resource_mut::<ModRegistry>().mods = infos;
    let reloads = world.resource::<Messages<ReloadMod>>().get_cursor();
    world.insert_resource(ModHost {
        pool,
        slots,
        pending_events: Vec::new(),
        reloads,
        frame: 0,
    });
}

fn stem_of(file: &std::path::Path) -> String {
    file.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Marks every mod failed for one reason; there are no workers.
fn fail_all(infos: &mut [ModInfo], why: String) -> (Option<WorkerPool>, Vec<Option<Worker>>) {
    for info in infos.iter_mut() {
        info.status = ModStatus::Failed;
        info.last_error = Some(load_fault(why.clone()));
    }
    (None, infos.iter().map(|_| None).collect())
}

/// The `.wasm` files in `dir`, sorted by name: the load order.
fn find_mods(dir: &std::path::Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        tracing::warn!("no mods folder at {}", dir.display());
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    files.sort();
    files
}

/// A per-mod seed for its random numbers: the same in every run.
fn seed_for(stem: &str, index: usize) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in stem.bytes().chain((index as u64).to_le_bytes()) {
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
    let Some(mut host) = world.remove_resource::<ModHost>() else {
        return;
    };
    host.frame += 1;
    start_reloads(world, &mut host);
    restart_due(&mut host);
    let mut failed = Vec::new();
    for (index, slot) in host.slots.iter_mut().enumerate() {
        if !matches!(
            slot.phase,
            Phase::Loading | Phase::Reloading | Phase::Restarting
        ) {
            continue;
        }
        let Some(worker) = &slot.worker else { continue };
        let Some(bytes) = worker.try_recv() else {
            continue;
        };
        match wire::decode::<Reply>(&bytes) {
            Ok(Reply::Ready(manifest)) => {
                slot.manifest = Some(manifest);
                slot.phase = Phase::Ready;
            }
            Ok(Reply::Reloaded) => {
                slot.phase = Phase::Idle;
                let name = slot
                    .manifest
                    .as_ref()
                    .map(|m| m.name.clone())
                    .unwrap_or_default();
                tracing::info!(mod_name = %name, "mod reloaded with its saved state");
            }
            Ok(Reply::Failed(fault)) => failed.push((index, fault)),
            other => failed.push((index, load_fault(format!("unexpected reply {other:?}")))),
        }
    }
    for (index, fault) in failed {
        on_fault(world, &mut host, index, fault);
    }
    let loading = host.slots.iter().any(|s| matches!(s.phase, Phase::Loading));
    if !loading {
        activate_ready(world, &mut host);
    }
    world.insert_resource(host);
}

/// Sends a reload request to each idle mod a [`ReloadMod`] names.
fn start_reloads(world: &mut World, host: &mut ModHost) {
    let wanted: Vec<String> = host
        .reloads
        .read(world.resource::<Messages<ReloadMod>>())
        .map(|r| r.name.clone())
        .collect();
    for name in wanted {
        let slot = host
            .slots
            .iter_mut()
            .find(|s| s.manifest.as_ref().is_some_and(|m| m.name == name));
        match slot {
            Some(slot) if matches!(slot.phase, Phase::Idle) => {
                let sent = slot
                    .worker
                    .as_mut()
                    .is_some_and(|w| w.send(&Request::Reload));
                if sent {
                    slot.phase = Phase::Reloading;
                }
            }
            _ => tracing::warn!(mod_name = %name, "cannot reload: no running mod of that name"),
        }
    }
}

/// Starts every `Ready` mod, in load order.
fn activate_ready(world: &mut World, host: &mut ModHost) {
    let mut names: BTreeSet<String> = host
        .slots
        .iter()
        .filter(|s| matches!(s.phase, Phase::Idle | Phase::InFlight(_)))
        .filter_map(|s| s.manifest.as_ref().map(|m| m.name.clone()))
        .collect();
    for index in 0..host.slots.len() {
        if !matches!(host.slots[index].phase, Phase::Ready) {
            continue;
        }
        let Some(manifest) = host.slots[index].manifest.clone() else {
            continue;
        };
        if !names.insert(manifest.name.clone()) {
            let fault = Fault {
                kind: FaultKind::Invalid,
                hook: Hook::Init,
                message: format!("another mod is already named `{}`", manifest.name),
            };
            on_fault(world, host, index, fault);
            continue;
        }
        let queries = manifest
            .queries
            .iter()
            .map(|names| prepare_query(world, names))
            .collect();
        let slot = &mut host.slots[index];
        slot.queries = queries;
        slot.phase = Phase::Idle;
        slot.owner = manifest.name.as_str().into();
        let recovered = std::mem::take(&mut slot.recovering);
        let (file, faults) = {
            let mut registry = world.resource_mut::<ModRegistry>();
            let info = &mut registry.mods[index];
            info.name = manifest.name.clone();
            info.version = manifest.version.clone();
            info.status = ModStatus::Running;
            if recovered {
                info.recoveries += 1;
            }
            (info.file.clone(), info.faults)
        };
        if recovered {
            tracing::info!(mod_name = %manifest.name, faults, "mod restarted after a fault");
            world.write_message(ModRecovered {
                name: manifest.name,
                file,
                faults,
            });
        } else {
            tracing::info!(mod_name = %manifest.name, version = %manifest.version, "mod loaded");
            world.write_message(ModLoaded {
                name: manifest.name,
                version: manifest.version,
                file,
            });
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
    let makers: Vec<_> = {
        let exposed = world.resource::<Exposed>();
        names
            .iter()
            .map(|n| {
                exposed
                    .component(n)
                    .and_then(|c| c.bulk)
                    .map(|s| s.column_states)
            })
            .collect()
    };
    let columns = makers
        .into_iter()
        .map(|make| make.map(|make| make(world, &all)))
        .collect();
    PreparedQuery {
        names: names.to_vec(),
        state,
        columns,
        last: Vec::new(),
        last_owned: false,
    }
}
