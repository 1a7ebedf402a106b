//! Fuzzing the host's handling of what mods send, through the plugin's
//! test seam (`bevy_wasm_mods::testing`).
//!
//! A *case* is what one worker saw in one tick of real play: the mod's
//! manifest, the tick it was sent, and the reply bytes it produced. The
//! recorder ([`recorder`]) captures cases from real mods; the fuzz
//! target (`fuzz/fuzz_targets/mod_output.rs`) mutates them and calls
//! [`check_case`], which rebuilds a world holding the tick's snapshot and
//! sends the reply through both lines of defence:
//!
//! - **direct**: the reply bytes go straight to the main thread's decoding,
//!   staging and applying, as if the worker's checks had let anything
//!   through;
//! - **via the worker**: the reply's commands are replayed as the guest
//!   calls that make them (`spawn`, `insert`, `write-batch`, `emit`, ...)
//!   through the worker's import checks, and what those accept goes to the
//!   main thread as a real reply would.
//!
//! After each, the case checks what must hold whatever the bytes were, and
//! panics (a finding) when it does not: a refused tick changed nothing; an
//! applied tick changed no entity the mod did not spawn, no read-only
//! component, and spawned only on reserved ids; the per-mod entity count is
//! true. Decoding or staging that panics is a finding too.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use bevy::prelude::*;
use bevy_wasm_mods::protocol::{Command, EntityList, Reply, TickRequest};
use bevy_wasm_mods::testing::{self, ModUnderTest, TrafficTap};
use bevy_wasm_mods::{ModAccess, ModManifest, ModPlugin, SpawnedByMod};
use demo_game::DemoPlugin;
use serde::{Deserialize, Serialize};

mod hostile;
pub use hostile::hostile_variants;

/// The owner name given to entities the mod did not spawn (every other
/// row of those its snapshot marked as not its own; the rest are the game's).
const RIVAL: &str = "rival";

/// Most snapshot rows a case builds, so each run stays quick.
const MAX_ROWS: usize = 4096;

/// Most queries of a case's manifest prepared, so each run stays quick.
const MAX_QUERIES: usize = 16;

/// What a worker knew when it produced a reply.
#[derive(Serialize, Deserialize)]
struct Context {
    manifest: ModManifest,
    request: TickRequest,
}

/// What became of a reply on one path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The input is not a case (its context does not decode).
    NotACase,
    /// The reply bytes do not decode as a reply.
    Unreadable,
    /// A reply that is not a tick's commands (a fault or a manifest).
    Other,
    /// The worker's checks refused the tick, for this reason.
    WorkerRefused(String),
    /// The main thread refused the tick, for this reason.
    Refused(String),
    /// The tick was applied: this many commands.
    Applied(usize),
}

/// What [`check_case`] found on each path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The reply sent straight to the main thread.
    pub direct: Outcome,
    /// The reply replayed as guest calls through the worker's checks first.
    pub via_worker: Outcome,
}

/// A case's parts as MessagePack (arrays, as the seeds were recorded).
fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing these plain types into a Vec cannot fail.
    rmp_serde::to_vec(value).unwrap_or_default()
}

fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Option<T> {
    rmp_serde::from_slice(bytes).ok()
}

/// Joins a tick's context and the reply bytes into one case.
fn case_bytes(context: &Context, reply: &[u8]) -> Vec<u8> {
    let context = encode(context);
    let mut out = Vec::with_capacity(4 + context.len() + reply.len());
    out.extend_from_slice(&(context.len() as u32).to_le_bytes());
    out.extend_from_slice(&context);
    out.extend_from_slice(reply);
    out
}

/// Splits a case into its context and its reply bytes.
fn split_case(input: &[u8]) -> Option<(Context, &[u8])> {
    let len = u32::from_le_bytes(input.get(..4)?.try_into().ok()?) as usize;
    let context = input.get(4..4usize.checked_add(len)?)?;
    let context = decode::<Context>(context)?;
    Some((context, &input[4 + len..]))
}

/// The cases a [`recorder`]'s tap has seen.
#[derive(Clone, Default)]
pub struct Recording(Arc<Mutex<Vec<Vec<u8>>>>);

