//! Components as ordinary serde types, named for the host.

use mod_api_packed as packed;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::batch::decode_column;
use crate::bindings::bevy_wasm::mods::types::{Column, Component as WitComponent};
use crate::error::Result;

/// A component type: a serde type with the name the game knows it by.
///
/// For a type the game exposes, the name is its short Rust type name in the
/// game (`Position`) and the fields must match the game's. For a type the
/// mod defines itself, any name will do; list it with
/// [`Manifest::define`](crate::Manifest::define).
///
/// Implement it with [`component!`](crate::component).
pub trait Component: Serialize + DeserializeOwned {
    /// The component's type name.
    const NAME: &'static str;

    /// Reads a packed column. The default goes through serde;
    /// [`component!`](crate::component) with fields reads them directly.
    #[doc(hidden)]
    fn read_packed(
        data: &[u8],
        kinds: &[packed::Scalar],
        paths: &[&str],
    ) -> std::result::Result<Vec<Self>, packed::Error> {
        packed::read_all(data, kinds, paths)
    }

    /// Writes a packed column; the counterpart of `read_packed`.
    #[doc(hidden)]
    fn write_packed(
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
/// // For a struct of plain numbers, list its fields too: batches then read
/// // and write them directly, several times faster than through serde.
/// mod_api::component!(Position { x: f32, y: f32 });
/// ```
#[macro_export]
macro_rules! component {
    ($ty:ident { $($field:ident : $fty:ty),+ $(,)? }) => {
        impl $crate::Component for $ty {
            const NAME: &'static str = stringify!($ty);

            fn read_packed(
                data: &[u8],
                kinds: &[$crate::__private::packed::Scalar],
                paths: &[&str],
            ) -> ::std::result::Result<::std::vec::Vec<Self>, $crate::__private::packed::Error> {
                use $crate::__private::packed::Primitive;
                const KINDS: &[$crate::__private::packed::Scalar] = &[$(<$fty as Primitive>::KIND),+];
                const PATHS: &[&str] = &[$(stringify!($field)),+];
                if kinds != KINDS || paths != PATHS {
                    // Another layout: serde reads it, with every check.
                    return $crate::__private::packed::read_all(data, kinds, paths);
                }
                let stride = $crate::__private::packed::stride(KINDS);
                if data.len() % stride != 0 {
                    return Err($crate::__private::packed::Error::new("a partial record"));
                }
                Ok(data
                    .chunks_exact(stride)
                    .map(|record| {
                        let mut at = 0;
                        $ty {
                            $($field: {
                                let v = <$fty as Primitive>::read(&record[at..]);
                                at += ::std::mem::size_of::<$fty>();
                                v
                            },)+
                        }
                    })
                    .collect())
            }

            fn write_packed(
                values: &[Self],
                kinds: &[$crate::__private::packed::Scalar],
                out: &mut ::std::vec::Vec<u8>,
            ) -> ::std::result::Result<(), $crate::__private::packed::Error> {
                use $crate::__private::packed::Primitive;
                const KINDS: &[$crate::__private::packed::Scalar] = &[$(<$fty as Primitive>::KIND),+];
                if kinds != KINDS {
                    return $crate::__private::packed::write_all(values, kinds, out);
                }
                for value in values {
                    $(Primitive::write(value.$field, out);)+
                }
                Ok(())
            }
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

    /// Decodes a batch's columns, one value of `Self` per row.
    #[doc(hidden)]
    fn decode(columns: &[Column], rows: usize) -> Result<Vec<Self>>;
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

    fn decode(columns: &[Column], rows: usize) -> Result<Vec<Self>> {
        decode_column::<C>(column(columns, 0, C::NAME)?, rows)
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
            fn decode(columns: &[Column], rows: usize) -> Result<Vec<Self>> {
                let mut its = ($(decode_column::<$t>(column(columns, $i, $t::NAME)?, rows)?.into_iter(),)+);
                let mut out = Vec::with_capacity(rows);
                for _ in 0..rows {
                    match ($(its.$i.next(),)+) {
                        ($(Some($t),)+) => out.push(($($t,)+)),
                        #[allow(unreachable_patterns)]
                        _ => return Err(crate::Error::InvalidValue("a batch column is short".into())),
                    }
                }
                Ok(out)
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
