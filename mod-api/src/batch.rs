//! The bulk path: many entities' components in one call each way.
//!
//! A component made only of named fields and numbers arrives *packed*: one
//! fixed-size little-endian record per row, decoded here straight into the
//! mod's own serde type. Anything else arrives as MessagePack. Either way the
//! mod sees plain Rust values.

use std::cell::RefCell;
use std::collections::HashMap;

use serde::de::{self, DeserializeSeed, IntoDeserializer, SeqAccess, Visitor};
use serde::ser::{self, Serialize};

use crate::bindings::bevy_wasm::mods::entities as host;
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
    match &column.encoding {
        ColumnEncoding::Msgpack => Ok(rmp_serde::from_slice::<Vec<C>>(&column.data)?),
        ColumnEncoding::Packed(fields) => {
            let stride: usize = fields.iter().map(|f| size(f.kind)).sum();
            if stride == 0 || column.data.len() != stride * rows {
                return Err(Error::InvalidValue(format!(
                    "packed column `{}` has {} bytes for {rows} rows",
                    C::NAME,
                    column.data.len()
                )));
            }
            LAYOUTS.with(|l| {
                let mut l = l.borrow_mut();
                if l.get(C::NAME) != Some(fields) {
                    l.insert(C::NAME.to_string(), fields.clone());
                }
            });
            let mut out = Vec::with_capacity(rows);
            for (i, record) in column.data.chunks_exact(stride).enumerate() {
                let mut de = PackedDe {
                    data: record,
                    fields,
                    idx: 0,
                    path: Vec::new(),
                    check: i == 0,
                };
                let value = C::deserialize(&mut de)
                    .map_err(|e| Error::InvalidValue(format!("`{}`: {}", C::NAME, e.0)))?;
                if de.idx != fields.len() {
                    return Err(Error::InvalidValue(format!(
                        "`{}` has fewer fields than the game's type",
                        C::NAME
                    )));
                }
                out.push(value);
            }
            Ok(out)
        }
    }
}

/// Encodes values of `C` as a column: packed with the layout the host last
/// sent, MessagePack when there is none.
pub(crate) fn encode_column<C: Component>(values: &[C]) -> Result<Column> {
    let layout = LAYOUTS.with(|l| l.borrow().get(C::NAME).cloned());
    let (encoding, data) = match layout {
        Some(fields) => {
            let stride: usize = fields.iter().map(|f| size(f.kind)).sum();
            let mut ser = PackedSer {
                out: Vec::with_capacity(stride * values.len()),
                fields: &fields,
                idx: 0,
            };
            let fields = fields.clone();
            for v in values {
                ser.idx = 0;
                v.serialize(&mut ser)
                    .map_err(|e| Error::InvalidValue(format!("`{}`: {}", C::NAME, e.0)))?;
                if ser.idx != fields.len() {
                    return Err(Error::InvalidValue(format!(
                        "`{}` has fewer fields than the game's type",
                        C::NAME
                    )));
                }
            }
            let data = ser.out;
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

fn size(kind: Scalar) -> usize {
    match kind {
        Scalar::Boolean | Scalar::U8 | Scalar::S8 => 1,
        Scalar::U16 | Scalar::S16 => 2,
        Scalar::U32 | Scalar::S32 | Scalar::F32 => 4,
        Scalar::U64 | Scalar::S64 | Scalar::F64 => 8,
    }
}

/// A serde error with a message.
#[derive(Debug)]
pub struct PackedError(String);

impl std::fmt::Display for PackedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PackedError {}

impl de::Error for PackedError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        PackedError(msg.to_string())
    }
}

impl ser::Error for PackedError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        PackedError(msg.to_string())
    }
}

/// Reads one packed record in field order.
struct PackedDe<'a> {
    data: &'a [u8],
    fields: &'a [PackedField],
    idx: usize,
    /// Field names from the root, checked against the layout on the first
    /// row so a field order that differs from the game's is caught.
    path: Vec<&'static str>,
    check: bool,
}

impl<'a> PackedDe<'a> {
    fn next_field(&mut self) -> Result<(Scalar, &'a [u8]), PackedError> {
        let field = self
            .fields
            .get(self.idx)
            .ok_or_else(|| PackedError("more fields than the game's type".into()))?;
        if self.check && !self.path.is_empty() {
            let here = self.path.join(".");
            if here != field.path {
                return Err(PackedError(format!(
                    "field `{here}` is where the game has `{}`; declare the fields in the \
                     game's order",
                    field.path
                )));
            }
        }
        let (head, rest) = self.data.split_at(size(field.kind));
        self.data = rest;
        self.idx += 1;
        Ok((field.kind, head))
    }
}

