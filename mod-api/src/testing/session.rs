//! The world outside the mod, and the session a hook runs in: what the
//! host functions see and change, by the rule book.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use super::*;

#[derive(Clone, Debug, Default)]
pub(super) struct Stored {
    /// The mod that spawned it; `None` for the game's.
    pub(super) owner: Option<String>,
    pub(super) components: BTreeMap<String, Vec<u8>>,
    /// The mod that wrote each value a mod wrote, by component name (the
    /// game's values have none).
    pub(super) writers: BTreeMap<String, String>,
}

impl Stored {
    /// An entity `owner` spawned with `components`.
    pub(super) fn written_by(owner: &str, components: Vec<(String, Vec<u8>)>) -> Self {
        let mut stored = Stored {
            owner: Some(owner.to_string()),
            ..Stored::default()
        };
        stored.put(Some(owner), components);
        stored
    }

    /// Sets values, written by mod `by` (`None`: the game).
    pub(super) fn put(&mut self, by: Option<&str>, components: Vec<(String, Vec<u8>)>) {
        for (name, value) in components {
            match by {
                Some(by) => self.writers.insert(name.clone(), by.to_string()),
                None => self.writers.remove(&name),
            };
            self.components.insert(name, value);
        }
    }
}

/// Everything outside the mod.
pub(super) struct World {
    pub(super) id: String,
    pub(super) entities: BTreeMap<u64, Stored>,
    pub(super) next_index: u64,
    pub(super) game_types: BTreeMap<String, GameType>,
    pub(super) messages: BTreeSet<String>,
    /// Types other mods define: full name → (owner, shared).
    pub(super) foreign_types: BTreeMap<String, (String, bool)>,
    /// Events other mods declare: full name → (owner, shared).
    pub(super) foreign_events: BTreeMap<String, (String, bool)>,
    /// Plain names the game opens to every mod.
    pub(super) shared: BTreeSet<String>,
    pub(super) limits: Limits,
    pub(super) modify_any: bool,
    pub(super) frame: u64,
    pub(super) reserve_target: usize,
    pub(super) emitted: Vec<Emitted>,
    pub(super) logs: Vec<LogLine>,
    pub(super) rejects: Vec<Rejected>,
}

impl World {
    pub(super) fn new_entity(&mut self) -> u64 {
        self.next_index += 1;
        // A Bevy entity's bits: generation 1 above the index.
        (1 << 32) | self.next_index
    }

    pub(super) fn owned_by(&self, owner: &str) -> usize {
        self.entities
            .values()
            .filter(|e| e.owner.as_deref() == Some(owner))
            .count()
    }
}

/// One query's rows as the tick began.
pub(super) struct Snapshot {
    pub(super) names: Vec<String>,
    pub(super) entities: Vec<u64>,
    pub(super) owned: Vec<bool>,
    /// Per column, per row.
    pub(super) values: Vec<Vec<Vec<u8>>>,
}

pub(super) enum Command {
    Spawn(u64, Vec<(String, Vec<u8>)>),
    Despawn(u64),
    Insert(u64, Vec<(String, Vec<u8>)>),
    Remove(u64, Vec<String>),
    Write(Vec<u64>, String, Vec<Vec<u8>>),
    Emit(String, Vec<u8>),
}

/// The world while a hook runs: what the host functions see.
pub(super) struct Session {
    pub(super) world: World,
    pub(super) defines: Vec<String>,
    pub(super) queries: Vec<Snapshot>,
    pub(super) overlay: HashMap<(u64, String), Option<Vec<u8>>>,
    pub(super) spawned: HashSet<u64>,
    pub(super) despawned: HashSet<u64>,
    pub(super) reserved: VecDeque<u64>,
    pub(super) at_entity_cap: bool,
    pub(super) commands: Vec<Command>,
    /// The tick's count against its caps (whether the hook may change the
    /// world, commands, bytes, events, reports) and why it is refused.
    pub(super) ledger: Ledger,
    pub(super) lines: usize,
    pub(super) delivered: Vec<(Option<String>, String)>,
}

thread_local! {
    pub(super) static ACTIVE: RefCell<Option<Session>> = const { RefCell::new(None) };
}

/// Runs `f` on the session of the hook running on this thread.
pub(super) fn with_session<R>(f: impl FnOnce(&mut Session) -> R) -> R {
    ACTIVE.with(|a| {
        let mut a = a.borrow_mut();
        let session = a.as_mut().unwrap_or_else(|| {
            panic!(
                "a mod_api call was made outside a mod's hook: natively, the world \
                 exists only while a mod_api::testing::TestWorld runs a hook"
            )
        });
        f(session)
    })
}

impl World {
    /// The full name of a type name as mod `me` writes it.
    pub(super) fn full_type(&self, me: &str, name: &str) -> String {
        mod_rules::names::resolve(self, me, mod_rules::names::Kind::Type, name).into_owned()
    }

