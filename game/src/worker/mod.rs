//! Everything that runs on worker threads, facing the guests: the engine
//! and its checks of a mod file, the worker pool, live instances, and the
//! imports a mod calls (the WIT interfaces and the deny-all WASI).
//!
//! Nothing here touches the `World`: a tick's reads come from the snapshot
//! sent with it, and its writes become commands the main thread checks
//! and applies.

pub(crate) mod bindings;
pub(crate) mod clock;
pub(crate) mod contract;
pub(crate) mod deadline;
pub(crate) mod disk_cache;
pub(crate) mod engine;
pub(crate) mod entities;
mod events;
pub(crate) mod gauge;
pub(crate) mod instance;
mod log;
pub(crate) mod pool;
pub(crate) mod state;
pub(crate) mod stdio;
#[cfg(feature = "test-seam")]
pub(crate) mod tap;
pub(crate) mod v0_1;
pub(crate) mod wasi;
