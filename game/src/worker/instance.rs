//! One live instance of a mod: its `Store`, its bindings, and calls into it
//! bounded by the epoch deadline.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{Store, StoreLimitsBuilder};

use super::bindings::types;
use super::clock::GameTime;
use super::contract::{Hooks, ModPre};
use super::deadline::CallDeadline;
use super::engine::Runtime;
use super::stdio::LineBudget;
use super::wasi;
use crate::expose::Catalog;
use crate::fault::{Fault, FaultKind, Hook};
use crate::grants::ModGrants;
use crate::manifest::ModManifest;
use crate::protocol::{self as wire, Reply, TickRequest};
use crate::settings::ModLimits;
use crate::worker::state::{self, HostState};

/// What it takes to start a mod.
#[derive(Clone)]
pub(crate) struct ModSpec {
    pub file: PathBuf,
    /// The mods folder the file was found in.
    pub folder: PathBuf,
    pub runtime: Arc<Runtime>,
    pub catalog: Arc<Catalog>,
    pub limits: ModLimits,
    pub config: Vec<u8>,
    pub seed: u64,
    pub grants: ModGrants,
    /// Sees every tick, when a test set one (to record traffic).
    #[cfg(feature = "test-seam")]
    pub tap: Option<crate::worker::tap::TrafficTap>,
    /// Ticks between two checkpoints of the mod's state (0: none).
    pub checkpoint_every: u64,
}

impl ModSpec {
    /// The mod's id: its file's stem, or its package's.
    pub(crate) fn id(&self) -> String {
        crate::package::id_of(&self.file)
    }
}

/// Why a swap to new code did not happen.
pub(crate) enum SwapError {
    /// The running instance failed (in `save`): it is broken.
    Old(Fault),
    /// The new code failed (`init`, `restore`, its manifest): the running
    /// instance is as it was.
    New(Fault),
}

/// One live instance of a mod.
pub(crate) struct Instance {
    store: Store<HostState>,
    hooks: Hooks,
    pub manifest: ModManifest,
    soft: Duration,
    bounds: Bounds,
    /// How long the last tick's calls took.
    pub guest_time: Duration,
}

/// What bounds one call, or one tick's calls together.
struct Bounds {
    /// The time a tick may take.
    tick_limit: Duration,
    /// The time a one-time hook (`init`, `save`, `restore`) may take.
    hook_limit: Duration,
    fuel: Option<u64>,
    log_lines: usize,
}

impl Bounds {
    fn new(limits: &ModLimits) -> Self {
        Bounds {
            tick_limit: limits.hard_call_limit,
            hook_limit: limits.hook_call_limit,
            fuel: limits.fuel_per_call,
            log_lines: limits.log_lines_per_tick,
        }
    }

    /// Starts a fresh allowance of time, fuel and log lines for a tick.
    fn renew(&mut self, store: &mut Store<HostState>) {
        self.renew_for(store, self.tick_limit);
    }

    /// The same for one call of a one-time hook, under its own limit.
    fn renew_for_hook(&mut self, store: &mut Store<HostState>) {
        self.renew_for(store, self.hook_limit);
    }

    fn renew_for(&mut self, store: &mut Store<HostState>, limit: Duration) {
        let deadline = CallDeadline::start(limit);
        store.set_epoch_deadline(deadline.first_check());
        store.data_mut().deadline = deadline;
        if let Some(fuel) = self.fuel {
            // Fails only when fuel is off in the engine, which `Runtime`
            // turns on whenever a fuel limit is set.
            let _ = store.set_fuel(fuel);
        }
        store.data().lines.refill(self.log_lines);
    }
}

impl Instance {
    /// Instantiates the mod in a fresh store and calls `init`.
    pub(crate) fn start(spec: &ModSpec, pre: &ModPre) -> Result<Self, Fault> {
        Self::start_at(spec, pre, GameTime::default())
    }

