//! The host side of the WIT imports, run on a mod's worker thread.
//!
//! Imports never touch the `World`: reads come from the snapshot sent with
//! the tick, writes become [`Command`]s the main thread validates and applies
//! after the tick. Every byte from the guest is checked here first, so a mod
//! learns of its mistake from the call that made it.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use wasmtime::StoreLimits;
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxView, WasiView};

use crate::expose::Catalog;
use crate::manifest::ModManifest;
use crate::protocol::{Command, QueryResult};
use crate::settings::ModLimits;
use crate::worker::bindings::types::{self, ModError};

/// The store's limits on memories and tables, counting the linear memory
/// the instance holds as it grows.
pub(crate) struct MeteredLimits {
    inner: StoreLimits,
    /// Bytes of linear memory in all of the instance's memories.
    pub memory_bytes: u64,
}

impl MeteredLimits {
    pub(crate) fn new(inner: StoreLimits) -> Self {
        Self {
            inner,
            memory_bytes: 0,
        }
    }
}

impl wasmtime::ResourceLimiter for MeteredLimits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.inner.memory_growing(current, desired, maximum)?;
        if allowed {
            self.memory_bytes = self
                .memory_bytes
                .saturating_add(desired.saturating_sub(current) as u64);
        }
        Ok(allowed)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.inner.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.inner.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

/// Everything a mod's `Store` holds.
pub(crate) struct HostState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub limits: MeteredLimits,
    pub mod_id: Arc<str>,
    pub catalog: Arc<Catalog>,
    /// The caps on one tick's commands (the shared rule book's).
    pub rules: mod_rules::Limits,
    /// What the mod declared in `init`, once it has (full names).
    pub defines: BTreeSet<String>,
    /// Whether the mod was built for a contract before names had
    /// namespaces (see [`mod_rules::names`]).
    pub legacy: bool,
    /// How the mod spelled each event name it subscribed to, by full
    /// name: events reach it named as it asked for them.
    pub spelled: HashMap<String, String>,
    /// Whether the mod may change entities it did not spawn.
    pub modify_any_entity: bool,
    /// Log lines (from `log`, stdout and stderr) left this tick.
    pub lines: super::stdio::LineBudget,
    /// What the mod's clocks read.
    pub time: super::clock::GameTime,
    /// Things the mod asked for that were logged already (`wasi::Asked`).
    pub asked: u8,
    pub tick: TickState,
    /// When the running call must stop.
    pub deadline: super::deadline::CallDeadline,
}

/// What one tick reads and writes.
#[derive(Default)]
pub(crate) struct TickState {
    pub queries: Vec<QueryResult>,
    pub(super) row_index: Vec<Option<HashMap<u64, usize>>>,
    /// Ids reserved for this mod's spawns; unused ones carry over.
    pub reserved: VecDeque<u64>,
    /// Whether the mod owns as many entities as it may.
    pub at_entity_cap: bool,
    pub(super) spawned: HashSet<u64>,
    pub(super) despawned: HashSet<u64>,
    /// This tick's own writes, so reads see them.
    pub(super) overlay: HashMap<(u64, String), Option<Vec<u8>>>,
    pub commands: Vec<Command>,
    /// Sender and name of each event the running `on-event` call was given.
    pub delivered: Vec<(Option<String>, String)>,
    /// The tick's count against its caps, and why it is refused once it is.
    pub(super) ledger: mod_rules::Ledger,
}

impl TickState {
    /// Starts a tick with a fresh snapshot.
    pub(crate) fn begin(&mut self, queries: Vec<QueryResult>, reserved: &[u64], at_cap: bool) {
        self.ledger.begin();
        self.at_entity_cap = at_cap;
        self.row_index = vec![None; queries.len()];
        self.queries = queries;
        self.reserved.clear();
        self.reserved.extend(reserved);
        self.spawned.clear();
        self.despawned.clear();
        self.overlay.clear();
        self.commands.clear();
        self.delivered.clear();
    }

    /// Ends the tick and hands over its commands.
    pub(crate) fn finish(&mut self) -> Result<Vec<Command>, String> {
        self.queries.clear();
        self.overlay.clear();
        match self.ledger.close() {
            Err(why) => {
                self.commands.clear();
                Err(why)
            }
            Ok(()) => Ok(std::mem::take(&mut self.commands)),
        }
    }

