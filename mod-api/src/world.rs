//! Reading and changing entities.
//!
//! Reads see the world as it was when the tick began (the results of the
//! mod's queries) plus the mod's own changes earlier in the same tick. Writes
//! are applied by the game after the tick, all together or not at all: if
//! the tick fails, none of them happen.

use crate::component::{Bundle, Component, ComponentSet};
use crate::error::Result;
use crate::sys::entities as host;

/// An entity in the game world. Ids of entities the mod spawns are final
/// from the moment `spawn` returns; keep them across ticks as you like.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Entity(pub(crate) u64);

impl Entity {
    /// The id's 64 bits.
    pub fn to_bits(self) -> u64 {
        self.0
    }

    /// An entity from bits [`to_bits`](Self::to_bits) gave.
    pub fn from_bits(bits: u64) -> Self {
        Entity(bits)
    }
}

/// Spawns an entity with the components in `bundle`.
pub fn spawn(bundle: &impl Bundle) -> Result<Entity> {
    Ok(Entity(host::spawn(&bundle.encode()?)?))
}

/// Despawns an entity.
pub fn despawn(entity: Entity) -> Result<()> {
    Ok(host::despawn(entity.0)?)
}

/// Inserts or replaces components on an entity.
pub fn insert(entity: Entity, bundle: &impl Bundle) -> Result<()> {
    Ok(host::insert(entity.0, &bundle.encode()?)?)
}

/// Removes component `C` from an entity.
pub fn remove<C: Component>(entity: Entity) -> Result<()> {
    Ok(host::remove(entity.0, &[C::NAME.to_string()])?)
}

/// Reads component `C` of an entity; `None` when it has none. `C` must be in
/// one of the mod's queries.
///
/// A value that does not decode as `C` (another mod wrote it in another
/// shape) is read as `None` and reported to the host, which blames the mod
/// that wrote it; the mod goes on.
pub fn get<C: Component>(entity: Entity) -> Result<Option<C>> {
    match host::get(entity.0, C::NAME)? {
        Some(bytes) => match rmp_serde::from_slice(&bytes) {
            Ok(value) => Ok(Some(value)),
            Err(e) => {
                reject_value(entity, C::NAME, &e.to_string());
                Ok(None)
            }
        },
        None => Ok(None),
    }
}

/// Tells the host that the value of component `name` on `entity`, as this
/// tick gave it, is of no use to the mod (it does not decode, or breaks a
/// rule the mod relies on): the host blames the mod that wrote it (no one
/// for the game's own types) and the mod goes on without it. The readers
/// ([`get`], [`read_batch`](crate::read_batch), …) report values that do
/// not decode themselves.
pub fn reject_value(entity: Entity, name: &str, reason: &str) {
    crate::sys::events::reject_value(entity.0, name, reason);
}

/// The entities matching query `Q` (declared in the manifest with
/// [`Manifest::query`](crate::Manifest::query)).
pub fn query<Q: ComponentSet>() -> Result<Vec<Entity>> {
    Ok(host::query(&Q::names())?.into_iter().map(Entity).collect())
}

/// Writes one component value per entity: `C` of `entities[i]` becomes
/// `values[i]`.
///
/// Entities a [`read_batch`](crate::read_batch) this tick showed the mod
/// may not change (other mods' and the game's) are left out, so the rows
/// of a read can be written back whole. Uses the packed layout the last
/// batch read of `C` reported when there was one (the fast path),
/// MessagePack otherwise.
pub fn write_batch<C: Component>(entities: &[Entity], values: &[C]) -> Result<()> {
    if entities.len() != values.len() {
        return Err(crate::Error::InvalidValue(format!(
            "{} entities but {} values",
            entities.len(),
            values.len()
        )));
    }
    let ids: Vec<u64> = entities.iter().map(|e| e.0).collect();
    let batch = match crate::batch::writable_flags(&ids) {
        None => crate::__private::bindings::bevy_wasm::mods::types::Batch {
            entities: ids,
            columns: vec![crate::batch::encode_column(values)?],
        },
        Some(keep) => crate::__private::bindings::bevy_wasm::mods::types::Batch {
            columns: vec![crate::batch::encode_some_rows(values, &keep)?],
            entities: ids
                .into_iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(e, _)| e)
                .collect(),
        },
    };
    if batch.entities.is_empty() {
        return Ok(());
    }
    Ok(host::write_batch(&batch)?)
}
