//! The host's functions as the rest of the crate calls them: the game's
//! imports in a WebAssembly build, the running [`TestWorld`]'s natively
//! (under `cargo test`).
//!
//! [`TestWorld`]: crate::testing::TestWorld

#[cfg(target_arch = "wasm32")]
pub(crate) use crate::__private::bindings::bevy_wasm::mods::{entities, events, log};
#[cfg(not(target_arch = "wasm32"))]
pub(crate) use crate::testing::host::{entities, events, log};
