//! A machine too busy to give a mod's worker a core: the mod is charged for
//! the time it ran, not for the time the system gave other threads. Alone
//! in its test binary, so the load is the test's own.

use std::time::Duration;

use bevy_wasm_mods::prelude::*;
use bevy_wasm_mods::{ModInfo, ModLimits};
use mod_tests::*;

/// The tests here take turns: each sets the load it needs.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The hostile test mod doing `thousands` of thousands of steps of honest
/// work each tick.
fn work(thousands: u32) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Config {
        attack: &'static str,
        per_tick: u32,
    }
    rmp_serde::to_vec_named(&Config {
        attack: "work",
        per_tick: thousands,
    })
    .unwrap()
}

fn run(limits: ModLimits, thousands: u32, frames_n: usize) -> (ModInfo, ModInfo, u64) {
    let dir = folder_with(&[("hostile", "a-worker.wasm"), ("mover", "b-mover.wasm")]);
    let mut app = app_with(
        ModPlugin::new()
            .with_mods_dir(&dir)
            .with_limits(limits)
            .with_worker_threads(2)
            .with_config("a-worker", work(thousands)),
    );
    // A fault in the first ticks is for the test to judge.
    let _ = load(&mut app);
    frames(&mut app, frames_n);
    let moved = ticks(&app, "b-mover");
    assert_mover_exact(app.world_mut(), "b-mover", 10, moved);
    (info(&app, "a-worker"), info(&app, "b-mover"), moved)
}

#[test]
fn a_mod_is_charged_for_the_time_it_ran_not_for_the_time_others_had_the_cores() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // How long the work takes here, with the cores to itself (its slowest
    // tick, so a hiccup makes the limit below only roomier).
    let thousands = 4_000;
    let (quiet, _, _) = run(relaxed_limits(), thousands, 20);
    assert_eq!(quiet.faults, 0, "{quiet:?}");
    let took = quiet.cost.guest_time_avg.max(Duration::from_millis(5));

    // Its tick limit twice that, and four threads keeping both cores busy:
    // each tick now takes about three times as long in wall time, more
    // than the limit, but uses about half its limit of CPU time.
    let limits = ModLimits {
        hard_call_limit: took * 2,
        ..relaxed_limits()
    };
    let (stop, busy) = busy_threads(4);
    let (worker, mover, moved) = run(limits, thousands, 60);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for b in busy {
        b.join().unwrap();
    }
    assert_eq!(
        (worker.status, worker.faults),
        (ModStatus::Running, 0),
        "a tick of {took:?} of work, limit {:?}: {worker:?}",
        took * 2
    );
    assert!(worker.ticks >= 60 && moved >= 60, "{worker:?} {mover:?}");
}

#[test]
fn a_loop_is_still_stopped_on_a_busy_machine() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let limits = ModLimits {
        hard_call_limit: Duration::from_millis(50),
        ..relaxed_limits()
    };
    let (stop, busy) = busy_threads(6);
    // A billion thousand steps: far past any limit.
    let (worker, _, _) = run(limits, u32::MAX, 10);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for b in busy {
        b.join().unwrap();
    }
    assert!(worker.faults >= 1, "{worker:?}");
    let fault = worker.last_error.unwrap();
    assert_eq!(fault.kind, bevy_wasm_mods::FaultKind::Timeout, "{fault}");
}
