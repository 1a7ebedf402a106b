//! The messages the main thread and the mod workers exchange.
//!
//! Public with the `test-seam` feature, so that tests and fuzzers can
//! build, record and replay them (see the `testing` module); not a stable
//! API, and private in a game's build. Every byte in them that came from
//! a guest was checked by the worker's imports before it got here, and is
//! checked again by the main thread before anything is applied.
//!
//! The serde impls are for recording and replaying traffic, not for the
//! channels: messages cross them as values. Byte payloads use `serde_bytes`
//! so a recording holds them as MessagePack `bin`.

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::fault::Fault;
use crate::manifest::ModManifest;

/// How a column's values are encoded (mirrors the WIT `column-encoding`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Encoding {
    /// A MessagePack array with one value per row.
    MsgPack,
    /// Fixed-size little-endian records in this layout.
    Packed(Layout),
}

/// A packed record's layout and its scalars (mirror the WIT
/// `packed-field` list and `scalar`), shared with `mod-api`.
pub use mod_api_packed::{Layout, Scalar};

/// One component type's values for every row of a batch or query.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Column {
    /// The component type's name.
    pub name: String,
    /// How `data` holds the values.
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
    pub fn only_rows(&self, rows: &[usize]) -> Column {
        if let Encoding::Packed(layout) = &self.encoding {
            let stride = layout.stride();
            let mut data = Vec::with_capacity(rows.len() * stride);
            // Runs of consecutive rows (whole tables, usually) in one copy.
            let mut at = 0;
            while at < rows.len() {
                let mut end = at + 1;
                while end < rows.len() && rows[end] == rows[end - 1] + 1 {
                    end += 1;
                }
                let (first, last) = (rows[at], rows[end - 1]);
                if let Some(bytes) = self.data.get(first * stride..(last + 1) * stride) {
                    data.extend_from_slice(bytes);
                } else {
                    for row in &rows[at..end] {
                        if let Some(bytes) = self.data.get(row * stride..(row + 1) * stride) {
                            data.extend_from_slice(bytes);
                        }
                    }
                }
                at = end;
            }
            return Column {
                name: self.name.clone(),
                encoding: self.encoding.clone(),
                data: data.into(),
                offsets: Vec::new(),
            };
        }
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
    pub fn row(&self, row: usize) -> Option<&[u8]> {
        match &self.encoding {
            Encoding::Packed(layout) => {
                let stride = layout.stride();
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
    pub fn rows(&self) -> usize {
        match &self.encoding {
            Encoding::Packed(layout) => match layout.stride() {
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
pub struct EntityList(pub Vec<u64>);

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
pub struct QueryResult {
    /// The component type names the query asked for.
    pub components: Vec<String>,
    /// The matching entities, in the order of the columns' rows.
    pub entities: EntityList,
    /// One column per component type, in the order of `components`.
    pub columns: Vec<Column>,
    /// One bit per row (row `i` is bit `i % 8` of byte `i / 8`): set when
    /// the mod spawned that row's entity, so the worker can refuse a write
    /// to someone else's entity at the call that makes it.
    pub owned: ByteBuf,
}

impl QueryResult {
    /// Whether the mod spawned the entity in row `row`.
    pub fn owns_row(&self, row: usize) -> bool {
        self.owned
            .get(row / 8)
            .is_some_and(|byte| byte & (1 << (row % 8)) != 0)
    }

    /// Whether the mod spawned every row's entity.
    pub fn owns_all(&self) -> bool {
        let rows = self.entities.0.len();
        let full = rows / 8;
        self.owned.len() >= full
            && self.owned[..full].iter().all(|b| *b == 0xff)
            && (full * 8..rows).all(|row| self.owns_row(row))
    }
}

/// Packs one flag per row into bits, as [`QueryResult::owned`] holds them.
pub fn pack_bits(flags: &[bool]) -> Vec<u8> {
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
pub struct WireEvent {
    /// The event's name (a game message's short type name, or what a mod
    /// emitted).
    pub name: String,
    /// The mod that emitted it; `None` for a game message.
    pub source: Option<String>,
    /// The payload, one MessagePack value.
    pub payload: ByteBuf,
}

/// A component value from a mod: a type name and MessagePack.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WireComponent {
    /// The component type's name.
    pub name: String,
    /// One MessagePack value.
    pub value: ByteBuf,
}

/// Main thread to worker.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Request {
    /// Run one tick: deliver events, then call `on-tick`.
    Tick(TickRequest),
    /// Make a fresh instance and `init` it, after a fault, and `restore`
    /// the mod's last checkpoint into it when there is one.
    Restart,
    /// Drop the instance and end the thread.
    Shutdown,
    /// Call `save` for a saved game, between two ticks.
    Save,
    /// Replace the instance with a fresh one, for a loaded game: `init`,
    /// then `restore` of `state` when there is one, its clocks at
    /// `game_time_nanos`, its next tick numbered `frame`. A `restore` that
    /// fails leaves the mod started afresh (said in the reply).
    Load {
        /// What its `save` gave when the game was saved.
        state: Option<ByteBuf>,
        /// The mods' game time when the game was saved.
        game_time_nanos: u64,
        /// The mod's tick count when the game was saved.
        frame: u64,
    },
}

/// Everything a mod may read during one tick.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TickRequest {
    /// The mod's own tick count (what `tick.frame` reads).
    pub frame: u64,
    /// Seconds of game time since the last frame.
    pub delta_seconds: f32,
    /// Events for the mod, delivered to `on-event` before `on-tick`.
    pub events: Vec<WireEvent>,
    /// The results of the mod's queries, in manifest order.
    pub queries: Vec<QueryResult>,
    /// Entity ids reserved for the mod's spawns, used in order.
    pub reserved: EntityList,
    /// Whether the mod owns as many entities as it may: then it gets no ids.
    pub at_entity_cap: bool,
    /// Game time since start-up, in nanoseconds: what the mod's clocks read
    /// during this tick.
    pub game_time_nanos: u64,
}

impl TickRequest {
    /// About how many bytes the request carries: what the cap on one
    /// message ([`ModLimits::bytes_per_tick`](crate::ModLimits)) is checked
    /// against.
    pub fn bytes(&self) -> usize {
        let events: usize = self.events.iter().map(WireEvent::bytes).sum();
        let queries: usize = self.queries.iter().map(QueryResult::bytes).sum();
        events + queries + self.reserved.0.len() * 8
    }
}

impl WireEvent {
    /// About how many bytes the event carries.
    pub fn bytes(&self) -> usize {
        self.name.len() + self.payload.len() + self.source.as_ref().map_or(0, String::len)
    }
}

impl QueryResult {
    /// About how many bytes the result carries.
    pub fn bytes(&self) -> usize {
        let columns: usize = self
            .columns
            .iter()
            .map(|c| c.name.len() + c.data.len() + c.offsets.len() * 4)
            .sum();
        self.entities.0.len() * 8 + self.owned.len() + columns
    }
}

/// A change a mod asked for, applied by the main thread after the tick.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Command {
    /// Spawn `entity` (the next id reserved for the mod) with components.
    Spawn {
        /// The entity's id bits.
        entity: u64,
        /// Its components.
        components: Vec<WireComponent>,
    },
    /// Despawn an entity.
    Despawn {
        /// The entity's id bits.
        entity: u64,
    },
    /// Insert or overwrite components on an entity.
    Insert {
        /// The entity's id bits.
        entity: u64,
        /// The components.
        components: Vec<WireComponent>,
    },
    /// Remove components from an entity.
    Remove {
        /// The entity's id bits.
        entity: u64,
        /// The component type names.
        names: Vec<String>,
    },
    /// Emit an event to the game and to subscribed mods.
    Emit {
        /// The event's name.
        name: String,
        /// One MessagePack value.
        payload: ByteBuf,
    },
    /// Overwrite components of many entities, one column per type.
    WriteBatch {
        /// The rows' entities.
        entities: EntityList,
        /// One column per component type, a value per row.
        columns: Vec<Column>,
    },
    /// A `WriteBatch` whose rows are exactly those the mod's query number
    /// `query` was sent with this tick (the usual batch): the worker names
    /// the query instead of sending ten thousand ids back.
    WriteQueryRows {
        /// The query's index in the manifest.
        query: u32,
        /// One column per component type, a value per row.
        columns: Vec<Column>,
    },
    /// The mod could not decode an input: the worker names who made it.
    Reject {
        /// The id of the mod that sent the input, or `None` when it was the
        /// game's (or the reporting mod's own).
        culprit: Option<String>,
        /// What the input was, in words (`event \`chat\``).
        about: String,
        /// Why the mod could not use it, as it said (escaped, cut).
        reason: String,
    },
    /// The mod could not decode the value of a mod-defined component on an
    /// entity: the main thread names the mod that wrote it.
    RejectValue {
        /// The entity's bits.
        entity: u64,
        /// The component's name (cut, not escaped: it is looked up).
        name: String,
        /// Why the mod could not use it, as it said (escaped, cut).
        reason: String,
    },
}

impl Command {
    /// About how many bytes the command carries.
    pub fn bytes(&self) -> usize {
        let components = |cs: &[WireComponent]| {
            cs.iter()
                .map(|c| c.name.len() + c.value.len())
                .sum::<usize>()
        };
        let columns = |cs: &[Column]| {
            cs.iter()
                .map(|c| c.name.len() + c.data.len() + c.offsets.len() * 4)
                .sum::<usize>()
        };
        match self {
            Command::Spawn { components: cs, .. } | Command::Insert { components: cs, .. } => {
                8 + components(cs)
            }
            Command::Despawn { .. } => 8,
            Command::Remove { names, .. } => 8 + names.iter().map(String::len).sum::<usize>(),
            Command::Emit { name, payload } => name.len() + payload.len(),
            Command::WriteBatch {
                entities,
                columns: cs,
            } => entities.0.len() * 8 + columns(cs),
            Command::WriteQueryRows { columns: cs, .. } => 4 + columns(cs),
            Command::Reject {
                culprit,
                about,
                reason,
            } => culprit.as_ref().map_or(0, String::len) + about.len() + reason.len(),
            Command::RejectValue { name, reason, .. } => 8 + name.len() + reason.len(),
        }
    }
}

/// Worker to main thread.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Reply {
    /// The mod is instantiated and `init` returned this manifest; after a
    /// fault, `resumed_at` is the tick of the checkpoint the fresh
    /// instance was restored to (`None`: it started afresh).
    Ready {
        /// What `init` returned.
        manifest: ModManifest,
        /// The checkpoint's tick, when resumed from one.
        resumed_at: Option<u64>,
    },
    /// The tick ran; these are its commands in issue order.
    Ticked(Vec<Command>),
    /// The call failed; none of its commands are kept.
    Failed(Fault),
    /// The mod runs new code with its state kept; this is its manifest.
    Swapped(ModManifest),
    /// The new code failed (to compile, `init`, `restore`, or with a name
    /// other than the mod's): the old code goes on as it was.
    UpdateRefused(Fault),
    /// What `save` gave, for a saved game.
    Saved(ByteBuf),
    /// A fresh instance for a loaded game runs; when its `restore` failed,
    /// why (it started afresh instead).
    Loaded {
        /// What `init` returned.
        manifest: ModManifest,
        /// Why the saved state could not be restored, if it could not.
        restore_failed: Option<Fault>,
    },
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
            encoding: Encoding::Packed(Layout::new(vec![("x".into(), Scalar::U16)])),
            data: vec![1, 0, 2, 0, 3, 0].into(),
            offsets: Vec::new(),
        };
        let kept = packed.only_rows(&[0, 2]);
        assert_eq!(kept.data.as_slice(), &[1, 0, 3, 0]);
        assert_eq!(kept.rows(), 2);
        // Runs of rows are copied whole; a run past the end keeps the rows
        // there are.
        let kept = packed.only_rows(&[2, 0, 1]);
        assert_eq!(kept.data.as_slice(), &[3, 0, 1, 0, 2, 0]);
        let kept = packed.only_rows(&[1, 2, 3]);
        assert_eq!(kept.data.as_slice(), &[2, 0, 3, 0]);
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
