//! One tick's commands, staged and applied whole or not at all, and the
//! ids reserved for the mod's next tick.

use std::time::Duration;

use bevy::prelude::*;

use super::ModSlot;
use super::stage::{Budget, Outbox, Stager};
use crate::expose::Exposed;
use crate::fault::{Fault, FaultKind, Hook};
use crate::ownership::{ModOwnership, charge};
use crate::protocol::Command;

fn fault(kind: FaultKind, message: String) -> Fault {
    Fault {
        kind,
        hook: Hook::Tick,
        message,
    }
}

/// Stages a mod's commands and, when all pass, applies them; the events
/// it emitted go to `out` for other mods' next ticks. Returns the
/// main-thread CPU time it took. `now` is the host's frame (see
/// [`ModHost::frame`]), which the values it writes are stamped with.
pub(crate) fn apply_tick(
    world: &mut World,
    slot: &mut ModSlot,
    commands: Vec<Command>,
    limits: &crate::settings::ModLimits,
    out: &mut Outbox,
    now: u64,
) -> (Duration, Result<(), Fault>) {
    // Most ticks of most mods issue nothing: they are not worth a reading
    // of the CPU clock (a system call).
    if commands.is_empty() {
        retarget_reserve(world, slot, 0, Duration::ZERO, limits);
        return (Duration::ZERO, Ok(()));
    }
    let budget = Budget::start(limits.main_thread_per_tick);
    let result = stage_and_apply(world, slot, commands, limits, (out, now), &budget);
    let spent = budget.spent();
    let result = result.and_then(|()| {
        // Applying cannot stop half way; a tick that overran there was
        // applied, and the mod faults all the same.
        if spent > limits.main_thread_per_tick {
            return Err(fault(
                FaultKind::OverBudget,
                format!(
                    "its commands took {spent:?} of the main thread to check and apply \
                     (they were applied), over the {:?} limit",
                    limits.main_thread_per_tick
                ),
            ));
        }
        Ok(())
    });
    (spent, result)
}

fn stage_and_apply(
    world: &mut World,
    slot: &mut ModSlot,
    mut commands: Vec<Command>,
    limits: &crate::settings::ModLimits,
    (out, now): (&mut Outbox, u64),
    budget: &Budget,
) -> Result<(), Fault> {
    let registry = world.resource::<AppTypeRegistry>().clone();
    let registry = registry.read();
    let Some(manifest) = slot.manifest.as_ref() else {
        return Err(fault(FaultKind::Unresponsive, "no manifest".into()));
    };
    let query_rows: Vec<(&[Entity], bool)> = slot
        .queries
        .iter()
        .map(|q| (q.last.as_slice(), q.last_owned))
        .collect();
    let state_bytes = (
        world.resource::<ModOwnership>().bytes_of(&slot.owner),
        limits.state_bytes_per_mod,
    );
    let staged = timed!(
        "main: stage the commands",
        world.resource_scope(|world, exposed: Mut<Exposed>| {
            Stager {
                world,
                exposed: &exposed,
                registry: &registry,
                manifest,
                reserved: &slot.reserved,
                depth: limits.value_depth,
                owner: &slot.owner,
                modify_any_entity: slot.grants.modify_any_entity,
                query_rows: &query_rows,
                budget,
                state_bytes,
                seen_frame: slot.seen_frame,
            }
            .stage(&mut commands)
        })
    );
    // What a refused tick left unchecked can be a hundred thousand values:
    // freed off the main thread, so refusing them costs it nothing more.
    if commands.len() > 1_000 {
        let _ = std::thread::Builder::new()
            .name("refused commands".into())
            .spawn(move || drop(commands));
    }
    // Staging's reasons quote what the mod sent.
    let staged = staged.map_err(|message| {
        let kind = if budget.exceeded() {
            FaultKind::OverBudget
        } else {
            FaultKind::InvalidOutput
        };
        fault(kind, crate::text::escape(&message).into_owned())
    })?;
    drop(registry);

    let spawned = staged.spawned;
    slot.reserved.drain(..spawned);

    let owner = slot.owner.clone();
    let tick = slot.sent_frame;
    let queries = &mut slot.queries;
    timed!(
        "main: apply the commands",
        world.resource_scope(|world, exposed: Mut<Exposed>| {
            for command in staged.commands {
                command.apply(world, &exposed, (&owner, tick, now), out, queries);
            }
        })
    );
    for (entity, key, size) in staged.footprint {
        charge(world, &owner, entity, key, size);
    }

    retarget_reserve(world, slot, spawned, budget.spent(), limits);
    Ok(())
}

/// Sets how many ids to reserve for the mod's next tick, after one that
/// spawned `spawned` entities in `spent` of main-thread time: twice as many,
/// but no more than half the main-thread budget can spawn at this tick's
/// pace (in real time). A mod that spawns thousands gets them over a few
/// ticks (`spawn` says `limit-exceeded` meanwhile), never a fault.
fn retarget_reserve(
    world: &mut World,
    slot: &mut ModSlot,
    spawned: usize,
    spent: Duration,
    limits: &crate::settings::ModLimits,
) {
    // The rule book's reserve (the test world's too), for the spawns this
    // pace fits. In lockstep a mod's spawns must not depend on how fast
    // the machine is: the reserve follows the count alone (the rule book
    // still caps it).
    let lockstep = world
        .get_resource::<crate::settings::ModSettings>()
        .is_some_and(|s| s.frame_mode == crate::settings::FrameMode::Lockstep);
    let mut paced = spawned;
    if spawned > 0 && !lockstep {
        let per_spawn = (spent.as_nanos() / spawned as u128).max(1);
        let fit = limits.main_thread_per_tick.as_nanos() / 2 / per_spawn;
        paced = paced.min(usize::try_from(fit / 2).unwrap_or(usize::MAX));
    }
    slot.reserve_target = mod_rules::caps::next_reserve(paced, limits.spawns_per_tick);
    if slot.reserved.len() > slot.reserve_target * 4 {
        let extra: Vec<(Entity, u64)> = slot.reserved.drain(slot.reserve_target..).collect();
        crate::ids::free_reserved(world, extra);
    }
}
