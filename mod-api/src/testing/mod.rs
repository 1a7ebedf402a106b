//! Unit tests for mods, natively: a small in-memory world that runs a
//! mod's hooks under plain `cargo test`, with the game's rules.
//!
//! The same calls a mod makes in the game ([`spawn`](crate::spawn),
//! [`update_batch`](crate::update_batch), [`emit`](crate::emit),
//! [`log`](crate::log), ...) reach a [`TestWorld`] when the crate is built
//! for the machine running the tests instead of for `wasm32-wasip2`. The
//! world decides by the game host's own rule book (the `mod-rules` crate:
//! caps, names, values, who may write and emit what) and says a refusal in
//! the same words, so a test that passes here fails for the same reasons in
//! the game:
//!
//! - a tick sees the world as it was when the tick began plus its own
//!   changes; its writes land after the tick, all of them or none: a hook
//!   that returns an error, panics or makes a write the host refuses
//!   changes nothing (the tick returns a [`Fault`]);
//! - a mod changes only the entities it spawned (unless
//!   [granted](TestWorld::grant_modify_any_entity)); the game's types it
//!   may write only when [exposed](TestWorld::expose) read-write; its own
//!   types only when it defines them and no other mod defined them first;
//! - queries and `get` answer only for the manifest's queries;
//! - caps: spawns per tick (16 ids on the first tick, then twice what the
//!   last tick spawned, as the game reserves them), entities per mod,
//!   events, commands and bytes per tick, log lines, nesting of values,
//!   bytes a mod keeps on its entities ([`Limits`]); and the bounds on one
//!   call (256 components, 16 query names or batch columns, 128-byte type
//!   names, 256-byte event names);
//! - events a mod emits are not delivered back to it; the game's messages
//!   may not be emitted; event names another mod claimed may not either.
//!
//! What it does not do: run WebAssembly, bound a hook's time or memory,
//! restart a faulted mod (the test goes on ticking the same value), or
//! check the game's own component types beyond decoding values into the
//! mod's type for them. `modkit check` runs the built `.wasm` in the real
//! host for that.
//!
//! ```
//! use mod_api::prelude::*;
//! use mod_api::testing::TestWorld;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
//! struct Position { x: f32, y: f32 }
//! component!(Position { x: f32, y: f32 });
//!
//! #[derive(Default)]
//! struct Drift;
//! impl Mod for Drift {
//!     fn manifest(&self, manifest: Manifest) -> Manifest {
//!         manifest.query::<Position>()
//!     }
//!     fn tick(&mut self, tick: &Tick) -> Result<()> {
//!         if tick.frame == 0 {
//!             spawn(&Position { x: 0.0, y: 0.0 })?;
//!         }
//!         update_batch::<Position, _>(|_, p| Position { x: p.x + 1.0, ..p })
//!     }
//! }
//! register_mod!(Drift);
//!
//! let mut world = TestWorld::<Drift>::new().expose::<Position>();
//! // The game's own entity: the mod reads it but may not move it.
//! let rock = world.spawn(&Position { x: 5.0, y: 5.0 });
//! world.run(3).unwrap();
//! let mine = world.entities_owned_by_mod();
//! assert_eq!(world.get::<Position>(mine[0]), Some(Position { x: 2.0, y: 0.0 }));
//! assert_eq!(world.get::<Position>(rock), Some(Position { x: 5.0, y: 5.0 }));
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use mod_api_packed as packed;
use serde::Serialize;

use crate::__private::Describe;
use crate::__private::bindings::bevy_wasm::mods::types::{
    Batch, Column, ColumnEncoding, Component as WitComponent, ModError, PackedField, Scalar,
};
use crate::component::{Bundle, Component, ComponentSet};
use crate::{Entity, Event, Manifest, Mod, Tick};

packed::wit_scalar_conversions!(Scalar);

/// The game's caps on one mod's commands, with the game's defaults: the
/// shared rule book's own type, which the game's `ModLimits` carries too.
/// Lower them to test how a mod copes.
pub use mod_rules::Limits;
use mod_rules::caps::{MAX_COMPONENTS, MAX_LOG, MAX_QUERY_NAMES};
use mod_rules::{Ledger, Refusal};

