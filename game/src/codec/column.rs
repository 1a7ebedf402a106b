//! The one place that chooses how a column of one component type is read
//! from the world for a mod's snapshot and written back from its batch.
//!
//! Each exposed type gets a [`ColumnCodec`] when the game registers it:
//! - **packed**: a type made only of named fields and numbers travels as
//!   fixed-size records in its [`Layout`], made by the fastest [`Packer`]
//!   the game allowed:
//!   - `Bytes`: the value's bytes as they are (`add_moddable_component_pod`,
//!     proven at registration to be its record);
//!   - `Serde`: the type's serde impls (`add_moddable_component_with_serde`,
//!     checked against reflection on the first value, reflection from then
//!     on if they differ);
//!   - `Reflect`: field by field through reflection;
//! - **MessagePack** by reflection, one value per row, for anything else.
//!
//! A fast packer walks a mod's query a table at a time through the query's
//! typed states, falls back to entity look-ups when the rows are not the
//! query's in order, and to reflection when it cannot do either. Types a
//! mod defined (not exposed by the game) are read from `ModData` as
//! stored (by the snapshot).

use std::sync::OnceLock;

use bevy::ecs::component::ComponentId;
use bevy::prelude::*;
use bevy::reflect::TypeRegistry;

use super::bulk::{BulkOps, ColumnStates};
use super::{packed, value};
use crate::protocol::{Column, Encoding, Layout, Scalar};

/// How a column of one exposed component type is read and written.
pub(crate) enum ColumnCodec {
    /// Fixed-size records in `layout`, made by `packer`.
    Packed { layout: Layout, packer: Packer },
    /// One MessagePack value per row, by reflection.
    MsgPack,
}

/// What makes a packed column.
pub(crate) enum Packer {
    /// The values' bytes as they are.
    Bytes(BulkOps),
    /// The type's serde impls; `agrees` is whether they write what
    /// reflection writes, known once a first value was compared.
    Serde {
        ops: BulkOps,
        agrees: OnceLock<bool>,
    },
    /// Reflection, field by field.
    Reflect,
}

/// The rows of one batch column, checked, ready to write.
pub(crate) enum Rows {
    /// Packed records, one per row, in the type's layout.
    Packed(Column),
    /// Values decoded by reflection, one per row.
    Values(Vec<Box<dyn Reflect>>),
}

impl Rows {
    /// The rows in another order: row `i` of the result is row `rows[i]`
    /// of these (`rows` a permutation of them).
    pub(crate) fn in_order(self, rows: &[usize]) -> Rows {
        match self {
            Rows::Packed(column) => Rows::Packed(column.only_rows(rows)),
            Rows::Values(values) => {
                let mut values: Vec<Option<Box<dyn Reflect>>> =
                    values.into_iter().map(Some).collect();
                Rows::Values(
                    rows.iter()
                        .filter_map(|r| values.get_mut(*r)?.take())
                        .collect(),
                )
            }
        }
    }
}

impl ColumnCodec {
    /// The codec of a type whose reflected layout is `layout` (`None` when
    /// it is not made only of named fields and numbers).
    pub(crate) fn by_reflection(layout: Option<Layout>) -> Self {
        match layout {
            Some(layout) => ColumnCodec::Packed {
                layout,
                packer: Packer::Reflect,
            },
            None => ColumnCodec::MsgPack,
        }
    }

    /// The packed layout, when the type has one.
    pub(crate) fn layout(&self) -> Option<&Layout> {
        match self {
            ColumnCodec::Packed { layout, .. } => Some(layout),
            ColumnCodec::MsgPack => None,
        }
    }

    /// Packs with what `make` offers for the layout's scalars instead of
    /// reflection; says why not when the type is not packed or `make`
    /// offers nothing.
    pub(crate) fn use_packer(
        &mut self,
        make: impl FnOnce(&[Scalar]) -> Option<Packer>,
    ) -> Result<(), &'static str> {
        let ColumnCodec::Packed { layout, packer } = self else {
            return Err("not made only of named fields and numbers: it travels as MessagePack");
        };
        *packer = make(layout.kinds())
            .ok_or("its bytes are not its fields in order; using reflection for it")?;
        Ok(())
    }

    /// Makes the typed query states a fast packer walks tables with, for a
    /// query over these components.
    pub(crate) fn column_states(
        &self,
        world: &mut World,
        ids: &[ComponentId],
    ) -> Option<ColumnStates> {
        let ops = match self {
            ColumnCodec::Packed {
                packer: Packer::Bytes(ops) | Packer::Serde { ops, .. },
                ..
            } => ops,
            _ => return None,
        };
        Some((ops.column_states)(world, ids))
    }
}

/// What the column codec needs of an exposed type: its name, its codec,
/// and the typed operations it falls back to.
pub(crate) struct ColumnOf<'a> {
    pub name: &'a str,
    pub codec: &'a ColumnCodec,
    pub get: for<'w> fn(&'w World, Entity) -> Option<&'w dyn PartialReflect>,
    pub has: fn(&World, Entity) -> bool,
    pub write_packed: fn(&mut World, Entity, &[Scalar], &[u8]) -> bool,
    pub insert: fn(&mut World, Entity, Box<dyn Reflect>) -> bool,
}