    /// The full name of an event name as mod `me` writes it.
    pub(super) fn full_event(&self, me: &str, name: &str) -> String {
        mod_rules::names::resolve(self, me, mod_rules::names::Kind::Event, name).into_owned()
    }
}

impl Session {
    /// The full name of a type name the mod wrote.
    pub(super) fn full_type(&self, name: &str) -> String {
        self.world.full_type(&self.world.id, name)
    }

    /// The full names of type names the mod wrote.
    pub(super) fn full_types(&self, names: &[String]) -> Vec<String> {
        names.iter().map(|n| self.full_type(n)).collect()
    }

    /// The full name of an event name the mod wrote.
    pub(super) fn full_event(&self, name: &str) -> String {
        self.world.full_event(&self.world.id, name)
    }

    pub(super) fn new(world: World, defines: Vec<String>) -> Self {
        Session {
            world,
            defines,
            queries: Vec::new(),
            overlay: HashMap::new(),
            spawned: HashSet::new(),
            despawned: HashSet::new(),
            reserved: VecDeque::new(),
            at_entity_cap: false,
            commands: Vec::new(),
            ledger: Ledger::default(),
            lines: 0,
            delivered: Vec::new(),
        }
    }

    /// Opens a tick: the manifest's queries as the world is now, and the
    /// ids the game would reserve.
    pub(super) fn begin_tick(&mut self, queries: &[Vec<String>]) {
        self.ledger.begin();
        let id = self.world.id.clone();
        self.queries = queries
            .iter()
            .map(|names| {
                let rows: Vec<(&u64, &Stored)> = self
                    .world
                    .entities
                    .iter()
                    .filter(|(_, e)| names.iter().all(|n| e.components.contains_key(n)))
                    .collect();
                Snapshot {
                    names: names.clone(),
                    entities: rows.iter().map(|(id, _)| **id).collect(),
                    owned: rows
                        .iter()
                        .map(|(_, e)| e.owner.as_deref() == Some(id.as_str()))
                        .collect(),
                    values: names
                        .iter()
                        .map(|n| rows.iter().map(|(_, e)| e.components[n].clone()).collect())
                        .collect(),
                }
            })
            .collect();
        let room = self
            .world
            .limits
            .entities_per_mod
            .saturating_sub(self.world.owned_by(&id));
        let n = self.world.reserve_target.min(room);
        self.reserved = (0..n).map(|_| self.world.new_entity()).collect();
        self.at_entity_cap = n >= room;
    }

    /// A refused call refuses the tick, except running out of spawn ids.
    pub(super) fn refuse_on_error<T>(
        &mut self,
        result: Result<T, ModError>,
    ) -> Result<T, ModError> {
        if let Err(e) = &result {
            let _ = self.ledger.refuse_on_error::<()>(Err(refusal(e)));
        }
        result
    }

    pub(super) fn record(&mut self, command: Command, bytes: usize) -> Result<(), ModError> {
        self.ledger.record(&self.world.limits, bytes)?;
        self.commands.push(command);
        Ok(())
    }

    pub(super) fn check_room(&mut self, bytes: usize) -> Result<(), ModError> {
        Ok(self.ledger.room(&self.world.limits, bytes)?)
    }

    pub(super) fn check_writable(&self, name: &str) -> Result<(), ModError> {
        let defines = |n: &str| self.defines.iter().any(|d| d == n);
        Ok(mod_rules::access::may_write(
            &self.world,
            &self.world.id,
            defines,
            name,
        )?)
    }

    pub(super) fn check_value(&self, name: &str, value: &[u8]) -> Result<(), ModError> {
        mod_rules::value::check(value, self.world.limits.value_depth)
            .and_then(|()| match self.world.game_types.get(name) {
                Some(t) => (t.check)(value),
                None => Ok(()),
            })
            .map_err(|e| ModError::InvalidValue(format!("{name}: {e}")))
    }

    pub(super) fn check_components(
        &mut self,
        components: &[WitComponent],
    ) -> Result<usize, ModError> {
        mod_rules::access::check_component_list(components.iter().map(|c| c.name.as_str()))?;
        let total: usize = components
            .iter()
            .map(|c| c.name.len() + c.value.len())
            .sum();
        self.check_room(total)?;
        for c in components {
            self.check_writable(&c.name)?;
            self.check_value(&c.name, &c.value)?;
        }
        Ok(total)
    }

    pub(super) fn check_alive(&self, entity: u64) -> Result<(), ModError> {
        let exists = self.spawned.contains(&entity) || self.world.entities.contains_key(&entity);
        if self.despawned.contains(&entity) || !exists {
            return Err(ModError::NoSuchEntity(entity));
        }
        Ok(())
    }

    pub(super) fn check_owner(&self, entity: u64) -> Result<(), ModError> {
        let owner = self
            .world
            .entities
            .get(&entity)
            .and_then(|e| e.owner.as_deref());
        if self.world.modify_any
            || self.spawned.contains(&entity)
            || owner == Some(self.world.id.as_str())
        {
            return Ok(());
        }
        Err(ModError::NotOwner(entity))
    }

