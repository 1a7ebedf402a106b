//! The messages the main thread and the mod workers exchange.
//!
//! Every message crosses the channel as MessagePack bytes (`rmp-serde`), so a
//! worker shares no memory with the main thread and each message has a size
//! the host can cap. Byte payloads use `serde_bytes` so they travel as
//! MessagePack `bin` (one copy) rather than as arrays of integers.

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

/// How a column's values are encoded (mirrors the WIT `column-encoding`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum Encoding {
    /// A MessagePack array with one value per row.
    MsgPack,
    /// Fixed-size little-endian records; the fields in order.
    Packed(Vec<(String, Scalar)>),
}

/// A scalar in a packed record (mirrors the WIT `scalar`).
pub(crate) use mod_api_packed::Scalar;

/// Bytes of one packed record with these fields.
pub(crate) fn stride(fields: &[(String, Scalar)]) -> usize {
    fields.iter().map(|(_, s)| s.size()).sum()
}

/// One component type's values for every row of a batch or query.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Column {
    pub name: String,
    pub encoding: Encoding,
    /// For `MsgPack`: one MessagePack value per row, concatenated; `offsets`
    /// gives where each row starts. For `Packed`: `stride` bytes per row.
    pub data: ByteBuf,
    /// Start of each row in `data` for `MsgPack` columns (empty for packed).
    pub offsets: Vec<u32>,
}

impl Column {
    /// The column with only the given rows, in that order (rows it lacks
    /// are left out).
    pub(crate) fn only_rows(&self, rows: &[usize]) -> Column {
        let mut data = Vec::new();
        let mut offsets = Vec::new();
        for bytes in rows.iter().filter_map(|row| self.row(*row)) {
            if self.encoding == Encoding::MsgPack {
                offsets.push(data.len() as u32);
            }
            data.extend_from_slice(bytes);
        }
        Column {
            name: self.name.clone(),
            encoding: self.encoding.clone(),
            data: data.into(),
            offsets,
        }
    }

    /// The bytes of row `row`, in the column's encoding.
    pub(crate) fn row(&self, row: usize) -> Option<&[u8]> {
        match &self.encoding {
            Encoding::Packed(fields) => {
                let stride = stride(fields);
                self.data.get(row * stride..(row + 1) * stride)
            }
            Encoding::MsgPack => {
                let start = *self.offsets.get(row)? as usize;
                let end = self
                    .offsets
                    .get(row + 1)
                    .map_or(self.data.len(), |e| *e as usize);
                self.data.get(start..end)
            }
        }
    }

    /// Number of rows the column holds.
    pub(crate) fn rows(&self) -> usize {
        match &self.encoding {
            Encoding::Packed(fields) => match stride(fields) {
                0 => 0,
                s => self.data.len() / s,
            },
            Encoding::MsgPack => self.offsets.len(),
        }
    }
}

/// Entity ids packed as little-endian `u64`s: one `bin` instead of one
/// MessagePack integer per entity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct EntityList(pub Vec<u64>);

impl Serialize for EntityList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut bytes = Vec::with_capacity(self.0.len() * 8);
        for e in &self.0 {
            bytes.extend_from_slice(&e.to_le_bytes());
        }
        s.serialize_bytes(&bytes)
    }
}

impl<'de> Deserialize<'de> for EntityList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes = ByteBuf::deserialize(d)?;
        if bytes.len() % 8 != 0 {
            return Err(serde::de::Error::custom(
                "entity list is not a multiple of 8 bytes",
            ));
        }
        Ok(EntityList(
            bytes
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect(),
        ))
    }
}

/// The result of one of a mod's queries at the start of a tick.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct QueryResult {
    pub components: Vec<String>,
    pub entities: EntityList,
    pub columns: Vec<Column>,
    /// One bit per row (row `i` is bit `i % 8` of byte `i / 8`): set when
    /// the mod spawned that row's entity, so the worker can refuse a write
    /// to someone else's entity at the call that makes it.
    pub owned: ByteBuf,
}

impl QueryResult {
    /// Whether the mod spawned the entity in row `row`.
    pub(crate) fn owns_row(&self, row: usize) -> bool {
        self.owned
            .get(row / 8)
            .is_some_and(|byte| byte & (1 << (row % 8)) != 0)
    }

    /// Whether the mod spawned every row's entity.
    pub(crate) fn owns_all(&self) -> bool {
        let rows = self.entities.0.len();
        let full = rows / 8;
        self.owned.len() >= full
            && self.owned[..full].iter().all(|b| *b == 0xff)
            && (full * 8..rows).all(|row| self.owns_row(row))
    }
}

/// Packs one flag per row into bits, as [`QueryResult::owned`] holds them.
pub(crate) fn pack_bits(flags: &[bool]) -> Vec<u8> {
    flags
        .chunks(8)
        .map(|eight| {
            eight
                .iter()
                .enumerate()
                .fold(0u8, |byte, (i, flag)| byte | (u8::from(*flag) << i))
        })
        .collect()
}

/// An event on its way to a mod.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct WireEvent {
    pub name: String,
    pub source: Option<String>,
    pub payload: ByteBuf,
}

/// A component value from a mod: a type name and MessagePack.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct WireComponent {
    pub name: String,
    pub value: ByteBuf,
}

/// Main thread to worker.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Request {
    /// Run one tick: deliver events, then call `on-tick`.
    Tick(TickRequest),
    /// Call `save`, make a fresh instance, `init` it and `restore` the state.
    Reload,
    /// Make a fresh instance and `init` it, after a fault: the old one's
    /// state is lost (its entities in the world are not).
    Restart,
    /// Drop the instance and end the thread.
    Shutdown,
}

