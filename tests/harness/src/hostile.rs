//! Hostile cases made from real ones: seeds for the fuzzer and a test of
//! both lines of defence.

use std::collections::BTreeMap;

use bevy_wasm_mods::protocol::{self as wire, Command, Encoding, Reply};

use super::{case_bytes, decode, encode, split_case};

/// Cases a hostile mod might send, made from a real case whose first query
/// reads `Position` on entities the mod spawned: each adds one bad command
/// to the real ones. Two rows the mod did not spawn are added to that
/// query's snapshot, so there is someone else's entity to attack.
///
/// Each must be refused by the worker's checks and, on its own, by the
/// main thread's: they are seeds for the fuzzer and a test of both lines.
pub fn hostile_variants(case: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let Some((mut context, reply)) = split_case(case) else {
        return Vec::new();
    };
    let Some(Reply::Ticked(mut real)) = decode::<Reply>(reply) else {
        return Vec::new();
    };
    let Some(query) = context.request.queries.first_mut() else {
        return Vec::new();
    };
    if query.entities.0.is_empty() || !query.components.iter().any(|c| c == "Position") {
        return Vec::new();
    }
    let mine = query.entities.0[0];
    // The real commands' batches over this query name the rows it had.
    for command in &mut real {
        if let Command::WriteQueryRows { query: 0, columns } = command {
            *command = Command::WriteBatch {
                entities: query.entities.clone(),
                columns: std::mem::take(columns),
            };
        }
    }
    // Two foreign rows; the harness gives odd rows not spawned by the mod to
    // another mod, and even ones to the game.
    let foreign = [0x0000_0000_ffff_ff00_u64, 0x0000_0000_ffff_ff01];
    let rows = query.entities.0.len();
    let mut owned: Vec<bool> = (0..rows).map(|r| query.owns_row(r)).collect();
    for bits in foreign {
        query.entities.0.push(bits);
        owned.push(false);
        for column in &mut query.columns {
            let Some(first) = column.row(0).map(<[u8]>::to_vec) else {
                continue;
            };
            if column.encoding == Encoding::MsgPack {
                column.offsets.push(column.data.len() as u32);
            }
            column.data.extend_from_slice(&first);
        }
    }
    query.owned = wire::pack_bits(&owned).into();
    let rival = if rows % 2 == 1 {
        foreign[0]
    } else {
        foreign[1]
    };
    let game_owned = if rows % 2 == 1 {
        foreign[1]
    } else {
        foreign[0]
    };

    let position =
        rmp_serde::to_vec_named(&demo_game::Position { x: 1.0, y: 2.0 }).unwrap_or_default();
    let health =
        rmp_serde::to_vec_named(&BTreeMap::from([("current", 1), ("max", 1)])).unwrap_or_default();
    let component = |name: &str, value: &[u8]| wire::WireComponent {
        name: name.into(),
        value: value.to_vec().into(),
    };
    let packed_position = Encoding::Packed(wire::Layout::new(vec![
        ("x".into(), wire::Scalar::F32),
        ("y".into(), wire::Scalar::F32),
    ]));
    let batch = |entities: Vec<u64>, data: Vec<u8>| Command::WriteBatch {
        entities: wire::EntityList(entities),
        columns: vec![wire::Column {
            name: "Position".into(),
            encoding: packed_position.clone(),
            data: data.into(),
            offsets: Vec::new(),
        }],
    };
    let query_batch = |query: u32, data: Vec<u8>| Command::WriteQueryRows {
        query,
        columns: vec![wire::Column {
            name: "Position".into(),
            encoding: packed_position.clone(),
            data: data.into(),
            offsets: Vec::new(),
        }],
    };
    let mut deep = vec![0x91; 100_000];
    deep.push(0xc0);
    let attacks: Vec<(&'static str, Vec<Command>)> = vec![
        (
            "write-read-only",
            vec![Command::Insert {
                entity: mine,
                components: vec![component("Health", &health)],
            }],
        ),
        (
            "write-unexposed",
            vec![Command::Insert {
                entity: mine,
                components: vec![component("Secret", &position)],
            }],
        ),
        (
            "remove-read-only",
            vec![Command::Remove {
                entity: mine,
                names: vec!["Health".into()],
            }],
        ),
        ("despawn-rival", vec![Command::Despawn { entity: rival }]),
        (
            "despawn-game",
            vec![Command::Despawn { entity: game_owned }],
        ),
        (
            "write-rival",
            vec![Command::Insert {
                entity: rival,
                components: vec![component("Position", &position)],
            }],
        ),
        (
            "batch-rival-row",
            vec![batch(vec![mine, rival], vec![0; 16])],
        ),
        ("batch-short-column", vec![batch(vec![mine], vec![0; 7])]),
        (
            "batch-query-with-rivals",
            vec![query_batch(0, vec![0; (rows + foreign.len()) * 8])],
        ),
        ("batch-unknown-query", vec![query_batch(7, vec![0; 8])]),
        (
            "invalid-msgpack",
            vec![Command::Insert {
                entity: mine,
                components: vec![component("Position", &[0xc1])],
            }],
        ),
        (
            "wrong-type",
            vec![Command::Insert {
                entity: mine,
                components: vec![component("Position", &[0xa3, b'a', b'b', b'c'])],
            }],
        ),
        (
            "trailing-bytes",
            vec![Command::Insert {
                entity: mine,
                components: vec![component(
                    "Position",
                    &[position.as_slice(), &[0xc0]].concat(),
                )],
            }],
        ),
        (
            "deep-event",
            vec![Command::Emit {
                name: "deep".into(),
                payload: deep.into(),
            }],
        ),
        (
            "write-after-despawn",
            vec![
                Command::Despawn { entity: mine },
                Command::Insert {
                    entity: mine,
                    components: vec![component("Position", &position)],
                },
            ],
        ),
    ];
    attacks
        .into_iter()
        .map(|(name, attack)| {
            let mut commands = real.clone();
            commands.extend(attack);
            let reply = encode(&Reply::Ticked(commands));
            (name, case_bytes(&context, &reply))
        })
        .collect()
}
