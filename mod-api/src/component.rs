//! Components as ordinary serde types, named for the host.

use mod_api_packed as packed;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::__private::bindings::bevy_wasm::mods::types::{Column, Component as WitComponent};
use crate::batch::{ColumnRows, Reports, RowValue, column_rows};
use crate::error::Result;

/// A component type: a serde type with the name the game knows it by.
///
/// For a type the game exposes, the name is its short Rust type name in the
/// game (`Position`) and the fields must match the game's. For a type the
/// mod defines itself, any name without a colon will do (the game knows it
/// as `your-mod-id:Name`, and no other mod can take it); list it with
/// [`Manifest::define`](crate::Manifest::define). Another mod's type goes
/// by its full name: `component!(Weather = "storm:Weather")`.
///
/// Implement it with [`component!`](crate::component).
pub trait Component: Serialize + DeserializeOwned {
    /// The component's type name.
    const NAME: &'static str;

    /// The packed layout (scalars and field paths) this type reads and
    /// writes directly; [`component!`](crate::component) with fields sets it.
    /// Columns in any other layout go through serde.
    #[doc(hidden)]
    const LAYOUT: Option<(&'static [packed::Scalar], &'static [&'static str])> = None;

    /// Reads one record of `LAYOUT`; `None` when the type has no `LAYOUT`
    /// or the record is not its size.
    #[doc(hidden)]
    fn read_record(_record: &[u8]) -> Option<Self> {
        None
    }

    /// Appends one packed record per value. The default goes through serde;
    /// a type whose `LAYOUT` is `kinds` writes its fields directly.
    #[doc(hidden)]
    fn write_records(
        values: &[Self],
        kinds: &[packed::Scalar],
        out: &mut Vec<u8>,
    ) -> std::result::Result<(), packed::Error> {
        packed::write_all(values, kinds, out)
    }
}

/// Implements [`Component`] for types, each named after itself.
///
/// ```ignore
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Position { x: f32, y: f32 }
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Inventory { items: Vec<String> }
/// mod_api::component!(Inventory);
/// // Another mod's type, by its full name: its id, `:`, the name.
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Weather { wind: f32 }
/// mod_api::component!(Weather = "storm:Weather");
/// // For a struct of plain numbers, list its fields too: batches then read
/// // and write them directly, several times faster than through serde.
/// mod_api::component!(Position { x: f32, y: f32 });
/// ```
#[macro_export]
macro_rules! component {
    ($ty:ident { $($field:ident : $fty:ty),+ $(,)? }) => {
        impl $crate::Component for $ty {
            const NAME: &'static str = stringify!($ty);
            const LAYOUT: Option<(
                &'static [$crate::__private::packed::Scalar],
                &'static [&'static str],
            )> = Some((
                &[$(<$fty as $crate::__private::packed::Primitive>::KIND),+],
                &[$(stringify!($field)),+],
            ));

            #[inline]
            fn read_record(record: &[u8]) -> Option<Self> {
                use $crate::__private::packed::Primitive;
                const STRIDE: usize = 0 $(+ ::std::mem::size_of::<$fty>())+;
                // A fixed-size array: the offsets below are constants, so
                // the reads compile to plain loads.
                let record: &[u8; STRIDE] = record.try_into().ok()?;
                let mut at = 0;
                Some($ty {
                    $($field: {
                        let v = <$fty as Primitive>::read(&record[at..]);
                        at += ::std::mem::size_of::<$fty>();
                        v
                    },)+
                })
            }

            fn write_records(
                values: &[Self],
                kinds: &[$crate::__private::packed::Scalar],
                out: &mut ::std::vec::Vec<u8>,
            ) -> ::std::result::Result<(), $crate::__private::packed::Error> {
                use $crate::__private::packed::Primitive;
                const STRIDE: usize = 0 $(+ ::std::mem::size_of::<$fty>())+;
                const KINDS: &[$crate::__private::packed::Scalar] = &[$(<$fty as Primitive>::KIND),+];
                if kinds != KINDS {
                    return $crate::__private::packed::write_all(values, kinds, out);
                }
                let start = out.len();
                out.resize(start + STRIDE * values.len(), 0);
                for (value, record) in values.iter().zip(out[start..].chunks_exact_mut(STRIDE)) {
                    let record: &mut [u8; STRIDE] = record.try_into().expect("chunks of STRIDE");
                    let mut at = 0;
                    $(
                        Primitive::put(value.$field, &mut record[at..at + ::std::mem::size_of::<$fty>()]);
                        at += ::std::mem::size_of::<$fty>();
                    )+
                    let _ = at;
                }
                Ok(())
            }
        }
    };
    ($ty:ident = $name:literal) => {
        impl $crate::Component for $ty {
            const NAME: &'static str = $name;
        }
    };
    ($($ty:ident),+ $(,)?) => {
        $(impl $crate::Component for $ty {
            const NAME: &'static str = stringify!($ty);
        })+
    };
}

/// Encodes a component value the way the host expects: MessagePack with
/// structs as maps keyed by field name.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    value.serialize(&mut rmp_serde::Serializer::new(&mut out).with_struct_map())?;
    Ok(out)
}