/// Which hook failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    /// `init`, with the manifest.
    Init,
    /// `on-tick` with the `on-event` before it.
    Tick,
    /// `save`.
    Save,
    /// `restore`.
    Restore,
}

/// How a hook failed.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    /// The hook returned this error.
    Error(crate::Error),
    /// The hook panicked (in the game, a trap).
    Panic,
    /// The host refused the tick: a write it refused or a cap broken (in
    /// the game, `InvalidOutput`), or a manifest it refused.
    Refused,
}

/// A hook that failed: in the game the mod would fault. Nothing the hook
/// did was applied.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    /// Which hook.
    pub hook: Hook,
    /// How.
    pub kind: FaultKind,
    /// What happened, in words.
    pub message: String,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} hook: {}", self.hook, self.message)
    }
}

impl std::error::Error for Fault {}

/// An event the mod emitted, from a tick the world applied.
#[derive(Clone, Debug, PartialEq)]
pub struct Emitted {
    /// The tick's frame number (0 for the mod's first).
    pub frame: u64,
    /// The event's full name: `mod-id:name` for the mod's own events, plain
    /// for names the game opened to all.
    pub name: String,
    /// Its payload, MessagePack.
    pub payload: Vec<u8>,
}

impl Emitted {
    /// The payload decoded into a serde type.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, rmp_serde::decode::Error> {
        rmp_serde::from_slice(&self.payload)
    }
}

/// How important a log line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Very detailed tracing.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal information.
    Info,
    /// Something unexpected the mod survives.
    Warn,
    /// A failure.
    Error,
}

/// A line the mod logged (kept even when its tick was refused, as the
/// game's log keeps it).
#[derive(Clone, Debug, PartialEq)]
pub struct LogLine {
    /// The frame it was logged in.
    pub frame: u64,
    /// Its level.
    pub level: Level,
    /// The text (cut at 4,096 bytes).
    pub message: String,
}

/// An input the mod reported it could not use ([`Error::BadInput`](crate::Error::BadInput)
/// returned from a hook).
#[derive(Clone, Debug, PartialEq)]
pub struct Rejected {
    /// The frame.
    pub frame: u64,
    /// What it was about: `event NAME`, `component NAME of entity BITS`
    /// (a value), or `component NAME` (from a mod's own `BadInput`).
    pub about: String,
    /// Who made the input: the event's sender, the mod that wrote the value
    /// (`None`: the game, or the mod itself).
    pub culprit: Option<String>,
    /// The mod's reason.
    pub reason: String,
}

mod codec;
pub(crate) mod host;
mod session;

use codec::*;
use session::*;

/// A game world for one mod, in memory: spawn the game's entities, send
/// events, tick the mod, look at what it did.
///
/// The mod is known by its crate's name (the id the game gives a mod built
/// from the crate: its `.wasm` file's name), and starts with its manifest
/// named after the crate, as in the game.
pub struct TestWorld<M: Mod + Default> {
    the_mod: M,
    id: String,
    version: String,
    world: Option<World>,
    manifest: Option<Manifest>,
    /// The manifest with full names (see [`mod_rules::names`]), and how
    /// the mod spelled each event it subscribed to, by full name.
    full: Option<(Manifest, BTreeMap<String, String>)>,
    config: Vec<u8>,
    ticks: u64,
    delta_seconds: f32,
    inbox: Vec<(String, Option<String>, Vec<u8>)>,
}

impl<M: Mod + Default + Describe> Default for TestWorld<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Mod + Default + Describe> TestWorld<M> {
    /// An empty world with the mod `register_mod!` registered, not yet
    /// started (its first [`tick`](Self::tick) starts it, or
    /// [`start`](Self::start)).
    pub fn new() -> Self {
        Self::with_id(M::NAME, M::VERSION)
    }
}

