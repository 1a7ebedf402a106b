//! Components as ordinary serde types, named for the host.

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
}

/// Implements [`Component`] for types, each named after itself.
///
/// ```ignore
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Position { x: f32, y: f32 }
/// mod_api::component!(Position);
/// ```
#[macro_export]
macro_rules! component {
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
