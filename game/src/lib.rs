//! Run WebAssembly mods in a Bevy game.
//!
//! Each `.wasm` file in the mods folder is a component built against the WIT
//! package in `wit/`. It is compiled off the main thread and runs on a
//! worker thread of its own, bounded in time and memory. Every frame each mod
//! gets its tick with the components it asked for; the commands it returns
//! are checked and applied to the `World` after the game's `Update` systems,
//! in a fixed order.
//!
//! ```no_run
//! use bevy::prelude::*;
//! use game::prelude::*;
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

#[macro_use]
pub mod timing;
mod bulk;
mod checksum;
mod codec;
pub mod demo;
mod expose;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod grants;
mod host;
mod plugin;
mod registry;
mod runtime;
mod settings;
mod systems;
mod wire;

pub use checksum::moddable_checksum;
pub use expose::{ModAccess, ModData, ModdableComponent, ModdingAppExt};
pub use grants::{GRANTS_FILE, GUEST_DATA_DIR, ModGrants};
pub use plugin::{ModPlugin, ModSystems};
pub use registry::{
    ModEvent, ModFailed, ModInfo, ModLoaded, ModQuarantined, ModRecovered, ModRegistry, ModStatus,
    ReloadMod,
};
pub use runtime::{WIT_PACKAGE, WIT_VERSION};
pub use settings::{FaultPolicy, ModLimits, ModSettings};
pub use systems::SpawnedByMod;
pub use wire::{Fault, FaultKind, Hook, ModManifest};

/// The names a game needs to run mods.
pub mod prelude {
    pub use crate::{
        ModAccess, ModData, ModEvent, ModFailed, ModGrants, ModLoaded, ModPlugin, ModQuarantined,
        ModRecovered, ModRegistry, ModStatus, ModSystems, ModdingAppExt, ReloadMod, SpawnedByMod,
    };
}
