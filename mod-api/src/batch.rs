//! The bulk path: many entities' components in one call each way.
//!
//! A component made only of named fields and numbers arrives *packed*: one
//! fixed-size little-endian record per row, decoded straight into the mod's
//! own serde type by `mod-api-packed`. Anything else arrives as MessagePack.
//! Either way the mod sees plain Rust values.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::bindings::bevy_wasm::mods::entities as host;
use mod_api_packed as packed;

use crate::bindings::bevy_wasm::mods::types::{Column, ColumnEncoding, PackedField, Scalar};
use crate::component::{Component, ComponentSet};
use crate::error::{Error, Result};
use crate::world::Entity;

thread_local! {
    /// The packed layout of each component type, as the host last sent it.
    static LAYOUTS: RefCell<HashMap<String, Vec<PackedField>>> = RefCell::new(HashMap::new());
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
    let rows = batch.entities.len();
    let values = Q::decode(&batch.columns, rows)?;
    Ok(batch.entities.into_iter().map(Entity).zip(values).collect())
}

/// Decodes one column into values of `C`.
#[doc(hidden)]
pub fn decode_column<C: Component>(column: &Column, rows: usize) -> Result<Vec<C>> {
    let values: Vec<C> = match &column.encoding {
        ColumnEncoding::Msgpack => rmp_serde::from_slice(&column.data)?,
        ColumnEncoding::Packed(fields) => {
            LAYOUTS.with(|l| {
                let mut l = l.borrow_mut();
                if l.get(C::NAME) != Some(fields) {
                    l.insert(C::NAME.to_string(), fields.clone());
                }
            });
            let kinds: Vec<packed::Scalar> = fields.iter().map(|f| kind(f.kind)).collect();
            let paths: Vec<&str> = fields.iter().map(|f| f.path.as_str()).collect();
            C::read_packed(&column.data, &kinds, &paths)
                .map_err(|e| Error::InvalidValue(format!("`{}`: {e}", C::NAME)))?
        }
    };
    if values.len() != rows {
        return Err(Error::InvalidValue(format!(
            "column `{}` has {} values for {rows} rows",
            C::NAME,
            values.len()
        )));
    }
    Ok(values)
}

/// Encodes values of `C` as a column: packed with the layout the host last
/// sent, MessagePack when there is none.
pub(crate) fn encode_column<C: Component>(values: &[C]) -> Result<Column> {
    let layout = LAYOUTS.with(|l| l.borrow().get(C::NAME).cloned());
    let (encoding, data) = match layout {
        Some(fields) => {
            let kinds: Vec<packed::Scalar> = fields.iter().map(|f| kind(f.kind)).collect();
            let mut data = Vec::with_capacity(packed::stride(&kinds) * values.len());
            C::write_packed(values, &kinds, &mut data)
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

fn kind(s: Scalar) -> packed::Scalar {
    match s {
        Scalar::Boolean => packed::Scalar::Bool,
        Scalar::U8 => packed::Scalar::U8,
        Scalar::U16 => packed::Scalar::U16,
        Scalar::U32 => packed::Scalar::U32,
        Scalar::U64 => packed::Scalar::U64,
        Scalar::S8 => packed::Scalar::I8,
        Scalar::S16 => packed::Scalar::I16,
        Scalar::S32 => packed::Scalar::I32,
        Scalar::S64 => packed::Scalar::I64,
        Scalar::F32 => packed::Scalar::F32,
        Scalar::F64 => packed::Scalar::F64,
    }
}