    /// Whether commands may be issued now (only in `on-tick` and
    /// `on-event`).
    pub(crate) fn is_open(&self) -> bool {
        self.ledger.is_open()
    }

    /// The query whose component set is exactly `names`.
    pub(super) fn query_index(&self, names: &[String]) -> Option<usize> {
        let wanted: BTreeSet<&str> = names.iter().map(String::as_str).collect();
        self.queries.iter().position(|q| {
            q.components.len() == wanted.len()
                && q.components.iter().all(|c| wanted.contains(c.as_str()))
        })
    }

    /// The row of `entity` in query `q`.
    /// Whether this tick gave the mod the value of `name` on `entity` (in
    /// a query's rows) and the mod has not written it since.
    pub(super) fn was_given(&mut self, entity: u64, name: &str) -> bool {
        if self.overlay.contains_key(&(entity, name.to_string())) {
            return false;
        }
        (0..self.queries.len()).any(|q| {
            self.queries[q].columns.iter().any(|c| c.name == name) && self.row(q, entity).is_some()
        })
    }

    pub(super) fn row(&mut self, q: usize, entity: u64) -> Option<usize> {
        let query = &self.queries[q];
        let index = self.row_index[q].get_or_insert_with(|| {
            query
                .entities
                .0
                .iter()
                .enumerate()
                .map(|(i, e)| (*e, i))
                .collect()
        });
        index.get(&entity).copied()
    }
}

impl HostState {
    /// The state of a fresh instance of mod `name`, before its `init`: no
    /// memory limits yet (the caller sets them), nothing defined.
    pub(crate) fn new(
        name: Arc<str>,
        catalog: Arc<Catalog>,
        limits: &ModLimits,
        modify_any_entity: bool,
        wasi: WasiCtx,
    ) -> Self {
        HostState {
            wasi,
            table: ResourceTable::new(),
            limits: MeteredLimits::new(StoreLimits::default()),
            mod_id: name,
            catalog,
            rules: limits.rules(),
            defines: Default::default(),
            legacy: false,
            spelled: HashMap::new(),
            modify_any_entity,
            lines: super::stdio::LineBudget::new(
                limits.output_burst_bytes,
                limits.output_bytes_per_minute,
            ),
            time: Default::default(),
            asked: 0,
            tick: TickState::default(),
            deadline: super::deadline::CallDeadline::start(limits.hard_call_limit),
        }
    }

    /// `init` returned this manifest, checked: its names become full names
    /// (see [`mod_rules::names`]), and the mod may write the types it
    /// defines. A mod built for a contract before namespaces (`legacy`)
    /// hears any mod's events by their short names, as it did then.
    pub(crate) fn started(&mut self, manifest: &mut ModManifest, legacy: bool) {
        let spelled = manifest.subscribes.clone();
        mod_rules::manifest::resolve_names(
            &*self.catalog,
            &self.mod_id,
            legacy,
            mod_rules::manifest::NameLists {
                subscribes: &mut manifest.subscribes,
                queries: &mut manifest.queries,
                defines: &mut manifest.defines,
                emits: &mut manifest.emits,
                shares: &mut manifest.shares,
            },
        );
        self.legacy = legacy;
        self.spelled = manifest.subscribes.iter().cloned().zip(spelled).collect();
        self.defines = manifest.defines.iter().cloned().collect();
    }

    /// The full name of a type or event name the mod wrote.
    pub(super) fn full(&self, kind: mod_rules::names::Kind, name: String) -> String {
        mod_rules::names::resolve_owned(&*self.catalog, &self.mod_id, kind, name)
    }

    /// The full name of a component type name the mod wrote.
    pub(super) fn full_type(&self, name: String) -> String {
        self.full(mod_rules::names::Kind::Type, name)
    }

    /// An event's name as the mod subscribed to it.
    pub(super) fn spelled_event(&self, name: String) -> String {
        if let Some(spelled) = self.spelled.get(&name) {
            return spelled.clone();
        }
        if self.legacy {
            let any =
                mod_rules::names::full(mod_rules::names::ANY_MOD, mod_rules::names::short(&name));
            if let Some(spelled) = self.spelled.get(&any) {
                return spelled.clone();
            }
        }
        name
    }

    /// Records a command, enforcing the per-tick caps.
    pub(super) fn record(&mut self, command: Command, bytes: usize) -> Result<(), ModError> {
        self.tick.ledger.record(&self.rules, bytes)?;
        self.tick.commands.push(command);
        Ok(())
    }

