//! The plugin a game adds to run mods.

use std::path::PathBuf;

use bevy::prelude::*;

use crate::grants::ModGrants;
use crate::registry::{
    ModEvent, ModFailed, ModLoaded, ModQuarantined, ModRecovered, ModUnloaded, ModUpdateRefused,
    ModUpdated, ReloadMod,
};
use crate::settings::{FaultPolicy, ModLimits, ModSettings};
use crate::systems::{self, ModRegistry};

/// The stages of running mods each frame.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum ModSystems {
    /// `PreUpdate`: pick up mods that finished loading.
    Load,
    /// `PreUpdate`: send each mod its tick; workers then run in parallel with
    /// the game's `Update` systems.
    Dispatch,
    /// `PostUpdate`: collect each mod's commands and apply them.
    Apply,
}

/// Runs WebAssembly mods from a folder. Add it once; then mark what mods may
/// see with [`ModdingAppExt`](crate::ModdingAppExt).
#[derive(Default, Clone, Debug)]
pub struct ModPlugin {
    /// The settings, copied into the [`ModSettings`] resource.
    pub settings: ModSettings,
    /// Sees every tick (the test seam's; none in a game).
    #[cfg(feature = "test-seam")]
    tap: Option<crate::worker::tap::TrafficTap>,
}

impl ModPlugin {
    /// A plugin with the default settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads mods from `dir` instead of `assets/mods`.
    pub fn with_mods_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.settings.mods_dir = dir.into();
        self
    }

    /// Uses these limits for every mod.
    pub fn with_limits(mut self, limits: ModLimits) -> Self {
        self.settings.limits = limits;
        self
    }

    /// Uses this policy for mods that fault.
    pub fn with_fault_policy(mut self, policy: FaultPolicy) -> Self {
        self.settings.faults = policy;
        self
    }

    /// Grants the mod in `<stem>.wasm` more than the defaults. The player's
    /// grants file adds to these.
    pub fn with_grants(mut self, stem: impl Into<String>, grants: ModGrants) -> Self {
        self.settings.grants.insert(stem.into(), grants);
        self
    }

    /// Runs mods on `n` worker threads; 0 gives each mod its own.
    pub fn with_worker_threads(mut self, n: usize) -> Self {
        self.settings.worker_threads = n;
        self
    }

    /// Runs the worker threads at nice value `nice` (0 to 19), below the
    /// game's own threads (see [`ModSettings::worker_nice`]).
    pub fn with_worker_nice(mut self, nice: i32) -> Self {
        self.settings.worker_nice = nice.clamp(0, 19);
        self
    }

    /// Passes `config` (MessagePack) to the `init` of the mod in
    /// `<stem>.wasm`.
    pub fn with_config(mut self, stem: impl Into<String>, config: Vec<u8>) -> Self {
        self.settings.configs.insert(stem.into(), config);
        self
    }

    /// Waits for mods as `mode` says: real time (the default) or lockstep.
    pub fn with_frame_mode(mut self, mode: crate::settings::FrameMode) -> Self {
        self.settings.frame_mode = mode;
        self
    }

    /// Watches the mods folder while the game runs (the default), or not.
    pub fn with_watching(mut self, watch: bool) -> Self {
        self.settings.watch = watch;
        self
    }

    /// Despawns a removed mod's entities with it (the default), or keeps
    /// them.
    pub fn with_despawn_on_remove(mut self, despawn: bool) -> Self {
        self.settings.despawn_on_remove = despawn;
        self
    }

    /// Opens the mod-defined component type or event name `name` to every
    /// mod: any mod may write it (listing it in its `defines`) or emit it,
    /// and no mod can claim it for itself.
    pub fn with_shared_name(mut self, name: impl Into<String>) -> Self {
        self.settings.shared_names.insert(name.into());
        self
    }

    /// Keeps compiled mods in `folder` between runs (`None`: compiles
    /// every mod at every start); see [`ModSettings::compile_cache`].
    pub fn with_compile_cache(mut self, folder: Option<PathBuf>) -> Self {
        self.settings.compile_cache = folder;
        self
    }

    /// Records what enters the mods, frame by frame, into `path` (see
    /// [`crate::replay`]). Turns on [`FrameMode::Lockstep`](crate::FrameMode::Lockstep):
    /// a recording is of a run that waits for every mod.
    pub fn with_recording(mut self, path: impl Into<PathBuf>) -> Self {
        self.settings.record = Some(path.into());
        self.settings.frame_mode = crate::settings::FrameMode::Lockstep;
        self
    }

    /// Replays the recording at `path` (see [`crate::replay`]): the mods
    /// are given its game messages, each frame is compared with it, and
    /// [`ReplayStatus`](crate::replay::ReplayStatus) says where the run
    /// stands. Turns on [`FrameMode::Lockstep`](crate::FrameMode::Lockstep)
    /// and turns off watching the mods folder.
    pub fn with_replay(mut self, path: impl Into<PathBuf>) -> Self {
        self.settings.replay = Some(path.into());
        self.settings.frame_mode = crate::settings::FrameMode::Lockstep;
        self.settings.watch = false;
        self
    }

    /// Loads the saved game at `path` (see [`crate::save`]) on the frame
    /// the mods found at start-up begin: the game goes on from it.
    /// [`GameLoaded`](crate::save::GameLoaded) says how it went.
    pub fn with_load(mut self, path: impl Into<PathBuf>) -> Self {
        self.settings.load = Some(path.into());
        self
    }

    /// Shows `tap` every tick the workers run, to record real traffic for
    /// tests and fuzzing (see [`crate::testing`]; feature `test-seam`).
    #[cfg(feature = "test-seam")]
    pub fn with_traffic_tap(mut self, tap: crate::worker::tap::TrafficTap) -> Self {
        self.tap = Some(tap);
        self
    }
}

