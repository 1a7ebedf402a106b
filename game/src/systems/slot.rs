//! The main thread's record of each mod and of the plugin.

use std::collections::VecDeque;
use std::sync::Arc;

use bevy::ecs::message::MessageCursor;
use bevy::prelude::*;

use super::lifecycle::Lifecycle;
use crate::codec::bulk::ColumnStates;
use crate::grants::ModGrants;
use crate::manifest::ModManifest;
use crate::protocol::WireEvent;
use crate::registry::{ModRegistry, ReloadMod};
use crate::worker::pool::{Worker, WorkerPool};

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
    pub reserved: VecDeque<Entity>,
    pub reserve_target: usize,
    /// Events waiting for the mod's next tick.
    pub inbox: Vec<WireEvent>,
    pub queries: Vec<PreparedQuery>,
    /// A new version of the mod's file on its way in.
    pub update: Option<super::live::Update>,
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
    /// The matching entities, with who spawned them.
    pub state: bevy::ecs::query::QueryState<(Entity, Option<&'static crate::SpawnedByMod>)>,
    /// Typed states per column, for types with a bulk codec.
    pub columns: Vec<Option<ColumnStates>>,
    /// The rows the last snapshot sent, to recognise a batch written back.
    pub last: Vec<Entity>,
    /// Whether the mod spawned every one of `last`.
    pub last_owned: bool,
}

/// What the plugin keeps on the main thread beside the registry.
#[derive(Resource)]
pub(crate) struct ModHost {
    /// The worker threads; `None` when the runtime could not start.
    pub pool: Option<WorkerPool>,
    /// What loading a mod later takes; `None` when the runtime could not
    /// start.
    pub loader: Option<super::load::Loader>,
    /// The watch on the mods folder, when it is watched.
    pub watch: Option<super::live::FolderWatch>,
    /// Whether the mods found at start-up have started: from then on each
    /// mod starts as soon as it is ready.
    pub started_up: bool,
    /// Events mods emitted last frame, delivered to subscribers this frame,
    /// and reports of input mods could not decode.
    pub outbox: super::stage::Outbox,
    pub reloads: MessageCursor<ReloadMod>,
    pub enables: MessageCursor<crate::registry::SetModEnabled>,
    /// Frames since start-up; back-off and the fault window count these.
    pub frame: u64,
}

/// Runs `f` with the registry and the host taken out of the world (they
/// are put back after); nothing when the mods never started.
pub(crate) fn with_mods(
    world: &mut World,
    f: impl FnOnce(&mut World, &mut ModRegistry, &mut ModHost),
) {
    if !world.contains_resource::<ModHost>() || !world.contains_resource::<ModRegistry>() {
        return;
    }
    world.resource_scope(|world, mut registry: Mut<ModRegistry>| {
        world.resource_scope(|world, mut host: Mut<ModHost>| f(world, &mut registry, &mut host));
    });
}
