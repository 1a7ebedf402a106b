//! Packed columns: a component made only of named fields and scalars is sent
//! as fixed-size little-endian records, one per row.
//!
//! The layout is worked out once per type from its reflected `TypeInfo`;
//! per entity the host only walks the value's fields in that order, so a
//! batch of ten thousand positions costs a few copies, not ten thousand
//! serde round trips.

use bevy::reflect::{PartialReflect, ReflectMut, ReflectRef, TypeInfo};
use std::any::TypeId;

use crate::protocol::{Layout, Scalar};

/// The packed layout of a type, or `None` when the type has anything but
/// named fields and scalars (such types travel as MessagePack).
pub(crate) fn layout_of(info: &TypeInfo) -> Option<Layout> {
    let TypeInfo::Struct(_) = info else {
        return None;
    };
    let mut fields = Vec::new();
    walk(info, "", &mut fields)?;
    (!fields.is_empty()).then(|| Layout::new(fields))
}

fn walk(info: &TypeInfo, prefix: &str, out: &mut Vec<(String, Scalar)>) -> Option<()> {
    match info {
        TypeInfo::Struct(s) => {
            for field in s.iter() {
                let path = if prefix.is_empty() {
                    field.name().to_string()
                } else {
                    format!("{prefix}.{}", field.name())
                };
                walk(field.type_info()?, &path, out)?;
            }
            Some(())
        }
        TypeInfo::Opaque(o) => {
            out.push((prefix.to_string(), scalar_of(o.type_id())?));
            Some(())
        }
        _ => None,
    }
}

fn scalar_of(id: TypeId) -> Option<Scalar> {
    Some(match id {
        id if id == TypeId::of::<bool>() => Scalar::Bool,
        id if id == TypeId::of::<u8>() => Scalar::U8,
        id if id == TypeId::of::<u16>() => Scalar::U16,
        id if id == TypeId::of::<u32>() => Scalar::U32,
        id if id == TypeId::of::<u64>() => Scalar::U64,
        id if id == TypeId::of::<i8>() => Scalar::I8,
        id if id == TypeId::of::<i16>() => Scalar::I16,
        id if id == TypeId::of::<i32>() => Scalar::I32,
        id if id == TypeId::of::<i64>() => Scalar::I64,
        id if id == TypeId::of::<f32>() => Scalar::F32,
        id if id == TypeId::of::<f64>() => Scalar::F64,
        _ => return None,
    })
}

/// Appends `value` as one packed record. `kinds` is the layout's scalars in
/// order; the value must be of the type the layout was made from.
pub(crate) fn encode(value: &dyn PartialReflect, kinds: &[Scalar], out: &mut Vec<u8>) -> bool {
    let mut kinds = kinds.iter();
    encode_into(value, &mut kinds, out) && kinds.next().is_none()
}

fn encode_into(
    value: &dyn PartialReflect,
    kinds: &mut std::slice::Iter<'_, Scalar>,
    out: &mut Vec<u8>,
) -> bool {
    match value.reflect_ref() {
        ReflectRef::Struct(s) => {
            (0..s.field_len()).all(|i| s.field_at(i).is_some_and(|f| encode_into(f, kinds, out)))
        }
        ReflectRef::Opaque(v) => {
            let Some(kind) = kinds.next() else {
                return false;
            };
            macro_rules! put {
                ($t:ty) => {
                    match v.try_downcast_ref::<$t>() {
                        Some(x) => out.extend_from_slice(&x.to_le_bytes()),
                        None => return false,
                    }
                };
            }
            match kind {
                Scalar::Bool => match v.try_downcast_ref::<bool>() {
                    Some(b) => out.push(*b as u8),
                    None => return false,
                },
                Scalar::U8 => put!(u8),
                Scalar::U16 => put!(u16),
                Scalar::U32 => put!(u32),
                Scalar::U64 => put!(u64),
                Scalar::I8 => put!(i8),
                Scalar::I16 => put!(i16),
                Scalar::I32 => put!(i32),
                Scalar::I64 => put!(i64),
                Scalar::F32 => put!(f32),
                Scalar::F64 => put!(f64),
            }
            true
        }
        _ => false,
    }
}

/// Overwrites `value`'s scalar fields from one packed record that
/// `mod_api_packed::validate` accepted.
pub(crate) fn decode_into(value: &mut dyn PartialReflect, kinds: &[Scalar], record: &[u8]) -> bool {
    let mut kinds = kinds.iter();
    let mut bytes = record;
    write_fields(value, &mut kinds, &mut bytes) && bytes.is_empty()
}

