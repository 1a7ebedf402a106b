//! Whole columns of one component type in one pass: the batch path for the
//! types mods touch in bulk (positions, velocities).
//!
//! A packed column could always be made by reflection, a few tens of
//! nanoseconds a field. A game that registers a hot type with a faster codec
//! gets one of these instead, instantiated for the type:
//! - **serde**: the type's own `Serialize`/`Deserialize` against the packed
//!   layout (`mod-api-packed`), a few nanoseconds a record;
//! - **plain bytes**: for a `bytemuck::Pod` type whose bytes in memory are
//!   exactly its packed record (checked when it is registered), a record is
//!   copied as it is, the cost of a `memcpy`.
//!
//! Both take a mod's query a table at a time, as slices of components
//! (Bevy's contiguous iteration), rather than looking entities up one by
//! one, and fall back to look-ups when the rows are not the ones the mod was
//! sent.

use bevy::ecs::component::{ComponentId, Mutable};
use bevy::ecs::query::{QueryBuilder, QueryState};
use bevy::prelude::*;

use crate::codec::packed;
use crate::protocol::Scalar;

/// Appends the rows' values as packed records.
type EncodeRows = fn(&World, &[Entity], &[Scalar], &mut Vec<u8>) -> Result<(), String>;
/// Overwrites the rows' values from packed records (paths are the layout's).
type WriteRows = fn(&mut World, &[Entity], &[Scalar], &[&str], &[u8]) -> Result<(), String>;
/// Like `EncodeRows` through a query's typed states.
type EncodeColumn = fn(&mut ColumnStates, &World, &[Entity], &[Scalar], &mut Vec<u8>) -> bool;
/// Like `WriteRows` through a query's typed states.
type WriteColumn =
    fn(&mut ColumnStates, &mut World, &[Entity], &[Scalar], &[&str], &[u8]) -> Result<bool, String>;

/// The codec-specific operations on one exposed type's columns.
#[derive(Clone, Copy)]
pub(crate) struct BulkOps {
    /// Appends the rows' values as packed records.
    pub encode_rows: EncodeRows,
    /// Overwrites the rows' values from packed records; rows without the
    /// component are skipped.
    pub write_rows: WriteRows,
    /// Typed query states for one of a mod's queries (filtered by all its
    /// component ids), so a whole column is read or written by iterating
    /// tables rather than looking each entity up.
    pub column_states: fn(&mut World, &[ComponentId]) -> ColumnStates,
    /// Like `encode_rows` through the typed state; false (and nothing
    /// written) when the state's rows are not `entities` in order.
    pub encode_column: EncodeColumn,
    /// Like `write_rows` through the typed state, in one walk: rows in the
    /// state's order are written as it goes, and the rest, from the first
    /// one out of order, by look-up. `Ok(false)` (nothing written) when the
    /// state is not of this type.
    pub write_column: WriteColumn,
}

impl BulkOps {
    /// The serde codec for `T`.
    pub(crate) fn serde<T>() -> Self
    where
        T: Component<Mutability = Mutable> + serde::Serialize + serde::de::DeserializeOwned,
    {
        Self::of::<T, Serde>()
    }

    /// The plain-bytes codec for `T`, when `T`'s bytes are its packed record:
    /// on a little-endian machine, fields in `kinds` order with no padding
    /// (see [`bytes_are_record`]).
    pub(crate) fn plain<T>(kinds: &[Scalar]) -> Option<Self>
    where
        T: Component<Mutability = Mutable> + bytemuck::Pod + Reflect,
    {
        bytes_are_record::<T>(kinds).then(|| Self::of::<T, Plain>())
    }

    fn of<T: Component<Mutability = Mutable>, C: Codec<T>>() -> Self {
        BulkOps {
            encode_rows: encode_rows::<T, C>,
            write_rows: write_rows::<T, C>,
            column_states: column_states::<T>,
            encode_column: encode_column::<T, C>,
            write_column: write_column::<T, C>,
        }
    }
}

