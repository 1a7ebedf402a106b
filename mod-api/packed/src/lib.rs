//! Packed records: a component made only of named fields and numbers,
//! written as its scalars in field order, little-endian, without padding.
//!
//! Both sides of the batch path use this crate: the host to turn game
//! components into columns and back, `mod-api` to turn columns into a mod's
//! own serde types. A record is read and written by serde, so either side
//! works with ordinary structs, at a few nanoseconds a field.

mod de;
mod ser;

pub use de::{read, read_all, read_each};
pub use ser::{write, write_all};

/// A scalar in a packed record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Scalar {
    /// One byte, 0 or 1.
    Bool,
    /// `u8`.
    U8,
    /// `u16`.
    U16,
    /// `u32`.
    U32,
    /// `u64`.
    U64,
    /// `i8`.
    I8,
    /// `i16`.
    I16,
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `f32`.
    F32,
    /// `f64`.
    F64,
}

impl Scalar {
    /// Bytes the scalar takes.
    pub const fn size(self) -> usize {
        match self {
            Scalar::Bool | Scalar::U8 | Scalar::I8 => 1,
            Scalar::U16 | Scalar::I16 => 2,
            Scalar::U32 | Scalar::I32 | Scalar::F32 => 4,
            Scalar::U64 | Scalar::I64 | Scalar::F64 => 8,
        }
    }
}

/// The packed layout of a component type: its scalar fields in record
/// order, each named by its dotted path (`x`, `pos.x`). Host and guest
/// both hold layouts as this type, so they compare and index them alike.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(from = "Vec<(String, Scalar)>", into = "Vec<(String, Scalar)>")]
pub struct Layout {
    fields: Vec<(String, Scalar)>,
    kinds: Vec<Scalar>,
    stride: usize,
}

impl Layout {
    /// The layout of these fields, in record order.
    pub fn new(fields: Vec<(String, Scalar)>) -> Self {
        let kinds: Vec<Scalar> = fields.iter().map(|(_, k)| *k).collect();
        let stride = stride(&kinds);
        Self {
            fields,
            kinds,
            stride,
        }
    }

    /// The fields: path and scalar, in record order.
    pub fn fields(&self) -> &[(String, Scalar)] {
        &self.fields
    }

    /// The scalars alone, in record order.
    pub fn kinds(&self) -> &[Scalar] {
        &self.kinds
    }

    /// The field paths, in record order.
    pub fn paths(&self) -> Vec<&str> {
        self.fields.iter().map(|(p, _)| p.as_str()).collect()
    }

    /// Bytes of one record.
    pub fn stride(&self) -> usize {
        self.stride
    }
}

impl From<Vec<(String, Scalar)>> for Layout {
    fn from(fields: Vec<(String, Scalar)>) -> Self {
        Self::new(fields)
    }
}

impl From<Layout> for Vec<(String, Scalar)> {
    fn from(layout: Layout) -> Self {
        layout.fields
    }
}

/// Writes the two conversions between [`Scalar`] and a WIT `scalar` enum
/// generated from the game's WIT package, `scalar_from_wit` and
/// `scalar_to_wit`: the host's and the guest's bindings each generate their
/// own enum, and this is the one list of how they match.
#[macro_export]
macro_rules! wit_scalar_conversions {
    ($wit:ty) => {
        /// The packed scalar for a WIT `scalar`.
        #[allow(dead_code)]
        fn scalar_from_wit(s: $wit) -> $crate::Scalar {
            type W = $wit;
            match s {
                W::Boolean => $crate::Scalar::Bool,
                W::U8 => $crate::Scalar::U8,
                W::U16 => $crate::Scalar::U16,
                W::U32 => $crate::Scalar::U32,
                W::U64 => $crate::Scalar::U64,
                W::S8 => $crate::Scalar::I8,
                W::S16 => $crate::Scalar::I16,
                W::S32 => $crate::Scalar::I32,
                W::S64 => $crate::Scalar::I64,
                W::F32 => $crate::Scalar::F32,
                W::F64 => $crate::Scalar::F64,
            }
        }

        /// The WIT `scalar` for a packed scalar.
        #[allow(dead_code)]
        fn scalar_to_wit(s: $crate::Scalar) -> $wit {
            type W = $wit;
            match s {
                $crate::Scalar::Bool => W::Boolean,
                $crate::Scalar::U8 => W::U8,
                $crate::Scalar::U16 => W::U16,
                $crate::Scalar::U32 => W::U32,
                $crate::Scalar::U64 => W::U64,
                $crate::Scalar::I8 => W::S8,
                $crate::Scalar::I16 => W::S16,
                $crate::Scalar::I32 => W::S32,
                $crate::Scalar::I64 => W::S64,
                $crate::Scalar::F32 => W::F32,
                $crate::Scalar::F64 => W::F64,
            }
        }
    };
}

