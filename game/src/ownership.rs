//! Which mod spawned which entity, and how much of the world each owns:
//! entities, and the bytes of the values it set on them.

use std::collections::HashMap;
use std::sync::Arc;

use bevy::ecs::lifecycle::HookContext;
use bevy::ecs::world::DeferredWorld;
use bevy::prelude::*;

/// Marks an entity a mod spawned, with the mod's id (its file's stem). A mod
/// may change only entities marked with its own id, unless granted more. The
/// mark cannot be changed in place, so the count of each mod's entities
/// (kept for [`ModLimits::entities_per_mod`](crate::ModLimits::entities_per_mod))
/// stays true.
#[derive(Component, Clone, Debug, PartialEq, Eq)]
#[component(immutable, on_insert = count_owned, on_discard = uncount_owned)]
pub struct SpawnedByMod(pub Arc<str>);

/// The mod's tick in which an entity it owns was spawned (its tick count,
/// `tick.frame`), beside [`SpawnedByMod`]: a mod resumed from a checkpoint
/// of that tick loses the entities it spawned from then on, which its
/// saved state does not know.
#[derive(Component, Clone, Copy, Debug)]
pub(crate) struct SpawnTick(pub u64);

/// How much each mod owns, by mod id.
#[derive(Resource, Default, Debug)]
pub(crate) struct ModOwnership {
    /// Entities each mod spawned that still exist.
    pub entities: HashMap<Arc<str>, usize>,
    /// Bytes of the values each mod set on its own entities (see
    /// [`Footprint`]).
    pub bytes: HashMap<Arc<str>, u64>,
}

impl ModOwnership {
    pub(crate) fn entities_of(&self, owner: &str) -> usize {
        self.entities.get(owner).copied().unwrap_or(0)
    }

    pub(crate) fn bytes_of(&self, owner: &str) -> u64 {
        self.bytes.get(owner).copied().unwrap_or(0)
    }
}

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
        let n = counts.entities.entry(owner).or_default();
        *n = if add { *n + 1 } else { n.saturating_sub(1) };
    }
}

/// What a component slot of an entity is, for [`Footprint`]: an exposed
/// game type (its index) or one of the owner's mod-defined types (the
/// index in its manifest's `defines`, offset past the game's).
pub(crate) type SlotKey = u32;

/// The key of mod-defined type number `i` of the owner's `defines`.
pub(crate) const fn data_key(i: usize) -> SlotKey {
    (1 << 16) + i as SlotKey
}

/// The encoded size of every value a mod set on one of its own entities,
/// so the mod's total ([`ModLimits::state_bytes_per_mod`](crate::ModLimits::state_bytes_per_mod))
/// stays true as values change and the entity goes.
#[derive(Component, Debug, Default)]
#[component(on_discard = forget_footprint)]
pub(crate) struct Footprint {
    owner: Option<Arc<str>>,
    sizes: Vec<(SlotKey, u32)>,
    total: u64,
}

impl Footprint {
    /// Bytes charged for slot `key`.
    pub(crate) fn size(&self, key: SlotKey) -> u32 {
        self.sizes
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(0, |(_, s)| *s)
    }

    pub(crate) fn total(&self) -> u64 {
        self.total
    }
}

fn forget_footprint(mut world: DeferredWorld, context: HookContext) {
    let Some((owner, total)) = world
        .get::<Footprint>(context.entity)
        .and_then(|f| Some((f.owner.clone()?, f.total)))
    else {
        return;
    };
    if let Some(mut owned) = world.get_resource_mut::<ModOwnership>() {
        let n = owned.bytes.entry(owner).or_default();
        *n = n.saturating_sub(total);
    }
}

/// Sets the bytes charged to `owner` for slot `key` of `entity` (`0` when
/// the value was removed), keeping the owner's total.
pub(crate) fn charge(world: &mut World, owner: &Arc<str>, entity: Entity, key: SlotKey, size: u32) {
    let Ok(mut e) = world.get_entity_mut(entity) else {
        return;
    };
    if !e.contains::<Footprint>() {
        e.insert(Footprint {
            owner: Some(owner.clone()),
            ..Footprint::default()
        });
    }
    let Some(mut footprint) = e.get_mut::<Footprint>() else {
        return;
    };
    let old = match footprint.sizes.iter_mut().find(|(k, _)| *k == key) {
        Some((_, s)) => std::mem::replace(s, size),
        None => {
            footprint.sizes.push((key, size));
            0
        }
    };
    if size == 0 {
        footprint.sizes.retain(|(k, _)| *k != key);
    }
    footprint.total = footprint.total + u64::from(size) - u64::from(old);
    let mut owned = world.resource_mut::<ModOwnership>();
    let n = owned.bytes.entry(owner.clone()).or_default();
    *n = (*n + u64::from(size)).saturating_sub(u64::from(old));
}

