//! The bulk path: many entities' components in one call each way.
//!
//! A component made only of named fields and numbers arrives *packed*: one
//! fixed-size little-endian record per row, decoded straight into the mod's
//! own serde type by `mod-api-packed`. Anything else arrives as MessagePack.
//! Either way the mod sees plain Rust values.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use crate::sys::entities as host;
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

thread_local! {
    /// Entities the mod's queries gave that it may not change (other mods'
    /// and the game's), by query, as of the query's last batch read:
    /// batch writes leave them out.
    static NOT_WRITABLE: RefCell<HashMap<Vec<String>, HashSet<u64>>> =
        RefCell::new(HashMap::new());
}

packed::wit_scalar_conversions!(Scalar);

/// Forgets the layouts and unwritable rows seen so far: natively, where
/// one thread may run one test world after another.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn forget_layouts() {
    LAYOUTS.with(|l| l.borrow_mut().clear());
    NOT_WRITABLE.with(|n| n.borrow_mut().clear());
}

/// Which of a query's rows `ids` (as `query-batch` gave them) the mod may
/// change: `None` when all, else a flag per row. Remembers the others, so
/// a later [`write_batch`](crate::write_batch) leaves them out.
fn writable_rows(names: &[String], ids: &[u64]) -> Result<Option<Vec<bool>>> {
    let bits = host::writable_rows(names)?;
    let flag = |row: usize| bits.get(row / 8).is_some_and(|b| b & (1 << (row % 8)) != 0);
    let full = ids.len() / 8;
    let all = bits.len() >= full
        && bits[..full].iter().all(|b| *b == 0xff)
        && (full * 8..ids.len()).all(flag);
    NOT_WRITABLE.with(|n| {
        let mut n = n.borrow_mut();
        let foreign = n.entry(names.to_vec()).or_default();
        foreign.clear();
        if !all {
            foreign.extend((0..ids.len()).filter(|row| !flag(*row)).map(|row| ids[row]));
        }
    });
    Ok((!all).then(|| (0..ids.len()).map(flag).collect()))
}

/// Which of `entities` the mod may change, as far as its batch reads
/// showed: `None` when all (the usual case, checked without a look-up per
/// entity).
pub(crate) fn writable_flags(entities: &[u64]) -> Option<Vec<bool>> {
    NOT_WRITABLE.with(|n| {
        let n = n.borrow();
        let foreign: Vec<&HashSet<u64>> = n.values().filter(|set| !set.is_empty()).collect();
        (!foreign.is_empty()).then(|| {
            entities
                .iter()
                .map(|e| !foreign.iter().any(|set| set.contains(e)))
                .collect()
        })
    })
}

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
    let names = Q::names();
    let batch = host::query_batch(&names)?;
    let ids = batch.entities;
    writable_rows(&names, &ids)?;
    let mut out = Vec::with_capacity(ids.len());
    Q::decode_each(&batch.columns, &ids, |row, value| {
        out.push((Entity(ids[row]), value));
    })?;
    Ok(out)
}

/// Reads query `Q` whole and gives each row's entity component `C` with the
/// value `f` returns for that row: the fastest way to update many entities,
/// one call each way and no lists in between.
///
/// Only the rows the mod may change are given to `f` and written: its own
/// entities (or any, when the game granted it). Other mods' entities and
/// the game's with the same components are left as they are. `C` is
/// usually one of `Q`'s components.
///
/// ```ignore
/// update_batch::<(Position, Velocity), _>(|_, (p, v)| Position { x: p.x + v.x, y: p.y + v.y })?;
/// ```
pub fn update_batch<Q: ComponentSet, C: Component>(
    mut f: impl FnMut(Entity, Q) -> C,
) -> Result<()> {
    let names = Q::names();
    let batch = host::query_batch(&names)?;
    let mut ids = batch.entities;
    let writable = writable_rows(&names, &ids)?;
    let mut values = Vec::with_capacity(ids.len());
    // The rows written: those the mod may change, less any whose values
    // did not decode (left as they are). Rows come in order; the ids are
    // copied only once one is skipped.
    let mut next = 0;
    let mut given: Option<Vec<u64>> = None;
    Q::decode_each(&batch.columns, &ids, |row, value| {
        if writable.as_ref().is_some_and(|flags| !flags[row]) {
            return;
        }
        if row != next && given.is_none() {
            given = Some(ids[..next].to_vec());
        }
        if let Some(given) = &mut given {
            given.push(ids[row]);
        }
        next = row + 1;
        values.push(f(Entity(ids[row]), value));
    })?;
    match given {
        Some(given) => ids = given,
        None => ids.truncate(next),
    }
    if ids.is_empty() {
        return Ok(());
    }
    let column = encode_column(&values)?;
    Ok(host::write_batch(&Batch {
        entities: ids,
        columns: vec![column],
    })?)
}

