//! Sending each running mod its tick: events, query results and the entity
//! ids it may spawn with. Workers then run while the game's systems do.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy::reflect::TypeRegistry;

use super::lifecycle::Lifecycle;
use super::{ModEntry, ModHost, ModRegistry, ModSlot, snapshot, with_mods};
use crate::expose::Exposed;
use crate::ownership::ModOwnership;
use crate::protocol::{EntityList, QueryResult, Request, TickRequest, WireEvent};
use crate::settings::ModSettings;

pub(crate) fn dispatch_ticks(world: &mut World) {
    timed!(
        "main: dispatch the ticks, whole",
        with_mods(world, dispatch)
    );
}

/// Most tick requests held back to be sent together.
const SEND_EVERY: usize = 16;

/// What one frame's ticks are bounded by.
struct Caps {
    /// Most entities a mod may own.
    entities: usize,
    /// Most bytes of one message to a worker.
    message: usize,
    /// Most events, and bytes of them, kept for a mod's next tick.
    inbox_events: usize,
    inbox_bytes: usize,
}

fn dispatch(world: &mut World, mods: &mut ModRegistry, host: &mut ModHost) {
    let registry = world.resource::<AppTypeRegistry>().clone();
    let registry = registry.read();
    let events = collect_events(world, &registry, host);
    // Game time counts from the frame the mods found at start-up began
    // on, whatever their loading took.
    let began = world
        .get_resource::<crate::ModsStarted>()
        .map_or(Duration::ZERO, |s| s.at);
    let (delta, elapsed) = world.get_resource::<Time>().map_or((0.0, 0), |t| {
        let since = t.elapsed().saturating_sub(began);
        (t.delta_secs(), since.as_nanos() as u64)
    });
    // A loaded game's mods go on from the game time it was saved at.
    let elapsed = elapsed.saturating_add_signed(host.time_shift);
    host.game_time_nanos = elapsed;
    let limits = &world.resource::<ModSettings>().limits;
    let caps = Caps {
        entities: limits.entities_per_mod,
        message: limits.bytes_per_tick,
        inbox_events: limits.events_per_tick * 4,
        inbox_bytes: limits.bytes_per_tick / 4,
    };
    // Reserving ids for spawns gives them the ids mods will know them by.
    let mut ids = world.remove_resource::<crate::ModIds>().unwrap_or_default();
    let frozen: &World = world;
    let mut to_free = Vec::new();
    // Requests go to the workers a few at a time: each send can wake a
    // worker (a system call), and a worker that finds several waiting
    // runs them all before it sleeps again. A mod's snapshot, which takes
    // time, is never made while requests wait.
    let mut held: Vec<(usize, TickRequest)> = Vec::with_capacity(SEND_EVERY);
    let mut any_sent = false;
    let send_held = |held: &mut Vec<(usize, TickRequest)>, mods: &mut ModRegistry| {
        for (i, request) in held.drain(..) {
            let ModEntry { life, slot } = &mut mods.entries[i];
            send(host, life, slot, request, caps.message);
        }
    };
    for i in 0..mods.entries.len() {
        let ModEntry { life, slot } = &mut mods.entries[i];
        // A mod being reloaded keeps its events for its next tick.
        if !life.is_running() {
            continue;
        }
        if slot.manifest.is_none() || slot.worker.is_none() {
            continue;
        }
        deliver(life, slot, &events, &caps);
        if !life.can_tick() {
            continue;
        }
        let mod_events = std::mem::take(&mut slot.inbox);
        // A mod without queries costs no snapshot, nor a clock reading.
        let clock = if slot.queries.is_empty() {
            None
        } else {
            send_held(&mut held, mods);
            Some(crate::cpu_clock::ThreadClock::now())
        };
        let ModEntry { life, slot } = &mut mods.entries[i];
        let queries = snapshot_within(frozen, &registry, life, slot, &mod_events, caps.message);
        life.cost_mut().main_thread = clock.as_ref().map_or(Duration::ZERO, |c| c.elapsed());
        let room = reserve_ids(frozen, &mut ids, slot, caps.entities, &mut to_free);
        held.push((
            i,
            TickRequest {
                frame: life.info().ticks,
                delta_seconds: delta,
                events: mod_events,
                queries,
                reserved: EntityList(slot.reserved.iter().map(|(_, id)| *id).collect()),
                at_entity_cap: slot.reserved.len() >= room,
                game_time_nanos: elapsed,
            },
        ));
        // The frame's first request goes at once: the worker it wakes
        // takes a while to start, the time the next few take to build.
        if held.len() >= SEND_EVERY || clock.is_some() || !any_sent {
            send_held(&mut held, mods);
            any_sent = true;
        }
    }
    send_held(&mut held, mods);
    drop(registry);
    world.insert_resource(ids);
    crate::ids::free_reserved(world, to_free);
}