/// Bytes of one record made of these scalars.
pub fn stride(kinds: &[Scalar]) -> usize {
    kinds.iter().map(|k| k.size()).sum()
}

/// Checks a record's length and its booleans without decoding it.
pub fn validate(record: &[u8], kinds: &[Scalar]) -> Result<(), Error> {
    if record.len() != stride(kinds) {
        return Err(Error::new(format!(
            "a packed record has {} bytes, the layout needs {}",
            record.len(),
            stride(kinds)
        )));
    }
    let mut at = 0;
    for kind in kinds {
        if *kind == Scalar::Bool && record[at] > 1 {
            return Err(Error::new(format!(
                "boolean byte {} is neither 0 nor 1",
                record[at]
            )));
        }
        at += kind.size();
    }
    Ok(())
}

/// A Rust number type that is one packed scalar; lets generated code read
/// and write records field by field with no look-ups.
pub trait Primitive: Copy {
    /// The scalar it is.
    const KIND: Scalar;
    /// Reads it from the start of `bytes` (which holds at least its size).
    fn read(bytes: &[u8]) -> Self;
    /// Writes it into `into`, which is exactly its size.
    fn put(self, into: &mut [u8]);
}

macro_rules! primitive {
    ($($t:ty => $k:ident),*) => {$(
        impl Primitive for $t {
            const KIND: Scalar = Scalar::$k;
            #[inline(always)]
            fn read(bytes: &[u8]) -> Self {
                let mut b = [0u8; std::mem::size_of::<$t>()];
                b.copy_from_slice(&bytes[..std::mem::size_of::<$t>()]);
                <$t>::from_le_bytes(b)
            }
            #[inline(always)]
            fn put(self, into: &mut [u8]) {
                into.copy_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}

primitive!(u8 => U8, u16 => U16, u32 => U32, u64 => U64, i8 => I8, i16 => I16, i32 => I32,
    i64 => I64, f32 => F32, f64 => F64);

impl Primitive for bool {
    const KIND: Scalar = Scalar::Bool;
    #[inline(always)]
    fn read(bytes: &[u8]) -> Self {
        bytes[0] != 0
    }
    #[inline(always)]
    fn put(self, into: &mut [u8]) {
        into[0] = self as u8;
    }
}

/// Checks a whole column of records: its length, and its booleans when the
/// layout has any (every other byte pattern is a valid number).
pub fn validate_column(data: &[u8], kinds: &[Scalar]) -> Result<(), Error> {
    let size = stride(kinds);
    if size == 0 || !data.len().is_multiple_of(size) {
        return Err(Error::new(format!(
            "{} bytes is not a whole number of {size}-byte records",
            data.len()
        )));
    }
    if kinds.contains(&Scalar::Bool) {
        for record in data.chunks_exact(size) {
            validate(record, kinds)?;
        }
    }
    Ok(())
}

/// Why a record could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(Box<str>);

impl Error {
    /// An error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        Error(message.into().into_boxed_str())
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl serde::de::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error::new(msg.to_string())
    }
}

impl serde::ser::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error::new(msg.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Copy)]
    struct Vec2 {
        x: f32,
        y: f32,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Body {
        at: Vec2,
        mass: f64,
        id: u32,
        alive: bool,
        delta: i16,
    }

    const KINDS: [Scalar; 6] = [
        Scalar::F32,
        Scalar::F32,
        Scalar::F64,
        Scalar::U32,
        Scalar::Bool,
        Scalar::I16,
    ];

    #[test]
    fn records_round_trip_through_serde() {
        let body = Body {
            at: Vec2 { x: 1.5, y: -2.0 },
            mass: 3.25,
            id: 7,
            alive: true,
            delta: -3,
        };
        let mut out = Vec::new();
        write(&body, &KINDS, &mut out).unwrap();
        assert_eq!(out.len(), stride(&KINDS));
        assert_eq!(&out[..4], &1.5f32.to_le_bytes());
        validate(&out, &KINDS).unwrap();
        let paths = ["at.x", "at.y", "mass", "id", "alive", "delta"];
        assert_eq!(
            read::<Body, &str>(&out, &KINDS, Some(&paths)).unwrap(),
            body
        );
        assert_eq!(read::<Body, &str>(&out, &KINDS, None).unwrap(), body);
    }

    #[test]
    fn a_field_order_that_differs_from_the_layout_is_refused() {
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct Swapped {
            y: f32,
            x: f32,
        }
        let mut out = Vec::new();
        write(&Vec2 { x: 1.0, y: 2.0 }, &[Scalar::F32; 2], &mut out).unwrap();
        let err = read::<Swapped, &str>(&out, &[Scalar::F32; 2], Some(&["x", "y"])).unwrap_err();
        assert!(
            err.to_string().contains("`y` is where the game has `x`"),
            "{err}"
        );
    }

    #[test]
    fn whole_columns_round_trip() {
        let values: Vec<Vec2> = (0..5)
            .map(|i| Vec2 {
                x: i as f32,
                y: -(i as f32),
            })
            .collect();
        let mut out = Vec::new();
        write_all(&values, &[Scalar::F32; 2], &mut out).unwrap();
        assert_eq!(out.len(), 40);
        let back: Vec<Vec2> = read_all(&out, &[Scalar::F32; 2], &["x", "y"]).unwrap();
        assert_eq!(back, values);
        // A layout of f64s is written by conversion, record by record.
        let mut wide = Vec::new();
        write_all(&values, &[Scalar::F64; 2], &mut wide).unwrap();
        assert_eq!(wide.len(), 80);
        let back: Vec<Vec2> = read_all(&wide, &[Scalar::F64; 2], &["x", "y"]).unwrap();
        assert_eq!(back, values);
        assert!(read_all::<Vec2, &str>(&out[..39], &[Scalar::F32; 2], &["x", "y"]).is_err());
    }

    #[test]
    fn bad_records_are_refused() {
        assert!(validate(&[0; 3], &[Scalar::F32]).is_err());
        assert!(validate(&[2], &[Scalar::Bool]).is_err());
        assert!(read::<Vec2, &str>(&[0; 4], &[Scalar::F32], None).is_err());
        let mut out = Vec::new();
        assert!(write(&300u32, &[Scalar::U8], &mut out).is_err());
        assert!(write(&"text", &[Scalar::U8], &mut out).is_err());
    }
}
#[cfg(test)]
mod speed {
    #[test]
    #[ignore = "prints a timing; run by hand"]
    fn probe() {
        use super::*;
        #[derive(serde::Deserialize, serde::Serialize)]
        struct P {
            x: f32,
            y: f32,
        }
        let data = vec![0u8; 80000];
        let kinds = [Scalar::F32; 2];
        let t = std::time::Instant::now();
        for _ in 0..1000 {
            let v: Vec<P> = data
                .chunks_exact(8)
                .map(|r| read::<P, &str>(r, &kinds, None).unwrap())
                .collect();
            std::hint::black_box(v);
        }
        eprintln!("read 10k: {:?}", t.elapsed() / 1000);
        let t = std::time::Instant::now();
        for _ in 0..1000 {
            let v: Vec<P> = data
                .chunks_exact(8)
                .map(|r| P {
                    x: f32::from_le_bytes(r[0..4].try_into().unwrap()),
                    y: f32::from_le_bytes(r[4..8].try_into().unwrap()),
                })
                .collect();
            std::hint::black_box(v);
        }
        eprintln!("hand 10k: {:?}", t.elapsed() / 1000);
        let t = std::time::Instant::now();
        for _ in 0..1000 {
            let v: Vec<P> = read_all(&data, &kinds, &["x", "y"]).unwrap();
            std::hint::black_box(v);
        }
        eprintln!("read_all 10k: {:?}", t.elapsed() / 1000);
        let values: Vec<P> = read_all(&data, &kinds, &["x", "y"]).unwrap();
        let t = std::time::Instant::now();
        let mut out = Vec::with_capacity(80000);
        for _ in 0..1000 {
            out.clear();
            write_all(&values, &kinds, &mut out).unwrap();
        }
        eprintln!("write_all 10k: {:?}", t.elapsed() / 1000);
    }
}