    /// Like [`start`](Self::start), its clocks reading `time` from `init` on.
    pub(crate) fn start_at(spec: &ModSpec, pre: &ModPre, time: GameTime) -> Result<Self, Fault> {
        let name: Arc<str> = spec.id().into();
        let limits = &spec.limits;
        let lines = LineBudget::new(limits.output_burst_bytes, limits.output_bytes_per_minute);
        let wasi =
            wasi::context(&name, spec.seed, &time, &lines, &spec.grants).map_err(|e| Fault {
                kind: FaultKind::Invalid,
                hook: Hook::Load,
                message: e,
            })?;
        let mut state = HostState::new(
            name,
            spec.catalog.clone(),
            limits,
            spec.grants.modify_any_entity,
            wasi,
        );
        state.lines = lines;
        state.time = time;
        state.limits = state::MeteredLimits::new(
            StoreLimitsBuilder::new()
                .memory_size(spec.grants.memory_bytes.unwrap_or(limits.memory_bytes))
                .table_elements(limits.table_elements)
                .instances(16)
                .tables(64)
                .memories(16)
                .trap_on_grow_failure(true)
                .build(),
        );
        let mut store = Store::new(&spec.runtime.engine, state);
        store.limiter(|s| &mut s.limits);
        store.epoch_deadline_callback(|store| Ok(store.data().deadline.check()));
        let mut bounds = Bounds::new(limits);
        // Instantiating runs the guest's start functions: it is part of
        // the one-time start, and `init` gets an allowance of its own.
        bounds.renew_for_hook(&mut store);
        let hooks = pre
            .instantiate(&mut store)
            .map_err(|e| fault(Hook::Load, &e, store.data().lines.last_words()))?;
        let mut instance = Self {
            store,
            hooks,
            manifest: ModManifest::default(),
            soft: limits.soft_call_budget,
            bounds,
            guest_time: Duration::ZERO,
        };
        let config = spec.config.clone();
        instance.bounds.renew_for_hook(&mut instance.store);
        let manifest = instance.call(Hook::Init, |b, s| b.init(s, &config))?;
        let mut manifest = state::manifest_from(manifest);
        manifest.contract = pre.contract.to_string();
        manifest.package = pre.package.as_deref().cloned();
        manifest
            .check()
            .and_then(|()| mod_rules::manifest::check_namespaces(&spec.id(), manifest.as_rules()))
            .map_err(|message| Fault {
                kind: FaultKind::InvalidOutput,
                hook: Hook::Init,
                message,
            })?;
        let legacy = !super::contract::namespaced(pre.contract);
        instance.store.data_mut().started(&mut manifest, legacy);
        instance.manifest = manifest;
        Ok(instance)
    }

