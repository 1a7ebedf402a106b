//! Reading records into a serde type.
//!
//! The first record of a column is read against the layout: every field's
//! path and type is checked. When the type asked for exactly the layout's
//! scalars, the other records are read by the sizes alone, with no look-up
//! per field: that is what makes the batch path fast.

use serde::de::{self, DeserializeOwned, DeserializeSeed, SeqAccess, Visitor};

use crate::{Error, Scalar, stride};

/// Reads every record of `data` (back to back, `kinds` each) into `T`.
/// `paths` are the layout's dotted field paths: the first record checks that
/// `T` declares its fields in the layout's order, so a struct that lists `y`
/// before `x` gets an error, not swapped values.
pub fn read_all<T: DeserializeOwned, P: AsRef<str>>(
    data: &[u8],
    kinds: &[Scalar],
    paths: &[P],
) -> Result<Vec<T>, Error> {
    let mut out = Vec::with_capacity(data.len() / stride(kinds).max(1));
    read_each(data, kinds, paths, |value| out.push(value))?;
    Ok(out)
}

/// Like [`read_all`], handing each value to `each` as it is read instead
/// of collecting them. Every check that can fail (the sizes, the first
/// record's fields) is made before `each` is first called.
pub fn read_each<T: DeserializeOwned, P: AsRef<str>>(
    data: &[u8],
    kinds: &[Scalar],
    paths: &[P],
    mut each: impl FnMut(T),
) -> Result<(), Error> {
    let size = stride(kinds);
    if size == 0 || !data.len().is_multiple_of(size) {
        return Err(Error::new(format!(
            "{} bytes is not a whole number of {size}-byte records",
            data.len()
        )));
    }
    let Some(first) = data.get(..size) else {
        return Ok(());
    };
    let mut reader = Reader {
        data: first,
        kinds,
        at: 0,
        check: Some((paths, Vec::new())),
        exact: true,
    };
    let value = T::deserialize(&mut reader)?;
    let value = reader.finish(value)?;
    let rest = &data[size..];
    if !reader.exact {
        // Not exactly the layout's scalars: check every record first, then
        // hand them over.
        let values = rest
            .chunks_exact(size)
            .map(|record| read::<T, P>(record, kinds, None))
            .collect::<Result<Vec<T>, Error>>()?;
        each(value);
        values.into_iter().for_each(each);
        return Ok(());
    }
    // The first record was read exactly, so every record of this type reads
    // `size` bytes and cannot fail: read the rest in one pass, with a reader
    // that knows nothing but sizes (small enough for the type's
    // `Deserialize` to inline).
    each(value);
    let mut reader = ByType { data: rest };
    for _ in 0..rest.len() / size {
        each(T::deserialize(&mut reader)?);
    }
    if !reader.data.is_empty() {
        return Err(Error::new("a record was read short"));
    }
    Ok(())
}

/// Reads one record into `T`; `paths`, when given, are checked as in
/// [`read_all`].
pub fn read<T: DeserializeOwned, P: AsRef<str>>(
    record: &[u8],
    kinds: &[Scalar],
    paths: Option<&[P]>,
) -> Result<T, Error> {
    let mut reader = Reader {
        data: record,
        kinds,
        at: 0,
        check: paths.map(|p| (p, Vec::new())),
        exact: true,
    };
    let value = T::deserialize(&mut reader)?;
    reader.finish(value)
}

struct Reader<'a, 'p, P> {
    data: &'a [u8],
    kinds: &'a [Scalar],
    /// Index of the next field.
    at: usize,
    /// The layout's paths and the path of the field being read.
    check: Option<(&'p [P], Vec<&'static str>)>,
    /// Whether every field so far was asked for as exactly its scalar.
    exact: bool,
}

impl<'a, P: AsRef<str>> Reader<'a, '_, P> {
    fn finish<T>(&self, value: T) -> Result<T, Error> {
        if !self.data.is_empty() || self.at != self.kinds.len() {
            return Err(Error::new("the type has fewer fields than the record"));
        }
        Ok(value)
    }

    /// The next field, checked against the layout.
    fn next(&mut self, wanted: Option<Scalar>) -> Result<(Scalar, &'a [u8]), Error> {
        let Some(&kind) = self.kinds.get(self.at) else {
            return Err(Error::new("the type has more fields than the record"));
        };
        if let Some((paths, here)) = &self.check {
            let expected = paths.get(self.at).map_or("", |p| p.as_ref());
            let here = here.join(".");
            if !here.is_empty() && here != expected {
                return Err(Error::new(format!(
                    "field `{here}` is where the game has `{expected}`; declare the fields \
                     in the game's order"
                )));
            }
        }
        self.exact &= wanted == Some(kind);
        self.at += 1;
        self.take(kind.size()).map(|b| (kind, b))
    }

    #[inline(always)]
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let Some((head, rest)) = self.data.split_at_checked(n) else {
            return Err(Error::new("the record is short"));
        };
        self.data = rest;
        Ok(head)
    }

    /// Visits the next field by the layout's scalar.
    fn visit_next<'de, V: Visitor<'de>>(
        &mut self,
        wanted: Option<Scalar>,
        v: V,
    ) -> Result<V::Value, Error> {
        let (kind, b) = self.next(wanted)?;
        match kind {
            Scalar::Bool => v.visit_bool(b[0] != 0),
            Scalar::U8 => v.visit_u8(b[0]),
            Scalar::U16 => v.visit_u16(u16::from_le_bytes(le(b))),
            Scalar::U32 => v.visit_u32(u32::from_le_bytes(le(b))),
            Scalar::U64 => v.visit_u64(u64::from_le_bytes(le(b))),
            Scalar::I8 => v.visit_i8(b[0] as i8),
            Scalar::I16 => v.visit_i16(i16::from_le_bytes(le(b))),
            Scalar::I32 => v.visit_i32(i32::from_le_bytes(le(b))),
            Scalar::I64 => v.visit_i64(i64::from_le_bytes(le(b))),
            Scalar::F32 => v.visit_f32(f32::from_le_bytes(le(b))),
            Scalar::F64 => v.visit_f64(f64::from_le_bytes(le(b))),
        }
    }
}

