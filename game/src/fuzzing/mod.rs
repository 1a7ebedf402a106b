//! Fuzzing the host's handling of what mods send (feature `fuzzing`).
//!
//! A *case* is what one worker saw in one tick of real play: the mod's
//! manifest, the tick it was sent, and the reply bytes it produced. The
//! recorder ([`record_traffic`]) captures cases from real mods; the fuzz
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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bevy::prelude::*;
use serde::{Deserialize, Serialize};

use crate::codec::{packed, value};
use crate::expose::{Exposed, ModData};
use crate::host::{HostState, OutputCaps, TickState};
use crate::runtime::bindings::bevy_wasm::mods::{entities::Host as _, events::Host as _};
use crate::runtime::bindings::types::{Batch, Component as WitComponent};
use crate::settings::ModSettings;
use crate::systems::{ModHost, ModOwnership, ModSlot, Phase, SpawnedByMod};
use crate::wire::{self, Command, Encoding, ModManifest, Reply, Request, TickRequest};

mod hostile;
pub use hostile::hostile_variants;

/// The owner name given to entities the mod did not spawn (every other
/// row of those its snapshot marked as not its own; the rest are the game's).
const RIVAL: &str = "rival";

/// Most snapshot rows a case builds, so each run stays quick.
const MAX_ROWS: usize = 4096;

