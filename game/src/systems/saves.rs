//! Saving and loading games (see [`crate::save`]), at the end of a frame,
//! once every tick and swap in flight has come in: every running mod is
//! then between two ticks.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use bevy::prelude::*;
use bevy::reflect::TypeRegistry;
use serde_bytes::ByteBuf;

use super::apply::{hook_wait, settle};
use super::dispatch::game_messages;
use super::lifecycle::State;
use super::{ModEntry, ModHost, ModRegistry, with_mods};
use crate::codec::value;
use crate::expose::{Exposed, ModData};
use crate::fault::{Fault, FaultKind, Hook};
use crate::ids::{ModId, ModIds};
use crate::ownership::{SlotKey, SpawnTick, SpawnedByMod, charge, data_key};
use crate::protocol::{Reply, Request, WireEvent};
use crate::save::{
    FORMAT, GameLoaded, GameSaved, LoadGame, SaveGame, SaveReport, SavedEntity, SavedEvent,
    SavedGame, SavedMod, SavedTypes, SavedValue,
};
use crate::settings::ModSettings;

/// Saves and loads what the game asked for this frame.
pub(crate) fn saves_and_loads(world: &mut World) {
    with_mods(world, |world, mods, host| {
        let saves: Vec<PathBuf> = host
            .saves
            .read(world.resource::<Messages<SaveGame>>())
            .map(|m| m.path.clone())
            .collect();
        let mut loads: Vec<PathBuf> = host
            .loads
            .read(world.resource::<Messages<LoadGame>>())
            .map(|m| m.path.clone())
            .collect();
        // A game loaded at start goes on from the frame the mods begin.
        if world.contains_resource::<crate::ModsStarted>()
            && let Some(path) = host.load_at_start.take()
        {
            loads.insert(0, path);
        }
        if saves.is_empty() && loads.is_empty() {
            return;
        }
        settle(world, mods, host);
        for path in saves {
            let result = save(world, mods, host, &path);
            match &result {
                Ok(report) => {
                    tracing::info!(
                        "saved the game to {} (frame {}, {} entities, {} mods' state)",
                        path.display(),
                        report.frame,
                        report.entities,
                        report.mods.len()
                    );
                    for problem in &report.problems {
                        tracing::warn!("saving {}: {problem}", path.display());
                    }
                }
                Err(e) => tracing::error!("{e}"),
            }
            world.write_message(GameSaved { path, result });
        }
        // Only the last load asked for matters: it replaces the others.
        if let Some(path) = loads.pop() {
            let result = load(world, mods, host, &path);
            match &result {
                Ok(report) => {
                    tracing::info!(
                        "loaded the game saved in {} (frame {}, {} entities, {} mods' state)",
                        path.display(),
                        report.frame,
                        report.entities,
                        report.mods.len()
                    );
                    for problem in &report.problems {
                        tracing::warn!("loading {}: {problem}", path.display());
                    }
                }
                Err(e) => tracing::error!("{}", crate::text::escape(e)),
            }
            world.write_message(GameLoaded { path, result });
        }
    });
}

/// Frames since the mods began, counted on in a loaded game.
fn frames_since_start(world: &World, host: &ModHost) -> u64 {
    let began = world
        .get_resource::<crate::ModsStarted>()
        .map_or(host.frame, |s| s.frame);
    host.frame
        .saturating_sub(began)
        .saturating_add_signed(host.frame_shift)
}