/// A group of components to spawn or insert together: one component or a
/// tuple of up to eight.
pub trait Bundle {
    /// The components as the host receives them.
    #[doc(hidden)]
    fn encode(&self) -> Result<Vec<WitComponent>>;
}

/// A set of component types named in a query: one type or a tuple of up to
/// eight, decoded together for each entity.
pub trait ComponentSet: Sized {
    /// The component names, in order.
    fn names() -> Vec<String>;

    /// Decodes a batch's columns (rows of entities `ids`), handing `each`
    /// the row number and one value of `Self` per row, in row order. A row
    /// with a value that does not decode is left out, and the value is
    /// reported to the host.
    #[doc(hidden)]
    fn decode_each(columns: &[Column], ids: &[u64], each: impl FnMut(usize, Self)) -> Result<()>;
}

/// The rows of a column of `C`, or `None` when the column as a whole does
/// not decode (reported against its first row's writer).
fn rows_of<'a, C: Component>(
    columns: &'a [Column],
    i: usize,
    ids: &[u64],
    reports: &mut Reports,
) -> Result<Option<ColumnRows<'a, C>>> {
    match column_rows::<C>(column(columns, i, C::NAME)?, ids.len()) {
        Ok(rows) => Ok(Some(rows)),
        Err(crate::Error::BadInput { reason, .. }) => {
            if let Some(first) = ids.first() {
                reports.value(
                    *first,
                    C::NAME,
                    &format!("every value of the column: {reason}"),
                );
            }
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// A row's value of `C`, or `None` (reported) when it does not decode.
#[inline]
fn row_value<C: Component>(
    value: Option<RowValue<C>>,
    entity: u64,
    reports: &mut Reports,
) -> Result<Option<C>> {
    match value {
        Some(Ok(v)) => Ok(Some(v)),
        Some(Err(reason)) => {
            reports.value(entity, C::NAME, &reason);
            Ok(None)
        }
        None => Err(crate::Error::InvalidValue("a batch column is short".into())),
    }
}

fn column<'a>(columns: &'a [Column], i: usize, name: &str) -> Result<&'a Column> {
    columns
        .get(i)
        .filter(|c| c.name == name)
        .ok_or_else(|| crate::Error::InvalidValue(format!("the batch has no column `{name}`")))
}

impl<C: Component> Bundle for C {
    fn encode(&self) -> Result<Vec<WitComponent>> {
        Ok(vec![WitComponent {
            name: C::NAME.to_string(),
            value: encode(self)?,
        }])
    }
}

impl<C: Component> ComponentSet for C {
    fn names() -> Vec<String> {
        vec![C::NAME.to_string()]
    }

    fn decode_each(
        columns: &[Column],
        ids: &[u64],
        mut each: impl FnMut(usize, Self),
    ) -> Result<()> {
        let mut reports = Reports::default();
        let Some(mut values) = rows_of::<C>(columns, 0, ids, &mut reports)? else {
            return Ok(());
        };
        for (row, entity) in ids.iter().enumerate() {
            if let Some(v) = row_value(values.next(), *entity, &mut reports)? {
                each(row, v);
            }
        }
        Ok(())
    }
}

macro_rules! tuples {
    ($(($($t:ident $i:tt),+))+) => {$(
        impl<$($t: Component),+> Bundle for ($($t,)+) {
            fn encode(&self) -> Result<Vec<WitComponent>> {
                Ok(vec![$(WitComponent { name: $t::NAME.to_string(), value: encode(&self.$i)? }),+])
            }
        }
        impl<$($t: Component),+> ComponentSet for ($($t,)+) {
            fn names() -> Vec<String> {
                vec![$($t::NAME.to_string()),+]
            }

            #[allow(non_snake_case)]
            fn decode_each(columns: &[Column], ids: &[u64], mut each: impl FnMut(usize, Self)) -> Result<()> {
                let mut reports = Reports::default();
                let ($(Some(mut $t),)+) = ($(rows_of::<$t>(columns, $i, ids, &mut reports)?,)+) else {
                    return Ok(());
                };
                for (row, entity) in ids.iter().enumerate() {
                    // Every value of the row is looked at, so each bad one
                    // is reported.
                    let values = ($(row_value($t.next(), *entity, &mut reports)?,)+);
                    if let ($(Some($t),)+) = values {
                        each(row, ($($t,)+));
                    }
                }
                Ok(())
            }
        }
    )+};
}

tuples! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
    (A 0, B 1, C 2, D 3, E 4, F 5)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7)
}
