//! The systems that run mods: load, dispatch a tick, apply its commands.

pub(crate) mod apply;
mod dispatch;
mod faults;
pub(crate) mod load;
pub(crate) mod snapshot;
mod stage;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use bevy::ecs::lifecycle::HookContext;
use bevy::ecs::world::DeferredWorld;
use bevy::prelude::*;

use crate::runtime::worker::{Worker, WorkerPool};
use crate::wire::{ModManifest, WireEvent};

pub(crate) use apply::apply_commands;
pub(crate) use dispatch::dispatch_ticks;
pub(crate) use load::{receive_loaded, start_mods};

/// Marks an entity a mod spawned, with the mod's name. A mod may change
/// only entities marked with its own name, unless granted more. The mark
/// cannot be changed in place, so the count of each mod's entities (kept
/// for [`ModLimits::entities_per_mod`](crate::ModLimits::entities_per_mod))
/// stays true.
#[derive(Component, Clone, Debug, PartialEq, Eq)]
#[component(immutable, on_insert = count_owned, on_discard = uncount_owned)]
pub struct SpawnedByMod(pub Arc<str>);

/// How many entities each mod owns, by mod name.
#[derive(Resource, Default, Debug)]
pub(crate) struct ModOwnership(pub std::collections::HashMap<Arc<str>, usize>);

fn count_owned(world: DeferredWorld, context: HookContext) {
    adjust_owned(world, context, true);
}

fn uncount_owned(world: DeferredWorld, context: HookContext) {
    adjust_owned(world, context, false);
}

/// Adds or takes one from the count of the entity's owner.
fn adjust_owned(mut world: DeferredWorld, context: HookContext, add: bool) {
    let Some(owner) = world
        .get::<SpawnedByMod>(context.entity)
        .map(|s| s.0.clone())
    else {
        return;
    };
    if let Some(mut counts) = world.get_resource_mut::<ModOwnership>() {
        let n = counts.0.entry(owner).or_default();
        *n = if add { *n + 1 } else { n.saturating_sub(1) };
    }
}

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
    /// Waiting out its back-off after a fault; restarted in this app frame.
    BackingOff(u64),
    /// A fresh instance is being made after a fault.
    Restarting,
    /// No longer run: it could not be loaded, or it is quarantined.
    Stopped,
}

/// One of a mod's queries, resolved against the exposed types.
pub(crate) struct PreparedQuery {
    pub names: Vec<String>,
    /// The matching entities, with who spawned them.
    pub state: bevy::ecs::query::QueryState<(Entity, Option<&'static SpawnedByMod>)>,
    /// Typed states per column, for types with a bulk codec.
    pub columns: Vec<Option<crate::bulk::ColumnStates>>,
    /// The rows the last snapshot sent, to recognise a batch written back.
    pub last: Vec<Entity>,
    /// Whether the mod spawned every one of `last`.
    pub last_owned: bool,
}

/// The main thread's record of one mod; indices match [`crate::ModRegistry`].
pub(crate) struct ModSlot {
    pub worker: Option<Worker>,
    /// The name its entities are marked with (the manifest's, once known).
    pub owner: Arc<str>,
    /// What the mod may do beyond the defaults.
    pub grants: crate::grants::ModGrants,
    pub manifest: Option<ModManifest>,
    pub phase: Phase,
    /// Entity ids allocated for the mod's spawns, in the order it uses them.
    pub reserved: VecDeque<Entity>,
    pub reserve_target: usize,
    /// Events waiting for the mod's next tick.
    pub inbox: Vec<WireEvent>,
    pub ticks: u64,
    pub queries: Vec<PreparedQuery>,
    /// App frames of the mod's recent faults, oldest first.
    pub recent_faults: VecDeque<u64>,
    /// Whether the instance being started replaces one that ran.
    pub recovering: bool,
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
    /// Frames since start-up; back-off and the fault window count these.
    pub frame: u64,
}

/// Fewest entity ids kept reserved for a mod.
pub(crate) const MIN_RESERVE: usize = 16;
