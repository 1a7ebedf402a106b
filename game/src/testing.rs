//! A seam for testing and fuzzing what the host does with a mod's output,
//! without WebAssembly, and a tap that records what real mods do.
//!
//! [`ModUnderTest`] is one mod's place in a world as the main thread keeps
//! it. It takes the mod's snapshot as a tick would, checks a tick's
//! commands as the mod's worker would (each replayed as the guest call that
//! makes it), and stages and applies them as the main thread does: whole
//! or not at all. A [`TrafficTap`] set on the plugin sees every tick real
//! mods run, so a test can record real traffic and replay it here.
//!
//! ```
//! use bevy::prelude::*;
//! use bevy_wasm_mods::prelude::*;
//! use bevy_wasm_mods::protocol::{Command, WireComponent};
//! use bevy_wasm_mods::testing::ModUnderTest;
//! use bevy_wasm_mods::ModManifest;
//!
//! #[derive(Component, Reflect, Default)]
//! #[reflect(Component)]
//! struct Score { points: u32 }
//!
//! let mut app = App::new();
//! app.add_plugins(ModPlugin::new())
//!     .add_moddable_component::<Score>(ModAccess::ReadWrite);
//! let world = app.world_mut();
//! let id = world.entity_allocator().alloc();
//! let manifest = ModManifest { name: "scorer".into(), ..Default::default() };
//! let mut scorer = ModUnderTest::new(world, manifest, [id]);
//!
//! // {"points": 7} as MessagePack.
//! let score = vec![0x81, 0xa6, b'p', b'o', b'i', b'n', b't', b's', 0x07];
//! // Mods know entities by their `ModId`s: the one reserved for the spawn.
//! let spawn = Command::Spawn {
//!     entity: scorer.reserved()[0],
//!     components: vec![WireComponent { name: "Score".into(), value: score.into() }],
//! };
//! scorer.apply(world, vec![spawn]).unwrap();
//! assert_eq!(world.get::<Score>(id).unwrap().points, 7);
//! assert_eq!(world.get::<SpawnedByMod>(id).unwrap().0.as_ref(), "scorer");
//! ```

use bevy::prelude::*;

use crate::codec::{packed, value};
use crate::expose::{Exposed, ModAccess, ModData};
use crate::fault::Fault;
use crate::manifest::ModManifest;
use crate::protocol::{Command, Layout, QueryResult};
use crate::settings::ModSettings;
use crate::systems::{ModSlot, apply_tick, claim_names, prepare_query, snapshot};
use crate::worker::state::HostState;

pub use crate::worker::tap::TrafficTap;

/// One mod's place in a world that has the [`ModPlugin`](crate::ModPlugin):
/// its manifest, its queries and the ids reserved for its spawns. The
/// types and event names its manifest declares are its own, named under
/// its name as the game names a mod's under its id (`probe:Note`).
pub struct ModUnderTest {
    slot: ModSlot,
    manifest: ModManifest,
    outbox: crate::systems::Outbox,
}

impl ModUnderTest {
    /// The mod of `manifest`, running, its entities marked with its name;
    /// its spawns use `reserved` in order (allocate them with the world's
    /// entity allocator), each given its [`ModId`](crate::ModId) here.
    pub fn new(
        world: &mut World,
        manifest: ModManifest,
        reserved: impl IntoIterator<Item = Entity>,
    ) -> Self {
        let mut slot = ModSlot::new(manifest.name.as_str().into(), Default::default(), None);
        // Its names become full names, as its worker makes them, and are
        // its own.
        let mut manifest = manifest;
        let wasi = wasmtime_wasi::WasiCtxBuilder::new().build();
        let limits = world.resource::<ModSettings>().limits.clone();
        let catalog = world.resource::<Exposed>().catalog();
        HostState::new(slot.owner.clone(), catalog, &limits, false, wasi)
            .started(&mut manifest, false);
        claim_names(world.resource::<Exposed>(), &slot.owner, &manifest);
        slot.queries = manifest
            .queries
            .iter()
            .map(|names| prepare_query(world, names))
            .collect();
        slot.reserved = reserved
            .into_iter()
            .map(|e| (e, world.resource_mut::<crate::ModIds>().issue(e)))
            .collect();
        slot.manifest = Some(manifest.clone());
        Self {
            slot,
            manifest,
            outbox: Default::default(),
        }
    }

    /// The name the mod's entities are marked with.
    pub fn owner(&self) -> &str {
        &self.slot.owner
    }

    /// The ids still reserved for the mod's spawns, in the order it uses
    /// them, as the mod knows them.
    pub fn reserved(&self) -> Vec<u64> {
        self.slot.reserved.iter().map(|(_, id)| *id).collect()
    }

    /// The id the mod knows `entity` by: reserved for its spawns, or any
    /// entity with a [`ModId`](crate::ModId); `0` for none.
    pub fn id_of(&self, world: &World, entity: Entity) -> u64 {
        self.slot
            .reserved
            .iter()
            .find(|(e, _)| *e == entity)
            .map_or_else(|| crate::ids::id_of(world, entity), |(_, id)| *id)
    }