fn le<const N: usize>(b: &[u8]) -> [u8; N] {
    b.try_into().unwrap_or([0; N])
}

impl<'de> de::Deserializer<'de> for &mut PackedDe<'_> {
    type Error = PackedError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, PackedError> {
        let (kind, b) = self.next_field()?;
        match kind {
            Scalar::Boolean => v.visit_bool(b[0] != 0),
            Scalar::U8 => v.visit_u8(b[0]),
            Scalar::U16 => v.visit_u16(u16::from_le_bytes(le(b))),
            Scalar::U32 => v.visit_u32(u32::from_le_bytes(le(b))),
            Scalar::U64 => v.visit_u64(u64::from_le_bytes(le(b))),
            Scalar::S8 => v.visit_i8(b[0] as i8),
            Scalar::S16 => v.visit_i16(i16::from_le_bytes(le(b))),
            Scalar::S32 => v.visit_i32(i32::from_le_bytes(le(b))),
            Scalar::S64 => v.visit_i64(i64::from_le_bytes(le(b))),
            Scalar::F32 => v.visit_f32(f32::from_le_bytes(le(b))),
            Scalar::F64 => v.visit_f64(f64::from_le_bytes(le(b))),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, PackedError> {
        v.visit_seq(Fields {
            de: self,
            names: fields,
            at: 0,
        })
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, PackedError> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, PackedError> {
        self.deserialize_any(v)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct seq tuple
        tuple_struct map enum identifier
    }
}

struct Fields<'a, 'b> {
    de: &'a mut PackedDe<'b>,
    names: &'static [&'static str],
    at: usize,
}

impl<'de> SeqAccess<'de> for Fields<'_, '_> {
    type Error = PackedError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, PackedError> {
        let Some(name) = self.names.get(self.at) else {
            return Ok(None);
        };
        self.at += 1;
        if self.de.check {
            self.de.path.push(name);
        }
        let value = seed.deserialize(&mut *self.de);
        if self.de.check {
            self.de.path.pop();
        }
        value.map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.names.len() - self.at)
    }
}

/// Writes values as packed records in field order.
struct PackedSer<'a> {
    out: Vec<u8>,
    fields: &'a [PackedField],
    idx: usize,
}

enum Num {
    B(bool),
    I(i64),
    U(u64),
    F(f64),
}

impl PackedSer<'_> {
    fn put(&mut self, n: Num) -> Result<(), PackedError> {
        let field = self
            .fields
            .get(self.idx)
            .ok_or_else(|| PackedError("more fields than the game's type".into()))?;
        self.idx += 1;
        let range = || PackedError(format!("value out of range for field `{}`", field.path));
        let int = |n: &Num| -> Option<i128> {
            match n {
                Num::I(i) => Some(*i as i128),
                Num::U(u) => Some(*u as i128),
                _ => None,
            }
        };
        let o = &mut self.out;
        match (field.kind, &n) {
            (Scalar::Boolean, Num::B(b)) => o.push(*b as u8),
            (Scalar::F32, Num::F(f)) => o.extend_from_slice(&(*f as f32).to_le_bytes()),
            (Scalar::F64, Num::F(f)) => o.extend_from_slice(&f.to_le_bytes()),
            (kind, n) if int(n).is_some() => {
                let i = int(n).unwrap_or_default();
                macro_rules! w {
                    ($t:ty) => {
                        o.extend_from_slice(&<$t>::try_from(i).map_err(|_| range())?.to_le_bytes())
                    };
                }
                match kind {
                    Scalar::U8 => w!(u8),
                    Scalar::U16 => w!(u16),
                    Scalar::U32 => w!(u32),
                    Scalar::U64 => w!(u64),
                    Scalar::S8 => w!(i8),
                    Scalar::S16 => w!(i16),
                    Scalar::S32 => w!(i32),
                    Scalar::S64 => w!(i64),
                    _ => {
                        return Err(PackedError(format!(
                            "field `{}` is {:?} in the game, not an integer",
                            field.path, field.kind
                        )));
                    }
                }
            }
            _ => {
                return Err(PackedError(format!(
                    "field `{}` has the wrong type for the game's {:?}",
                    field.path, field.kind
                )));
            }
        }
        Ok(())
    }
}