fn save(
    world: &mut World,
    mods: &mut ModRegistry,
    host: &mut ModHost,
    path: &Path,
) -> Result<SaveReport, String> {
    let mut report = SaveReport {
        frame: frames_since_start(world, host),
        ..Default::default()
    };
    // Every mod between two ticks saves at once, on the workers; the
    // replies are taken in load order.
    let asked: Vec<bool> = mods
        .entries
        .iter_mut()
        .map(|e| {
            e.life.state() == State::Idle
                && e.slot
                    .worker
                    .as_mut()
                    .is_some_and(|w| w.send(Request::Save))
        })
        .collect();
    let calls = asked.iter().filter(|a| **a).count();
    let until = Instant::now() + hook_wait(world, host, calls);
    let mut saved_mods = Vec::with_capacity(mods.entries.len());
    for (entry, asked) in mods.entries.iter_mut().zip(asked) {
        let mut saved = saved_mod(entry);
        let id = saved.id.clone();
        if !asked {
            let why = format!("it was not running ({:?})", entry.life.info().status);
            report
                .problems
                .push(format!("mod `{id}`: {why}; saved without its state"));
            saved.not_saved = Some(why);
            saved_mods.push(saved);
            continue;
        }
        let reply = entry
            .slot
            .worker
            .as_ref()
            .and_then(|w| w.recv_timeout(until.saturating_duration_since(Instant::now())));
        match reply {
            Some(Reply::Saved(state)) => {
                saved.state = Some(state);
                report.mods.push(id);
            }
            other => {
                let fault = match other {
                    Some(Reply::Failed(fault)) => fault,
                    _ => Fault {
                        kind: FaultKind::Unresponsive,
                        hook: Hook::Save,
                        message: "no reply to `save` in time".into(),
                    },
                };
                let why = format!("its `save` failed: {}", fault.message);
                report
                    .problems
                    .push(format!("mod `{id}`: {why}; saved without its state"));
                saved.not_saved = Some(why);
                super::faults::on_fault(world, host.frame, entry, fault);
            }
        }
        saved_mods.push(saved);
    }

    let registry = world.resource::<AppTypeRegistry>().clone();
    let registry = registry.read();
    // The game's messages sent this frame go to the mods next frame: the
    // save keeps them, and so does this game.
    let sent = game_messages(world, &registry);
    host.game_messages.extend(sent);
    let entities = saved_entities(world, &registry)?;
    let resources = saved_resources(world, &registry)?;
    report.entities = entities.len();
    let file = SavedGame {
        format: FORMAT,
        contract: crate::WIT_VERSION.to_string(),
        frame: report.frame,
        game_time_nanos: host.game_time_nanos,
        next_id: world.resource::<ModIds>().next(),
        mods: saved_mods,
        entities,
        resources,
        pending_messages: host.game_messages.iter().map(saved_event).collect(),
        pending_events: host.outbox.events.iter().map(saved_event).collect(),
    };
    file.write(path)?;
    Ok(report)
}

/// A mod's place in the host, for a save (its state is asked for apart).
fn saved_mod(entry: &ModEntry) -> SavedMod {
    let info = entry.life.info();
    SavedMod {
        id: info.id.clone(),
        version: info.version.clone(),
        code: super::tape::code_of(entry),
        enabled: info.enabled,
        ticks: info.ticks,
        state: None,
        not_saved: None,
        reserved: entry.slot.reserved.iter().map(|(_, id)| *id).collect(),
        reserve_target: entry.slot.reserve_target as u64,
        inbox: entry.slot.inbox.iter().map(saved_event).collect(),
    }
}

fn saved_event(e: &WireEvent) -> SavedEvent {
    SavedEvent {
        name: e.name.clone(),
        source: e.source.clone(),
        payload: ByteBuf::from(e.payload.to_vec()),
    }
}

fn wire_event(e: &SavedEvent) -> WireEvent {
    WireEvent {
        name: e.name.clone(),
        source: e.source.clone(),
        payload: e.payload.to_vec().into(),
    }
}

