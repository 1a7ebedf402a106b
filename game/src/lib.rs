//! Run WebAssembly mods in a Bevy game.
//!
//! Each `.wasm` file in the mods folder is a component built against the WIT
//! package in `wit/`. It is compiled off the main thread and runs on worker
//! threads, in a sandbox of its own, bounded in time and memory. Every frame each mod
//! gets its tick with the components it asked for; the commands it returns
//! are checked and applied to the `World` after the game's `Update` systems,
//! in a fixed order.
//!
//! ```no_run
//! use bevy::prelude::*;
//! use bevy_wasm_mods::prelude::*;
//!
//! #[derive(Component, Reflect, Default)]
//! #[reflect(Component)]
//! struct Position { x: f32, y: f32 }
//!
//! App::new()
//!     .add_plugins((MinimalPlugins, ModPlugin::new().with_mods_dir("assets/mods")))
//!     .add_moddable_component::<Position>(ModAccess::ReadWrite)
//!     .run();
//! ```

// The public API: the plugin, its settings, what a game exposes, and what
// it learns of its mods.
mod assets;
mod checksum;
mod cpu_clock;
mod expose;
mod fault;
mod grants;
mod ids;
mod manifest;
mod ownership;
pub mod package;
mod plugin;
mod ready;
mod registry;
pub mod replay;
pub mod save;
mod settings;
mod text;
#[macro_use]
pub mod timing;

// Shared by both sides: the messages between the main thread and the
// workers, and the conversions between ECS values and the bytes mods see.
mod codec;
#[cfg(feature = "test-seam")]
pub mod protocol;
#[cfg(not(feature = "test-seam"))]
mod protocol;
#[cfg(feature = "test-seam")]
pub mod testing;

// The main thread's systems, and the workers that face the guests.
mod systems;
mod worker;

pub use assets::ModAssets;
#[cfg(feature = "images")]
pub use assets::ModImages;
pub use checksum::{fnv1a, moddable_checksum};
pub use expose::{
    ExposedNames, ModAccess, ModData, ModdableComponent, ModdingAppExt, exposed_names,
};
pub use fault::{Fault, FaultKind, Hook};
pub use grants::{GRANTS_FILE, GUEST_DATA_DIR, ModGrants};
pub use ids::{ModId, ModIds};
pub use manifest::ModManifest;
/// Whose a name is: every type and event a mod defines is named under its
/// id (`storm:Weather`); the game's names are plain.
pub use mod_rules::names;
pub use ownership::SpawnedByMod;
pub use plugin::{ModPlugin, ModSystems};
pub use ready::{ModsStarted, mods_ready};
pub use registry::{
    LoadPhase, ModCost, ModEvent, ModFailed, ModInfo, ModLifecycle, ModLoaded, ModQuarantined,
    ModRecovered, ModStatus, ModUnloaded, ModUpdateRefused, ModUpdated, ReloadMod, SetModEnabled,
};
pub use settings::{FaultPolicy, FrameMode, ModLimits, ModSettings};
pub use systems::ModRegistry;
pub use systems::diagnostics::{CostFigure, FIGURES as COST_FIGURES, mod_diagnostic};
pub use text::escape;
pub use worker::disk_cache::default_folder as default_compile_cache;
pub use worker::engine::{SERVED_CONTRACTS, WIT_PACKAGE, WIT_VERSION};

/// The names a game needs to run mods.
pub mod prelude {
    pub use crate::{
        ModAccess, ModData, ModEvent, ModFailed, ModGrants, ModId, ModIds, ModLifecycle, ModLoaded,
        ModPlugin, ModQuarantined, ModRecovered, ModRegistry, ModStatus, ModSystems, ModUnloaded,
        ModUpdateRefused, ModUpdated, ModdingAppExt, ModsStarted, ReloadMod, SetModEnabled,
        SpawnedByMod, mods_ready,
    };
}
