//! A mod that allocates without end fails inside its own sandbox, and the
//! host's memory stays flat: each broken instance's memory is freed before
//! the next restart. Its own test binary, so no other test's allocations
//! move the figure.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bevy_wasm_mods::prelude::*;
use bevy_wasm_mods::{FaultKind, FaultPolicy, ModLimits};
use mod_tests::*;

/// Resident memory of this process in bytes, from `/proc/self/statm`.
fn resident() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc");
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
fn memory_stays_flat_while_a_mod_allocates_without_end_and_is_restarted() {
    const CAP: usize = 32 << 20;
    const FAULTS: u32 = 6;
    let dir = folder_with(&[("hostile", "a-hostile.wasm"), ("mover", "b-mover.wasm")]);
    let config = rmp_serde::to_vec_named(&BTreeMap::from([("attack", "allocate")])).unwrap();
    let mut app = app_with(
        ModPlugin::new()
            .with_mods_dir(&dir)
            .with_limits(ModLimits {
                memory_bytes: CAP,
                ..relaxed_limits()
            })
            .with_fault_policy(FaultPolicy {
                backoff_frames: 1,
                max_backoff_frames: 1,
                quarantine_after: FAULTS,
                window_frames: u64::MAX,
                ..FaultPolicy::default()
            })
            .with_config("a-hostile", config),
    );
    load(&mut app);
    frames(&mut app, 3);
    let before = resident();
    let started = Instant::now();
    let hostile = |app: &bevy::prelude::App| {
        app.world()
            .resource::<ModRegistry>()
            .mods()
            .find(|m| m.file.ends_with("a-hostile.wasm"))
            .unwrap()
            .clone()
    };
    while hostile(&app).status != ModStatus::Quarantined {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never quarantined"
        );
        app.update();
    }
    let after = resident();
    let info = hostile(&app);
    assert_eq!(info.faults, FAULTS);
    assert_eq!(info.last_error.unwrap().kind, FaultKind::OutOfMemory);
    // Each of the six instances filled its 32 MiB; kept, they would add
    // 192 MiB. Freed, the growth stays under one instance's cap.
    let grown = after.saturating_sub(before);
    eprintln!(
        "resident: {} MiB before, {} MiB after",
        before >> 20,
        after >> 20
    );
    assert!(
        grown < CAP as u64,
        "resident memory grew by {} MiB over {FAULTS} out-of-memory faults",
        grown >> 20
    );
}
