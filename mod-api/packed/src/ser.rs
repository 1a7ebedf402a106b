//! Writing a serde value as a record.

use serde::ser::{self, Impossible, Serialize};

use crate::{Error, Scalar, stride};

/// Appends `value` to `out` as one record of `kinds`. Numbers are converted
/// to the layout's types when they fit (an `f64` into an `f32` field, a
/// `u64` into a `u8` field if it is small enough); anything else is an
/// error.
pub fn write<T: Serialize + ?Sized>(
    value: &T,
    kinds: &[Scalar],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let start = out.len();
    let mut writer = Writer {
        out,
        kinds,
        at: 0,
        exact: true,
    };
    let result = value.serialize(&mut writer).and_then(|()| {
        if writer.at == kinds.len() {
            Ok(())
        } else {
            Err(Error::new("the value has fewer fields than the layout"))
        }
    });
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Appends every value as a record. The first value is written against the
/// layout; when its fields are exactly the layout's scalars, the rest are
/// written by their types alone.
pub fn write_all<'v, T: Serialize + 'v>(
    values: impl IntoIterator<Item = &'v T>,
    kinds: &[Scalar],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let start = out.len();
    let result = write_each(values.into_iter(), kinds, out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn write_each<'v, T: Serialize + 'v>(
    mut values: impl Iterator<Item = &'v T>,
    kinds: &[Scalar],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let Some(first) = values.next() else {
        return Ok(());
    };
    let start = out.len();
    let mut writer = Writer {
        out,
        kinds,
        at: 0,
        exact: true,
    };
    first.serialize(&mut writer)?;
    if writer.at != kinds.len() {
        return Err(Error::new("the value has fewer fields than the layout"));
    }
    if !writer.exact {
        for value in values {
            writer.at = 0;
            value.serialize(&mut writer)?;
            if writer.at != kinds.len() {
                return Err(Error::new("the value has fewer fields than the layout"));
            }
        }
        return Ok(());
    }
    // The first value's fields were exactly the layout's scalars, so the
    // rest are written by their types alone, with a writer small enough for
    // the type's `Serialize` to inline.
    let (lower, _) = values.size_hint();
    out.reserve(lower * stride(kinds));
    let mut sized = ByType { out };
    let mut count = 1;
    for value in values {
        value.serialize(&mut sized)?;
        count += 1;
    }
    if sized.out.len() - start != count * stride(kinds) {
        return Err(Error::new("a value wrote a record of the wrong size"));
    }
    Ok(())
}

/// The associated types both serializers share: structs and tuples are
/// walked field by field, anything else cannot be packed.
macro_rules! serializer_types {
    () => {
        type Ok = ();
        type Error = Error;
        type SerializeSeq = Impossible<(), Error>;
        type SerializeTuple = Self;
        type SerializeTupleStruct = Self;
        type SerializeTupleVariant = Impossible<(), Error>;
        type SerializeMap = Impossible<(), Error>;
        type SerializeStruct = Self;
        type SerializeStructVariant = Impossible<(), Error>;
    };
}

/// The methods both serializers share: everything but the scalars.
macro_rules! not_scalars {
    () => {
        fn serialize_char(self, _: char) -> Result<(), Error> {
            unsupported("a char")
        }
        fn serialize_str(self, _: &str) -> Result<(), Error> {
            unsupported("a string")
        }
        fn serialize_bytes(self, _: &[u8]) -> Result<(), Error> {
            unsupported("bytes")
        }
        fn serialize_none(self) -> Result<(), Error> {
            unsupported("an option")
        }
        fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), Error> {
            unsupported("an option")
        }
        fn serialize_unit(self) -> Result<(), Error> {
            Ok(())
        }
        fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
            Ok(())
        }
        fn serialize_unit_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
        ) -> Result<(), Error> {
            unsupported("an enum")
        }
        #[inline(always)]
        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            v: &T,
        ) -> Result<(), Error> {
            v.serialize(self)
        }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result<(), Error> {
            unsupported("an enum")
        }
        fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
            unsupported("a list")
        }
        #[inline(always)]
        fn serialize_tuple(self, _: usize) -> Result<Self, Error> {
            Ok(self)
        }
        #[inline(always)]
        fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self, Error> {
            Ok(self)
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant, Error> {
            unsupported("an enum")
        }
        fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
            unsupported("a map")
        }
        #[inline(always)]
        fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, Error> {
            Ok(self)
        }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant, Error> {
            unsupported("an enum")
        }
    };
}

