//! The systems that run mods: load, dispatch a tick, apply its commands.

mod apply;
mod dispatch;
mod load;
mod snapshot;
mod stage;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use bevy::prelude::*;

use crate::runtime::worker::{Worker, WorkerPool};
use crate::wire::{ModManifest, WireEvent};

pub(crate) use apply::apply_commands;
pub(crate) use dispatch::dispatch_ticks;
pub(crate) use load::{receive_loaded, start_mods};

/// Marks an entity a mod spawned, with the mod's name.
#[derive(Component, Clone, Debug, PartialEq, Eq)]
pub struct SpawnedByMod(pub Arc<str>);

/// Where a mod's worker stands, as the main thread sees it.
#[derive(Debug)]
pub(crate) enum Phase {
    /// Compiling and initialising.
    Loading,
    /// Initialised; waiting for the other start-up mods.
    Ready,
    /// Waiting for this frame's tick.
    Idle,
    /// A tick was sent at this instant; its reply is due.
    InFlight(Instant),
    /// Being replaced by a fresh instance that keeps its state.
    Reloading,
    /// No longer run.
    Stopped,
}

/// One of a mod's queries, resolved against the exposed types.
pub(crate) struct PreparedQuery {
    pub names: Vec<String>,
    pub state: bevy::ecs::query::QueryState<Entity>,
    /// Typed states per column, for types on the serde path.
    pub columns: Vec<Option<crate::expose::ColumnStates>>,
    /// The rows the last snapshot sent, to recognise a batch written back.
    pub last: Vec<Entity>,
}

/// The main thread's record of one mod; indices match [`crate::ModRegistry`].
pub(crate) struct ModSlot {
    pub worker: Option<Worker>,
    pub manifest: Option<ModManifest>,
    pub phase: Phase,
    /// Entity ids allocated for the mod's spawns, in the order it uses them.
    pub reserved: VecDeque<Entity>,
    pub reserve_target: usize,
    /// Events waiting for the mod's next tick.
    pub inbox: Vec<WireEvent>,
    pub ticks: u64,
    pub queries: Vec<PreparedQuery>,
}

/// Everything the plugin keeps on the main thread.
#[derive(Resource)]
pub(crate) struct ModHost {
    /// The worker threads; `None` when the runtime could not start.
    pub pool: Option<WorkerPool>,
    pub slots: Vec<ModSlot>,
    /// Events mods emitted last frame, delivered to subscribers this frame.
    pub pending_events: Vec<WireEvent>,
    pub reloads: bevy::ecs::message::MessageCursor<crate::registry::ReloadMod>,
}

/// Fewest entity ids kept reserved for a mod.
pub(crate) const MIN_RESERVE: usize = 16;