impl Recording {
    /// The cases recorded so far, and forgets them.
    pub fn take(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// A tap for the plugin that records every tick real mods run as a case.
pub fn recorder() -> (TrafficTap, Recording) {
    let recording = Recording::default();
    let cases = recording.0.clone();
    let tap = TrafficTap::new(move |id, manifest, request, reply| {
        // A case knows its mod by its manifest's name: the mod's id, under
        // which its own names are (`greeter:Badge`).
        let context = Context {
            manifest: ModManifest {
                name: id.to_string(),
                ..manifest.clone()
            },
            request: request.clone(),
        };
        let case = case_bytes(&context, &encode(reply));
        cases.lock().unwrap_or_else(|e| e.into_inner()).push(case);
    });
    (tap, recording)
}

/// The id of the mod a case was recorded from.
pub fn case_mod_name(case: &[u8]) -> Option<String> {
    split_case(case).map(|(context, _)| context.manifest.name)
}

/// Runs one case through both paths, checking what must hold; panics on a
/// finding.
pub fn check_case(input: &[u8]) -> Report {
    // The main thread only ever sees manifests the worker accepted.
    let context = split_case(input).filter(|(context, _)| context.manifest.check().is_ok());
    let Some((context, reply)) = context else {
        return Report {
            direct: Outcome::NotACase,
            via_worker: Outcome::NotACase,
        };
    };
    Report {
        direct: direct(&context, reply),
        via_worker: via_worker(&context, reply),
    }
}

fn direct(context: &Context, reply: &[u8]) -> Outcome {
    match decode::<Reply>(reply) {
        Some(Reply::Ticked(commands)) => {
            let mut harness = Harness::new(context);
            let commands = harness.remap(commands);
            harness.apply(commands)
        }
        Some(Reply::Ready { manifest, .. }) => {
            // What `init` returned, checked as the worker checks it, then
            // prepared as the main thread prepares its queries.
            if manifest.check().is_ok() {
                let mut harness = Harness::new(&Context {
                    manifest,
                    request: empty_request(),
                });
                harness.snapshot();
            }
            Outcome::Other
        }
        Some(_) => Outcome::Other,
        None => Outcome::Unreadable,
    }
}

fn via_worker(context: &Context, reply: &[u8]) -> Outcome {
    let Some(Reply::Ticked(commands)) = decode::<Reply>(reply) else {
        return Outcome::Other;
    };
    let mut harness = Harness::new(context);
    let commands = harness.remap(commands);
    let queries = harness.snapshot();
    let checked = harness
        .subject
        .check_as_worker(harness.app.world(), queries, commands);
    match checked {
        Ok(commands) => harness.apply(commands),
        Err(why) => Outcome::WorkerRefused(why),
    }
}

fn empty_request() -> TickRequest {
    TickRequest {
        frame: 0,
        delta_seconds: 0.0,
        events: Vec::new(),
        queries: Vec::new(),
        reserved: EntityList::default(),
        at_entity_cap: false,
        game_time_nanos: 0,
    }
}

/// A world holding one tick's snapshot, and the mod's place in it.
struct Harness {
    app: App,
    subject: ModUnderTest,
    /// Entity ids of the recorded run to the ones here.
    ids: HashMap<u64, Entity>,
    reserved: VecDeque<Entity>,
    owner: String,
    snapshotted: bool,
}

impl Harness {
    fn new(context: &Context) -> Self {
        let mut app = App::new();
        app.add_plugins((ModPlugin::new(), DemoPlugin));
        let owner = context.manifest.name.clone();
        let mut ids = HashMap::new();
        let world = app.world_mut();
        let mut rows = 0;
        for query in &context.request.queries {
            for (row, bits) in query.entities.0.iter().enumerate() {
                if rows == MAX_ROWS {
                    break;
                }
                rows += 1;
                let e = *ids.entry(*bits).or_insert_with(|| {
                    let mut e = world.spawn_empty();
                    if query.owns_row(row) {
                        e.insert(SpawnedByMod(owner.as_str().into()));
                    } else if row % 2 == 1 {
                        e.insert(SpawnedByMod(RIVAL.into()));
                    }
                    e.id()
                });
                for column in &query.columns {
                    let value = column.row(row).and_then(|bytes| match &column.encoding {
                        bevy_wasm_mods::protocol::Encoding::MsgPack => Some(bytes.to_vec()),
                        bevy_wasm_mods::protocol::Encoding::Packed(layout) => {
                            testing::record_to_msgpack(layout, bytes)
                        }
                    });
                    // Values that do not decode are left out: the case then
                    // simply lacks them.
                    if let Some(value) = value {
                        let _ = testing::insert_msgpack(world, e, &column.name, &value);
                    }
                }
            }
        }
        let mut reserved = VecDeque::new();
        for bits in context.request.reserved.0.iter().take(1024) {
            if ids.contains_key(bits) {
                continue;
            }
            let e = world.entity_allocator().alloc();
            ids.insert(*bits, e);
            reserved.push_back(e);
        }
        let mut manifest = context.manifest.clone();
        manifest.queries.truncate(MAX_QUERIES);
        let subject = ModUnderTest::new(world, manifest, reserved.iter().copied());
        Self {
            app,
            subject,
            ids,
            reserved,
            owner,
            snapshotted: false,
        }
    }

    /// Rewrites the recorded run's entity ids to the ids this world's mod
    /// knows the same entities by; ids it does not know are left as they
    /// are (they name no entity here, or one by chance).
    fn remap(&self, mut commands: Vec<Command>) -> Vec<Command> {
        let world = self.app.world();
        let map = |bits: &mut u64| {
            if let Some(e) = self.ids.get(bits) {
                *bits = self.subject.id_of(world, *e);
            }
        };
        for command in &mut commands {
            match command {
                Command::Spawn { entity, .. }
                | Command::Despawn { entity }
                | Command::Insert { entity, .. }
                | Command::Remove { entity, .. } => map(entity),
                Command::Emit { .. }
                | Command::WriteQueryRows { .. }
                | Command::Reject { .. }
                | Command::RejectValue { .. } => {}
                Command::WriteBatch { entities, .. } => entities.0.iter_mut().for_each(map),
            }
        }
        commands
    }

    /// The mod's queries as dispatch takes them before a tick.
    fn snapshot(&mut self) -> Vec<bevy_wasm_mods::protocol::QueryResult> {
        self.snapshotted = true;
        self.subject.snapshot(self.app.world())
    }

    /// Stages and applies a tick's commands, and checks what must hold.
    fn apply(&mut self, commands: Vec<Command>) -> Outcome {
        if !self.snapshotted {
            self.snapshot();
        }
        let count = commands.len();
        let world = self.app.world_mut();
        let before = Fingerprints::of(world);
        let result = self.subject.apply(world, commands);
        let after = Fingerprints::of(world);
        match result {
            Err(fault) => {
                assert!(
                    before == after,
                    "a refused tick changed the world ({})",
                    fault.message
                );
                Outcome::Refused(fault.message)
            }
            Ok(()) => {
                before.check_applied(&after, &self.owner, &self.reserved);
                let counted = testing::entities_owned(world, &self.owner);
                let owned = after
                    .entities
                    .values()
                    .filter(|f| f.owner.as_deref() == Some(self.owner.as_str()))
                    .count();
                assert_eq!(counted, owned, "the mod's entity count is off");
                Outcome::Applied(count)
            }
        }
    }
}

/// What the world holds, entity by entity.
#[derive(PartialEq, Eq)]
struct Fingerprints {
    entities: BTreeMap<u64, Fingerprint>,
}

#[derive(PartialEq, Eq)]
struct Fingerprint {
    owner: Option<String>,
    /// Exposed components' MessagePack and mod data, by name.
    values: BTreeMap<String, Vec<u8>>,
    /// Read-only components present, by name.
    read_only: BTreeSet<String>,
}

impl Fingerprints {
    fn of(world: &World) -> Self {
        let mut entities = BTreeMap::new();
        for e in world.iter_entities() {
            let id = e.id();
            let mut values = BTreeMap::new();
            let mut read_only = BTreeSet::new();
            for value in testing::moddable_values(world, id) {
                let key = match value.access {
                    Some(access) => {
                        if access == ModAccess::Read {
                            read_only.insert(value.name.clone());
                        }
                        format!("game:{}", value.name)
                    }
                    None => format!("mod:{}", value.name),
                };
                values.insert(key, value.msgpack);
            }
            let owner = world.get::<SpawnedByMod>(id).map(|s| s.0.to_string());
            entities.insert(
                id.to_bits(),
                Fingerprint {
                    owner,
                    values,
                    read_only,
                },
            );
        }
        Self { entities }
    }

    /// Panics unless `after` differs from `self` only as an applied tick
    /// of mod `owner` may make it.
    fn check_applied(&self, after: &Self, owner: &str, reserved: &VecDeque<Entity>) {
        for (bits, was) in &self.entities {
            let now = after.entities.get(bits);
            if was.owner.as_deref() != Some(owner) {
                assert!(
                    now == Some(was),
                    "entity {bits}, not the mod's, was changed or despawned"
                );
            }
            if let Some(now) = now {
                let read_only = |f: &Fingerprint| -> Vec<(String, Vec<u8>)> {
                    f.read_only
                        .iter()
                        .map(|n| {
                            let key = format!("game:{n}");
                            (key.clone(), f.values.get(&key).cloned().unwrap_or_default())
                        })
                        .collect()
                };
                assert!(
                    read_only(was) == read_only(now),
                    "a read-only component of entity {bits} changed"
                );
            }
        }
        for (bits, now) in &after.entities {
            if self.entities.contains_key(bits) {
                continue;
            }
            assert!(
                reserved.iter().any(|e| e.to_bits() == *bits),
                "entity {bits} was spawned on an id not reserved for the mod"
            );
            assert_eq!(
                now.owner.as_deref(),
                Some(owner),
                "spawned entity {bits} is not marked as the mod's"
            );
            assert!(
                now.read_only.is_empty(),
                "spawned entity {bits} carries a read-only component"
            );
        }
    }
}