/// Struct, tuple and tuple-struct fields, each serialized in turn.
macro_rules! compound {
    ($ty:ident) => {
        impl ser::SerializeStruct for &mut $ty<'_> {
            type Ok = ();
            type Error = Error;
            #[inline(always)]
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                _: &'static str,
                v: &T,
            ) -> Result<(), Error> {
                v.serialize(&mut **self)
            }
            #[inline(always)]
            fn end(self) -> Result<(), Error> {
                Ok(())
            }
        }

        impl ser::SerializeTuple for &mut $ty<'_> {
            type Ok = ();
            type Error = Error;
            #[inline(always)]
            fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
                v.serialize(&mut **self)
            }
            #[inline(always)]
            fn end(self) -> Result<(), Error> {
                Ok(())
            }
        }

        impl ser::SerializeTupleStruct for &mut $ty<'_> {
            type Ok = ();
            type Error = Error;
            #[inline(always)]
            fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
                v.serialize(&mut **self)
            }
            #[inline(always)]
            fn end(self) -> Result<(), Error> {
                Ok(())
            }
        }
    };
}

struct Writer<'a> {
    out: &'a mut Vec<u8>,
    kinds: &'a [Scalar],
    at: usize,
    /// Whether every field so far was exactly its layout scalar.
    exact: bool,
}

enum Num {
    Bool(bool),
    Int(i128),
    Float(f64),
}

impl Writer<'_> {
    fn put(&mut self, n: Num, native: Scalar) -> Result<(), Error> {
        let Some(&kind) = self.kinds.get(self.at) else {
            return Err(Error::new("the value has more fields than the layout"));
        };
        self.exact &= kind == native;
        self.at += 1;
        let range = || Error::new(format!("a value does not fit the layout's {kind:?}"));
        macro_rules! int {
            ($t:ty, $i:expr) => {
                self.out
                    .extend_from_slice(&<$t>::try_from($i).map_err(|_| range())?.to_le_bytes())
            };
        }
        match (kind, n) {
            (Scalar::Bool, Num::Bool(b)) => self.out.push(b as u8),
            (Scalar::F32, Num::Float(f)) => self.out.extend_from_slice(&(f as f32).to_le_bytes()),
            (Scalar::F64, Num::Float(f)) => self.out.extend_from_slice(&f.to_le_bytes()),
            (Scalar::U8, Num::Int(i)) => int!(u8, i),
            (Scalar::U16, Num::Int(i)) => int!(u16, i),
            (Scalar::U32, Num::Int(i)) => int!(u32, i),
            (Scalar::U64, Num::Int(i)) => int!(u64, i),
            (Scalar::I8, Num::Int(i)) => int!(i8, i),
            (Scalar::I16, Num::Int(i)) => int!(i16, i),
            (Scalar::I32, Num::Int(i)) => int!(i32, i),
            (Scalar::I64, Num::Int(i)) => int!(i64, i),
            (kind, _) => {
                return Err(Error::new(format!(
                    "a field of the value does not fit the layout's {kind:?}"
                )));
            }
        }
        Ok(())
    }
}

fn unsupported<T>(what: &str) -> Result<T, Error> {
    Err(Error::new(format!("{what} cannot be packed")))
}

impl<'a, 'b> ser::Serializer for &'a mut Writer<'b> {
    serializer_types!();

    #[inline(always)]
    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.put(Num::Bool(v), Scalar::Bool)
    }
    #[inline(always)]
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.put(Num::Int(v.into()), Scalar::I8)
    }
    #[inline(always)]
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.put(Num::Int(v.into()), Scalar::I16)
    }
    #[inline(always)]
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.put(Num::Int(v.into()), Scalar::I32)
    }
    #[inline(always)]
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.put(Num::Int(v.into()), Scalar::I64)
    }
    #[inline(always)]
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.put(Num::Int(v.into()), Scalar::U8)
    }
    #[inline(always)]
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.put(Num::Int(v.into()), Scalar::U16)
    }
    #[inline(always)]
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.put(Num::Int(v.into()), Scalar::U32)
    }
    #[inline(always)]
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.put(Num::Int(v.into()), Scalar::U64)
    }
    #[inline(always)]
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.put(Num::Float(v.into()), Scalar::F32)
    }
    #[inline(always)]
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        self.put(Num::Float(v), Scalar::F64)
    }
    not_scalars!();
}

compound!(Writer);

/// The fast path's writer: each scalar appended by its own type. Anything
/// else is an error (a type whose first value was written exactly never
/// gets here with anything else).
struct ByType<'a> {
    out: &'a mut Vec<u8>,
}

macro_rules! sized {
    ($($method:ident $ty:ty;)*) => {$(
        #[inline(always)]
        fn $method(self, v: $ty) -> Result<(), Error> {
            self.out.extend_from_slice(&v.to_le_bytes());
            Ok(())
        }
    )*};
}

impl<'a, 'b> ser::Serializer for &'a mut ByType<'b> {
    serializer_types!();

    #[inline(always)]
    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out.push(v as u8);
        Ok(())
    }
    sized! {
        serialize_i8 i8;
        serialize_i16 i16;
        serialize_i32 i32;
        serialize_i64 i64;
        serialize_u8 u8;
        serialize_u16 u16;
        serialize_u32 u32;
        serialize_u64 u64;
        serialize_f32 f32;
        serialize_f64 f64;
    }
    not_scalars!();
}

compound!(ByType);