/// Every entity with a [`ModId`], in id order, with what of it is saved.
fn saved_entities(world: &mut World, registry: &TypeRegistry) -> Result<Vec<SavedEntity>, String> {
    let mut rows: Vec<(u64, Entity)> = world
        .query::<(Entity, &ModId)>()
        .iter(world)
        .map(|(e, id)| (id.get(), e))
        .collect();
    rows.sort_unstable();
    let exposed = world.resource::<Exposed>();
    let types = world.resource::<SavedTypes>();
    let encode = |v: &dyn PartialReflect, id: u64, name: &str| {
        let mut buf = Vec::new();
        value::to_msgpack(v, registry, &mut buf)
            .map(|()| SavedValue {
                name: name.to_string(),
                value: ByteBuf::from(buf),
            })
            .map_err(|e| format!("cannot save `{name}` of entity {id}: {e}"))
    };
    let mut out = Vec::with_capacity(rows.len());
    for (id, e) in rows {
        let mut components = Vec::new();
        for c in &exposed.components {
            if let Some(v) = (c.ops.get)(world, e) {
                components.push(encode(v, id, &c.name)?);
            }
        }
        for t in &types.components {
            if let Some(v) = (t.get)(world, e) {
                components.push(encode(v, id, t.name)?);
            }
        }
        let data = world.get::<ModData>(e).map_or_else(Vec::new, |d| {
            d.values
                .iter()
                .map(|(name, bytes)| SavedValue {
                    name: name.clone(),
                    value: ByteBuf::from(bytes.clone()),
                })
                .collect()
        });
        out.push(SavedEntity {
            id,
            owner: world.get::<SpawnedByMod>(e).map(|s| s.0.to_string()),
            spawn_tick: world.get::<SpawnTick>(e).map(|t| t.0),
            components,
            data,
        });
    }
    Ok(out)
}

fn saved_resources(world: &World, registry: &TypeRegistry) -> Result<Vec<SavedValue>, String> {
    let types = world.resource::<SavedTypes>();
    let mut out = Vec::new();
    for t in &types.resources {
        if let Some(v) = (t.get)(world) {
            let mut buf = Vec::new();
            value::to_msgpack(v, registry, &mut buf)
                .map_err(|e| format!("cannot save resource `{}`: {e}", t.name))?;
            out.push(SavedValue {
                name: t.name.to_string(),
                value: ByteBuf::from(buf),
            });
        }
    }
    Ok(out)
}

/// The longest mod id or value name a saved game may hold, in bytes.
const MAX_ID: usize = 256;

/// Events on their way that a saved game may hold per list.
const MAX_EVENTS: usize = 1 << 16;

/// Names this game does not save that a load report lists one by one.
const MAX_LEFT_OUT: usize = 16;

/// A saved entity, decoded: ready to spawn.
struct Planned {
    id: u64,
    owner: Option<Arc<str>>,
    spawn_tick: u64,
    /// Exposed types (index), with their encoded size.
    game: Vec<(usize, Box<dyn Reflect>, u32)>,
    /// The game's saved types (index).
    saved: Vec<(usize, Box<dyn Reflect>)>,
    data: Vec<(String, Vec<u8>)>,
}

