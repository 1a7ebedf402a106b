//! A misbehaving mod beside a well-behaved one: the bad one is stopped with
//! the right fault, nothing of its failed tick reaches the world, frames keep
//! coming, and the good mod's results are exactly those of a run without it.
//! (The first cases of the untrusted-mod suite; recovery comes later.)

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use game::demo::Position;
use game::prelude::*;
use game::{FaultKind, Hook, ModLimits};
use mod_tests::*;

const FRAMES: usize = 12;

fn limits() -> ModLimits {
    ModLimits {
        // Short enough to prove the stop, long enough for a busy machine.
        hard_call_limit: Duration::from_millis(200),
        ..relaxed_limits()
    }
}

/// Every `Position` in the world, sorted. (Entity ids are not compared: the
/// host reserves ids for the hostile mod too, which shifts the mover's.)
fn positions(app: &mut App) -> Vec<(f32, f32)> {
    let world = app.world_mut();
    let mut all: Vec<(f32, f32)> = world
        .query::<&Position>()
        .iter(world)
        .map(|p| (p.x, p.y))
        .collect();
    all.sort_by(|a, b| a.partial_cmp(b).unwrap());
    all
}

/// The mover alone, for comparison.
fn mover_alone() -> Vec<(f32, f32)> {
    let dir = folder_with(&[("mover", "b-mover.wasm")]);
    let mut app = app_with(ModPlugin::new().with_mods_dir(&dir).with_limits(limits()));
    load(&mut app);
    frames(&mut app, FRAMES);
    positions(&mut app)
}

/// Runs the hostile mod (loaded first) beside the mover; checks everything
/// a player would notice and returns the hostile mod's fault.
fn contain(attack: &str) -> game::Fault {
    let dir = folder_with(&[("hostile", "a-hostile.wasm"), ("mover", "b-mover.wasm")]);
    let config = rmp_serde::to_vec_named(&BTreeMap::from([("attack", attack)])).unwrap();
    let mut app = app_with(
        ModPlugin::new()
            .with_mods_dir(&dir)
            .with_limits(limits())
            .with_config("a-hostile", config),
    );
    let mut failures = load(&mut app);
    let started = Instant::now();
    for _ in 0..FRAMES {
        app.update();
        failures.extend(drain::<ModFailed>(&mut app));
    }
    let elapsed = started.elapsed();

    // Frames kept coming: one of them waited for the hard limit at most.
    assert!(
        elapsed < Duration::from_secs(5),
        "{FRAMES} frames took {elapsed:?} with `{attack}`"
    );
    let registry = app.world().resource::<ModRegistry>();
    let hostile = registry
        .mods()
        .iter()
        .find(|m| m.file.ends_with("a-hostile.wasm"))
        .expect("the hostile mod is listed");
    assert_eq!(hostile.status, ModStatus::Failed, "`{attack}`");
    let fault = hostile.last_error.clone().expect("its fault is recorded");
    assert!(
        failures
            .iter()
            .any(|f| f.file == hostile.file && f.fault == fault),
        "a ModFailed message names the mod"
    );
    assert_eq!(registry.get("mover").unwrap().status, ModStatus::Running);

    // Nothing of the failed tick reached the world, and the good mod's
    // world is exactly what it is alone.
    let world = positions(&mut app);
    assert!(
        world.iter().all(|p| *p != (-1.0, -1.0)),
        "the failed tick's spawn was applied with `{attack}`"
    );
    assert_eq!(
        world,
        mover_alone(),
        "the mover's results changed with `{attack}`"
    );
    fault
}

#[test]
fn a_mod_that_loops_forever_is_stopped_at_the_deadline() {
    let fault = contain("loop");
    assert_eq!((fault.kind, fault.hook), (FaultKind::Timeout, Hook::Tick));
}

#[test]
fn a_mod_that_panics_is_stopped_as_a_trap() {
    let fault = contain("panic");
    assert_eq!((fault.kind, fault.hook), (FaultKind::Trap, Hook::Tick));
}

#[test]
fn a_mod_that_allocates_without_end_hits_its_memory_cap() {
    let fault = contain("allocate");
    assert_eq!(
        (fault.kind, fault.hook),
        (FaultKind::OutOfMemory, Hook::Tick)
    );
}

#[test]
fn a_mod_that_recurses_without_end_overflows_its_own_stack() {
    let fault = contain("recurse");
    assert_eq!((fault.kind, fault.hook), (FaultKind::Trap, Hook::Tick));
    assert!(
        fault.message.starts_with("wasm trap: call stack exhausted"),
        "{}",
        fault.message
    );
}

#[test]
fn a_mod_that_returns_an_error_is_stopped_with_its_message() {
    let fault = contain("error");
    assert_eq!((fault.kind, fault.hook), (FaultKind::ModError, Hook::Tick));
    assert!(fault.message.contains("fails on purpose"));
}

#[test]
fn a_mod_that_loops_in_init_never_starts_and_the_others_do() {
    let fault = contain("loop-in-init");
    assert_eq!((fault.kind, fault.hook), (FaultKind::Timeout, Hook::Init));
}