/// This frame's events for mods: the game's messages first, then what mods
/// emitted last frame.
fn collect_events(
    world: &mut World,
    registry: &TypeRegistry,
    host: &mut ModHost,
) -> Vec<WireEvent> {
    // Those a saved game carried (or a save took) first: they were sent
    // before any since.
    let mut events = std::mem::take(&mut host.game_messages);
    events.append(&mut game_messages(world, registry));
    let game = events.len();
    host.tape.game_messages(&mut events, game);
    host.tape.game_input(world);
    events.append(&mut host.outbox.events);
    events
}

/// The game's messages for mods sent since they were last taken.
pub(crate) fn game_messages(world: &mut World, registry: &TypeRegistry) -> Vec<WireEvent> {
    let collectors: Vec<_> = world
        .resource::<Exposed>()
        .messages
        .iter()
        .map(|m| m.collect)
        .collect();
    let mut events = Vec::new();
    for collect in collectors {
        collect(world, registry, &mut events);
    }
    events
}

/// Puts the events the mod subscribed to (not its own) in its inbox, and
/// trims the inbox to its caps, the biggest senders' oldest first.
fn deliver(life: &mut Lifecycle, slot: &mut ModSlot, events: &[WireEvent], caps: &Caps) {
    let Some(manifest) = &slot.manifest else {
        return;
    };
    slot.inbox.extend(
        events
            .iter()
            .filter(|e| hears(&manifest.subscribes, &e.name))
            .filter(|e| e.source.as_deref() != Some(&*slot.owner))
            .cloned(),
    );
    let dropped = trim_inbox(&mut slot.inbox, caps.inbox_events, caps.inbox_bytes);
    if dropped.is_empty() {
        return;
    }
    let total: usize = dropped.iter().map(|(_, n)| n).sum();
    life.cost_mut().events_dropped += total as u64;
    let by: Vec<String> = dropped
        .iter()
        .map(|(sender, n)| match sender {
            Some(id) => format!("{n} from mod `{}`", crate::text::escape(id)),
            None => format!("{n} from the game"),
        })
        .collect();
    tracing::warn!(
        mod_id = &*slot.owner,
        "inbox full: dropped the oldest events of its biggest senders ({})",
        by.join(", ")
    );
}

/// Whether a mod subscribed to `subscribes` (full names) hears event
/// `name`: by its name, or, for a mod built before names had namespaces,
/// by its short name from any mod (`*:greeting`).
fn hears(subscribes: &[String], name: &str) -> bool {
    use mod_rules::names::{ANY_MOD, split};
    subscribes.iter().any(|s| {
        s == name
            || split(s)
                .zip(split(name))
                .is_some_and(|((any, short), (_, its))| any == ANY_MOD && short == its)
    })
}

/// The mod's query results, within the message limit: over it, the rows of
/// the other mods that keep the most values go first, so the cap falls on
/// them and the mod still ticks, told in its cost and the log.
fn snapshot_within(
    world: &World,
    registry: &TypeRegistry,
    life: &mut Lifecycle,
    slot: &mut ModSlot,
    events: &[WireEvent],
    max_bytes: usize,
) -> Vec<QueryResult> {
    let exposed = world.resource::<Exposed>();
    let ownership = world.resource::<ModOwnership>();
    let mut left_out: Vec<Arc<str>> = Vec::new();
    let take = |slot: &mut ModSlot, left_out: &[Arc<str>]| {
        snapshot::take_all(
            world,
            exposed,
            registry,
            &mut slot.queries,
            &slot.owner,
            left_out,
        )
    };
    let mut queries = take(slot, &left_out);
    let fixed = events.iter().map(WireEvent::bytes).sum::<usize>() + 4096;
    let mut size = fixed + queries.iter().map(QueryResult::bytes).sum::<usize>();
    if size <= max_bytes {
        return queries;
    }
    let mut biggest: Vec<(u64, Arc<str>)> = ownership
        .bytes
        .iter()
        .filter(|(id, _)| ***id != *slot.owner)
        .map(|(id, bytes)| (*bytes, id.clone()))
        .collect();
    biggest.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let mut estimate = size as u64;
    for (bytes, id) in biggest {
        if size <= max_bytes {
            break;
        }
        left_out.push(id);
        estimate = estimate.saturating_sub(bytes);
        if estimate > max_bytes as u64 {
            continue;
        }
        queries = take(slot, &left_out);
        size = fixed + queries.iter().map(QueryResult::bytes).sum::<usize>();
        estimate = size as u64;
    }
    if !left_out.is_empty() && size <= max_bytes {
        life.cost_mut().inputs_cut += 1;
        let names: Vec<String> = left_out
            .iter()
            .map(|id| format!("`{}`", crate::text::escape(id)))
            .collect();
        tracing::warn!(
            mod_id = &*slot.owner,
            "query results over the {max_bytes}-byte message limit: \
             the rows of mods {} were left out",
            names.join(", ")
        );
    }
    queries
}

/// Tops up the ids reserved for the mod's spawns, never more than it may
/// still own entities (extra ones go to `to_free`); returns that room.
fn reserve_ids(
    world: &World,
    ids: &mut crate::ModIds,
    slot: &mut ModSlot,
    entity_cap: usize,
    to_free: &mut Vec<(Entity, u64)>,
) -> usize {
    let owned = world.resource::<ModOwnership>().entities_of(&slot.owner);
    let room = entity_cap.saturating_sub(owned);
    while slot.reserved.len() < slot.reserve_target.min(room) {
        let entity = world.entity_allocator().alloc();
        slot.reserved.push_back((entity, ids.issue(entity)));
    }
    if slot.reserved.len() > room {
        to_free.extend(slot.reserved.drain(room..));
    }
    room
}