    /// Refuses the whole tick when a write was refused (see
    /// [`mod_rules::Ledger::refuse_on_error`]).
    pub(crate) fn refuse_on_error<T>(
        &mut self,
        result: Result<T, ModError>,
    ) -> Result<T, ModError> {
        if let Err(e) = &result {
            let _ = self.tick.ledger.refuse_on_error::<()>(Err(refusal(e)));
        }
        result
    }

    /// Refuses a call whose arguments would take the tick past its byte cap,
    /// before any of them is checked: what a call costs the host is bounded
    /// by what the tick may still send.
    pub(super) fn check_room(&mut self, bytes: usize) -> Result<(), ModError> {
        Ok(self.tick.ledger.room(&self.rules, bytes)?)
    }

    /// Whether the mod may write components named `name`.
    pub(super) fn check_writable(&self, name: &str) -> Result<(), ModError> {
        let defines = |n: &str| self.defines.contains(n);
        let Err(denied) = mod_rules::access::may_write(&*self.catalog, &self.mod_id, defines, name)
        else {
            return Ok(());
        };
        let denied = ModError::from(denied);
        // Logged within the mod's line budget: a mod cannot flood the log
        // with refusals.
        if !self.lines.take(&self.mod_id, 64 + name.len().min(128)) {
            return Err(denied);
        }
        let mut shown = name.to_string();
        shown.truncate(shown.floor_char_boundary(128));
        let shown = crate::text::escape(&shown);
        tracing::warn!(
            target: "mod",
            mod_id = &*self.mod_id,
            "denied: writing component `{shown}`: {}",
            match denied {
                ModError::ReadOnly(_) => "the game exposes it read-only",
                ModError::Denied(_) => "another mod defined it first",
                _ => "the game does not expose it and the mod did not define it",
            }
        );
        Err(denied)
    }

    pub(super) fn check_value(&self, name: &str, value: &[u8]) -> Result<(), ModError> {
        mod_rules::value::check(value, self.rules.value_depth)
            .map_err(|e| ModError::InvalidValue(format!("{name}: {e}")))
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for HostState {}

/// The manifest as the host keeps it.
pub(crate) fn manifest_from(m: types::Manifest) -> ModManifest {
    ModManifest {
        name: m.name,
        version: m.version,
        subscribes: m.subscribes,
        queries: m.queries.into_iter().map(|q| q.components).collect(),
        defines: m.defines,
        emits: m.emits,
        shares: m.shares,
        contract: String::new(),
        package: None,
    }
}

/// A short text for a guest's error value.
/// The strings in it come from the mod (or name what it sent), so the text
/// is escaped.
pub(crate) fn describe(e: &ModError) -> String {
    refusal(e).describe()
}

/// A contract error as the rule book's refusal.
pub(crate) fn refusal(e: &ModError) -> mod_rules::Refusal {
    use mod_rules::Refusal;
    match e.clone() {
        ModError::UnknownComponent(s) => Refusal::UnknownComponent(s),
        ModError::ReadOnly(s) => Refusal::ReadOnly(s),
        ModError::NotQueried(s) => Refusal::NotQueried(s),
        ModError::NoSuchEntity(e) => Refusal::NoSuchEntity(e),
        ModError::NotOwner(e) => Refusal::NotOwner(e),
        ModError::InvalidValue(s) => Refusal::InvalidValue(s),
        ModError::LimitExceeded(s) => Refusal::LimitExceeded(s),
        ModError::Denied(s) => Refusal::Denied(s),
        ModError::Failed(s) => Refusal::Failed(s),
    }
}

impl From<mod_rules::Refusal> for ModError {
    fn from(r: mod_rules::Refusal) -> Self {
        use mod_rules::Refusal;
        match r {
            Refusal::UnknownComponent(s) => ModError::UnknownComponent(s),
            Refusal::ReadOnly(s) => ModError::ReadOnly(s),
            Refusal::NotQueried(s) => ModError::NotQueried(s),
            Refusal::NoSuchEntity(e) => ModError::NoSuchEntity(e),
            Refusal::NotOwner(e) => ModError::NotOwner(e),
            Refusal::InvalidValue(s) => ModError::InvalidValue(s),
            Refusal::LimitExceeded(s) => ModError::LimitExceeded(s),
            Refusal::Denied(s) => ModError::Denied(s),
            Refusal::Failed(s) => ModError::Failed(s),
        }
    }
}