fn unsupported<T>(what: &str) -> Result<T, PackedError> {
    Err(PackedError(format!("{what} cannot be packed")))
}

impl<'a, 'b> ser::Serializer for &'a mut PackedSer<'b> {
    type Ok = ();
    type Error = PackedError;
    type SerializeSeq = ser::Impossible<(), PackedError>;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = ser::Impossible<(), PackedError>;
    type SerializeMap = ser::Impossible<(), PackedError>;
    type SerializeStruct = Self;
    type SerializeStructVariant = ser::Impossible<(), PackedError>;

    fn serialize_bool(self, v: bool) -> Result<(), PackedError> {
        self.put(Num::B(v))
    }
    fn serialize_i8(self, v: i8) -> Result<(), PackedError> {
        self.put(Num::I(v as i64))
    }
    fn serialize_i16(self, v: i16) -> Result<(), PackedError> {
        self.put(Num::I(v as i64))
    }
    fn serialize_i32(self, v: i32) -> Result<(), PackedError> {
        self.put(Num::I(v as i64))
    }
    fn serialize_i64(self, v: i64) -> Result<(), PackedError> {
        self.put(Num::I(v))
    }
    fn serialize_u8(self, v: u8) -> Result<(), PackedError> {
        self.put(Num::U(v as u64))
    }
    fn serialize_u16(self, v: u16) -> Result<(), PackedError> {
        self.put(Num::U(v as u64))
    }
    fn serialize_u32(self, v: u32) -> Result<(), PackedError> {
        self.put(Num::U(v as u64))
    }
    fn serialize_u64(self, v: u64) -> Result<(), PackedError> {
        self.put(Num::U(v))
    }
    fn serialize_f32(self, v: f32) -> Result<(), PackedError> {
        self.put(Num::F(v as f64))
    }
    fn serialize_f64(self, v: f64) -> Result<(), PackedError> {
        self.put(Num::F(v))
    }
    fn serialize_char(self, _: char) -> Result<(), PackedError> {
        unsupported("a char")
    }
    fn serialize_str(self, _: &str) -> Result<(), PackedError> {
        unsupported("a string")
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), PackedError> {
        unsupported("bytes")
    }
    fn serialize_none(self) -> Result<(), PackedError> {
        unsupported("an option")
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), PackedError> {
        unsupported("an option")
    }
    fn serialize_unit(self) -> Result<(), PackedError> {
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), PackedError> {
        Ok(())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
    ) -> Result<(), PackedError> {
        unsupported("an enum")
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<(), PackedError> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), PackedError> {
        unsupported("an enum")
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, PackedError> {
        unsupported("a list")
    }
    fn serialize_tuple(self, _: usize) -> Result<Self, PackedError> {
        Ok(self)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self, PackedError> {
        Ok(self)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, PackedError> {
        unsupported("an enum")
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, PackedError> {
        unsupported("a map")
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, PackedError> {
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, PackedError> {
        unsupported("an enum")
    }
}

impl ser::SerializeStruct for &mut PackedSer<'_> {
    type Ok = ();
    type Error = PackedError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        _: &'static str,
        v: &T,
    ) -> Result<(), PackedError> {
        v.serialize(&mut **self)
    }
    fn end(self) -> Result<(), PackedError> {
        Ok(())
    }
}

impl ser::SerializeTuple for &mut PackedSer<'_> {
    type Ok = ();
    type Error = PackedError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), PackedError> {
        v.serialize(&mut **self)
    }
    fn end(self) -> Result<(), PackedError> {
        Ok(())
    }
}

impl ser::SerializeTupleStruct for &mut PackedSer<'_> {
    type Ok = ();
    type Error = PackedError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), PackedError> {
        v.serialize(&mut **self)
    }
    fn end(self) -> Result<(), PackedError> {
        Ok(())
    }
}

// Keeps `IntoDeserializer` in use for future unit-variant support without a
// warning; packed records have no enums today.
#[allow(dead_code)]
fn _unit<'de>(s: &'de str) -> de::value::StrDeserializer<'de, PackedError> {
    s.into_deserializer()
}