impl Plugin for ModPlugin {
    fn build(&self, app: &mut App) {
        #[cfg(feature = "test-seam")]
        if let Some(tap) = &self.tap {
            app.insert_resource(tap.clone());
        }
        app.insert_resource(self.settings.clone())
            .init_resource::<ModRegistry>()
            .init_resource::<crate::ModAssets>()
            .init_resource::<crate::expose::Exposed>()
            .init_resource::<crate::ownership::ModOwnership>()
            .init_resource::<crate::ModIds>()
            .init_resource::<AppTypeRegistry>()
            .init_resource::<bevy::diagnostic::DiagnosticsStore>()
            .add_message::<crate::registry::ModLifecycle>()
            .add_message::<ModLoaded>()
            .add_message::<ModFailed>()
            .add_message::<ModRecovered>()
            .add_message::<ModQuarantined>()
            .add_message::<ModUpdated>()
            .add_message::<ModUpdateRefused>()
            .add_message::<ModUnloaded>()
            .add_message::<ModEvent>()
            .add_message::<ReloadMod>()
            .add_message::<crate::registry::SetModEnabled>()
            .add_message::<crate::replay::ReplayDiverged>()
            .add_message::<crate::save::SaveGame>()
            .add_message::<crate::save::LoadGame>()
            .add_message::<crate::save::GameSaved>()
            .add_message::<crate::save::GameLoaded>()
            .init_resource::<crate::save::SavedTypes>()
            .init_resource::<crate::replay::ReplayStatus>()
            .init_resource::<crate::replay::GameInput>()
            .configure_sets(PreUpdate, (ModSystems::Load, ModSystems::Dispatch).chain())
            .configure_sets(PostUpdate, ModSystems::Apply)
            .add_systems(Startup, systems::start_mods)
            .add_systems(PreUpdate, systems::receive_loaded.in_set(ModSystems::Load))
            .add_systems(
                PreUpdate,
                systems::dispatch_ticks.in_set(ModSystems::Dispatch),
            )
            .add_systems(
                PostUpdate,
                (
                    systems::apply_commands,
                    systems::saves_and_loads,
                    systems::diagnostics::publish_costs,
                )
                    .chain()
                    .in_set(ModSystems::Apply),
            )
            .add_systems(Last, systems::flush_tape_on_exit);
        // Mods' images as Bevy images, made after the replies that bring
        // them, before the next frame draws.
        #[cfg(feature = "images")]
        app.init_resource::<crate::ModImages>().add_systems(
            PostUpdate,
            crate::assets::sync_images.after(ModSystems::Apply),
        );
    }
}
