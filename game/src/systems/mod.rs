//! The main thread's systems: find and start mods, send each its tick,
//! and apply what it asked for. Every mod is one [`ModEntry`] in the
//! [`ModRegistry`]: its [`Lifecycle`](lifecycle::Lifecycle) (where it
//! stands) and its [`ModSlot`] (what the main thread runs it with).

mod apply;
pub(crate) mod diagnostics;
mod dispatch;
mod faults;
pub(crate) mod lifecycle;
mod live;
mod load;
mod replies;
mod slot;
pub(crate) mod snapshot;
mod stage;

use crate::registry::ModRegistry;

pub(crate) use apply::apply_commands;
pub(crate) use dispatch::dispatch_ticks;
pub(crate) use load::{receive_loaded, start_mods};
pub(crate) use slot::{ModEntry, ModHost, ModSlot, PreparedQuery, with_mods};
// What the test seam drives directly.
#[cfg(feature = "test-seam")]
pub(crate) use apply::apply_tick;
#[cfg(feature = "test-seam")]
pub(crate) use load::{claim_names, prepare_query};
#[cfg(feature = "test-seam")]
pub(crate) use stage::Outbox;