impl ColumnOf<'_> {
    /// The fast packer's operations, if the type has one that agrees with
    /// reflection (checked on `sample`, an entity with the component, the
    /// first time).
    fn fast(&self, world: &World, sample: Option<Entity>) -> Option<(&Layout, BulkOps)> {
        let ColumnCodec::Packed { layout, packer } = self.codec else {
            return None;
        };
        let (ops, agrees) = match packer {
            Packer::Bytes(ops) => return Some((layout, *ops)),
            Packer::Serde { ops, agrees } => (*ops, agrees),
            Packer::Reflect => return None,
        };
        if let Some(agrees) = agrees.get() {
            return agrees.then_some((layout, ops));
        }
        // A sample without the component (gone since the snapshot) proves
        // nothing either way.
        let e = sample.filter(|e| (self.has)(world, *e))?;
        let kinds = layout.kinds();
        let mut by_codec = Vec::new();
        let mut by_reflection = Vec::new();
        let same = (ops.encode_rows)(world, &[e], kinds, &mut by_codec).is_ok()
            && (self.get)(world, e).is_some_and(|v| packed::encode(v, kinds, &mut by_reflection))
            && by_codec == by_reflection;
        if !same {
            tracing::warn!(
                component = %self.name,
                "the type's serde impls do not write its fields as reflection sees them; \
                 using reflection for it"
            );
        }
        let _ = agrees.set(same);
        same.then_some((layout, ops))
    }

    /// The column of this type for `entities`, in the type's encoding;
    /// `states` are the typed states of the query the rows came from.
    pub(crate) fn read_column(
        &self,
        world: &World,
        registry: &TypeRegistry,
        entities: &[Entity],
        states: Option<&mut ColumnStates>,
    ) -> Column {
        let mut data = Vec::new();
        let mut offsets = Vec::new();
        let encoding = match self.codec {
            ColumnCodec::Packed { layout, .. } => {
                data.reserve(entities.len() * layout.stride());
                let fast = self.fast(world, entities.first().copied()).map(|(_, ops)| {
                    let by_tables = states.is_some_and(|states| {
                        (ops.encode_column)(states, world, entities, layout.kinds(), &mut data)
                    });
                    if by_tables {
                        Ok(())
                    } else {
                        (ops.encode_rows)(world, entities, layout.kinds(), &mut data)
                    }
                });
                if let Some(Err(e)) = &fast {
                    tracing::error!(component = %self.name, "cannot pack a column for mods: {e}");
                }
                if !matches!(fast, Some(Ok(()))) {
                    for e in entities {
                        let ok = (self.get)(world, *e)
                            .is_some_and(|v| packed::encode(v, layout.kinds(), &mut data));
                        if !ok {
                            tracing::error!(component = %self.name, "cannot pack a component for mods");
                        }
                    }
                }
                Encoding::Packed(layout.clone())
            }
            ColumnCodec::MsgPack => {
                for e in entities {
                    offsets.push(data.len() as u32);
                    let encoded = (self.get)(world, *e)
                        .ok_or_else(|| "missing".to_string())
                        .and_then(|v| value::to_msgpack(v, registry, &mut data));
                    if let Err(err) = encoded {
                        tracing::error!(
                            component = %self.name,
                            "cannot encode a component for mods: {err}"
                        );
                        data.push(0xc0);
                    }
                }
                Encoding::MsgPack
            }
        };
        Column {
            name: self.name.to_string(),
            encoding,
            data: data.into(),
            offsets,
        }
    }

    /// Writes a checked batch column to its rows' entities; `states` are
    /// the typed states of the query the rows came from, if they did.
    pub(crate) fn write_column(
        &self,
        world: &mut World,
        entities: &[Entity],
        rows: Rows,
        states: Option<&mut ColumnStates>,
    ) {
        match rows {
            Rows::Packed(column) => {
                let data: &[u8] = &column.data;
                if let Some((layout, ops)) = self.fast(world, entities.first().copied()) {
                    let (kinds, paths) = (layout.kinds(), layout.paths());
                    let by_tables = states.is_some_and(|states| {
                        match (ops.write_column)(states, world, entities, kinds, &paths, data) {
                            Ok(written) => written,
                            Err(e) => {
                                tracing::error!(component = %self.name, "cannot apply a packed column: {e}");
                                false
                            }
                        }
                    });
                    if by_tables {
                        return;
                    }
                    match (ops.write_rows)(world, entities, kinds, &paths, data) {
                        Ok(()) => return,
                        // The worker checked the records; this is a host
                        // bug, not the mod's: reflection has a go.
                        Err(e) => tracing::error!(
                            component = %self.name,
                            "cannot apply a packed column: {e}"
                        ),
                    }
                }
                let Some(layout) = self.codec.layout() else {
                    return;
                };
                let stride = layout.stride().max(1);
                for (e, record) in entities.iter().zip(data.chunks_exact(stride)) {
                    (self.write_packed)(world, *e, layout.kinds(), record);
                }
            }
            Rows::Values(values) => {
                for (e, v) in entities.iter().zip(values) {
                    if (self.has)(world, *e) {
                        (self.insert)(world, *e, v);
                    }
                }
            }
        }
    }
}