/// One row's value of a column: the value, or why it does not decode.
pub(crate) type RowValue<C> = std::result::Result<C, String>;

/// The values of one column, one per row, decoded as they are taken: a
/// packed column in the layout `C` knows is read record by record, anything
/// else is decoded first, value by value.
pub(crate) enum ColumnRows<'a, C> {
    /// Records `C::read_record` reads.
    Records(std::slice::ChunksExact<'a, u8>),
    /// Values already decoded.
    Values(std::vec::IntoIter<RowValue<C>>),
}

impl<C: Component> Iterator for ColumnRows<'_, C> {
    type Item = RowValue<C>;

    #[inline]
    fn next(&mut self) -> Option<RowValue<C>> {
        match self {
            ColumnRows::Records(records) => records
                .next()
                .map(|r| C::read_record(r).ok_or_else(|| "a packed record of another size".into())),
            ColumnRows::Values(values) => values.next(),
        }
    }
}

/// Checks a column against the batch's row count and returns its values.
/// A column that does not decode as a whole (a packed layout that does not
/// fit `C`) is [`Error::BadInput`]; in a MessagePack column each value
/// decodes on its own, so one bad value costs only its row.
pub(crate) fn column_rows<C: Component>(column: &Column, rows: usize) -> Result<ColumnRows<'_, C>> {
    let short = |n: usize| {
        Error::InvalidValue(format!(
            "column `{}` has {n} values for {rows} rows",
            C::NAME
        ))
    };
    let values: Vec<RowValue<C>> = match &column.encoding {
        ColumnEncoding::Msgpack => {
            each_value(&column.data).map_err(|e| Error::bad_value(C::NAME, e))?
        }
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
            let values: Vec<C> = packed::read_all(&column.data, layout.kinds(), &layout.paths())
                .map_err(|e| Error::bad_value(C::NAME, e))?;
            remember();
            values.into_iter().map(Ok).collect()
        }
    };
    if values.len() != rows {
        return Err(short(values.len()));
    }
    Ok(ColumnRows::Values(values.into_iter()))
}

/// The values of a MessagePack array, each decoded on its own: all at once
/// when all fit `C` (the usual case), else one by one, each that does not
/// fit kept as the reason. Only an array that is not well formed fails.
pub(crate) fn each_value<C: serde::de::DeserializeOwned>(
    data: &[u8],
) -> std::result::Result<Vec<RowValue<C>>, String> {
    if let Ok(all) = rmp_serde::from_slice::<Vec<C>>(data) {
        return Ok(all.into_iter().map(Ok).collect());
    }
    let mut rest = data;
    let n = rmp::decode::read_array_len(&mut rest).map_err(|e| e.to_string())?;
    let mut at = data.len() - rest.len();
    let mut out = Vec::with_capacity((n as usize).min(data.len()));
    for _ in 0..n {
        let value = &data[at..];
        out.push(rmp_serde::from_slice::<C>(value).map_err(|e| e.to_string()));
        // Where the next value starts, whatever the type made of this one.
        let mut skip = rmp_serde::Deserializer::new(std::io::Cursor::new(value));
        <serde::de::IgnoredAny as serde::Deserialize>::deserialize(&mut skip)
            .map_err(|e| e.to_string())?;
        at += skip.position() as usize;
    }
    Ok(out)
}

/// Tells the host of values the mod could not decode, against the mods
/// that wrote them: at most [`Reports::MAX`] a read (the host counts 16 a
/// tick).
#[derive(Default)]
pub(crate) struct Reports(u32);

impl Reports {
    const MAX: u32 = 16;

    /// Reports the value of component `name` on `entity`.
    pub(crate) fn value(&mut self, entity: u64, name: &str, reason: &str) {
        if self.0 < Self::MAX {
            self.0 += 1;
            crate::sys::events::reject_value(entity, name, reason);
        }
    }
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

/// Like [`encode_column`] for only the values whose `keep` flag is set.
pub(crate) fn encode_some_rows<C: Component>(values: &[C], keep: &[bool]) -> Result<Column> {
    let mut column = encode_column(values)?;
    match &column.encoding {
        ColumnEncoding::Packed(_) => {
            let stride = column.data.len() / values.len().max(1);
            let mut data = Vec::with_capacity(column.data.len());
            for (record, _) in column
                .data
                .chunks_exact(stride.max(1))
                .zip(keep)
                .filter(|(_, k)| **k)
            {
                data.extend_from_slice(record);
            }
            column.data = data;
        }
        ColumnEncoding::Msgpack => {
            let kept: Vec<&C> = values
                .iter()
                .zip(keep)
                .filter(|(_, k)| **k)
                .map(|(v, _)| v)
                .collect();
            column.data = crate::component::encode(&kept)?;
        }
    }
    Ok(column)
}
