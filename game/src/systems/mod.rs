//! The main thread's systems: find and start mods, send each its tick,
//! and apply what it asked for. Every mod is one [`ModEntry`] in the
//! [`ModRegistry`]: its [`Lifecycle`](lifecycle::Lifecycle) (where it
//! stands) and its [`ModSlot`] (what the main thread runs it with).

mod apply;
mod deps;
pub(crate) mod diagnostics;
mod dispatch;
mod faults;
mod folder;
mod host;
pub(crate) mod lifecycle;
mod live;
mod load;
mod loader;
mod replies;
mod saves;
mod slot;
pub(crate) mod snapshot;
mod stage;
mod tape;
mod tick;

pub(crate) use apply::{apply_commands, flush_tape_on_exit};
pub(crate) use dispatch::dispatch_ticks;
pub(crate) use host::{ModHost, with_mods};
pub(crate) use load::{receive_loaded, start_mods};
pub(crate) use saves::saves_and_loads;
pub use slot::ModRegistry;
pub(crate) use slot::{ModEntry, ModSlot, PreparedQuery};
// What the test seam drives directly.
#[cfg(feature = "test-seam")]
pub(crate) use loader::{claim_names, prepare_query};
#[cfg(feature = "test-seam")]
pub(crate) use stage::Outbox;
#[cfg(feature = "test-seam")]
pub(crate) use tick::apply_tick;
