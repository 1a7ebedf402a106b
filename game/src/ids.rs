//! The ids mods know entities by.
//!
//! A Bevy [`Entity`] says where an entity sits in one process's world: a
//! game loaded from a save, or a window that spawns a camera the headless
//! game does not, gives the same entities other `Entity` values. Mods keep
//! ids in their state and in the values they set, so they see each entity
//! by a [`ModId`] instead: a number given once, in the order entities
//! become visible to mods (spawned by the game with a moddable component,
//! or reserved for a mod's spawn), kept in saved games, and never given
//! twice in a world. The host translates at the boundary: snapshots carry
//! `ModId`s out, commands bring them back.

use bevy::platform::collections::HashMap;

use bevy::ecs::lifecycle::HookContext;
use bevy::ecs::world::DeferredWorld;
use bevy::prelude::*;

/// The id mods know an entity by. Every entity with a moddable component
/// or [`ModData`](crate::ModData) has one (the component is required by
/// each exposed type); [`ModIds`] finds the entity of an id. A game that
/// sends mods an entity in a message sends this id, and one that reads an
/// entity from a mod's event looks it up in [`ModIds`].
#[derive(Component, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[component(on_insert = register, on_discard = unregister)]
pub struct ModId(u64);

impl ModId {
    /// The id as mods see it.
    pub fn get(self) -> u64 {
        self.0
    }

    /// An id given before (from a save). Only the host inserts these.
    pub(crate) fn given(id: u64) -> Self {
        ModId(id)
    }
}

/// The entity of each [`ModId`], and the next id to give.
#[derive(Resource, Debug)]
pub struct ModIds {
    next: u64,
    entities: HashMap<u64, Entity>,
}

impl Default for ModIds {
    fn default() -> Self {
        // 0 is never an entity's id: a `ModId` not given yet holds it.
        Self {
            next: 1,
            entities: HashMap::default(),
        }
    }
}

impl ModIds {
    /// The entity mods know as `id`, if it exists (or is reserved for a
    /// mod's spawn).
    pub fn entity(&self, id: u64) -> Option<Entity> {
        self.entities.get(&id).copied()
    }

    /// The next id to give: everything given so far is below it.
    pub fn next(&self) -> u64 {
        self.next
    }

    /// Gives `entity` (reserved for a mod's spawn, not yet spawned) a new
    /// id.
    pub(crate) fn issue(&mut self, entity: Entity) -> u64 {
        let id = self.take_next();
        self.entities.insert(id, entity);
        id
    }

    /// Forgets an id given to a reserved entity that was never spawned.
    pub(crate) fn forget(&mut self, id: u64, entity: Entity) {
        if self.entities.get(&id) == Some(&entity) {
            self.entities.remove(&id);
        }
    }

    /// Numbers from `next` on, as a loaded game did; every id given
    /// before is forgotten (its entities are gone).
    pub(crate) fn restart_at(&mut self, next: u64) {
        self.entities.clear();
        self.next = next.max(1);
    }

    /// Reserves `id`, given before (a loaded game's), for `entity`.
    pub(crate) fn reserve_as(&mut self, id: u64, entity: Entity) {
        self.entities.insert(id, entity);
    }

    fn take_next(&mut self) -> u64 {
        let id = self.next;
        self.next += 1;
        id
    }
}

/// Gives back entities reserved for a mod's spawns and never spawned,
/// with their ids.
pub(crate) fn free_reserved(world: &mut World, reserved: impl IntoIterator<Item = (Entity, u64)>) {
    let mut entities = Vec::new();
    if let Some(mut ids) = world.get_resource_mut::<ModIds>() {
        for (entity, id) in reserved {
            ids.forget(id, entity);
            entities.push(entity);
        }
    } else {
        entities.extend(reserved.into_iter().map(|(e, _)| e));
    }
    world.entity_allocator_mut().free_many(&entities);
}

/// The id of `entity`, `0` when it has none.
pub(crate) fn id_of(world: &World, entity: Entity) -> u64 {
    world.get::<ModId>(entity).map_or(0, |id| id.0)
}

/// Gives a new entity its id (unless it came with one) and files it.
fn register(mut world: DeferredWorld, context: HookContext) {
    let entity = context.entity;
    let Some(given) = world.get::<ModId>(entity).map(|id| id.0) else {
        return;
    };
    if !world.contains_resource::<ModIds>() {
        return;
    }
    let id = {
        let mut ids = world.resource_mut::<ModIds>();
        let id = if given == 0 { ids.take_next() } else { given };
        ids.entities.insert(id, entity);
        id
    };
    if given == 0
        && let Some(mut slot) = world.get_mut::<ModId>(entity)
    {
        slot.0 = id;
    }
}

fn unregister(mut world: DeferredWorld, context: HookContext) {
    let entity = context.entity;
    let Some(id) = world.get::<ModId>(entity).map(|id| id.0) else {
        return;
    };
    if let Some(mut ids) = world.get_resource_mut::<ModIds>() {
        ids.forget(id, entity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Component, Default)]
    #[require(ModId)]
    struct Seen;

    #[test]
    fn ids_follow_the_order_entities_appear_and_are_never_given_twice() {
        let mut world = World::new();
        world.init_resource::<ModIds>();
        let a = world.spawn(Seen).id();
        let b = world.spawn(Seen).id();
        assert_eq!(id_of(&world, a), 1);
        assert_eq!(id_of(&world, b), 2);
        assert_eq!(world.resource::<ModIds>().entity(2), Some(b));
        world.despawn(a);
        assert_eq!(world.resource::<ModIds>().entity(1), None);
        // A freed Bevy slot is reused; its id is not.
        let c = world.spawn(Seen).id();
        assert_eq!(id_of(&world, c), 3);
        // An id from a save is kept, and numbering goes on from the save's.
        world.despawn(b);
        world.despawn(c);
        world.resource_mut::<ModIds>().restart_at(41);
        let d = world.spawn((Seen, ModId::given(40))).id();
        assert_eq!(id_of(&world, d), 40);
        assert_eq!(world.resource::<ModIds>().entity(40), Some(d));
        let e = world.spawn(Seen).id();
        assert_eq!(id_of(&world, e), 41);
    }
}
