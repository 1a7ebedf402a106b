//! Write mods in Rust for games built on the `game` plugin.
//!
//! A mod is a struct that implements [`Mod`] (every hook has a default) and
//! is registered with [`register_mod!`]. Components and event payloads are
//! ordinary serde types. Build with `cargo build --target wasm32-wasip2`
//! (the crate must be a `cdylib`); the `.wasm` it makes is the mod.
//!
//! ```no_run
//! use mod_api::prelude::*;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, Clone, Copy)]
//! struct Position { x: f32, y: f32 }
//! #[derive(Serialize, Deserialize, Clone, Copy)]
//! struct Velocity { x: f32, y: f32 }
//! // Plain numbers: list the fields, and batches read them directly.
//! component!(Position { x: f32, y: f32 });
//! component!(Velocity { x: f32, y: f32 });
//!
//! #[derive(Default)]
//! struct Drift;
//!
//! impl Mod for Drift {
//!     fn manifest(&self, manifest: Manifest) -> Manifest {
//!         manifest.query::<(Position, Velocity)>()
//!     }
//!
//!     fn tick(&mut self, tick: &Tick) -> Result<()> {
//!         if tick.frame == 0 {
//!             spawn(&(Position { x: 0.0, y: 0.0 }, Velocity { x: 1.0, y: 0.5 }))?;
//!         }
//!         // Every entity with both that this mod may change (its own), in
//!         // one call each way; `read_batch` and `write_batch` give and take
//!         // the rows as lists instead.
//!         update_batch::<(Position, Velocity), _>(|_, (p, v)| Position {
//!             x: p.x + v.x,
//!             y: p.y + v.y,
//!         })
//!     }
//! }
//!
//! register_mod!(Drift);
//! # fn main() {}
//! ```
//!
//! Names are shared with every other mod in the game: a type the mod
//! [`define`](Manifest::define)s and an event name it claims with
//! [`emits`](Manifest::emits) belong to the first mod (in load order) to
//! list them, and only that mod writes or emits them unless it
//! [`share`](Manifest::share)s them.
//!
//! Input from others can be wrong. A value another mod wrote in a shape
//! that does not decode as the mod's type costs only itself: the batch
//! readers leave its row out and [`get`] reads it as `None`, each reporting
//! it to the host, which blames the mod that wrote it; the tick goes on.
//! [`reject_value`] reports a value that decodes but is of no use. An event
//! that does not fit: [`Event::decode`] returns [`Error::BadInput`], and
//! returned from [`Mod::event`] (with `?`) it is reported as the sender's
//! fault and the next event is delivered.

mod batch;
mod component;
mod error;
mod events;
pub mod log;
mod manifest;
mod sys;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
mod world;

#[doc(hidden)]
pub mod __private;

pub use batch::{read_batch, update_batch};
pub use component::{Bundle, Component, ComponentSet};
pub use error::{BadInput, Error, Result};
pub use events::{Event, emit};
pub use manifest::Manifest;
pub use world::{Entity, despawn, get, insert, query, reject_value, remove, spawn, write_batch};

/// The per-frame call's arguments.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tick {
    /// Ticks this mod has had before this one (0 on the first).
    pub frame: u64,
    /// Seconds of game time since the last frame.
    pub delta_seconds: f32,
}

/// A mod. Every hook has a default, so a new hook never breaks a mod.
pub trait Mod: 'static {
    /// Describes the mod. `manifest` comes with the crate's name and version
    /// from `Cargo.toml`; add queries, subscriptions, defined types and
    /// claimed event names.
    fn manifest(&self, manifest: Manifest) -> Manifest {
        manifest
    }

    /// Called once after the mod starts, with the game's configuration for
    /// it (MessagePack; `nil` when the game gives none).
    fn init(&mut self, config: &[u8]) -> Result<()> {
        let _ = config;
        Ok(())
    }

    /// Called every frame, after [`event`](Self::event) for that frame's
    /// events.
    fn tick(&mut self, tick: &Tick) -> Result<()> {
        let _ = tick;
        Ok(())
    }

    /// Called for each event the mod subscribed to. An
    /// [`Error::BadInput`] from [`Event::decode`] skips the event and blames
    /// its sender; any other error faults the mod.
    fn event(&mut self, event: &Event) -> Result<()> {
        let _ = event;
        Ok(())
    }

    /// Returns the mod's state so a fresh instance can continue from it.
    fn save(&self) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }

    /// Restores what [`save`](Self::save) returned.
    fn restore(&mut self, state: &[u8]) -> Result<()> {
        let _ = state;
        Ok(())
    }

    /// Restores what [`save`](Self::save) returned, knowing which version
    /// of the mod saved it: a newer version updated in while the game
    /// runs, or one loading a game saved long ago, gets the state an
    /// older version saved (`saved_by` is that version, as its manifest
    /// gave it; `None` when a build of the mod older than this library
    /// saved it). Convert it here. By default calls
    /// [`restore`](Self::restore).
    fn restore_from(&mut self, state: &[u8], saved_by: Option<&str>) -> Result<()> {
        let _ = saved_by;
        self.restore(state)
    }
}

/// Makes a type the mod: it must implement [`Mod`] and `Default`.
///
/// ```ignore
/// #[derive(Default)]
/// struct MyMod;
/// impl mod_api::Mod for MyMod {}
/// mod_api::register_mod!(MyMod);
/// ```
#[macro_export]
macro_rules! register_mod {
    ($ty:ty) => {
        /// The mod, for a native build (one that runs its tests): what the
        /// game would start.
        #[doc(hidden)]
        #[cfg(not(target_arch = "wasm32"))]
        pub fn __mod_api_new_mod() -> impl $crate::Mod {
            <$ty as ::core::default::Default>::default()
        }
        const _: () = {
            type __ModApiEntry = $crate::__private::Adapter<$ty>;
            impl $crate::__private::Describe for $ty {
                const NAME: &'static str = env!("CARGO_PKG_NAME");
                const VERSION: &'static str = env!("CARGO_PKG_VERSION");
            }
            // Natively (under `cargo test`) the crate exports nothing: its
            // hooks run in a `mod_api::testing::TestWorld`.
            #[cfg(target_arch = "wasm32")]
            $crate::__private::bindings::__export_game_mod!(
                __ModApiEntry with_types_in $crate::__private::bindings
            );
        };
    };
}

/// Everything a mod usually needs.
pub mod prelude {
    pub use crate::{
        Entity, Error, Event, Manifest, Mod, Result, Tick, component, despawn, emit, get, insert,
        query, read_batch, register_mod, remove, spawn, update_batch, write_batch,
    };
}
