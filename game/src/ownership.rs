//! Which mod spawned which entity, and how many each owns.

use std::sync::Arc;

use bevy::ecs::lifecycle::HookContext;
use bevy::ecs::world::DeferredWorld;
use bevy::prelude::*;

/// Marks an entity a mod spawned, with the mod's id (its file's stem). A mod may change
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
