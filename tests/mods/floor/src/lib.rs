//! The mover (`mods/mover`) with nothing between it and the contract: no
//! `mod-api`, no decoding into Rust values. Each tick it reads the
//! `(Position, Velocity)` batch, adds each row's velocity to its position
//! straight in the packed bytes, and writes the positions back; it spawns
//! `count` entities first, as the mover does. What it costs is the floor
//! for bulk work through the contract: the copies into and out of the
//! sandbox, the host's checks, and a loop of wasm. The frame benchmark
//! prints it beside the mover.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "game-mod",
});

use bevy_wasm::mods::entities;
use bevy_wasm::mods::types::{
    Batch, Column, ColumnEncoding, Component, Event, Manifest, ModError, PackedField, QuerySpec,
    Scalar, Tick,
};
use exports::bevy_wasm::mods::hooks::Guest;
use std::cell::Cell;

thread_local! {
    static WANTED: Cell<u32> = const { Cell::new(10) };
    static SPAWNED: Cell<u32> = const { Cell::new(0) };
}

#[derive(serde::Deserialize)]
struct Config {
    count: u32,
}

/// `{x, y}` as MessagePack, a map as the host expects.
fn point(x: f32, y: f32) -> Vec<u8> {
    let mut out = vec![0x82, 0xa1, b'x', 0xca];
    out.extend_from_slice(&x.to_be_bytes());
    out.extend_from_slice(&[0xa1, b'y', 0xca]);
    out.extend_from_slice(&y.to_be_bytes());
    out
}

/// Whether a column is packed as two `f32`s, `x` then `y`.
fn is_xy(column: &Column) -> bool {
    matches!(&column.encoding, ColumnEncoding::Packed(fields)
        if fields.len() == 2
            && fields[0].path == "x" && matches!(fields[0].kind, Scalar::F32)
            && fields[1].path == "y" && matches!(fields[1].kind, Scalar::F32))
}

fn f32_at(bytes: &[u8], at: usize) -> f32 {
    f32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

struct Floor;

impl Guest for Floor {
    fn init(config: Vec<u8>) -> Result<Manifest, ModError> {
        if let Ok(config) = rmp_serde::from_slice::<Config>(&config) {
            WANTED.set(config.count);
        }
        Ok(Manifest {
            name: "floor".into(),
            version: "0.1.0".into(),
            subscribes: vec![],
            queries: vec![QuerySpec {
                components: vec!["Position".into(), "Velocity".into()],
            }],
            defines: vec![],
            emits: vec![],
            shares: vec![],
        })
    }

    fn on_tick(_tick: Tick) -> Result<(), ModError> {
        let names = ["Position".to_string(), "Velocity".to_string()];
        let batch = entities::query_batch(&names)?;
        if let [position, velocity] = &batch.columns[..]
            && is_xy(position)
            && is_xy(velocity)
            && !batch.entities.is_empty()
        {
            let mut moved = Vec::with_capacity(position.data.len());
            for (p, v) in position
                .data
                .chunks_exact(8)
                .zip(velocity.data.chunks_exact(8))
            {
                moved.extend_from_slice(&(f32_at(p, 0) + f32_at(v, 0)).to_le_bytes());
                moved.extend_from_slice(&(f32_at(p, 4) + f32_at(v, 4)).to_le_bytes());
            }
            let fields = vec![
                PackedField {
                    path: "x".into(),
                    kind: Scalar::F32,
                },
                PackedField {
                    path: "y".into(),
                    kind: Scalar::F32,
                },
            ];
            entities::write_batch(&Batch {
                entities: batch.entities,
                columns: vec![Column {
                    name: "Position".into(),
                    encoding: ColumnEncoding::Packed(fields),
                    data: moved,
                }],
            })?;
        }
        // Entity `i` starts at (i, 0) and moves by (1, i / 10) each tick.
        while SPAWNED.get() < WANTED.get() {
            let i = SPAWNED.get() as f32;
            let bundle = [
                Component {
                    name: "Position".into(),
                    value: point(i, 0.0),
                },
                Component {
                    name: "Velocity".into(),
                    value: point(1.0, i / 10.0),
                },
            ];
            match entities::spawn(&bundle) {
                Ok(_) => SPAWNED.set(SPAWNED.get() + 1),
                // The host reserves more ids next tick.
                Err(ModError::LimitExceeded(_)) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn on_event(_events: Vec<Event>) -> Result<(), ModError> {
        Ok(())
    }

    fn save() -> Result<Vec<u8>, ModError> {
        rmp_serde::to_vec(&(WANTED.get(), SPAWNED.get()))
            .map_err(|e| ModError::Failed(e.to_string()))
    }

    fn restore(state: Vec<u8>) -> Result<(), ModError> {
        let (wanted, spawned): (u32, u32) =
            rmp_serde::from_slice(&state).map_err(|e| ModError::Failed(e.to_string()))?;
        WANTED.set(wanted);
        SPAWNED.set(spawned);
        Ok(())
    }
}

export!(Floor);