    /// Calls into the guest with a deadline; a trap, a timeout or an error
    /// value all come back as a [`Fault`].
    fn call<R>(
        &mut self,
        hook: Hook,
        f: impl FnOnce(&Hooks, &mut Store<HostState>) -> wasmtime::Result<Result<R, types::ModError>>,
    ) -> Result<R, Fault> {
        self.store.data().lines.clear_tail();
        let start = Instant::now();
        let result = f(&self.hooks, &mut self.store);
        let elapsed = start.elapsed();
        if elapsed > self.soft {
            tracing::warn!(
                mod_id = &*self.store.data().mod_id,
                hook = ?hook,
                "call took {elapsed:?}, over the {:?} budget",
                self.soft
            );
        }
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(Fault {
                kind: FaultKind::ModError,
                hook,
                message: state::describe(&e),
            }),
            Err(e) => Err(fault(hook, &e, self.store.data().lines.last_words())),
        }
    }

    /// Bytes of linear memory the instance holds.
    pub(crate) fn memory_bytes(&self) -> u64 {
        self.store.data().limits.memory_bytes
    }

    /// Runs one tick: `on-event` when there are events, then `on-tick`,
    /// under one deadline (and one fuel allowance) for both.
    pub(crate) fn tick(&mut self, request: TickRequest) -> Reply {
        self.bounds.renew(&mut self.store);
        let data = self.store.data_mut();
        data.time.set(request.game_time_nanos);
        data.tick
            .begin(request.queries, &request.reserved.0, request.at_entity_cap);
        let started = Instant::now();
        let result = self.run_hooks(request.frame, request.delta_seconds, request.events);
        self.guest_time = started.elapsed();
        let finished = self.store.data_mut().tick.finish();
        // A refused write or a broken cap names the cause better than the
        // error the mod returned because of it.
        match (result, finished) {
            (_, Err(message)) => Reply::Failed(Fault {
                kind: FaultKind::InvalidOutput,
                hook: Hook::Tick,
                message: crate::text::escape(&message).into_owned(),
            }),
            (Err(fault), Ok(_)) => Reply::Failed(fault),
            (Ok(()), Ok(commands)) => Reply::Ticked(commands),
        }
    }

    fn run_hooks(
        &mut self,
        frame: u64,
        delta: f32,
        events: Vec<wire::WireEvent>,
    ) -> Result<(), Fault> {
        if !events.is_empty() {
            let events: Vec<types::Event> = events
                .into_iter()
                .map(|e| types::Event {
                    name: e.name,
                    source: e.source,
                    payload: e.payload.into_vec(),
                })
                .collect();
            let data = self.store.data_mut();
            data.tick.delivered = events
                .iter()
                .map(|e| (e.source.clone(), e.name.clone()))
                .collect();
            // Each event goes by the name the mod subscribed to it by.
            let events: Vec<types::Event> = events
                .into_iter()
                .map(|mut e| {
                    e.name = data.spelled_event(e.name);
                    e
                })
                .collect();
            self.call(Hook::Event, |b, s| b.on_event(s, &events))?;
            self.store.data_mut().tick.delivered.clear();
        }
        let tick = types::Tick {
            frame,
            delta_seconds: delta,
        };
        timed!(
            "worker: the guest's on-tick, with its host calls",
            self.call(Hook::Tick, |b, s| { b.on_tick(s, tick) })
        )
    }

    /// The mod's state now, from its `save` hook, under the one-time hooks'
    /// limit: a checkpoint to resume from after a fault.
    pub(crate) fn save(&mut self) -> Result<Vec<u8>, Fault> {
        self.bounds.renew_for_hook(&mut self.store);
        self.call(Hook::Save, |b, s| b.save(s))
    }

    /// Hands `state`, saved earlier by this mod, to its `restore` hook,
    /// under the one-time hooks' limit.
    pub(crate) fn restore(&mut self, state: &[u8]) -> Result<(), Fault> {
        self.bounds.renew_for_hook(&mut self.store);
        self.call(Hook::Restore, |b, s| b.restore(s, state))
    }

    /// A fresh instance of the code in `pre` that carries this one's saved
    /// state: `save` here, `init` and `restore` there. Returns it with the
    /// state it carries.
    pub(crate) fn swap(
        &mut self,
        spec: &ModSpec,
        pre: &ModPre,
    ) -> Result<(Self, Vec<u8>), SwapError> {
        let state = self.save().map_err(SwapError::Old)?;
        // The new code's clocks go on from the game time the old one saw.
        let time = self.store.data().time.clone();
        let mut fresh = Self::start_at(spec, pre, time).map_err(SwapError::New)?;
        fresh.restore(&state).map_err(SwapError::New)?;
        Ok((fresh, state))
    }
}

/// Names the kind of a guest failure from wasmtime's error.
/// The message starts with the cause (the trap, or the limit hit), then the
/// guest backtrace when wasmtime has one.
/// The fault a failed call into the guest is: its kind, a message a
/// modder can act on (what the mod wrote to stderr before it trapped, such
/// as a panic message or an uncaught exception's traceback, then the trap
/// and the guest's backtrace).
fn fault(hook: Hook, e: &wasmtime::Error, last_words: Option<String>) -> Fault {
    let cause = format!("{:#}", e.root_cause());
    let trap = e.downcast_ref::<wasmtime::Trap>();
    let kind = match trap {
        Some(wasmtime::Trap::Interrupt) => FaultKind::Timeout,
        Some(wasmtime::Trap::OutOfFuel) => FaultKind::OutOfFuel,
        _ if cause.contains("forcing trap when growing memory") => FaultKind::OutOfMemory,
        _ => FaultKind::Trap,
    };
    let mut message = match trap {
        Some(wasmtime::Trap::Interrupt) => "stopped at its time limit".to_string(),
        Some(wasmtime::Trap::OutOfFuel) => "stopped when its fuel ran out".to_string(),
        Some(trap) => {
            let trap = match trap.to_string() {
                t if t.starts_with("wasm trap") => t,
                t => format!("wasm trap: {t}"),
            };
            match last_words.filter(|_| kind == FaultKind::Trap) {
                Some(words) => format!("{words}\n({trap})"),
                None => trap,
            }
        }
        // The cause alone: the error's own text repeats the backtrace.
        None => cause,
    };
    // The guest's stack, not the host's: that is what a modder can use.
    if let Some(backtrace) = e.downcast_ref::<wasmtime::WasmBacktrace>() {
        message.push_str(&format!("\n{backtrace}"));
    }
    // Function names come from the module: escaped, one frame a line.
    Fault {
        kind,
        hook,
        message: crate::text::escape_keeping_lines(&message).into_owned(),
    }
}