fn write_fields(
    value: &mut dyn PartialReflect,
    kinds: &mut std::slice::Iter<'_, Scalar>,
    bytes: &mut &[u8],
) -> bool {
    match value.reflect_mut() {
        ReflectMut::Struct(s) => (0..s.field_len()).all(|i| {
            s.field_at_mut(i)
                .is_some_and(|f| write_fields(f, kinds, bytes))
        }),
        ReflectMut::Opaque(v) => {
            let Some(kind) = kinds.next() else {
                return false;
            };
            let Some((head, rest)) = bytes.split_at_checked(kind.size()) else {
                return false;
            };
            *bytes = rest;
            macro_rules! set {
                ($t:ty) => {
                    match (v.try_downcast_mut::<$t>(), head.try_into()) {
                        (Some(x), Ok(b)) => *x = <$t>::from_le_bytes(b),
                        _ => return false,
                    }
                };
            }
            match kind {
                Scalar::Bool => match v.try_downcast_mut::<bool>() {
                    Some(x) => *x = head[0] != 0,
                    None => return false,
                },
                Scalar::U8 => set!(u8),
                Scalar::U16 => set!(u16),
                Scalar::U32 => set!(u32),
                Scalar::U64 => set!(u64),
                Scalar::I8 => set!(i8),
                Scalar::I16 => set!(i16),
                Scalar::I32 => set!(i32),
                Scalar::I64 => set!(i64),
                Scalar::F32 => set!(f32),
                Scalar::F64 => set!(f64),
            }
            true
        }
        _ => false,
    }
}

/// Re-encodes one packed record as a MessagePack map keyed by field name
/// (nested structs as nested maps), for `get` on a packed column.
pub(crate) fn record_to_msgpack(layout: &Layout, record: &[u8]) -> Option<Vec<u8>> {
    let fields = layout.fields();
    let mut out = Vec::new();
    let mut at = 0;
    let paths: Vec<Vec<&str>> = fields.iter().map(|(p, _)| p.split('.').collect()).collect();
    let mut offsets = Vec::with_capacity(fields.len());
    for (_, kind) in fields {
        offsets.push(at);
        at += kind.size();
    }
    if at != record.len() {
        return None;
    }
    let all: Vec<usize> = (0..fields.len()).collect();
    write_map(&paths, &all, 0, fields, &offsets, record, &mut out).then_some(out)
}

fn write_map(
    paths: &[Vec<&str>],
    members: &[usize],
    depth: usize,
    fields: &[(String, Scalar)],
    offsets: &[usize],
    record: &[u8],
    out: &mut Vec<u8>,
) -> bool {
    // Group the members by their path segment at this depth, keeping order.
    let mut groups: Vec<(&str, Vec<usize>)> = Vec::new();
    for &m in members {
        let Some(key) = paths[m].get(depth) else {
            return false;
        };
        match groups.last_mut() {
            Some((k, v)) if k == key => v.push(m),
            _ => groups.push((key, vec![m])),
        }
    }
    if rmp::encode::write_map_len(out, groups.len() as u32).is_err() {
        return false;
    }
    for (key, group) in groups {
        if rmp::encode::write_str(out, key).is_err() {
            return false;
        }
        let leaf = group.len() == 1 && paths[group[0]].len() == depth + 1;
        if leaf {
            let i = group[0];
            let at = offsets[i];
            let b = &record[at..at + fields[i].1.size()];
            if !write_scalar(fields[i].1, b, out) {
                return false;
            }
        } else if !write_map(paths, &group, depth + 1, fields, offsets, record, out) {
            return false;
        }
    }
    true
}

fn write_scalar(kind: Scalar, b: &[u8], out: &mut Vec<u8>) -> bool {
    use rmp::encode as e;
    fn arr<const N: usize>(b: &[u8]) -> [u8; N] {
        b.try_into().unwrap_or([0; N])
    }
    match kind {
        Scalar::Bool => e::write_bool(out, b[0] != 0).is_ok(),
        Scalar::U8 => e::write_uint(out, b[0] as u64).is_ok(),
        Scalar::U16 => e::write_uint(out, u16::from_le_bytes(arr(b)) as u64).is_ok(),
        Scalar::U32 => e::write_uint(out, u32::from_le_bytes(arr(b)) as u64).is_ok(),
        Scalar::U64 => e::write_uint(out, u64::from_le_bytes(arr(b))).is_ok(),
        Scalar::I8 => e::write_sint(out, b[0] as i8 as i64).is_ok(),
        Scalar::I16 => e::write_sint(out, i16::from_le_bytes(arr(b)) as i64).is_ok(),
        Scalar::I32 => e::write_sint(out, i32::from_le_bytes(arr(b)) as i64).is_ok(),
        Scalar::I64 => e::write_sint(out, i64::from_le_bytes(arr(b))).is_ok(),
        Scalar::F32 => e::write_f32(out, f32::from_le_bytes(arr(b))).is_ok(),
        Scalar::F64 => e::write_f64(out, f64::from_le_bytes(arr(b))).is_ok(),
    }
}