/// Whether a `T`'s bytes in memory are exactly its packed record. A record
/// whose every byte differs is written into a zeroed `T` field by field
/// through reflection; the bytes of the `T` must then be the record itself,
/// so each field sits at its packed offset, little-endian, with no padding
/// and nothing else in the type.
fn bytes_are_record<T: bytemuck::Pod + Reflect>(kinds: &[Scalar]) -> bool {
    let size = mod_api_packed::stride(kinds);
    if size != size_of::<T>() || size == 0 || size > 255 {
        return false;
    }
    let record: Vec<u8> = (1..=size as u8).collect();
    let mut value = T::zeroed();
    packed::decode_into(value.as_partial_reflect_mut(), kinds, &record)
        && bytemuck::bytes_of(&value) == record.as_slice()
}

/// The typed query states of one column (see [`BulkOps::column_states`]).
pub(crate) struct ColumnStates {
    read: Box<dyn std::any::Any + Send + Sync>,
    write: Box<dyn std::any::Any + Send + Sync>,
}

/// Turning values of `T` into packed records and back.
trait Codec<T> {
    /// Appends every value as one record.
    fn write_all<'v>(
        values: impl Iterator<Item = &'v T>,
        kinds: &[Scalar],
        out: &mut Vec<u8>,
    ) -> Result<(), String>
    where
        T: 'v;

    /// Appends one record per value of a table's slice.
    fn write_slice(values: &[T], kinds: &[Scalar], out: &mut Vec<u8>) -> Result<(), String> {
        Self::write_all(values.iter(), kinds, out)
    }

    /// Hands every record of `data` to `each` as a `T`; every check that
    /// can fail is made before the first call.
    fn read_each(
        data: &[u8],
        kinds: &[Scalar],
        paths: &[&str],
        each: impl FnMut(T),
    ) -> Result<(), String>;

    /// Overwrites a table's slice from as many records; nothing is written
    /// when a check fails.
    fn read_slice(
        data: &[u8],
        kinds: &[Scalar],
        paths: &[&str],
        into: &mut [T],
    ) -> Result<(), String> {
        if data.len() != mod_api_packed::stride(kinds) * into.len() {
            return Err(format!("{} bytes for {} records", data.len(), into.len()));
        }
        let mut slots = into.iter_mut();
        Self::read_each(data, kinds, paths, |value| {
            if let Some(slot) = slots.next() {
                *slot = value;
            }
        })
    }
}

/// The type's serde impls, through `mod-api-packed`.
struct Serde;

impl<T: serde::Serialize + serde::de::DeserializeOwned> Codec<T> for Serde {
    fn write_all<'v>(
        values: impl Iterator<Item = &'v T>,
        kinds: &[Scalar],
        out: &mut Vec<u8>,
    ) -> Result<(), String>
    where
        T: 'v,
    {
        mod_api_packed::write_all(values, kinds, out).map_err(|e| e.to_string())
    }

    fn read_each(
        data: &[u8],
        kinds: &[Scalar],
        paths: &[&str],
        each: impl FnMut(T),
    ) -> Result<(), String> {
        mod_api_packed::read_each(data, kinds, paths, each).map_err(|e| e.to_string())
    }
}

/// The value's bytes as they are (only for types [`bytes_are_record`]
/// accepted).
struct Plain;

impl<T: bytemuck::Pod> Codec<T> for Plain {
    fn write_all<'v>(
        values: impl Iterator<Item = &'v T>,
        _: &[Scalar],
        out: &mut Vec<u8>,
    ) -> Result<(), String>
    where
        T: 'v,
    {
        for value in values {
            out.extend_from_slice(bytemuck::bytes_of(value));
        }
        Ok(())
    }

    fn write_slice(values: &[T], _: &[Scalar], out: &mut Vec<u8>) -> Result<(), String> {
        out.extend_from_slice(bytemuck::cast_slice(values));
        Ok(())
    }

    fn read_slice(data: &[u8], _: &[Scalar], _: &[&str], into: &mut [T]) -> Result<(), String> {
        let into: &mut [u8] = bytemuck::cast_slice_mut(into);
        if data.len() != into.len() {
            return Err(format!(
                "{} bytes for {} of records",
                data.len(),
                into.len()
            ));
        }
        into.copy_from_slice(data);
        Ok(())
    }

    fn read_each(
        data: &[u8],
        _: &[Scalar],
        _: &[&str],
        mut each: impl FnMut(T),
    ) -> Result<(), String> {
        let size = size_of::<T>();
        if size == 0 || !data.len().is_multiple_of(size) {
            return Err(format!(
                "{} bytes is not a whole number of {size}-byte records",
                data.len()
            ));
        }
        for record in data.chunks_exact(size) {
            each(bytemuck::pod_read_unaligned(record));
        }
        Ok(())
    }
}