/// Everything a mod may read during one tick.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct TickRequest {
    pub frame: u64,
    pub delta_seconds: f32,
    pub events: Vec<WireEvent>,
    pub queries: Vec<QueryResult>,
    /// Entity ids reserved for the mod's spawns, used in order.
    pub reserved: EntityList,
    /// Whether the mod owns as many entities as it may: then it gets no ids.
    pub at_entity_cap: bool,
    /// Game time since start-up, in nanoseconds: what the mod's clocks read
    /// during this tick.
    pub game_time_nanos: u64,
}

/// A change a mod asked for, applied by the main thread after the tick.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Command {
    Spawn {
        entity: u64,
        components: Vec<WireComponent>,
    },
    Despawn {
        entity: u64,
    },
    Insert {
        entity: u64,
        components: Vec<WireComponent>,
    },
    Remove {
        entity: u64,
        names: Vec<String>,
    },
    Emit {
        name: String,
        payload: ByteBuf,
    },
    WriteBatch {
        entities: EntityList,
        columns: Vec<Column>,
    },
    /// A `WriteBatch` whose rows are exactly those the mod's query number
    /// `query` was sent with this tick (the usual batch): the worker names
    /// the query instead of sending ten thousand ids back.
    WriteQueryRows {
        query: u32,
        columns: Vec<Column>,
    },
}

/// Which export of the mod was running when something failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Hook {
    /// Compiling, checking or instantiating the component.
    Load,
    /// `init`.
    Init,
    /// `on-tick`.
    Tick,
    /// `on-event`.
    Event,
    /// `save`.
    Save,
    /// `restore`.
    Restore,
}

/// Why a mod's call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FaultKind {
    /// The file is not a usable component for this game.
    Invalid,
    /// The guest trapped (including a Rust panic, which aborts).
    Trap,
    /// The call ran past its time limit and was interrupted.
    Timeout,
    /// The call burned all the fuel it was given (see
    /// [`ModLimits::fuel_per_call`](crate::ModLimits::fuel_per_call)).
    OutOfFuel,
    /// The guest hit its memory limit.
    OutOfMemory,
    /// The call returned an error value.
    ModError,
    /// The mod's output broke a rule or a cap; nothing of the tick was applied.
    InvalidOutput,
    /// The worker stopped answering.
    Unresponsive,
}

/// A failure, with what is known of where it happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// What went wrong.
    pub kind: FaultKind,
    /// The hook that was running.
    pub hook: Hook,
    /// A human-readable account (including the guest backtrace when known).
    pub message: String,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} in {:?}: {}", self.kind, self.hook, self.message)
    }
}

/// The manifest a mod returned from `init`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModManifest {
    /// The mod's name.
    pub name: String,
    /// The mod's version.
    pub version: String,
    /// Event names delivered to the mod.
    pub subscribes: Vec<String>,
    /// The mod's queries: each a list of component type names.
    pub queries: Vec<Vec<String>>,
    /// Component types the mod defines itself.
    pub defines: Vec<String>,
}

/// Worker to main thread.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Reply {
    /// The mod is instantiated and `init` returned this manifest.
    Ready(ModManifest),
    /// The tick ran; these are its commands in issue order.
    Ticked(Vec<Command>),
    /// The call failed; none of its commands are kept.
    Failed(Fault),
    /// A reload finished.
    Reloaded,
}

/// Encodes a message for the channel.
pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing these plain types into a Vec cannot fail.
    rmp_serde::to_vec(value).unwrap_or_default()
}

/// Decodes a message from the channel.
pub(crate) fn decode<'a, T: Deserialize<'a>>(
    bytes: &'a [u8],
) -> Result<T, rmp_serde::decode::Error> {
    rmp_serde::from_slice(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(owned: &[bool]) -> QueryResult {
        QueryResult {
            components: Vec::new(),
            entities: EntityList((0..owned.len() as u64).collect()),
            columns: Vec::new(),
            owned: pack_bits(owned).into(),
        }
    }

    #[test]
    fn a_column_keeps_only_the_rows_asked_for() {
        let packed = Column {
            name: "Position".into(),
            encoding: Encoding::Packed(vec![("x".into(), Scalar::U16)]),
            data: vec![1, 0, 2, 0, 3, 0].into(),
            offsets: Vec::new(),
        };
        let kept = packed.only_rows(&[0, 2]);
        assert_eq!(kept.data.as_slice(), &[1, 0, 3, 0]);
        assert_eq!(kept.rows(), 2);
        let msgpack = Column {
            name: "Tag".into(),
            encoding: Encoding::MsgPack,
            data: vec![0xa1, b'a', 0x05, 0xc0].into(),
            offsets: vec![0, 2, 3],
        };
        let kept = msgpack.only_rows(&[2, 0]);
        assert_eq!(kept.data.as_slice(), &[0xc0, 0xa1, b'a']);
        assert_eq!(kept.offsets, vec![0, 1]);
        assert_eq!(kept.row(1), Some(&[0xa1, b'a'][..]));
    }

    #[test]
    fn owned_bits_round_trip() {
        let flags: Vec<bool> = (0..19).map(|i| i % 3 != 1).collect();
        let q = query(&flags);
        assert_eq!(q.owned.len(), 3);
        for (row, flag) in flags.iter().enumerate() {
            assert_eq!(q.owns_row(row), *flag, "row {row}");
        }
        assert!(!q.owns_row(19));
        assert!(!q.owns_all());
        assert!(query(&[true; 19]).owns_all());
        assert!(query(&[]).owns_all());
    }
}