#[inline(always)]
fn le<const N: usize>(b: &[u8]) -> [u8; N] {
    b.try_into().unwrap_or([0; N])
}

/// A typed field, checked against the layout.
macro_rules! typed {
    ($($method:ident => $kind:ident;)*) => {$(
        fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
            self.visit_next(Some(Scalar::$kind), v)
        }
    )*};
}

impl<'de, P: AsRef<str>> de::Deserializer<'de> for &mut Reader<'_, '_, P> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.visit_next(None, v)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.visit_next(Some(Scalar::Bool), v)
    }

    typed! {
        deserialize_u8 => U8;
        deserialize_u16 => U16;
        deserialize_u32 => U32;
        deserialize_u64 => U64;
        deserialize_i8 => I8;
        deserialize_i16 => I16;
        deserialize_i32 => I32;
        deserialize_i64 => I64;
        deserialize_f32 => F32;
        deserialize_f64 => F64;
    }

    #[inline(always)]
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        v.visit_seq(Fields {
            reader: self,
            names: fields,
            next: 0,
        })
    }

    #[inline(always)]
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        v.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char str string bytes byte_buf option unit unit_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

/// The fast path's reader: each typed field takes its size from the front of
/// `data`. Only types whose first record read exactly get here, and they ask
/// for nothing but typed fields and structs.
struct ByType<'a> {
    data: &'a [u8],
}

impl<'a> ByType<'a> {
    #[inline(always)]
    fn take<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let Some((head, rest)) = self.data.split_first_chunk::<N>() else {
            return Err(Error::new("the record is short"));
        };
        self.data = rest;
        Ok(*head)
    }
}

macro_rules! sized {
    ($($method:ident $ty:ty => $visit:ident;)*) => {$(
        #[inline(always)]
        fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
            v.$visit(<$ty>::from_le_bytes(self.take()?))
        }
    )*};
}

impl<'de> de::Deserializer<'de> for &mut ByType<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
        Err(Error::new("an untyped field on the fast path"))
    }

    #[inline(always)]
    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let [b] = self.take()?;
        v.visit_bool(b != 0)
    }

    sized! {
        deserialize_u8 u8 => visit_u8;
        deserialize_u16 u16 => visit_u16;
        deserialize_u32 u32 => visit_u32;
        deserialize_u64 u64 => visit_u64;
        deserialize_i8 i8 => visit_i8;
        deserialize_i16 i16 => visit_i16;
        deserialize_i32 i32 => visit_i32;
        deserialize_i64 i64 => visit_i64;
        deserialize_f32 f32 => visit_f32;
        deserialize_f64 f64 => visit_f64;
    }

    #[inline(always)]
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        v.visit_seq(ByTypeFields {
            reader: self,
            left: fields.len(),
        })
    }

    #[inline(always)]
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        v.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char str string bytes byte_buf option unit unit_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

struct ByTypeFields<'r, 'a> {
    reader: &'r mut ByType<'a>,
    left: usize,
}

impl<'de> SeqAccess<'de> for ByTypeFields<'_, '_> {
    type Error = Error;

    #[inline(always)]
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.reader).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

struct Fields<'r, 'a, 'p, P> {
    reader: &'r mut Reader<'a, 'p, P>,
    names: &'static [&'static str],
    next: usize,
}

impl<'de, P: AsRef<str>> SeqAccess<'de> for Fields<'_, '_, '_, P> {
    type Error = Error;

    #[inline(always)]
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some(&name) = self.names.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        if let Some((_, here)) = &mut self.reader.check {
            here.push(name);
            let value = seed.deserialize(&mut *self.reader);
            if let Some((_, here)) = &mut self.reader.check {
                here.pop();
            }
            return value.map(Some);
        }
        seed.deserialize(&mut *self.reader).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.names.len() - self.next)
    }
}
