//! A mods folder under a storm of changes: one file rewritten many times a
//! second. Alone in its test binary, so the process's threads are this
//! game's threads and nothing else's (tests in one binary run side by side).

use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_wasm_mods::prelude::*;
use mod_tests::*;

const WAIT: Duration = Duration::from_secs(60);

/// `bytes` with a custom section appended that makes the file distinct
/// (another digest, so another compile) without changing what it does.
fn distinct(bytes: &[u8], n: u32) -> Vec<u8> {
    let name = b"storm";
    let payload = n.to_le_bytes();
    let mut out = bytes.to_vec();
    out.push(0);
    out.push((1 + name.len() + payload.len()) as u8);
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.extend_from_slice(&payload);
    out
}

/// Threads of this process now.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

#[test]
fn a_file_rewritten_many_times_a_second_costs_one_compile_at_a_time_and_ends_newest() {
    let dir = folder_with(&[("greeter", "greeter.wasm")]);
    let mut app = watched(&dir);
    load_clean(&mut app);
    assert_eq!(join(&mut app, "Ada"), ("Welcome, Ada!".into(), 1));
    let before = threads();

    // Two seconds of writes, 100 a second, each a file that needs a
    // compile of its own; the last one is the next version.
    let (old, next) = (mod_bytes("greeter"), greeter_next());
    let started = Instant::now();
    let mut most = 0;
    let mut updates = Vec::new();
    let mut n = 0;
    while started.elapsed() < Duration::from_secs(2) {
        n += 1;
        let base = if n % 2 == 0 { &old } else { &next };
        std::fs::write(dir.join("greeter.wasm"), distinct(base, n)).unwrap();
        app.update();
        updates.extend(drain::<ModUpdated>(&mut app));
        most = most.max(threads());
        std::thread::sleep(Duration::from_millis(10));
    }
    put(&dir, "greeter.wasm", &distinct(&next, n + 1));
    let stopped = Instant::now();
    // The newest file wins, soon after the writes stop.
    updates.extend(until::<ModUpdated>(&mut app, WAIT, |app, _| {
        info(app, "greeter").version == "0.2.0"
            && app.world().resource::<ModRegistry>().loading_count() == 0
    }));
    let settled = stopped.elapsed();
    frames(&mut app, 30);
    let greeter = info(&app, "greeter");
    assert_eq!(
        (greeter.status, greeter.version.as_str(), greeter.faults),
        (ModStatus::Running, "0.2.0", 0),
        "{greeter:?}"
    );
    assert_eq!(join(&mut app, "Bo"), ("Welcome back, Bo!".into(), 2));
    // Far fewer updates than writes: superseded versions were dropped.
    assert!(
        updates.len() < n as usize / 4,
        "{} updates for {n} writes",
        updates.len()
    );
    // One compile at a time, whatever the folder does: a handful of
    // threads more at most, not one per write.
    assert!(
        most <= before + 6,
        "{most} threads, {before} before; {n} writes"
    );
    assert!(
        settled < Duration::from_secs(30),
        "settled after {settled:?}"
    );
}