/// Everything of `file` decoded, or why it cannot be: nothing is changed
/// until all of it decodes. Names this game does not know (a type a newer
/// or older game had) are left out and said.
fn decode(
    world: &World,
    registry: &TypeRegistry,
    file: &SavedGame,
    problems: &mut Vec<String>,
) -> Result<(Vec<Planned>, Vec<(usize, Box<dyn Reflect>)>), String> {
    let exposed = world.resource::<Exposed>();
    let types = world.resource::<SavedTypes>();
    let depth = world.resource::<ModSettings>().limits.value_depth;
    let decode_as = |type_path: &str,
                     from: fn(&dyn PartialReflect) -> Option<Box<dyn Reflect>>,
                     bytes: &[u8]|
     -> Result<Box<dyn Reflect>, String> {
        let registration = registry
            .get_with_type_path(type_path)
            .ok_or_else(|| format!("`{type_path}` is not registered for reflection"))?;
        let dynamic = value::from_msgpack(bytes, registration, registry, depth)?;
        from(&*dynamic).ok_or_else(|| {
            value::missing_field(&*dynamic, registration, registry)
                .unwrap_or_else(|| "the value does not fit the type".into())
        })
    };
    let mut left_out = std::collections::BTreeSet::new();
    let mut seen = std::collections::HashSet::new();
    let mut planned = Vec::with_capacity(file.entities.len());
    for saved in &file.entities {
        let id = saved.id;
        if id == 0 || id >= file.next_id || !seen.insert(id) {
            return Err(format!(
                "entity id {id} is 0, not below the next id {}, or given twice",
                file.next_id
            ));
        }
        let owner = match &saved.owner {
            Some(owner) if !owner.is_empty() && owner.len() <= MAX_ID => {
                Some(Arc::from(owner.as_str()))
            }
            Some(owner) => {
                return Err(format!(
                    "entity {id}: `{}` is not a mod id",
                    crate::text::escape(owner)
                ));
            }
            None => None,
        };
        let mut entity = Planned {
            id,
            owner,
            spawn_tick: saved.spawn_tick.unwrap_or(0),
            game: Vec::new(),
            saved: Vec::new(),
            data: Vec::new(),
        };
        for c in &saved.components {
            let at = |e: String| {
                format!(
                    "entity {id}: component `{}`: {e}",
                    crate::text::escape(&c.name)
                )
            };
            if let Some(i) = exposed.by_name.get(&c.name).copied() {
                let ops = &exposed.components[i];
                let v = decode_as(ops.type_path, ops.ops.from_reflect, &c.value).map_err(at)?;
                let size = u32::try_from(c.value.len()).unwrap_or(u32::MAX);
                entity.game.push((i, v, size));
            } else if let Some(i) = types.components.iter().position(|t| t.name == c.name) {
                let t = &types.components[i];
                entity
                    .saved
                    .push((i, decode_as(t.name, t.from_reflect, &c.value).map_err(at)?));
            } else {
                left_out.insert(c.name.clone());
            }
        }
        for d in &saved.data {
            if d.name.is_empty() || d.name.len() > MAX_ID {
                return Err(format!(
                    "entity {id}: a value named `{}` (names are 1 to {MAX_ID} bytes)",
                    crate::text::escape(&d.name[..d.name.floor_char_boundary(MAX_ID)])
                ));
            }
            mod_rules::value::check(&d.value, depth).map_err(|e| {
                format!("entity {id}: value `{}`: {e}", crate::text::escape(&d.name))
            })?;
            entity.data.push((d.name.clone(), d.value.to_vec()));
        }
        planned.push(entity);
    }
    // Events on their way to mods reach mods: each as a mod's would be.
    let lists = [
        ("the game's messages", &file.pending_messages),
        ("the mods' events", &file.pending_events),
    ];
    let inboxes = file.mods.iter().map(|m| ("a mod's inbox", &m.inbox));
    for (what, events) in lists.into_iter().chain(inboxes) {
        if events.len() > MAX_EVENTS {
            return Err(format!(
                "{what} holds {} events, over the {MAX_EVENTS} a saved game may",
                events.len()
            ));
        }
        for e in events {
            let named = !e.name.is_empty() && e.name.len() <= MAX_ID;
            let sourced = e.source.as_ref().is_none_or(|s| s.len() <= MAX_ID);
            if !named || !sourced {
                return Err(format!(
                    "{what}: an event with a name or sender too long or empty"
                ));
            }
            mod_rules::value::check(&e.payload, depth).map_err(|err| {
                format!("{what}: event `{}`: {err}", crate::text::escape(&e.name))
            })?;
        }
    }
    // Ids reserved for mods' spawns are ids too: each given once.
    for m in &file.mods {
        for &id in &m.reserved {
            if id == 0 || id >= file.next_id || !seen.insert(id) {
                return Err(format!(
                    "mod `{}`: reserved id {id} is 0, not below the next id {}, or given twice",
                    crate::text::escape(&m.id),
                    file.next_id
                ));
            }
        }
    }
    let mut resources = Vec::new();
    for r in &file.resources {
        match types.resources.iter().position(|t| t.name == r.name) {
            Some(i) => {
                let t = &types.resources[i];
                let v = decode_as(t.name, t.from_reflect, &r.value)
                    .map_err(|e| format!("resource `{}`: {e}", crate::text::escape(&r.name)))?;
                resources.push((i, v));
            }
            None => {
                left_out.insert(r.name.clone());
            }
        }
    }
    // Said once per name, and a few names at most.
    let many = left_out.len();
    for name in left_out.iter().take(MAX_LEFT_OUT) {
        let mut name = name.clone();
        name.truncate(name.floor_char_boundary(MAX_ID));
        problems.push(format!(
            "`{}` is not a type this game saves: left out",
            crate::text::escape(&name)
        ));
    }
    if many > MAX_LEFT_OUT {
        problems.push(format!(
            "and {} more names this game does not save: left out",
            many - MAX_LEFT_OUT
        ));
    }
    Ok((planned, resources))
}