    /// The results of the mod's queries, as its next tick would get them.
    /// Batches in the next [`apply`](Self::apply) are checked against
    /// these rows.
    pub fn snapshot(&mut self, world: &World) -> Vec<QueryResult> {
        let registry = world.resource::<AppTypeRegistry>().read();
        let exposed = world.resource::<Exposed>();
        snapshot::take_all(
            world,
            exposed,
            &registry,
            &mut self.slot.queries,
            &self.slot.owner,
            &[],
        )
    }

    /// Checks `commands` as the mod's worker does: each is replayed as the
    /// guest call that makes it, during a tick that read `queries`. Gives
    /// the commands the worker would send, or why it refused the tick.
    pub fn check_as_worker(
        &self,
        world: &World,
        queries: Vec<QueryResult>,
        commands: Vec<Command>,
    ) -> Result<Vec<Command>, String> {
        let limits = &world.resource::<ModSettings>().limits;
        let catalog = world.resource::<Exposed>().catalog();
        let wasi = wasmtime_wasi::WasiCtxBuilder::new().build();
        let mut state = HostState::new(self.slot.owner.clone(), catalog, limits, false, wasi);
        state.started(&mut self.manifest.clone(), false);
        let reserved = self.reserved();
        state.tick.begin(queries, &reserved, false);
        for command in commands {
            // A mod may ignore an error and go on; the tick is refused anyway.
            let _ = state.replay(command);
        }
        state.tick.finish()
    }

    /// Stages the commands of one tick and applies them if all pass, as
    /// the main thread does with a worker's reply.
    pub fn apply(&mut self, world: &mut World, commands: Vec<Command>) -> Result<(), Fault> {
        let limits = world.resource::<ModSettings>().limits.clone();
        // Each tick is a frame of its own, which saw the writes before it.
        self.slot.seen_frame += 1;
        let now = self.slot.seen_frame;
        apply_tick(
            world,
            &mut self.slot,
            commands,
            &limits,
            &mut self.outbox,
            now,
        )
        .1
    }
}

/// Puts a value of component type `name` (one MessagePack value) on
/// `entity`: an exposed type is decoded by reflection, any other name is
/// kept as mod-defined data.
pub fn insert_msgpack(
    world: &mut World,
    entity: Entity,
    name: &str,
    msgpack: &[u8],
) -> Result<(), String> {
    let exposed = world.resource::<Exposed>();
    let Some(c) = exposed.component(name) else {
        let mut e = world
            .get_entity_mut(entity)
            .map_err(|e| format!("no entity: {e}"))?;
        ModData::put(&mut e, name.to_string(), msgpack.to_vec());
        return Ok(());
    };
    let registry = world.resource::<AppTypeRegistry>().clone();
    let registry = registry.read();
    let registration = registry
        .get_with_type_path(c.type_path)
        .ok_or_else(|| format!("`{name}` is not registered for reflection"))?;
    let dynamic = value::from_msgpack(msgpack, registration, &registry, 64)?;
    let boxed = (c.ops.from_reflect)(&*dynamic)
        .ok_or_else(|| format!("`{name}`: the value does not fit the type"))?;
    let insert = c.ops.insert;
    drop(registry);
    insert(world, entity, boxed)
        .then_some(())
        .ok_or_else(|| format!("cannot insert `{name}`"))
}

/// One value a mod could read on an entity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModdableValue {
    /// The component type's name.
    pub name: String,
    /// What mods may do with it; `None` for a mod-defined type.
    pub access: Option<ModAccess>,
    /// The value as MessagePack.
    pub msgpack: Vec<u8>,
}

/// Every value on `entity` that mods could read: exposed components by
/// reflection, then mod-defined data, each in name order.
pub fn moddable_values(world: &World, entity: Entity) -> Vec<ModdableValue> {
    let registry = world.resource::<AppTypeRegistry>().read();
    let exposed = world.resource::<Exposed>();
    let mut out = Vec::new();
    for c in &exposed.components {
        if let Some(v) = (c.ops.get)(world, entity) {
            let mut msgpack = Vec::new();
            let _ = value::to_msgpack(v, &registry, &mut msgpack);
            out.push(ModdableValue {
                name: c.name.clone(),
                access: Some(c.access),
                msgpack,
            });
        }
    }
    if let Some(data) = world.get::<ModData>(entity) {
        out.extend(data.values.iter().map(|(name, bytes)| ModdableValue {
            name: name.clone(),
            access: None,
            msgpack: bytes.clone(),
        }));
    }
    out
}

/// One packed record as the MessagePack map a mod's `get` returns.
pub fn record_to_msgpack(layout: &Layout, record: &[u8]) -> Option<Vec<u8>> {
    packed::record_to_msgpack(layout, record)
}

/// How many entities the world counts as owned by the mod named `owner`
/// (the count the per-mod entity cap is checked against).
pub fn entities_owned(world: &World, owner: &str) -> usize {
    world
        .get_resource::<crate::ownership::ModOwnership>()
        .map_or(0, |owned| owned.entities_of(owner))
}

/// Bytes of values the world counts as set by the mod `owner` on its own
/// entities (the figure the per-mod state cap is checked against).
pub fn state_bytes_owned(world: &World, owner: &str) -> u64 {
    world
        .get_resource::<crate::ownership::ModOwnership>()
        .map_or(0, |owned| owned.bytes_of(owner))
}
