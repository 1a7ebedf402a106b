//! The main thread's record of each mod and of the plugin.

use std::collections::VecDeque;
use std::sync::Arc;

use bevy::prelude::*;

use super::lifecycle::Lifecycle;
use crate::codec::bulk::ColumnStates;
use crate::fault::Fault;
use crate::grants::ModGrants;
use crate::manifest::ModManifest;
use crate::protocol::WireEvent;
use crate::registry::{ModInfo, ModStatus};
use crate::worker::contract::ModPre;
use crate::worker::instance::ModSpec;
use crate::worker::pool::Worker;
use crossbeam_channel::Receiver;

/// Every mod found in the mods folder, in load order (dependencies first,
/// then by id).
/// Each mod's [`ModInfo`] follows its lifecycle; a game reads them here.
#[derive(Resource, Default)]
pub struct ModRegistry {
    pub(crate) entries: Vec<ModEntry>,
}

impl ModRegistry {
    /// All mods, in load order.
    pub fn mods(&self) -> impl ExactSizeIterator<Item = &ModInfo> {
        self.entries.iter().map(|e| e.life.info())
    }

    /// The mod with this id (its file's stem).
    pub fn get(&self, id: &str) -> Option<&ModInfo> {
        self.mods().find(|m| m.id == id)
    }

    /// The manifest of the mod with this id, as the game took it when the
    /// mod last started or was updated; `None` before it first started.
    pub fn manifest(&self, id: &str) -> Option<&crate::ModManifest> {
        self.entries
            .iter()
            .find(|e| e.life.info().id == id)
            .and_then(|e| e.slot.manifest.as_ref())
    }

    /// The first mod, in load order, with this display name (a label two
    /// mods may share: [`get`](Self::get) takes the id).
    pub fn get_by_name(&self, name: &str) -> Option<&ModInfo> {
        self.mods().find(|m| m.name == name)
    }

    /// Whether any mod is still loading. Mods found at start-up start
    /// ticking together, in the frame in which the last of them is ready;
    /// a mod added later starts as soon as it is.
    pub fn is_loading(&self) -> bool {
        self.mods().any(|m| m.status == ModStatus::Loading)
    }

    /// How many mod files are being loaded, or prepared as a new version
    /// of a running mod: those with a [`ModInfo::phase`].
    pub fn loading_count(&self) -> usize {
        self.mods().filter(|m| m.phase.is_some()).count()
    }

    /// Mods that are running.
    pub fn running(&self) -> impl Iterator<Item = &ModInfo> {
        self.mods().filter(|m| m.status == ModStatus::Running)
    }
}

impl std::fmt::Debug for ModRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.mods()).finish()
    }
}

/// One mod: where it stands, and what the main thread runs it with.
pub(crate) struct ModEntry {
    pub life: Lifecycle,
    pub slot: ModSlot,
}

/// What the main thread needs to run one mod.
pub(crate) struct ModSlot {
    /// Its worker; `None` once it is stopped for good.
    pub worker: Option<Worker>,
    /// The name its entities are marked with (the manifest's, once known).
    pub owner: Arc<str>,
    /// What the mod may do beyond the defaults.
    pub grants: ModGrants,
    pub manifest: Option<ModManifest>,
    /// Entity ids allocated for the mod's spawns, in the order it uses them.
    pub reserved: VecDeque<(Entity, u64)>,
    pub reserve_target: usize,
    /// Events waiting for the mod's next tick.
    pub inbox: Vec<WireEvent>,
    pub queries: Vec<PreparedQuery>,
    /// A new version of the mod's file on its way in.
    pub update: Option<Update>,
    /// The load phase last seen, since when, and how many whole seconds
    /// of it were logged.
    pub progress: Option<(crate::registry::LoadPhase, std::time::Instant, u64)>,
    /// When its file was found (for [`ModInfo::load_time`](crate::ModInfo)).
    pub found: std::time::Instant,
    /// The mod's tick count in the last tick sent (what its entities
    /// spawned then are stamped with, see [`SpawnTick`](crate::ownership::SpawnTick)).
    pub sent_frame: u64,
    /// The host's frame whose world the last tick sent saw (see
    /// [`ModHost::frame`]): a value written in it or later was not seen.
    pub seen_frame: u64,
    /// The tick of the checkpoint the last restart resumed from.
    pub resumed_at: Option<u64>,
    /// Its file changed while a version of it was on its way in: read it
    /// again once that is done.
    pub reread: bool,
}

impl ModSlot {
    /// A slot for a mod not yet started, known by `owner`.
    pub(crate) fn new(owner: Arc<str>, grants: ModGrants, worker: Option<Worker>) -> Self {
        Self {
            worker,
            owner,
            grants,
            manifest: None,
            reserved: VecDeque::new(),
            reserve_target: mod_rules::caps::MIN_RESERVE,
            inbox: Vec::new(),
            queries: Vec::new(),
            update: None,
            progress: None,
            found: std::time::Instant::now(),
            sent_frame: 0,
            seen_frame: 0,
            resumed_at: None,
            reread: false,
        }
    }
}

/// One of a mod's queries, resolved against the exposed types.
pub(crate) struct PreparedQuery {
    pub names: Vec<String>,
    /// The matching entities, with who spawned them and the ids mods know
    /// them by.
    pub state: bevy::ecs::query::QueryState<(
        Entity,
        Option<&'static crate::SpawnedByMod>,
        Option<&'static crate::ModId>,
    )>,
    /// Typed states per column, for types with a bulk codec.
    pub columns: Vec<Option<ColumnStates>>,
    /// The rows the last snapshot sent, to recognise a batch written back.
    pub last: Vec<Entity>,
    /// Whether the mod spawned every one of `last`.
    pub last_owned: bool,
    /// `last` in the order of Bevy's tables, when that differs from the
    /// order of ids mods see (else empty): columns are read and written a
    /// table at a time in this order, and put in id order between.
    pub tables: Vec<Entity>,
    /// `last[k]` is `tables[order[k]]`; empty when they are the same.
    pub order: Vec<usize>,
}

/// A new version of a running mod's file on its way in.
pub(crate) enum Update {
    /// Being compiled on a loader thread.
    Compiling(ModSpec, Receiver<Result<ModPre, Fault>>),
    /// Compiled: swapped in as soon as the mod is between two ticks.
    Ready(ModSpec, ModPre),
}
