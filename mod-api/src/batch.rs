//! The bulk path: many entities' components in one call each way.
//!
//! A component made only of named fields and numbers arrives *packed*: one
//! fixed-size little-endian record per row, decoded straight into the mod's
//! own serde type by `mod-api-packed`. Anything else arrives as MessagePack.
//! Either way the mod sees plain Rust values.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::__private::bindings::bevy_wasm::mods::entities as host;
use mod_api_packed as packed;

use crate::__private::bindings::bevy_wasm::mods::types::{
    Batch, Column, ColumnEncoding, PackedField, Scalar,
};
use crate::component::{Component, ComponentSet};
use crate::error::{Error, Result};
use crate::world::Entity;

thread_local! {
    /// The packed layout of each component type, as the host last sent it
    /// (and as the WIT field list, to send back with writes).
    static LAYOUTS: RefCell<HashMap<String, (Vec<PackedField>, packed::Layout)>> =
        RefCell::new(HashMap::new());
}

packed::wit_scalar_conversions!(Scalar);

/// The host's field list as a layout.
fn layout_of(fields: &[PackedField]) -> packed::Layout {
    packed::Layout::new(
        fields
            .iter()
            .map(|f| (f.path.clone(), scalar_from_wit(f.kind)))
            .collect(),
    )
}

/// Reads query `Q` whole (declared with
/// [`Manifest::query`](crate::Manifest::query)): every matching entity with
/// its components, in one call.
///
/// ```ignore
/// for (entity, (pos, vel)) in mod_api::read_batch::<(Position, Velocity)>()? { /* ... */ }
/// ```
pub fn read_batch<Q: ComponentSet>() -> Result<Vec<(Entity, Q)>> {
    let batch = host::query_batch(&Q::names())?;
    let ids = batch.entities;
    let mut out = Vec::with_capacity(ids.len());
    Q::decode_each(&batch.columns, ids.len(), |row, value| {
        out.push((Entity(ids[row]), value));
    })?;
    Ok(out)
}

/// Reads query `Q` whole and gives every row's entity component `C` with the
/// value `f` returns for that row: the fastest way to update many entities,
/// one call each way and no lists in between.
///
/// `C` is usually one of `Q`'s components, and every row must be an entity
/// the mod may change (one it spawned, unless the game granted more).
///
/// ```ignore
/// update_batch::<(Position, Velocity), _>(|_, (p, v)| Position { x: p.x + v.x, y: p.y + v.y })?;
/// ```
pub fn update_batch<Q: ComponentSet, C: Component>(
    mut f: impl FnMut(Entity, Q) -> C,
) -> Result<()> {
    let batch = host::query_batch(&Q::names())?;
    let ids = batch.entities;
    let mut values = Vec::with_capacity(ids.len());
    Q::decode_each(&batch.columns, ids.len(), |row, value| {
        values.push(f(Entity(ids[row]), value));
    })?;
    let column = encode_column(&values)?;
    Ok(host::write_batch(&Batch {
        entities: ids,
        columns: vec![column],
    })?)
}

/// The values of one column, one per row, decoded as they are taken: a
/// packed column in the layout `C` knows is read record by record, anything
/// else is decoded whole first.
pub(crate) enum ColumnRows<'a, C> {
    /// Records `C::read_record` reads.
    Records(std::slice::ChunksExact<'a, u8>),
    /// Values already decoded.
    Values(std::vec::IntoIter<C>),
}

impl<C: Component> Iterator for ColumnRows<'_, C> {
    type Item = C;

    #[inline]
    fn next(&mut self) -> Option<C> {
        match self {
            ColumnRows::Records(records) => records.next().and_then(C::read_record),
            ColumnRows::Values(values) => values.next(),
        }
    }
}

/// Checks a column against the batch's row count and returns its values.
pub(crate) fn column_rows<C: Component>(column: &Column, rows: usize) -> Result<ColumnRows<'_, C>> {
    let short = |n: usize| {
        Error::InvalidValue(format!(
            "column `{}` has {n} values for {rows} rows",
            C::NAME
        ))
    };
    let values: Vec<C> = match &column.encoding {
        ColumnEncoding::Msgpack => rmp_serde::from_slice(&column.data)?,
        ColumnEncoding::Packed(fields) => {
            let layout = layout_of(fields);
            // Writes use the layout of the last column of `C` read without
            // error, so a type whose fields do not match never writes.
            let remember = || {
                LAYOUTS.with(|l| {
                    let mut l = l.borrow_mut();
                    if l.get(C::NAME).is_none_or(|(known, _)| known != fields) {
                        l.insert(C::NAME.to_string(), (fields.clone(), layout.clone()));
                    }
                })
            };
            if let Some((kinds, paths)) = C::LAYOUT {
                let same = layout.kinds() == kinds && layout.paths() == paths;
                let stride = layout.stride();
                if same && stride > 0 {
                    if column.data.len() != stride * rows {
                        return Err(short(column.data.len() / stride.max(1)));
                    }
                    remember();
                    return Ok(ColumnRows::Records(column.data.chunks_exact(stride)));
                }
            }
            let values = packed::read_all(&column.data, layout.kinds(), &layout.paths())
                .map_err(|e| Error::InvalidValue(format!("`{}`: {e}", C::NAME)))?;
            remember();
            values
        }
    };
    if values.len() != rows {
        return Err(short(values.len()));
    }
    Ok(ColumnRows::Values(values.into_iter()))
}

/// Encodes values of `C` as a column: packed with the layout the host last
/// sent, MessagePack when there is none.
pub(crate) fn encode_column<C: Component>(values: &[C]) -> Result<Column> {
    let layout = LAYOUTS.with(|l| l.borrow().get(C::NAME).cloned());
    let (encoding, data) = match layout {
        Some((fields, layout)) => {
            let mut data = Vec::with_capacity(layout.stride() * values.len());
            C::write_records(values, layout.kinds(), &mut data)
                .map_err(|e| Error::InvalidValue(format!("`{}`: {e}", C::NAME)))?;
            (ColumnEncoding::Packed(fields), data)
        }
        None => (ColumnEncoding::Msgpack, crate::component::encode(values)?),
    };
    Ok(Column {
        name: C::NAME.to_string(),
        encoding,
        data,
    })
}