/// What a worker knew when it produced a reply.
#[derive(Serialize, Deserialize)]
pub(super) struct Context {
    pub(super) manifest: ModManifest,
    pub(super) request: TickRequest,
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

/// Joins a tick's context and the reply bytes into one case.
pub(super) fn case_bytes(context: &Context, reply: &[u8]) -> Vec<u8> {
    let context = wire::encode(context);
    let mut out = Vec::with_capacity(4 + context.len() + reply.len());
    out.extend_from_slice(&(context.len() as u32).to_le_bytes());
    out.extend_from_slice(&context);
    out.extend_from_slice(reply);
    out
}

/// Splits a case into its context and its reply bytes.
pub(super) fn split_case(input: &[u8]) -> Option<(Context, &[u8])> {
    let len = u32::from_le_bytes(input.get(..4)?.try_into().ok()?) as usize;
    let context = input.get(4..4usize.checked_add(len)?)?;
    let context = wire::decode::<Context>(context).ok()?;
    Some((context, &input[4 + len..]))
}

static RECORDED: Mutex<Option<Vec<Vec<u8>>>> = Mutex::new(None);
/// Whether [`RECORDED`] is on, read without the lock on every tick.
static RECORDING: AtomicBool = AtomicBool::new(false);

/// Starts (or stops) recording every tick the workers run, as cases.
pub fn record_traffic(on: bool) {
    let mut recorded = RECORDED.lock().unwrap_or_else(|e| e.into_inner());
    *recorded = on.then(Vec::new);
    RECORDING.store(on, Ordering::Relaxed);
}

/// The cases recorded since [`record_traffic`] was turned on.
pub fn take_recorded() -> Vec<Vec<u8>> {
    let mut recorded = RECORDED.lock().unwrap_or_else(|e| e.into_inner());
    recorded.as_mut().map(std::mem::take).unwrap_or_default()
}

/// Called by a worker after each tick.
pub(crate) fn record(manifest: &ModManifest, request: &[u8], reply: &[u8]) {
    if !RECORDING.load(Ordering::Relaxed) {
        return;
    }
    let mut recorded = RECORDED.lock().unwrap_or_else(|e| e.into_inner());
    let Some(cases) = recorded.as_mut() else {
        return;
    };
    if let Ok(Request::Tick(request)) = wire::decode::<Request>(request) {
        let context = Context {
            manifest: manifest.clone(),
            request,
        };
        cases.push(case_bytes(&context, reply));
    }
}

/// The name of the mod a case was recorded from.
pub fn case_mod_name(case: &[u8]) -> Option<String> {
    split_case(case).map(|(context, _)| context.manifest.name)
}

/// Runs one case through both paths, checking what must hold; panics on a
/// finding.
pub fn check_case(input: &[u8]) -> Report {
    // The main thread only ever sees manifests the worker accepted.
    let context = split_case(input)
        .filter(|(context, _)| crate::runtime::instance::check_manifest(&context.manifest).is_ok());
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
    match wire::decode::<Reply>(reply) {
        Ok(Reply::Ticked(commands)) => {
            let mut harness = Harness::new(context);
            let commands = harness.remap(commands);
            harness.apply(commands)
        }
        Ok(Reply::Ready(manifest)) => {
            // What `init` returned, checked as the worker checks it, then
            // prepared as the main thread prepares its queries.
            if crate::runtime::instance::check_manifest(&manifest).is_ok() {
                let mut harness = Harness::new(&Context {
                    manifest,
                    request: empty_request(),
                });
                harness.snapshot();
            }
            Outcome::Other
        }
        Ok(_) => Outcome::Other,
        Err(_) => Outcome::Unreadable,
    }
}

fn via_worker(context: &Context, reply: &[u8]) -> Outcome {
    let Ok(Reply::Ticked(commands)) = wire::decode::<Reply>(reply) else {
        return Outcome::Other;
    };
    let mut harness = Harness::new(context);
    let commands = harness.remap(commands);
    let queries = harness.snapshot();
    let mut state = harness.host_state();
    let reserved: Vec<u64> = harness.reserved.iter().map(|e| e.to_bits()).collect();
    state.tick.begin(queries, &reserved, false);
    for command in commands {
        // A mod may ignore an error and go on; the tick is refused anyway.
        let _ = replay(&mut state, command);
    }
    let commands = match state.tick.finish() {
        Ok(commands) => commands,
        Err(why) => return Outcome::WorkerRefused(why),
    };
    // The reply crosses the channel as bytes.
    let bytes = wire::encode(&Reply::Ticked(commands));
    match wire::decode::<Reply>(&bytes) {
        Ok(Reply::Ticked(commands)) => harness.apply(commands),
        _ => panic!("a reply the worker encoded does not decode"),
    }
}

/// Makes the guest call that produces `command`.
fn replay(
    state: &mut HostState,
    command: Command,
) -> Result<(), crate::runtime::bindings::types::ModError> {
    let components = |list: Vec<wire::WireComponent>| {
        list.into_iter()
            .map(|c| WitComponent {
                name: c.name,
                value: c.value.into_vec(),
            })
            .collect::<Vec<_>>()
    };
    match command {
        Command::Spawn { components: c, .. } => state.spawn(components(c)).map(drop),
        Command::Despawn { entity } => state.despawn(entity),
        Command::Insert {
            entity,
            components: c,
        } => state.insert(entity, components(c)),
        Command::Remove { entity, names } => state.remove(entity, names),
        Command::Emit { name, payload } => state.emit(name, payload.into_vec()),
        Command::WriteBatch { entities, columns } => state.write_batch(Batch {
            entities: entities.0,
            columns: columns.iter().map(crate::host::entities::to_wit).collect(),
        }),
        // The same call, with the rows the query was sent (a query the tick
        // lacks gives no rows, which the worker refuses).
        Command::WriteQueryRows { query, columns } => {
            let entities = state
                .tick
                .queries
                .get(query as usize)
                .map(|q| q.entities.0.clone())
                .unwrap_or_default();
            state.write_batch(Batch {
                entities,
                columns: columns.iter().map(crate::host::entities::to_wit).collect(),
            })
        }
    }
}

fn empty_request() -> TickRequest {
    TickRequest {
        frame: 0,
        delta_seconds: 0.0,
        events: Vec::new(),
        queries: Vec::new(),
        reserved: wire::EntityList::default(),
        at_entity_cap: false,
        game_time_nanos: 0,
    }
}

/// A world holding one tick's snapshot, and the mod's place in it.
struct Harness {
    app: App,
    host: ModHost,
    /// Entity ids of the recorded run to the ones here.
    ids: HashMap<u64, Entity>,
    reserved: VecDeque<Entity>,
    owner: Arc<str>,
}

impl Harness {
    fn new(context: &Context) -> Self {
        let mut app = App::new();
        app.add_plugins((crate::ModPlugin::new(), crate::demo::DemoPlugin));
        let owner: Arc<str> = context.manifest.name.as_str().into();
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
                        e.insert(SpawnedByMod(owner.clone()));
                    } else if row % 2 == 1 {
                        e.insert(SpawnedByMod(RIVAL.into()));
                    }
                    e.id()
                });
                for column in &query.columns {
                    if let Some(bytes) = column.row(row) {
                        put(world, e, &column.name, &column.encoding, bytes);
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
        let queries = context
            .manifest
            .queries
            .iter()
            .take(16)
            .map(|names| crate::systems::load::prepare_query(world, names))
            .collect();
        let slot = ModSlot {
            worker: None,
            owner: owner.clone(),
            grants: Default::default(),
            manifest: Some(context.manifest.clone()),
            phase: Phase::Idle,
            reserved: reserved.clone(),
            reserve_target: crate::systems::MIN_RESERVE,
            inbox: Vec::new(),
            ticks: 0,
            queries,
            recent_faults: VecDeque::new(),
            recovering: false,
        };
        let host = ModHost {
            pool: None,
            slots: vec![slot],
            pending_events: Vec::new(),
            reloads: Default::default(),
            frame: 0,
        };
        Self {
            app,
            host,
            ids,
            reserved,
            owner,
        }
    }

    /// Rewrites the recorded run's entity ids to this world's; ids it does
    /// not know are left as they are (they name no entity here, or one by
    /// chance).
    fn remap(&self, mut commands: Vec<Command>) -> Vec<Command> {
        let map = |bits: &mut u64| {
            if let Some(e) = self.ids.get(bits) {
                *bits = e.to_bits();
            }
        };
        for command in &mut commands {
            match command {
                Command::Spawn { entity, .. }
                | Command::Despawn { entity }
                | Command::Insert { entity, .. }
                | Command::Remove { entity, .. } => map(entity),
                Command::Emit { .. } | Command::WriteQueryRows { .. } => {}
                Command::WriteBatch { entities, .. } => entities.0.iter_mut().for_each(map),
            }
        }
        commands
    }

    /// The mod's queries as dispatch takes them before a tick.
    fn snapshot(&mut self) -> Vec<wire::QueryResult> {
        let world = self.app.world_mut();
        let registry = world.resource::<AppTypeRegistry>().clone();
        let registry = registry.read();
        let exposed = world.resource::<Exposed>();
        let slot = &mut self.host.slots[0];
        slot.queries
            .iter_mut()
            .map(|q| crate::systems::snapshot::take(world, exposed, &registry, q, &slot.owner))
            .collect()
    }

    /// The worker-side state of the mod, as a fresh instance has it after
    /// `init`.
    fn host_state(&self) -> HostState {
        let world = self.app.world();
        let limits = &world.resource::<ModSettings>().limits;
        let manifest = self.host.slots[0].manifest.as_ref();
        HostState {
            wasi: wasmtime_wasi::WasiCtxBuilder::new().build(),
            table: wasmtime_wasi::ResourceTable::new(),
            limits: wasmtime::StoreLimitsBuilder::new().build(),
            mod_name: self.owner.clone(),
            catalog: world.resource::<Exposed>().catalog(),
            caps: OutputCaps {
                commands: limits.commands_per_tick,
                bytes: limits.bytes_per_tick,
                events: limits.events_per_tick,
                depth: limits.value_depth,
            },
            defines: manifest
                .map(|m| m.defines.iter().cloned().collect())
                .unwrap_or_default(),
            modify_any_entity: false,
            lines: Default::default(),
            time: Default::default(),
            asked: 0,
            tick: TickState::default(),
        }
    }

    /// Stages and applies a tick's commands, and checks what must hold.
    fn apply(&mut self, commands: Vec<Command>) -> Outcome {
        if self.host.slots[0].queries.iter().all(|q| q.last.is_empty()) {
            self.snapshot();
        }
        let count = commands.len();
        let world = self.app.world_mut();
        let before = Fingerprints::of(world);
        let limits = world.resource::<ModSettings>().limits.clone();
        let result = crate::systems::apply::apply_tick(world, &mut self.host, 0, commands, &limits);
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
                let counted = world
                    .resource::<ModOwnership>()
                    .0
                    .get(&self.owner)
                    .copied()
                    .unwrap_or(0);
                let owned = after
                    .entities
                    .values()
                    .filter(|f| f.owner.as_deref() == Some(&*self.owner))
                    .count();
                assert_eq!(counted, owned, "the mod's entity count is off");
                Outcome::Applied(count)
            }
        }
    }
}

