//! What it takes to load a mod from its file at any time, and to put the
//! manifest it returns to work.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bevy::ecs::query::QueryBuilder;
use bevy::prelude::*;

use super::folder::id_of;
use super::lifecycle::Lifecycle;
use super::{ModEntry, ModSlot, PreparedQuery};
use crate::expose::{Exposed, ModData};
use crate::fault::{Fault, FaultKind, Hook};
use crate::grants::ModGrants;
use crate::manifest::ModManifest;
use crate::ownership::SpawnedByMod;
use crate::registry::ModInfo;
use crate::settings::ModSettings;
use crate::worker::engine::Runtime;
use crate::worker::instance::ModSpec;
use crate::worker::pool::WorkerPool;

/// The owner of the names the game shares: no mod's id is empty.
pub(crate) static GAME: std::sync::LazyLock<Arc<str>> = std::sync::LazyLock::new(|| Arc::from(""));

/// What it takes to load a mod from its file at any time: the runtime, the
/// workers' view of the exposed types, the settings and the player's
/// grants as read at start-up.
pub(crate) struct Loader {
    pub(crate) runtime: Arc<Runtime>,
    pub(crate) catalog: Arc<crate::expose::Catalog>,
    pub(crate) settings: ModSettings,
    pub(crate) player_grants: BTreeMap<String, ModGrants>,
    #[cfg(feature = "test-seam")]
    pub(crate) tap: Option<crate::worker::tap::TrafficTap>,
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
        let stem = id_of(file);
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
        let stem = id_of(file);
        let (worker, why) = match pool.load(vec![self.spec(file)]) {
            Ok(mut workers) => (workers.pop(), None),
            Err(e) => (None, Some(format!("cannot start a loader thread: {e}"))),
        };
        let entry = ModEntry {
            life: Lifecycle::loading(ModInfo::found(file.to_path_buf(), stem.clone())),
            slot: ModSlot::new(stem.clone().into(), self.grants(&stem), worker),
        };
        (entry, why)
    }

    /// The registry entry for an id several paths claim: none of them
    /// loads; it says which, until the player leaves one.
    pub(crate) fn conflicted(&self, id: &str, paths: &[PathBuf]) -> (ModEntry, Option<String>) {
        let entry = ModEntry {
            life: Lifecycle::loading(ModInfo::found(paths[0].clone(), id.to_string())),
            slot: ModSlot::new(id.into(), self.grants(id), None),
        };
        (entry, Some(super::folder::conflict(id, paths)))
    }

    /// The entry for the mod of id `id` found at `paths`: loading, or in
    /// conflict when more than one path claims the id.
    pub(crate) fn found(
        &self,
        pool: &WorkerPool,
        id: &str,
        paths: &[PathBuf],
    ) -> (ModEntry, Option<String>) {
        match paths {
            [one] => self.entry(pool, one),
            _ => self.conflicted(id, paths),
        }
    }
}

/// A mod's seed for its random numbers, from its id alone: the same in
/// every run, whatever other mods are installed.
fn seed_for(stem: &str) -> u64 {
    crate::fnv1a(stem.as_bytes())
}

pub(crate) fn load_fault(message: String) -> Fault {
    Fault {
        kind: FaultKind::Invalid,
        hook: Hook::Load,
        message,
    }
}

/// Puts a mod's manifest to work: records the types and event names it
/// declares as its own and prepares its queries.
pub(crate) fn adopt_manifest(world: &mut World, entry: &mut ModEntry, manifest: &ModManifest) {
    claim_names(world.resource::<Exposed>(), &entry.slot.owner, manifest);
    entry.slot.queries = manifest
        .queries
        .iter()
        .map(|names| prepare_query(world, names))
        .collect();
    entry.slot.manifest = Some(manifest.clone());
}

/// Records for mod `id` the types and event names its manifest declares
/// (full names, in its own namespace, see [`mod_rules::names`]), and
/// forgets those an earlier instance declared and this one does not. The
/// game's shared names a mod lists stay the game's.
pub(crate) fn claim_names(exposed: &Exposed, id: &std::sync::Arc<str>, manifest: &ModManifest) {
    for (names, owners) in [
        (&manifest.defines, &exposed.mod_types),
        (&manifest.emits, &exposed.mod_events),
    ] {
        owners.release(id);
        for name in names {
            if mod_rules::names::namespace(name) == Some(&**id) {
                owners.claim(name, id, manifest.shares.contains(name));
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
    let mut builder =
        QueryBuilder::<(Entity, Option<&SpawnedByMod>, Option<&crate::ModId>)>::new(world);
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
        tables: Vec::new(),
        order: Vec::new(),
    }
}
