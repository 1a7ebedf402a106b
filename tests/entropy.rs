//! Nothing a mod can read differs between runs: a probe in each language
//! (`tests/mods/python/entropy`, `tests/mods/js/entropy`, the hostile
//! mod's `entropy`) reports every tick what its standard library's chance
//! and clocks give (Python's `random`, string hash salt, set order,
//! `os.urandom`, `time`; JavaScript's `Math.random`, `crypto`, `Date`,
//! `performance`; Rust's `HashMap` keys, `SystemTime`, `Instant`). Two
//! runs in fresh apps report the same, tick for tick, and every clock
//! reads game time.

use std::path::Path;
use std::time::Duration;

use bevy::prelude::*;
use bevy_wasm_mods::prelude::*;
use mod_tests::*;

/// Ticks each run reports.
const TICKS: u64 = 40;

/// What a mod's wall clock reads at game time zero (2025-01-01).
const WALL_START: f64 = 1_735_689_600.0;

/// The probes in a folder: one per language.
fn probes() -> Scratch {
    let dir = mods_folder();
    put(
        &dir,
        "entropy_py.wasm",
        &std::fs::read(python_mods().join("tests/entropy_py.wasm")).unwrap(),
    );
    put(
        &dir,
        "entropy_js.wasm",
        &std::fs::read(js_mods().join("tests/entropy_js.wasm")).unwrap(),
    );
    put(&dir, "entropy_rs.wasm", &mod_bytes("hostile"));
    dir
}

/// Every `entropy` event of a run of the probes in `dir`, by mod, in
/// order.
fn run(dir: &Path) -> Vec<(String, Vec<u8>)> {
    #[derive(serde::Serialize)]
    struct Config {
        attack: &'static str,
    }
    let mut app = app_with(
        ModPlugin::new()
            .with_mods_dir(dir)
            .with_limits(relaxed_limits())
            .with_config(
                "entropy_rs",
                rmp_serde::to_vec_named(&Config { attack: "entropy" }).unwrap(),
            ),
    );
    load_clean(&mut app);
    let events = frames_collecting::<ModEvent>(&mut app, TICKS as usize + 1);
    for id in ["entropy_py", "entropy_js", "entropy_rs"] {
        assert_eq!(info(&app, id).status, ModStatus::Running, "{id}");
    }
    events
        .into_iter()
        .filter(|e| e.name.ends_with("entropy"))
        .map(|e| (e.source, e.payload))
        .collect()
}

/// Game time at a mod's tick `n` (its first is 0), stepping 1/60 s.
fn game_time(n: u64) -> Duration {
    Duration::from_secs_f64(1.0 / 60.0) * n as u32
}

#[derive(serde::Deserialize, Debug)]
struct Python {
    first: u64,
    random: f64,
    hash: u64,
    set: Vec<String>,
    urandom: Vec<u8>,
    time: f64,
    monotonic: u64,
    perf: u64,
}

#[derive(serde::Deserialize, Debug)]
struct JavaScript {
    first: f64,
    random: f64,
    crypto: Vec<u8>,
    uuid: String,
    now: f64,
    date: String,
}

/// A tuple, as the Rust probe sends it: its `HashMap` keys' hash of a
/// word, a `HashSet`'s order, `SystemTime` and `Instant` in nanoseconds.
type Rust = (u64, Vec<String>, u64, u64);

fn of<'a>(events: &'a [(String, Vec<u8>)], id: &str) -> Vec<&'a [u8]> {
    events
        .iter()
        .filter(|(source, _)| source == id)
        .map(|(_, payload)| payload.as_slice())
        .collect()
}

#[test]
fn every_source_of_chance_and_time_is_the_same_run_after_run() {
    let dir = probes();
    let first = run(&dir);
    let second = run(&dir);
    for id in ["entropy_py", "entropy_js", "entropy_rs"] {
        let (a, b) = (of(&first, id), of(&second, id));
        assert!(a.len() as u64 >= TICKS, "{id} reported {} ticks", a.len());
        assert_eq!(a, b, "{id} read something else in the second run");
    }

    // The clocks read game time, from the mods' first tick.
    let py: Vec<Python> = of(&first, "entropy_py")
        .iter()
        .map(|p| rmp_serde::from_slice(p).unwrap())
        .collect();
    for (n, p) in py.iter().enumerate() {
        let at = game_time(n as u64);
        assert_eq!(p.monotonic, at.as_nanos() as u64, "Python tick {n}: {p:?}");
        assert_eq!(p.perf, at.as_nanos() as u64, "Python tick {n}: {p:?}");
        assert!(
            (p.time - (WALL_START + at.as_secs_f64())).abs() < 1e-3,
            "Python tick {n}: {p:?}"
        );
    }
    let js: Vec<JavaScript> = of(&first, "entropy_js")
        .iter()
        .map(|p| rmp_serde::from_slice(p).unwrap())
        .collect();
    for (n, j) in js.iter().enumerate() {
        let at = game_time(n as u64);
        assert!(
            (j.now - (WALL_START * 1000.0 + at.as_secs_f64() * 1000.0)).abs() <= 1.0,
            "JavaScript tick {n}: {j:?}"
        );
        assert!(j.date.starts_with("2025-01-01T00:00:"), "{j:?}");
    }
    let rs: Vec<Rust> = of(&first, "entropy_rs")
        .iter()
        .map(|p| rmp_serde::from_slice(p).unwrap())
        .collect();
    for (n, r) in rs.iter().enumerate() {
        let at = game_time(n as u64);
        let wall = Duration::from_secs(WALL_START as u64) + at;
        assert_eq!(r.2, wall.as_nanos() as u64, "Rust tick {n}: {r:?}");
        assert_eq!(r.3, at.as_nanos() as u64, "Rust tick {n}: {r:?}");
    }

    // Chance is still chance: it changes from tick to tick.
    let changes = |values: Vec<f64>| values.windows(2).all(|w| w[0] != w[1]);
    assert!(changes(py.iter().map(|p| p.random).collect()), "{py:?}");
    assert!(changes(js.iter().map(|j| j.random).collect()), "{js:?}");
    assert!(py.windows(2).any(|w| w[0].urandom != w[1].urandom));
    assert!(
        js.windows(2)
            .any(|w| w[0].crypto != w[1].crypto && w[0].uuid != w[1].uuid)
    );
    // What is drawn once stays drawn.
    assert!(
        py.iter()
            .all(|p| p.first == py[0].first && p.hash == py[0].hash)
    );
    assert!(py.iter().all(|p| p.set == py[0].set));
    assert!(js.iter().all(|j| j.first == js[0].first));
}
