//! Lockstep on any machine: with `fuel_per_call` set, a mod whose work
//! grows every tick is cut off on the same tick, after the same work, on
//! one worker on a machine kept busy or on four on a quiet one, and the
//! world (the mover beside it) ends the same.

use bevy::prelude::*;
use bevy_wasm_mods::prelude::*;
use bevy_wasm_mods::{FaultKind, ModLimits, moddable_checksum};
use mod_tests::*;

/// Frames each run steps after loading.
const FRAMES: usize = 80;

/// What one run showed: the frames (after loading) in which the growing
/// mod faulted, with the kind of fault; what it reported before each
/// cut; and the world's checksum.
#[derive(Debug, PartialEq)]
struct Run {
    faults: Vec<(usize, FaultKind)>,
    worked: Vec<Vec<u8>>,
    checksum: u64,
}

fn run(dir: &std::path::Path, workers: usize) -> Run {
    #[derive(serde::Serialize)]
    struct Config {
        attack: &'static str,
        per_tick: u32,
    }
    let mut app = app_with(
        ModPlugin::new()
            .with_mods_dir(dir)
            .with_worker_threads(workers)
            .with_limits(ModLimits {
                // About two thousand steps of the mod's loop are 20,000
                // units of fuel: its tick 40 or so is the first cut.
                fuel_per_call: Some(20_000_000),
                ..relaxed_limits()
            })
            .with_config(
                "grower",
                rmp_serde::to_vec_named(&Config {
                    attack: "grow",
                    per_tick: 50,
                })
                .unwrap(),
            )
            .with_config("mover", mover_config(20, true, "mover")),
    );
    load_clean(&mut app);
    let mut faults = Vec::new();
    let mut worked = Vec::new();
    drain::<ModFailed>(&mut app);
    drain::<ModEvent>(&mut app);
    for frame in 0..FRAMES {
        app.update();
        for failed in drain::<ModFailed>(&mut app) {
            assert_eq!(failed.id, "grower", "{failed:?}");
            faults.push((frame, failed.fault.kind));
        }
        worked.extend(
            drain::<ModEvent>(&mut app)
                .into_iter()
                .filter(|e| e.source == "grower")
                .map(|e| e.payload),
        );
    }
    assert_eq!(info(&app, "mover").status, ModStatus::Running);
    Run {
        faults,
        worked,
        checksum: moddable_checksum(app.world_mut()),
    }
}

#[test]
fn fuel_cuts_a_growing_mod_on_the_same_tick_whatever_the_machine() {
    let dir = folder_with(&[("hostile", "grower.wasm"), ("mover", "mover.wasm")]);
    let quiet = run(&dir, 4);
    assert!(
        !quiet.faults.is_empty() && quiet.faults.iter().all(|f| f.1 == FaultKind::OutOfFuel),
        "{:?}",
        quiet.faults
    );
    assert!(
        quiet.worked.len() >= 20,
        "it worked for {} ticks before the cut",
        quiet.worked.len()
    );

    // One worker, with both cores kept busy besides.
    let (stop, busy) = busy_threads(2);
    let loaded = run(&dir, 1);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for b in busy {
        b.join().unwrap();
    }
    assert_eq!(loaded, quiet);
}