fn encode_rows<T: Component, C: Codec<T>>(
    world: &World,
    entities: &[Entity],
    kinds: &[Scalar],
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let start = out.len();
    let values = entities.iter().filter_map(|e| world.get::<T>(*e));
    let written = C::write_all(values, kinds, out);
    if written.is_ok() && out.len() - start == mod_api_packed::stride(kinds) * entities.len() {
        return Ok(());
    }
    out.truncate(start);
    written.and(Err("a row lacks the component".into()))
}

fn write_rows<T: Component<Mutability = Mutable>, C: Codec<T>>(
    world: &mut World,
    entities: &[Entity],
    kinds: &[Scalar],
    paths: &[&str],
    data: &[u8],
) -> Result<(), String> {
    let mut rows = entities.iter();
    C::read_each(data, kinds, paths, |value| {
        if let Some(mut c) = rows.next().and_then(|e| world.get_mut::<T>(*e)) {
            *c = value;
        }
    })
}

fn column_states<T: Component<Mutability = Mutable>>(
    world: &mut World,
    ids: &[ComponentId],
) -> ColumnStates {
    let mut read = QueryBuilder::<(Entity, &'static T)>::new(world);
    for id in ids {
        read.with_id(*id);
    }
    let read = read.build();
    let mut write = QueryBuilder::<(Entity, &'static mut T)>::new(world);
    for id in ids {
        write.with_id(*id);
    }
    ColumnStates {
        read: Box::new(read),
        write: Box::new(write.build()),
    }
}

fn encode_column<T: Component, C: Codec<T>>(
    states: &mut ColumnStates,
    world: &World,
    entities: &[Entity],
    kinds: &[Scalar],
    out: &mut Vec<u8>,
) -> bool {
    let Some(state) = states
        .read
        .downcast_mut::<QueryState<(Entity, &'static T)>>()
    else {
        return false;
    };
    let start = out.len();
    out.reserve(mod_api_packed::stride(kinds) * entities.len());
    let encoded = match state.contiguous_iter(world) {
        Ok(tables) => {
            let mut at = 0;
            let mut ok = true;
            for (rows, values) in tables {
                let end = at + rows.len();
                ok = entities.get(at..end) == Some(rows)
                    && C::write_slice(values, kinds, out).is_ok();
                if !ok {
                    break;
                }
                at = end;
            }
            ok && at == entities.len()
        }
        Err(_) => {
            let (mut same, mut rows) = (true, 0);
            let values = state.iter(world).zip(entities).map(|((e, v), want)| {
                same &= e == *want;
                rows += 1;
                v
            });
            C::write_all(values, kinds, out).is_ok() && same && rows == entities.len()
        }
    };
    if !encoded {
        out.truncate(start);
    }
    encoded
}

fn write_column<T: Component<Mutability = Mutable>, C: Codec<T>>(
    states: &mut ColumnStates,
    world: &mut World,
    entities: &[Entity],
    kinds: &[Scalar],
    paths: &[&str],
    data: &[u8],
) -> Result<bool, String> {
    let Some(state) = states
        .write
        .downcast_mut::<QueryState<(Entity, &'static mut T)>>()
    else {
        return Ok(false);
    };
    let stride = mod_api_packed::stride(kinds);
    // Rows are written while the state's rows are the batch's, in order;
    // from the first that is not, the rest go by look-up below.
    let mut in_order = 0;
    match state.contiguous_iter_mut(world) {
        Ok(tables) => {
            for (rows, mut values) in tables {
                let end = in_order + rows.len();
                let (Some(want), Some(records)) = (
                    entities.get(in_order..end),
                    data.get(in_order * stride..end * stride),
                ) else {
                    break;
                };
                if want != rows {
                    break;
                }
                C::read_slice(records, kinds, paths, &mut values)?;
                in_order = end;
            }
        }
        Err(_) => {
            let mut seen = 0;
            let mut rows = state.iter_mut(world);
            C::read_each(data, kinds, paths, |value| {
                if in_order == seen
                    && let Some((e, mut c)) = rows.next()
                    && entities.get(seen) == Some(&e)
                {
                    *c = value;
                    in_order += 1;
                }
                seen += 1;
            })?;
        }
    }
    if in_order < entities.len() {
        let rest = data.get(in_order * stride..).unwrap_or_default();
        write_rows::<T, C>(world, &entities[in_order..], kinds, paths, rest)?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(
        Component,
        Reflect,
        Clone,
        Copy,
        Debug,
        Default,
        PartialEq,
        serde::Serialize,
        serde::Deserialize,
        bytemuck::Pod,
        bytemuck::Zeroable,
    )]
    #[repr(C)]
    struct Position {
        x: f32,
        y: f32,
    }

    #[derive(Component, Default)]
    struct Velocity;

    const KINDS: [Scalar; 2] = [Scalar::F32, Scalar::F32];

    /// A `Pod` type with a field reflection does not see.
    #[derive(Component, Reflect, Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
    #[repr(C)]
    struct Hidden {
        x: f32,
        #[reflect(ignore)]
        secret: f32,
    }

    #[test]
    fn only_types_whose_bytes_are_their_record_go_as_bytes() {
        assert!(bytes_are_record::<Position>(&KINDS));
        assert!(!bytes_are_record::<Position>(&[Scalar::F64]));
        assert!(!bytes_are_record::<Position>(&[
            Scalar::I32,
            Scalar::F32,
            Scalar::F32
        ]));
        assert!(!bytes_are_record::<Hidden>(&[Scalar::F32]));
    }

    fn record(x: f32, y: f32) -> Vec<u8> {
        [x.to_le_bytes(), y.to_le_bytes()].concat()
    }

    /// Entities in two tables (some have a `Velocity` too), and the column
    /// states of a query for `Position`.
    fn world() -> (World, Vec<Entity>, Vec<ComponentId>) {
        let mut world = World::new();
        let mut entities = Vec::new();
        for i in 0..6 {
            let p = Position {
                x: i as f32,
                y: -(i as f32),
            };
            entities.push(if i % 2 == 0 {
                world.spawn(p).id()
            } else {
                world.spawn((p, Velocity::default())).id()
            });
        }
        let ids = vec![world.register_component::<Position>()];
        (world, entities, ids)
    }

    fn check_codec(ops: BulkOps) {
        let (mut world, _, ids) = world();
        let mut states = (ops.column_states)(&mut world, &ids);
        let rows: Vec<Entity> = world
            .query::<(Entity, &Position)>()
            .iter(&world)
            .map(|(e, _)| e)
            .collect();

        // Read in the query's order: every row's record, in that order.
        let mut out = Vec::new();
        assert!((ops.encode_column)(
            &mut states,
            &world,
            &rows,
            &KINDS,
            &mut out
        ));
        let expected: Vec<u8> = rows
            .iter()
            .flat_map(|e| {
                let p = world.get::<Position>(*e).unwrap();
                record(p.x, p.y)
            })
            .collect();
        assert_eq!(out, expected);
        // Rows in another order are refused, and nothing is written.
        let mut reversed = rows.clone();
        reversed.reverse();
        let mut out = Vec::new();
        assert!(!(ops.encode_column)(
            &mut states,
            &world,
            &reversed,
            &KINDS,
            &mut out
        ));
        assert!(out.is_empty());

        // Written back with the second table's rows swapped: the first table
        // goes whole, the rest by look-up, and each entity gets its record.
        let mut order = rows.clone();
        order.swap(4, 5);
        let data: Vec<u8> = order
            .iter()
            .flat_map(|e| record(e.index_u32() as f32 * 10.0, 1.0))
            .collect();
        let paths = ["x", "y"];
        assert_eq!(
            (ops.write_column)(&mut states, &mut world, &order, &KINDS, &paths, &data),
            Ok(true)
        );
        for e in &order {
            assert_eq!(
                *world.get::<Position>(*e).unwrap(),
                Position {
                    x: e.index_u32() as f32 * 10.0,
                    y: 1.0
                }
            );
        }
    }

    #[test]
    fn the_bytes_codec_reads_and_writes_whole_tables() {
        check_codec(BulkOps::plain::<Position>(&KINDS).expect("Position is plain bytes"));
    }

    #[test]
    fn the_serde_codec_reads_and_writes_whole_tables() {
        check_codec(BulkOps::serde::<Position>());
    }
}
