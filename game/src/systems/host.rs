//! What the plugin keeps on the main thread beside the registry, and the
//! way every system takes both out of the world.

use bevy::ecs::message::MessageCursor;
use bevy::prelude::*;

use super::ModRegistry;
use super::folder::FolderWatch;
use super::loader::Loader;
use super::stage::Outbox;
use crate::registry::ReloadMod;
use crate::worker::pool::WorkerPool;

/// What the plugin keeps on the main thread beside the registry.
#[derive(Resource)]
pub(crate) struct ModHost {
    /// The worker threads; `None` when the runtime could not start.
    pub pool: Option<WorkerPool>,
    /// What loading a mod later takes; `None` when the runtime could not
    /// start.
    pub loader: Option<Loader>,
    /// The watch on the mods folder, when it is watched.
    pub watch: Option<FolderWatch>,
    /// Whether the mods found at start-up have started: from then on each
    /// mod starts as soon as it is ready.
    pub started_up: bool,
    /// Events mods emitted last frame, delivered to subscribers this frame,
    /// and reports of input mods could not decode.
    pub outbox: Outbox,
    pub reloads: MessageCursor<ReloadMod>,
    pub enables: MessageCursor<crate::registry::SetModEnabled>,
    /// Frames since start-up; back-off and the fault window count these.
    pub frame: u64,
    /// What the mods' dependencies were last resolved from.
    pub deps: super::deps::DepsSeen,
    /// The recording being made or the replay being run, if any.
    pub tape: super::tape::Tape,
    /// The game's messages for mods taken before their frame: those a
    /// save took, or a loaded game carried.
    pub game_messages: Vec<crate::protocol::WireEvent>,
    /// The mods' game time sent with the last ticks, in nanoseconds.
    pub game_time_nanos: u64,
    /// What the mods' game time is ahead of the game's clock since the
    /// mods began (a loaded game's mods go on from its time).
    pub time_shift: i64,
    pub saves: MessageCursor<crate::save::SaveGame>,
    pub loads: MessageCursor<crate::save::LoadGame>,
    /// What the frames since the mods began are ahead of the host's count
    /// (a loaded game goes on from its save's frame).
    pub frame_shift: i64,
    /// The saved game to load when the mods begin, if any.
    pub load_at_start: Option<std::path::PathBuf>,
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
