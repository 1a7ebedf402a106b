//! Collecting each mod's reply and applying its commands, in load order and
//! then issue order, so two runs with the same inputs end in the same world.

use std::time::{Duration, Instant};

use bevy::prelude::*;

use super::lifecycle::State;
use super::replies::{on_no_reply, on_reply};
use super::{ModHost, ModRegistry, with_mods};
use crate::settings::{FrameMode, ModSettings};
use crate::worker::deadline::WALL_CEILING;

/// Time allowed beyond a call's hard limit for the worker to answer: the
/// epoch ticker's granularity, the trap unwinding, and a busy machine.
const REPLY_MARGIN: Duration = Duration::from_millis(50);

pub(crate) fn apply_commands(world: &mut World) {
    with_mods(world, |world, mods, host| {
        timed!(
            "main: collect and apply the replies, whole",
            collect_replies(world, mods, host, false)
        );
        host.tape.end_frame(world, mods);
    });
}

/// Waits for every tick and every swap in flight, each up to its limit,
/// and handles its reply: afterwards every running mod is between two
/// ticks on its current code (for a saved or loaded game).
pub(crate) fn settle(world: &mut World, mods: &mut ModRegistry, host: &mut ModHost) {
    collect_replies(world, mods, host, true);
    let limits = &world.resource::<ModSettings>().limits;
    // A swap runs `save`, `init` and `restore`.
    let per_swap = limits.hook_call_limit * 3 * WALL_CEILING + REPLY_MARGIN;
    for entry in &mut mods.entries {
        if entry.life.state() != State::Swapping {
            continue;
        }
        let reply = entry
            .slot
            .worker
            .as_ref()
            .and_then(|w| w.recv_timeout(per_swap));
        if let Some(reply) = reply {
            on_reply(world, host, entry, reply);
        }
    }
}

/// How long a reply to one of the one-time hooks (`save`, `init`,
/// `restore`) may take, `calls` of them deep in each worker's queue.
pub(crate) fn hook_wait(world: &World, host: &ModHost, calls: usize) -> Duration {
    let limits = &world.resource::<ModSettings>().limits;
    let threads = host.pool.as_ref().map_or(1, |p| p.len()).max(1);
    (limits.hook_call_limit * WALL_CEILING + REPLY_MARGIN) * calls.div_ceil(threads).max(1) as u32
}

/// Writes a recording's last frames to its file when the game exits.
pub(crate) fn flush_tape_on_exit(mut exits: MessageReader<AppExit>, host: Option<ResMut<ModHost>>) {
    if exits.read().count() > 0
        && let Some(mut host) = host
    {
        host.tape.flush();
    }
}

/// Waits for each tick in flight, in load order, and handles its reply:
/// in lockstep (or with `wait_all`) until it comes (or the mod's hard
/// limit passes); in real time at most the frame's budget, leaving late
/// mods in flight.
fn collect_replies(world: &mut World, mods: &mut ModRegistry, host: &mut ModHost, wait_all: bool) {
    let settings = world.resource::<ModSettings>();
    let limits = settings.limits.clone();
    let frame_ends = match settings.frame_mode {
        FrameMode::RealTime { budget } if !wait_all => Some(Instant::now() + budget),
        _ => None,
    };
    // One deadline bounds a whole tick (on-event and on-tick), and a worker
    // thread runs its mods, and any restart, one after another. A call is
    // stopped at its limit of CPU time, or at a ceiling of wall time when
    // the machine is too busy to give it that.
    let per_tick = limits.hard_call_limit * WALL_CEILING + REPLY_MARGIN;
    // A restart makes an instance and runs `init` and `restore`, each
    // under the one-time hooks' limit.
    let per_restart = limits.hook_call_limit * 2 * WALL_CEILING + REPLY_MARGIN;
    // Requests wait in one queue for the next free worker: a reply may
    // wait for as many calls as each worker has ahead of it.
    let ticking = mods
        .entries
        .iter()
        .filter(|e| e.life.in_flight_since().is_some())
        .count();
    let restarting = mods
        .entries
        .iter()
        .filter(|e| e.life.state() == State::Restarting)
        .count();
    let threads = host.pool.as_ref().map_or(1, |p| p.len()).max(1);
    let allowed = per_tick * ticking.div_ceil(threads).max(1) as u32
        + per_restart * restarting.div_ceil(threads) as u32;
    for entry in &mut mods.entries {
        let Some(sent) = entry.life.in_flight_since() else {
            continue;
        };
        let Some(worker) = entry.slot.worker.as_ref() else {
            on_no_reply(world, host, entry);
            continue;
        };
        let hard = sent + allowed;
        let until = frame_ends.map_or(hard, |ends| ends.min(hard));
        let reply = timed!(
            "main: wait for a reply",
            worker.recv_timeout(until.saturating_duration_since(Instant::now()))
        );
        match reply {
            Some(reply) => on_reply(world, host, entry, reply),
            None if Instant::now() >= hard => on_no_reply(world, host, entry),
            // Late: it stays in flight and is collected in a later frame.
            None => {}
        }
    }
    for rejection in std::mem::take(&mut host.outbox.rejections) {
        charge_rejection(mods, rejection);
    }
}

/// Records a mod's report that it could not decode an input against the
/// mod that made it (the reporter goes on), and logs it under that mod.
fn charge_rejection(mods: &mut ModRegistry, r: super::stage::Rejection) {
    let text = format!("mod `{}` could not decode {}: {}", r.by, r.about, r.reason);
    let culprit = r
        .culprit
        .as_deref()
        .and_then(|id| mods.entries.iter_mut().find(|e| &*e.slot.owner == id));
    match culprit {
        Some(entry) => {
            tracing::warn!(
                mod_id = &*entry.slot.owner,
                "input it sent was rejected: {text}"
            );
            let cost = entry.life.cost_mut();
            cost.rejected_by_others += 1;
            cost.last_rejection = Some(text);
        }
        None => tracing::warn!(mod_id = &*r.by, "{text}"),
    }
}