    pub(super) fn remember(&mut self, entity: u64, components: &[WitComponent]) {
        for c in components {
            self.overlay
                .insert((entity, c.name.clone()), Some(c.value.clone()));
        }
    }

    /// The query whose component set is exactly `names`, in any order.
    pub(super) fn query_index(&self, names: &[String]) -> Result<usize, ModError> {
        mod_rules::access::check_names(names, MAX_QUERY_NAMES)?;
        let wanted: BTreeSet<&str> = names.iter().map(String::as_str).collect();
        self.queries
            .iter()
            .position(|q| {
                q.names.len() == wanted.len() && q.names.iter().all(|n| wanted.contains(n.as_str()))
            })
            .ok_or_else(|| ModError::NotQueried(names.join(", ")))
    }

    /// Rows of query `q` not despawned this tick.
    pub(super) fn live_rows(&self, q: usize) -> Vec<usize> {
        let query = &self.queries[q];
        (0..query.entities.len())
            .filter(|row| !self.despawned.contains(&query.entities[*row]))
            .collect()
    }

    /// Applies a finished tick's commands to the world, or says why the
    /// game would refuse them.
    /// A hook that failed (`commit` false) changes nothing either way.
    pub(super) fn finish(mut self, commit: bool) -> (World, Result<Vec<Emitted>, String>) {
        if let Err(why) = self.ledger.close() {
            return (self.world, Err(why));
        }
        if !commit {
            return (self.world, Ok(Vec::new()));
        }
        let id = self.world.id.clone();
        let mut entities = self.world.entities.clone();
        let mut emitted = Vec::new();
        let mut spawned = 0;
        for command in std::mem::take(&mut self.commands) {
            match command {
                Command::Spawn(entity, components) => {
                    spawned += 1;
                    entities.insert(entity, Stored::written_by(&id, components));
                }
                Command::Despawn(entity) => {
                    entities.remove(&entity);
                }
                Command::Insert(entity, components) => {
                    if let Some(e) = entities.get_mut(&entity) {
                        e.put(Some(&id), components);
                    }
                }
                Command::Remove(entity, names) => {
                    if let Some(e) = entities.get_mut(&entity) {
                        for n in names {
                            e.writers.remove(&n);
                            e.components.remove(&n);
                        }
                    }
                }
                Command::Write(rows, name, values) => {
                    for (entity, value) in rows.into_iter().zip(values) {
                        if let Some(e) = entities.get_mut(&entity) {
                            e.components.insert(name.clone(), value);
                        }
                    }
                }
                Command::Emit(name, payload) => emitted.push(Emitted {
                    frame: self.world.frame,
                    name,
                    payload,
                }),
            }
        }
        let kept: u64 = entities
            .values()
            .filter(|e| e.owner.as_deref() == Some(id.as_str()))
            .flat_map(|e| e.components.values())
            .map(|v| v.len() as u64)
            .sum();
        let cap = self.world.limits.state_bytes_per_mod;
        if kept > cap {
            return (
                self.world,
                Err(Refusal::too_much_state(kept, cap).describe()),
            );
        }
        self.world.entities = entities;
        self.world.reserve_target =
            mod_rules::caps::next_reserve(spawned, self.world.limits.spawns_per_tick);
        (self.world, Ok(emitted))
    }
}

/// The values of a MessagePack array of `rows` values, each as its own
/// bytes, each checked as the game checks a column's values.
pub(super) fn split_array(data: &[u8], rows: usize, depth: usize) -> Result<Vec<Vec<u8>>, String> {
    let (offsets, body) = mod_rules::value::split_array(data, rows, depth)?;
    let values = &data[body..];
    let ends = offsets
        .iter()
        .skip(1)
        .map(|o| *o as usize)
        .chain([values.len()]);
    Ok(offsets
        .iter()
        .zip(ends)
        .map(|(start, end)| values[*start as usize..end].to_vec())
        .collect())
}

/// A contract error as the rule book's refusal.
pub(super) fn refusal(e: &ModError) -> Refusal {
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

impl From<Refusal> for ModError {
    fn from(r: Refusal) -> Self {
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

/// The test world answers the rule book's questions about names from its
/// setup.
impl mod_rules::access::Names for World {
    fn game_component(&self, name: &str) -> Option<bool> {
        self.game_types.get(name).map(|t| t.writable)
    }

    fn is_game_message(&self, name: &str) -> bool {
        self.messages.contains(name)
    }

    fn game_shares(&self, name: &str) -> bool {
        self.shared.contains(name)
    }

    fn type_owner(&self, name: &str) -> Option<(String, bool)> {
        self.foreign_types.get(name).cloned()
    }

    fn event_owner(&self, name: &str) -> Option<(String, bool)> {
        self.foreign_events.get(name).cloned()
    }
}