impl<M: Mod + Default> TestWorld<M> {
    /// An empty world with a mod known as `id` (its file's name in the
    /// game), its manifest starting with that name and `version`: for a
    /// type `register_mod!` did not register.
    pub fn with_id(id: &str, version: &str) -> Self {
        // What the crate remembers between calls belongs to one mod.
        crate::batch::forget_layouts();
        TestWorld {
            the_mod: M::default(),
            id: id.to_string(),
            version: version.to_string(),
            world: Some(World {
                id: id.to_string(),
                entities: BTreeMap::new(),
                next_index: 0,
                game_types: BTreeMap::new(),
                messages: BTreeSet::new(),
                foreign_types: BTreeMap::new(),
                foreign_events: BTreeMap::new(),
                shared: BTreeSet::new(),
                limits: Limits::default(),
                modify_any: false,
                frame: 0,
                reserve_target: mod_rules::caps::MIN_RESERVE,
                emitted: Vec::new(),
                logs: Vec::new(),
                rejects: Vec::new(),
            }),
            manifest: None,
            full: None,
            // MessagePack `nil`: the game gives no configuration.
            config: vec![0xc0],
            ticks: 0,
            delta_seconds: 1.0 / 60.0,
            inbox: Vec::new(),
        }
    }

    fn world(&self) -> &World {
        self.world
            .as_ref()
            .expect("the world is back after every hook")
    }

    fn world_mut(&mut self) -> &mut World {
        self.world
            .as_mut()
            .expect("the world is back after every hook")
    }

    /// The game exposes component type `C` read-write: mods may write it on
    /// their own entities. Values are checked by decoding them as `C`, and
    /// a `C` with a field list (`component!(C { x: f32 })`) reaches batches
    /// packed, as the game sends plain-number types.
    pub fn expose<C: Component>(mut self) -> Self {
        self.add_game_type::<C>(true);
        self
    }

    /// The game exposes `C` for mods to read only.
    pub fn expose_read_only<C: Component>(mut self) -> Self {
        self.add_game_type::<C>(false);
        self
    }

    fn add_game_type<C: Component>(&mut self, writable: bool) {
        let packed = C::LAYOUT.map(|(kinds, paths)| PackedCodec {
            fields: kinds
                .iter()
                .zip(paths)
                .map(|(k, p)| PackedField {
                    path: p.to_string(),
                    kind: scalar_to_wit(*k),
                })
                .collect(),
            pack: pack_as::<C>,
            unpack: unpack_as::<C>,
        });
        self.world_mut().game_types.insert(
            C::NAME.to_string(),
            GameType {
                writable,
                check: check_as::<C>,
                packed,
            },
        );
    }

    /// Another mod, `owner`, runs and defines component type `name` (its
    /// short name, or its full name `owner:name`); `shared`: other mods may
    /// write it too. The mod under test reads it as `owner:name`.
    pub fn defined_by(mut self, name: &str, owner: &str, shared: bool) -> Self {
        let full = self.world().full_type(owner, name);
        self.world_mut()
            .foreign_types
            .insert(full, (owner.to_string(), shared));
        self
    }

    /// Another mod, `owner`, runs and declares event `name` in its `emits`
    /// (`shared`: other mods may emit it too, as `owner:name`).
    pub fn event_claimed_by(mut self, name: &str, owner: &str, shared: bool) -> Self {
        let full = self.world().full_event(owner, name);
        self.world_mut()
            .foreign_events
            .insert(full, (owner.to_string(), shared));
        self
    }

    /// The game opens plain name `name` to every mod, as a type and as an
    /// event (the game's `ModPlugin::with_shared_name`): it stays plain,
    /// and any mod may write and emit it.
    pub fn shared_name(mut self, name: &str) -> Self {
        self.world_mut().shared.insert(name.to_string());
        self
    }

    /// The configuration the game passes to the mod's `init`.
    pub fn config(mut self, config: &impl Serialize) -> Self {
        self.config = crate::component::encode(config).expect("the configuration encodes");
        self
    }

    /// Lets the mod change any entity (what a player's grants file can
    /// give).
    pub fn grant_modify_any_entity(mut self) -> Self {
        self.world_mut().modify_any = true;
        self
    }