/// Who wrote each mod-defined value of an entity (those in
/// [`ModData`](crate::ModData)), and in which frame, so a mod that cannot
/// decode one blames the mod that wrote it, whoever owns the type.
#[derive(Component, Debug, Default)]
pub(crate) struct ValueWriters(Vec<(String, Written)>);

#[derive(Debug, Clone)]
struct Written {
    by: Arc<str>,
    frame: u64,
    /// A hash of the bytes written, to tell a later change by the game.
    hash: u64,
    /// The writer before, if it wrote in an earlier frame: what a mod
    /// whose world was taken before this write saw.
    before: Option<(Arc<str>, u64)>,
}

impl ValueWriters {
    /// Records that mod `by` wrote `bytes` as value `name` of `entity` in
    /// `frame`.
    pub(crate) fn record(
        entity: &mut EntityWorldMut,
        name: &str,
        (by, frame): (&Arc<str>, u64),
        bytes: &[u8],
    ) {
        let hash = hash_of(bytes);
        if !entity.contains::<ValueWriters>() {
            entity.insert(ValueWriters::default());
        }
        let Some(mut writers) = entity.get_mut::<ValueWriters>() else {
            return;
        };
        match writers.0.iter_mut().find(|(n, _)| n == name) {
            Some((_, w)) => {
                let before = if w.frame < frame {
                    Some((w.by.clone(), w.frame))
                } else {
                    w.before.take()
                };
                *w = Written {
                    by: by.clone(),
                    frame,
                    hash,
                    before,
                };
            }
            None => writers.0.push((
                name.to_string(),
                Written {
                    by: by.clone(),
                    frame,
                    hash,
                    before: None,
                },
            )),
        }
    }

    /// Forgets who wrote value `name`, which was removed.
    pub(crate) fn forget(entity: &mut EntityWorldMut, name: &str) {
        if let Some(mut writers) = entity.get_mut::<ValueWriters>() {
            writers.0.retain(|(n, _)| n != name);
        }
    }

    /// The mod that wrote the value `name` a mod saw in its world of frame
    /// `seen` (taken before that frame's writes), the value being `now`:
    /// `None` when no mod wrote it, when the game changed it since (its
    /// bytes are not the last ones a mod wrote), or when it was rewritten
    /// more than once since and the writer seen is not known.
    pub(crate) fn writer_seen(&self, name: &str, seen: u64, now: &[u8]) -> Option<&Arc<str>> {
        let (_, w) = self.0.iter().find(|(n, _)| n == name)?;
        if w.hash != hash_of(now) {
            return None;
        }
        if w.frame < seen {
            return Some(&w.by);
        }
        w.before
            .as_ref()
            .filter(|(_, frame)| *frame < seen)
            .map(|(by, _)| by)
    }
}

fn hash_of(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writer_blamed_is_the_one_whose_value_the_reader_saw() {
        let mut world = World::new();
        let e = world.spawn_empty().id();
        let (a, b, c): (Arc<str>, Arc<str>, Arc<str>) = ("a".into(), "b".into(), "c".into());
        let write = |world: &mut World, by: &Arc<str>, frame: u64, bytes: &[u8]| {
            ValueWriters::record(&mut world.entity_mut(e), "Badge", (by, frame), bytes);
        };
        let seen = |world: &World, frame: u64, now: &[u8]| {
            world
                .get::<ValueWriters>(e)
                .unwrap()
                .writer_seen("Badge", frame, now)
                .map(|s| s.to_string())
        };
        write(&mut world, &a, 3, b"one");
        // A reader whose world was taken in frame 5 saw a's value.
        assert_eq!(seen(&world, 5, b"one"), Some("a".into()));
        // b rewrote it in frame 5, after that reader's world was taken:
        // the reader saw a's, a reader of frame 6 sees b's.
        write(&mut world, &b, 5, b"two");
        assert_eq!(seen(&world, 5, b"two"), Some("a".into()));
        assert_eq!(seen(&world, 6, b"two"), Some("b".into()));
        // c rewrote it in frame 5 too: a reader of frame 5 still saw a's.
        write(&mut world, &c, 5, b"three");
        assert_eq!(seen(&world, 5, b"three"), Some("a".into()));
        // Rewritten in two frames since: who wrote what it saw is unknown.
        write(&mut world, &b, 7, b"four");
        assert_eq!(seen(&world, 5, b"four"), None);
        // The game changed the bytes: no mod is blamed.
        assert_eq!(seen(&world, 8, b"the game's"), None);
        // Removed: forgotten.
        ValueWriters::forget(&mut world.entity_mut(e), "Badge");
        assert_eq!(seen(&world, 9, b"four"), None);
    }
}