/// Puts one snapshot value on an entity: an exposed type decoded into its
/// component, anything else as mod data. Values that do not decode are left
/// out (the case then simply lacks them).
fn put(world: &mut World, e: Entity, name: &str, encoding: &Encoding, bytes: &[u8]) {
    let registry = world.resource::<AppTypeRegistry>().clone();
    let registry = registry.read();
    let exposed = world.resource::<Exposed>();
    let Some(&i) = exposed.by_name.get(name) else {
        let (name, bytes) = (name.to_string(), bytes.to_vec());
        match world.get_mut::<ModData>(e) {
            Some(mut data) => {
                data.values.insert(name, bytes);
            }
            None => {
                world.entity_mut(e).insert(ModData {
                    values: [(name, bytes)].into(),
                });
            }
        }
        return;
    };
    let c = &exposed.components[i];
    let msgpack = match encoding {
        Encoding::MsgPack => Some(bytes.to_vec()),
        Encoding::Packed(fields) => packed::record_to_msgpack(fields, bytes),
    };
    let Some(registration) = registry.get_with_type_path(c.type_path) else {
        return;
    };
    let boxed = msgpack
        .and_then(|m| value::from_msgpack(&m, registration, &registry, 64).ok())
        .and_then(|v| (c.ops.from_reflect)(&*v));
    let insert = c.ops.insert;
    drop(registry);
    if let Some(v) = boxed {
        insert(world, e, v);
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
        let registry = world.resource::<AppTypeRegistry>().read();
        let exposed = world.resource::<Exposed>();
        let mut entities = BTreeMap::new();
        for e in world.iter_entities() {
            let id = e.id();
            let mut values = BTreeMap::new();
            let mut read_only = BTreeSet::new();
            for c in &exposed.components {
                if let Some(v) = (c.ops.get)(world, id) {
                    let mut buf = Vec::new();
                    let _ = value::to_msgpack(v, &registry, &mut buf);
                    values.insert(format!("game:{}", c.name), buf);
                    if c.access == crate::ModAccess::Read {
                        read_only.insert(c.name.clone());
                    }
                }
            }
            if let Some(data) = world.get::<ModData>(id) {
                for (name, bytes) in &data.values {
                    values.insert(format!("mod:{name}"), bytes.clone());
                }
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