    /// Sets the caps.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.world_mut().limits = limits;
        self
    }

    /// Seconds of game time each tick reports (1/60 unless set).
    pub fn delta_seconds(mut self, seconds: f32) -> Self {
        self.delta_seconds = seconds;
        self
    }

    /// Runs `init` and takes the manifest, checked as the game checks it.
    /// Done by the first tick when not called.
    pub fn start(&mut self) -> Result<&Manifest, Fault> {
        if self.manifest.is_none() {
            let config = self.config.clone();
            let start = Manifest::new(self.id.clone(), self.version.clone());
            let manifest = self.call(Hook::Init, false, |m| {
                m.init(&config)?;
                Ok(m.manifest(start))
            })?;
            check_manifest(&self.id, &manifest).map_err(|message| Fault {
                hook: Hook::Init,
                kind: FaultKind::Refused,
                message,
            })?;
            let mut full = manifest.clone();
            mod_rules::manifest::resolve_names(
                self.world(),
                &self.id,
                false,
                mod_rules::manifest::NameLists {
                    subscribes: &mut full.subscribes,
                    queries: &mut full.queries,
                    defines: &mut full.defines,
                    emits: &mut full.emits,
                    shares: &mut full.shares,
                },
            );
            let spelled = full
                .subscribes
                .iter()
                .cloned()
                .zip(manifest.subscribes.iter().cloned())
                .collect();
            self.full = Some((full, spelled));
            self.manifest = Some(manifest);
        }
        Ok(self.manifest.as_ref().expect("set above"))
    }

    /// One frame: the events sent since the last tick that the mod
    /// subscribed to go to [`Mod::event`] (the game's first, then other
    /// mods' in the order sent), then [`Mod::tick`]. When both succeed and
    /// the host accepts every write, the world changes; otherwise nothing
    /// does and the fault is returned.
    pub fn tick(&mut self) -> Result<(), Fault> {
        self.start()?;
        let (manifest, spelled) = self.full.clone().expect("started");
        let id = self.id.as_str();
        let mut events: Vec<(String, Option<String>, Vec<u8>)> = std::mem::take(&mut self.inbox)
            .into_iter()
            .filter(|(name, source, _)| {
                manifest.subscribes.contains(name) && source.as_deref() != Some(id)
            })
            .collect();
        events.sort_by_key(|(_, source, _)| source.is_some());
        let frame = self.ticks;
        self.ticks += 1;
        self.world_mut().frame = frame;
        let tick = Tick {
            frame,
            delta_seconds: self.delta_seconds,
        };
        let mut session = Session::new(
            self.world.take().expect("between hooks"),
            manifest.defines.clone(),
        );
        session.begin_tick(&manifest.queries);
        session.delivered = events
            .iter()
            .map(|(n, s, _)| (s.clone(), n.clone()))
            .collect();
        let result = self.run_in(session, |m| {
            for (index, (name, source, payload)) in events.into_iter().enumerate() {
                // Each event goes by the name the mod subscribed to it by.
                let event = Event {
                    name: spelled.get(&name).cloned().unwrap_or(name),
                    source,
                    payload,
                    index: index as u32,
                };
                crate::__private::reported(m.event(&event))?;
            }
            crate::__private::reported(m.tick(&tick))
        });
        let (world, finished) = result.1;
        self.world = Some(world);
        match (result.0, finished) {
            (_, Err(message)) => Err(Fault {
                hook: Hook::Tick,
                kind: FaultKind::Refused,
                message,
            }),
            (Err(fault), Ok(_)) => Err(fault),
            (Ok(()), Ok(emitted)) => {
                self.world_mut().emitted.extend(emitted);
                Ok(())
            }
        }
    }

    /// `frames` ticks, stopping at the first fault.
    pub fn run(&mut self, frames: u64) -> Result<(), Fault> {
        for _ in 0..frames {
            self.tick()?;
        }
        Ok(())
    }

    /// What the game does when the mod's file is replaced by a new build:
    /// `save` on the running mod, then a fresh one gets `init` and
    /// `restore` with what `save` returned. The world is kept.
    pub fn reload(&mut self) -> Result<(), Fault> {
        self.start()?;
        let state = self.call(Hook::Save, false, |m| m.save())?;
        let old = std::mem::take(&mut self.the_mod);
        self.manifest = None;
        self.full = None;
        let restored = self
            .start()
            .map(|_| ())
            .and_then(|()| self.call(Hook::Restore, false, |m| m.restore(&state)));
        if restored.is_err() {
            // The game keeps the old version running when the new one fails.
            self.the_mod = old;
        }
        restored
    }

    /// Runs a hook outside a tick (`init`, `save`, `restore`): the world
    /// cannot be changed from it.
    fn call<R>(
        &mut self,
        hook: Hook,
        open: bool,
        f: impl FnOnce(&mut M) -> crate::Result<R>,
    ) -> Result<R, Fault> {
        let mut session = Session::new(self.world.take().expect("between hooks"), Vec::new());
        if open {
            session.ledger.begin();
        }
        let (result, (world, _)) = self.run_in(session, f);
        self.world = Some(world);
        result.map_err(|mut fault| {
            fault.hook = hook;
            fault
        })
    }

    /// Runs `f` on the mod with `session` as the world the host functions
    /// see; a panic is a fault.
    #[allow(clippy::type_complexity)]
    fn run_in<R>(
        &mut self,
        session: Session,
        f: impl FnOnce(&mut M) -> crate::Result<R>,
    ) -> (Result<R, Fault>, (World, Result<Vec<Emitted>, String>)) {
        ACTIVE.with(|a| *a.borrow_mut() = Some(session));
        let the_mod = &mut self.the_mod;
        let outcome = catch_unwind(AssertUnwindSafe(|| f(the_mod)));
        let session = ACTIVE
            .with(|a| a.borrow_mut().take())
            .expect("the session stays while the hook runs");
        let result = match outcome {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(Fault {
                hook: Hook::Tick,
                message: e.to_string(),
                kind: FaultKind::Error(e),
            }),
            Err(panic) => Err(Fault {
                hook: Hook::Tick,
                kind: FaultKind::Panic,
                message: panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "the mod panicked".into()),
            }),
        };
        let commit = result.is_ok();
        (result, session.finish(commit))
    }

    /// The mod, to look at its state.
    pub fn the_mod(&self) -> &M {
        &self.the_mod
    }

    /// The manifest, once started.
    pub fn manifest(&self) -> Option<&Manifest> {
        self.manifest.as_ref()
    }

    /// Ticks run so far (the next tick's `frame`).
    pub fn ticks(&self) -> u64 {
        self.ticks
    }

    /// Spawns an entity of the game's (no mod owns it).
    pub fn spawn(&mut self, bundle: &impl Bundle) -> Entity {
        self.spawn_owned(None, bundle)
    }

    /// Spawns an entity as another mod, `owner`, would.
    pub fn spawn_as(&mut self, owner: &str, bundle: &impl Bundle) -> Entity {
        self.spawn_owned(Some(owner.to_string()), bundle)
    }

    fn spawn_owned(&mut self, owner: Option<String>, bundle: &impl Bundle) -> Entity {
        let components = self.encoded(bundle);
        let world = self.world_mut();
        let id = world.new_entity();
        let stored = match &owner {
            Some(owner) => Stored::written_by(owner, components),
            None => {
                let mut stored = Stored::default();
                stored.put(None, components);
                stored
            }
        };
        world.entities.insert(id, stored);
        Entity(id)
    }

    /// Inserts components on any entity, as the game.
    pub fn insert(&mut self, entity: Entity, bundle: &impl Bundle) {
        self.insert_by(None, entity, bundle);
    }

    /// Inserts components on any entity as another mod, `writer`, would
    /// (one it spawned, or one it was granted): a value the mod under test
    /// cannot decode is blamed on `writer`.
    pub fn insert_as(&mut self, writer: &str, entity: Entity, bundle: &impl Bundle) {
        self.insert_by(Some(writer), entity, bundle);
    }

    fn insert_by(&mut self, writer: Option<&str>, entity: Entity, bundle: &impl Bundle) {
        let components = self.encoded(bundle);
        if let Some(e) = self.world_mut().entities.get_mut(&entity.0) {
            e.put(writer, components);
        }
    }

    /// Despawns any entity, as the game.
    pub fn despawn(&mut self, entity: Entity) {
        self.world_mut().entities.remove(&entity.0);
    }

    /// Component `C` of an entity, decoded; `None` when the entity or the
    /// component is missing (a value that does not decode as `C` panics).
    pub fn get<C: Component>(&self, entity: Entity) -> Option<C> {
        let bytes = self
            .world()
            .entities
            .get(&entity.0)?
            .components
            .get(&self.world().full_type(&self.id, C::NAME))?;
        Some(
            rmp_serde::from_slice(bytes)
                .unwrap_or_else(|e| panic!("{entity:?}'s `{}` does not decode: {e}", C::NAME)),
        )
    }

    /// The entities that have every component of `Q`, in id order.
    pub fn entities_with<Q: ComponentSet>(&self) -> Vec<Entity> {
        let names: Vec<String> = Q::names()
            .iter()
            .map(|n| self.world().full_type(&self.id, n))
            .collect();
        self.world()
            .entities
            .iter()
            .filter(|(_, e)| names.iter().all(|n| e.components.contains_key(n)))
            .map(|(id, _)| Entity(*id))
            .collect()
    }

    /// The entities the mod spawned and still has, in id order.
    pub fn entities_owned_by_mod(&self) -> Vec<Entity> {
        self.world()
            .entities
            .iter()
            .filter(|(_, e)| e.owner.as_deref() == Some(self.id.as_str()))
            .map(|(id, _)| Entity(*id))
            .collect()
    }

    /// Who spawned an entity: a mod's id, or `None` for the game's (and
    /// for an entity that does not exist).
    pub fn owner(&self, entity: Entity) -> Option<&str> {
        self.world().entities.get(&entity.0)?.owner.as_deref()
    }

    /// Sends a game message (a Bevy message the game exposes, such as
    /// `PlayerJoined`): delivered on the mod's next tick if it subscribed;
    /// mods may not emit this name.
    pub fn send(&mut self, name: &str, payload: &impl Serialize) {
        self.world_mut().messages.insert(name.to_string());
        let payload = crate::component::encode(payload).expect("the payload encodes");
        self.inbox.push((name.to_string(), None, payload));
    }

    /// Sends an event as another mod, `source`, would: a plain `name` is
    /// `source`'s own (`source:name`), unless the game opened it to all.
    pub fn send_from(&mut self, source: &str, name: &str, payload: &impl Serialize) {
        let payload = crate::component::encode(payload).expect("the payload encodes");
        self.send_raw(Some(source), name, payload);
    }

    /// Sends an event whose payload is raw bytes (to test how a mod takes
    /// bad input), from a mod as [`send_from`](Self::send_from) does, or
    /// from the game.
    pub fn send_raw(&mut self, source: Option<&str>, name: &str, payload: Vec<u8>) {
        let name = match source {
            Some(source) => self.world().full_event(source, name),
            None => name.to_string(),
        };
        self.inbox.push((name, source.map(str::to_string), payload));
    }

    /// Every event the mod emitted in ticks the world applied, in order.
    pub fn emitted(&self) -> &[Emitted] {
        &self.world().emitted
    }

    /// The events named `name` (as the mod names them: `greeting` is its
    /// own) the mod emitted, decoded as `T`.
    pub fn emitted_as<T: serde::de::DeserializeOwned>(&self, name: &str) -> Vec<T> {
        let full = self.world().full_event(&self.id, name);
        self.emitted()
            .iter()
            .filter(|e| e.name == full)
            .map(|e| {
                e.decode()
                    .unwrap_or_else(|err| panic!("event `{name}` does not decode: {err}"))
            })
            .collect()
    }

    /// Every line the mod logged.
    pub fn logs(&self) -> &[LogLine] {
        &self.world().logs
    }

    /// Every input the mod reported it could not use.
    pub fn rejects(&self) -> &[Rejected] {
        &self.world().rejects
    }
}

impl<M: Mod + Default> TestWorld<M> {
    /// A bundle's values by full name, its types named as the mod under
    /// test names them.
    fn encoded(&self, bundle: &impl Bundle) -> Vec<(String, Vec<u8>)> {
        let components = bundle.encode().expect("the bundle encodes");
        components
            .into_iter()
            .map(|c| (self.world().full_type(&self.id, &c.name), c.value))
            .collect()
    }
}

/// The game's checks on a manifest of mod `id`, those a mod can break:
/// the rule book's.
fn check_manifest(id: &str, m: &Manifest) -> Result<(), String> {
    let m = mod_rules::manifest::ManifestRef {
        name: &m.name,
        version: &m.version,
        subscribes: &m.subscribes,
        queries: &m.queries,
        defines: &m.defines,
        emits: &m.emits,
        shares: &m.shares,
    };
    mod_rules::manifest::check(m)?;
    mod_rules::manifest::check_namespaces(id, m)
}