/// Sends the tick to the mod's worker, or skips it (never silently) when
/// even without other mods' rows it is over the message limit.
fn send(
    host: &ModHost,
    life: &mut Lifecycle,
    slot: &mut ModSlot,
    request: TickRequest,
    max_bytes: usize,
) {
    let bytes = request.bytes();
    if bytes > max_bytes {
        let cost = life.cost_mut();
        cost.skipped_ticks += 1;
        cost.events_dropped += request.events.len() as u64;
        tracing::warn!(
            mod_id = &*slot.owner,
            skipped = cost.skipped_ticks,
            "tick of {bytes} bytes is over the {max_bytes}-byte message limit; skipped",
        );
        return;
    }
    let frame = request.frame;
    let Some(worker) = &mut slot.worker else {
        return;
    };
    if worker.send(Request::Tick(request)) {
        slot.sent_frame = frame;
        slot.seen_frame = host.frame;
        life.cost_mut().bytes_in = bytes as u64;
        life.send_tick(Instant::now());
    }
}

/// Drops events from `inbox` until it holds at most `max_events` events of
/// at most `max_bytes` in all. Each event dropped is the oldest of the
/// sender that has the most in the inbox (the game's messages count as one
/// sender), so a flood costs the flooder, not the others. Returns how many
/// of each sender's events were dropped.
pub(crate) fn trim_inbox(
    inbox: &mut Vec<WireEvent>,
    max_events: usize,
    max_bytes: usize,
) -> Vec<(Option<String>, usize)> {
    let size = |e: &WireEvent| e.name.len() + e.payload.len() + 16;
    let mut bytes: usize = inbox.iter().map(size).sum();
    if inbox.len() <= max_events && bytes <= max_bytes {
        return Vec::new();
    }
    // Each sender's events, oldest first, and what they hold.
    let mut senders: Vec<(Option<&str>, VecDeque<usize>, usize)> = Vec::new();
    for (i, e) in inbox.iter().enumerate() {
        let source = e.source.as_deref();
        let at = match senders.iter().position(|(s, _, _)| *s == source) {
            Some(at) => at,
            None => {
                senders.push((source, VecDeque::new(), 0));
                senders.len() - 1
            }
        };
        senders[at].1.push_back(i);
        senders[at].2 += size(e);
    }
    let mut keep = vec![true; inbox.len()];
    let mut count = inbox.len();
    let mut dropped = vec![0usize; senders.len()];
    while count > max_events || bytes > max_bytes {
        let by_bytes = bytes > max_bytes;
        let Some(worst) = (0..senders.len()).max_by_key(|&s| {
            if by_bytes {
                senders[s].2
            } else {
                senders[s].1.len()
            }
        }) else {
            break;
        };
        let Some(i) = senders[worst].1.pop_front() else {
            break;
        };
        keep[i] = false;
        let freed = size(&inbox[i]);
        senders[worst].2 -= freed;
        bytes -= freed;
        count -= 1;
        dropped[worst] += 1;
    }
    let report = senders
        .iter()
        .zip(&dropped)
        .filter(|(_, n)| **n > 0)
        .map(|((source, _, _), n)| (source.map(str::to_string), *n))
        .collect();
    let mut keep = keep.into_iter();
    inbox.retain(|_| keep.next().unwrap_or(true));
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(source: Option<&str>, payload: usize) -> WireEvent {
        WireEvent {
            name: "e".into(),
            source: source.map(str::to_string),
            payload: vec![0; payload].into(),
        }
    }

    #[test]
    fn a_flooding_sender_loses_its_own_events_first() {
        let mut inbox = vec![event(None, 1), event(Some("calm"), 1)];
        inbox.extend((0..100).map(|_| event(Some("flood"), 1)));
        inbox.push(event(Some("calm"), 1));
        let dropped = trim_inbox(&mut inbox, 10, usize::MAX);
        assert_eq!(dropped, [(Some("flood".to_string()), 93)]);
        assert_eq!(inbox.len(), 10);
        let calm = inbox.iter().filter(|e| e.source.as_deref() == Some("calm"));
        assert_eq!(calm.count(), 2);
        assert!(
            inbox.iter().any(|e| e.source.is_none()),
            "the game's message stays"
        );
    }

    #[test]
    fn bytes_are_shared_fairly_too() {
        let mut inbox = vec![event(Some("big"), 10_000), event(Some("small"), 10)];
        inbox.push(event(Some("big"), 10_000));
        let dropped = trim_inbox(&mut inbox, 100, 12_000);
        assert_eq!(dropped, [(Some("big".to_string()), 1)]);
        assert_eq!(inbox.len(), 2);
        assert_eq!(
            inbox[0].source.as_deref(),
            Some("small"),
            "the oldest big one went"
        );
    }
}