fn load(
    world: &mut World,
    mods: &mut ModRegistry,
    host: &mut ModHost,
    path: &Path,
) -> Result<SaveReport, String> {
    let file = SavedGame::read(path)?;
    let mut report = SaveReport {
        frame: file.frame,
        entities: file.entities.len(),
        ..Default::default()
    };
    let registry = world.resource::<AppTypeRegistry>().clone();
    let registry = registry.read();
    let (planned, resources) = decode(world, &registry, &file, &mut report.problems)
        .map_err(|e| format!("saved game {}: {e}", path.display()))?;

    // The world mods could see goes, with the ids reserved for spawns, and
    // the game's messages of the frame the save replaces.
    for entry in &mut mods.entries {
        let reserved: Vec<(Entity, u64)> = entry.slot.reserved.drain(..).collect();
        crate::ids::free_reserved(world, reserved);
    }
    let old: Vec<Entity> = world
        .query_filtered::<Entity, With<ModId>>()
        .iter(world)
        .collect();
    for e in old {
        // Children go with their parents: some may be gone already.
        if let Ok(e) = world.get_entity_mut(e) {
            e.despawn();
        }
    }
    drop(game_messages(world, &registry));
    world.resource_mut::<ModIds>().restart_at(file.next_id);

    spawn_saved(world, mods, planned);
    let setters: Vec<_> = world
        .resource::<SavedTypes>()
        .resources
        .iter()
        .map(|t| t.set)
        .collect();
    for (i, v) in resources {
        setters[i](world, v);
    }

    // Every running mod gets a fresh instance, given its saved state.
    let mut asked = Vec::with_capacity(mods.entries.len());
    for entry in &mut mods.entries {
        let id = entry.life.info().id.clone();
        let saved = file.mods.iter().find(|m| m.id == id);
        restore_place(world, entry, saved);
        if let Some(saved) = saved
            && saved.version != entry.life.info().version
        {
            report.problems.push(format!(
                "mod `{id}` was saved by its version {} and runs {}: its `restore` is given \
                 the older version's state",
                crate::text::escape(&saved.version),
                entry.life.info().version
            ));
        }
        let running = entry.life.state() == State::Idle;
        let sent = running
            && entry.slot.worker.as_mut().is_some_and(|w| {
                w.send(Request::Load {
                    state: saved.and_then(|m| m.state.clone()),
                    game_time_nanos: file.game_time_nanos,
                    frame: saved.map_or(0, |m| m.ticks),
                })
            });
        if !sent {
            report.problems.push(format!(
                "mod `{id}` is not running ({:?}): it was not given its saved state",
                entry.life.info().status
            ));
        }
        asked.push(sent);
    }
    // Two one-time hooks each: `init` and `restore` (and `init` again
    // when `restore` fails).
    let calls = asked.iter().filter(|a| **a).count() * 3;
    let until = Instant::now() + hook_wait(world, host, calls);
    for (entry, asked) in mods.entries.iter_mut().zip(asked) {
        if !asked {
            continue;
        }
        let id = entry.life.info().id.clone();
        let had_state = file
            .mods
            .iter()
            .any(|m| m.id == id && m.state.as_ref().is_some_and(|s| !s.is_empty()));
        let reply = entry
            .slot
            .worker
            .as_ref()
            .and_then(|w| w.recv_timeout(until.saturating_duration_since(Instant::now())));
        match reply {
            Some(Reply::Loaded {
                restore_failed: Some(fault),
                ..
            }) => report.problems.push(format!(
                "mod `{id}` could not restore its saved state and started afresh: {}",
                fault.message
            )),
            Some(Reply::Loaded { .. }) if had_state => report.mods.push(id),
            Some(Reply::Loaded { .. }) => {}
            other => {
                let fault = match other {
                    Some(Reply::Failed(fault)) => fault,
                    _ => Fault {
                        kind: FaultKind::Unresponsive,
                        hook: Hook::Restore,
                        message: "no reply to a load in time".into(),
                    },
                };
                report.problems.push(format!(
                    "mod `{id}` could not start for the loaded game: {}",
                    fault.message
                ));
                super::faults::on_fault(world, host.frame, entry, fault);
            }
        }
    }
    for saved in &file.mods {
        if !mods.entries.iter().any(|e| e.life.info().id == saved.id) {
            report.problems.push(format!(
                "mod `{}` was in the saved game and is not here: its entities are kept, \
                 its state is not",
                crate::text::escape(&saved.id)
            ));
        }
    }

    // The mods' clocks and frames go on from the save's, and the events
    // on their way then arrive next frame.
    host.time_shift = host
        .time_shift
        .saturating_add(file.game_time_nanos as i64)
        .saturating_sub(host.game_time_nanos as i64);
    host.game_time_nanos = file.game_time_nanos;
    host.frame_shift = 0;
    host.frame_shift = file.frame as i64 - frames_since_start(world, host) as i64;
    host.game_messages = file.pending_messages.iter().map(wire_event).collect();
    host.outbox.events = file.pending_events.iter().map(wire_event).collect();
    host.outbox.rejections.clear();
    Ok(report)
}

/// Spawns the saved entities with their ids, owners and values, charging
/// each mod for the values on its own entities.
fn spawn_saved(world: &mut World, mods: &ModRegistry, planned: Vec<Planned>) {
    let inserts: Vec<_> = world
        .resource::<Exposed>()
        .components
        .iter()
        .map(|c| c.ops.insert)
        .collect();
    let setters: Vec<_> = world
        .resource::<SavedTypes>()
        .components
        .iter()
        .map(|t| t.set)
        .collect();
    let defines = |owner: &str, name: &str| {
        mods.entries
            .iter()
            .find(|e| &*e.slot.owner == owner)
            .and_then(|e| e.slot.manifest.as_ref())
            .and_then(|m| m.defines.iter().position(|d| d == name))
    };
    for p in planned {
        let e = world.spawn(ModId::given(p.id)).id();
        if let Some(owner) = &p.owner {
            world
                .entity_mut(e)
                .insert((SpawnedByMod(owner.clone()), SpawnTick(p.spawn_tick)));
        }
        for (i, v, size) in p.game {
            inserts[i](world, e, v);
            if let Some(owner) = &p.owner {
                charge(world, owner, e, i as SlotKey, size);
            }
        }
        for (i, v) in p.saved {
            setters[i](world, e, v);
        }
        for (name, bytes) in p.data {
            let size = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
            let key = p.owner.as_ref().and_then(|o| defines(o, &name));
            ModData::put(&mut world.entity_mut(e), name, bytes);
            if let (Some(owner), Some(i)) = (&p.owner, key) {
                charge(world, owner, e, data_key(i), size);
            }
        }
    }
}

/// Puts a mod back where the save had it: its tick count, the ids
/// reserved for its spawns and the events waiting for it. A mod the save
/// did not have starts from nothing.
fn restore_place(world: &mut World, entry: &mut ModEntry, saved: Option<&SavedMod>) {
    entry.life.set_ticks(saved.map_or(0, |m| m.ticks));
    entry.slot.inbox = saved
        .map(|m| m.inbox.iter().map(wire_event).collect())
        .unwrap_or_default();
    let Some(saved) = saved else {
        return;
    };
    if saved.enabled != entry.life.info().enabled {
        entry.life.set_enabled(saved.enabled);
    }
    let limits = &world.resource::<ModSettings>().limits;
    let most = limits.spawns_per_tick.min(limits.entities_per_mod);
    entry.slot.reserve_target = usize::try_from(saved.reserve_target)
        .unwrap_or(usize::MAX)
        .min(most);
    for id in saved.reserved.iter().take(most) {
        let e = world.entity_allocator().alloc();
        world.resource_mut::<ModIds>().reserve_as(*id, e);
        entry.slot.reserved.push_back((e, *id));
    }
}
