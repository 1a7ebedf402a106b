//! Frame-time benchmark: what mods cost the main thread, against native
//! Bevy doing the same work in the same run.
//!
//! `cargo bench -p mod-tests --bench frame`
//!
//! Figures are medians over many frames; the machine is shared, so read the
//! ratios rather than the absolute numbers.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_wasm_mods::prelude::*;
use bevy_wasm_mods::{FrameMode, ModLimits};
use demo_game::{Position, Velocity};
use mod_tests::figures::Figures;
use mod_tests::*;

const FRAMES: usize = 400;
const ENTITIES: u32 = 10_000;

/// CPU time this thread has used: what the main thread spends, leaving out
/// the time it sleeps waiting for a worker.
fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Median wall time and median main-thread CPU time of one `app.update()`
/// over `FRAMES` frames.
fn median_frame(app: &mut App) -> (Duration, Duration) {
    frames(app, 20);
    let (mut wall, mut cpu): (Vec<Duration>, Vec<Duration>) = (0..FRAMES)
        .map(|_| {
            let (t, c) = (Instant::now(), thread_cpu());
            app.update();
            (t.elapsed(), thread_cpu().saturating_sub(c))
        })
        .unzip();
    wall.sort();
    cpu.sort();
    (wall[wall.len() / 2], cpu[cpu.len() / 2])
}

fn idle_app(mods: usize) -> App {
    // Kept as long as the benchmark runs: the app watches the folder, and
    // a folder removed under it unloads its mods.
    let dir = kept(mods_folder());
    let bytes = mod_bytes("idle");
    let mut plugin = ModPlugin::new().with_mods_dir(&dir);
    for i in 0..mods {
        // Each copy takes its (unique) name from its config.
        let stem = format!("idle-{i:03}");
        std::fs::write(dir.join(format!("{stem}.wasm")), &bytes).unwrap();
        let config = rmp_serde::to_vec_named(&BTreeMap::from([("name", &stem)])).unwrap();
        plugin = plugin.with_config(stem, config);
    }
    let mut app = app_with(plugin);
    load(&mut app);
    app
}

fn spawn_grid(world: &mut World) {
    for i in 0..ENTITIES {
        world.spawn((
            Position {
                x: i as f32,
                y: 0.0,
            },
            Velocity { x: 1.0, y: 0.5 },
        ));
    }
}

/// Time spent inside the native system, frame by frame.
#[derive(Resource, Default)]
struct NativeTimes(Vec<Duration>);

fn native_move(mut q: Query<(&mut Position, &Velocity)>, mut times: ResMut<NativeTimes>) {
    let t = Instant::now();
    for (mut p, v) in &mut q {
        p.x += v.x;
        p.y += v.y;
    }
    times.0.push(t.elapsed());
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .init();
    }
    // Build the mods before timing anything.
    built_mods();

    // `-- idle`, `-- mover`, `-- languages` or `-- spawn` runs one part
    // (handy under a profiler). `-- many` (not part of a plain run: its
    // first run compiles forty Python and JavaScript mods, minutes) runs
    // 10, 25 and 50 mods in real time and prints frame-time percentiles.
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let runs = |part: &str| only.as_deref().is_none_or(|o| o == part);
    let mut figures = Figures::default();
    if runs("idle") {
        idle_mods(&mut figures);
    }
    if runs("mover") {
        mover(&mut figures);
    }
    if runs("languages") {
        languages(&mut figures);
    }
    if runs("spawn") {
        spawning(&mut figures);
    }
    if only.as_deref() == Some("many") {
        many_mods(&mut figures);
    }
    figures.compare(&root().join("docs/benchmarks.md"));
}

/// A headless app in lockstep running the one mod in `file`, loaded.
fn one_mod_app(file: &std::path::Path) -> (App, String) {
    let dir = kept(mods_folder());
    let id = file.file_stem().unwrap().to_string_lossy().into_owned();
    std::fs::copy(file, dir.join(file.file_name().unwrap())).unwrap();
    let mut app = app_with(ModPlugin::new().with_mods_dir(&dir));
    let failed = load(&mut app);
    assert!(failed.is_empty(), "{id} failed to load: {failed:#?}");
    (app, id)
}

/// The median of each app's mod's guest time a tick (the wall time of its
/// hooks on its worker, host calls included), the apps' frames taken in
/// turn.
fn guest_times(apps: &mut [(App, String)]) -> Vec<Duration> {
    for (app, _) in apps.iter_mut() {
        frames(app, 60);
    }
    let mut times = vec![Vec::with_capacity(FRAMES); apps.len()];
    for _ in 0..FRAMES {
        for ((app, id), times) in apps.iter_mut().zip(&mut times) {
            app.update();
            times.push(info(app, id).cost.guest_time);
        }
    }
    for (app, id) in apps.iter() {
        let info = info(app, id);
        assert_eq!(
            info.status,
            ModStatus::Running,
            "{id}: {:?}",
            info.last_error
        );
    }
    times
        .into_iter()
        .map(|mut t| {
            t.sort();
            t[t.len() / 2]
        })
        .collect()
}

/// What the same mod costs a tick written in each language: an idle mod
/// (hooks that return at once, through the guest library), the greeter
/// (reads its badge, writes it, emits an event) and the mover (10
/// entities, packed columns both ways).
fn languages(figures: &mut Figures) {
    println!();
    println!("one mod in three languages: guest time a tick, median of {FRAMES}");
    let (rust, py, js) = (built_mods(), python_mods(), js_mods());
    println!("| mod | Rust (µs) | Python (µs) | / Rust | JavaScript (µs) | / Rust | target |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, files, target) in [
        (
            "idle",
            [
                rust.join("idle.wasm"),
                py.join("tests/idle_py.wasm"),
                js.join("tests/idle_js.wasm"),
            ],
            100,
        ),
        (
            "greeter",
            [
                rust.join("greeter.wasm"),
                py.join("greeter_py.wasm"),
                js.join("greeter_js.wasm"),
            ],
            300,
        ),
        (
            "mover",
            [
                rust.join("mover.wasm"),
                py.join("mover_py.wasm"),
                js.join("mover_js.wasm"),
            ],
            300,
        ),
    ] {
        let mut apps: Vec<(App, String)> = files.iter().map(|f| one_mod_app(f)).collect();
        let t = guest_times(&mut apps);
        let (r, p, j) = (micros(t[0]), micros(t[1]), micros(t[2]));
        figures.note(&format!("languages.{name}.python"), p);
        figures.note(&format!("languages.{name}.javascript"), j);
        println!(
            "| {name} | {r:.1} | {p:.1} | {:.1}× | {j:.1} | {:.1}× | ≤ {target} |",
            p / r,
            j / r
        );
    }
}

fn idle_mods(figures: &mut Figures) {
    println!("idle mods: main-thread time per mod per frame");
    println!(
        "{:>6} {:>12} {:>14} {:>12} {:>14}",
        "mods", "frame (µs)", "per mod (µs)", "CPU (µs)", "per mod (µs)"
    );
    let (base, base_cpu) = median_frame(&mut idle_app(0));
    println!(
        "{:>6} {:>12.1} {:>14} {:>12.1} {:>14}",
        0,
        micros(base),
        "-",
        micros(base_cpu),
        "-"
    );
    for n in [1, 10, 100] {
        let mut app = idle_app(n);
        let running = app.world().resource::<ModRegistry>().running().count();
        assert_eq!(running, n, "every idle mod runs");
        let (t, cpu) = median_frame(&mut app);
        let per = (micros(t) - micros(base)) / n as f64;
        let per_cpu = (micros(cpu) - micros(base_cpu)) / n as f64;
        if n > 1 {
            figures.note(&format!("idle.wall_per_mod.{n}"), per);
            figures.note(&format!("idle.cpu_per_mod.{n}"), per_cpu);
        }
        println!(
            "{n:>6} {:>12.1} {per:>14.2} {:>12.1} {per_cpu:>14.2}",
            micros(t),
            micros(cpu)
        );
    }
    println!("(frame: wall time, waiting for workers included; CPU: the main thread's own)");
}

/// A headless app with the mover mod moving `ENTITIES` entities, all
/// spawned; `api` picks the mod's batch calls (see `mods/mover`).
fn mover_app(api: &str) -> App {
    mover_spawning(api).0
}

/// A headless app with the floor mod (`tests/mods/floor`: the mover
/// written against the contract alone) moving `ENTITIES` entities.
fn floor_app() -> App {
    let dir = kept(folder_with(&[("floor", "floor.wasm")]));
    #[derive(serde::Serialize)]
    struct Config {
        count: u32,
    }
    let config = rmp_serde::to_vec_named(&Config { count: ENTITIES }).unwrap();
    let limits = ModLimits {
        main_thread_per_tick: Duration::from_millis(200),
        ..ModLimits::default()
    };
    let mut app = app_with(
        ModPlugin::new()
            .with_mods_dir(&dir)
            .with_limits(limits)
            .with_config("floor", config),
    );
    let failed = load(&mut app);
    assert!(
        failed.is_empty(),
        "the floor mod failed to load: {failed:#?}"
    );
    for _ in 0..200 {
        app.update();
        let world = app.world_mut();
        if world.query::<&Position>().iter(world).count() as u32 >= ENTITIES {
            return app;
        }
    }
    panic!(
        "the floor mod did not spawn its entities: {:?}",
        info(&app, "floor")
    );
}

/// What spawning the mover's entities cost the main thread.
struct Spawning {
    /// The mod's main-thread time (its snapshot, staging and applying),
    /// summed over the ticks its spawns took.
    main_thread: Duration,
    /// Ticks until every entity existed.
    ticks: u32,
}

/// [`mover_app`], with what its spawns cost.
fn mover_spawning(api: &str) -> (App, Spawning) {
    let dir = kept(folder_with(&[("mover", "mover.wasm")]));
    #[derive(serde::Serialize)]
    struct Config<'a> {
        count: u32,
        api: &'a str,
    }
    let config = rmp_serde::to_vec_named(&Config {
        count: ENTITIES,
        api,
    })
    .unwrap();
    // The last ticks of the spawning check thousands of spawns each, more
    // than the default 16 ms of main thread (see "Spawning" in
    // docs/benchmarks.md); the mover's frames are measured after them.
    let limits = ModLimits {
        main_thread_per_tick: Duration::from_millis(200),
        ..ModLimits::default()
    };
    let mut app = app_with(
        ModPlugin::new()
            .with_mods_dir(&dir)
            .with_limits(limits)
            .with_config("mover", config),
    );
    let failed = load(&mut app);
    assert!(failed.is_empty(), "the mover failed to load: {failed:#?}");
    // Let the mod spawn all its entities first.
    let mut spawning = Spawning {
        main_thread: Duration::ZERO,
        ticks: 0,
    };
    let count = |app: &mut App| {
        let world = app.world_mut();
        world.query::<&Position>().iter(world).count() as u32
    };
    for _ in 0..200 {
        app.update();
        if let Some(mover) = app.world().resource::<ModRegistry>().get("mover") {
            spawning.main_thread += mover.cost.main_thread;
            spawning.ticks += 1;
        }
        if count(&mut app) >= ENTITIES {
            break;
        }
    }
    assert_eq!(count(&mut app), ENTITIES, "{:?}", info(&app, "mover"));
    (app, spawning)
}

/// Spawning `ENTITIES` entities: the mover's main-thread time while its
/// spawns go in (over the few ticks its reserve of ids spreads them over)
/// against `World::spawn` spawning the same entities.
fn spawning(figures: &mut Figures) {
    println!();
    println!("spawning {ENTITIES} entities (Position, Velocity), main-thread time");
    let runs = 3;
    let mut native = Vec::with_capacity(runs);
    let mut by_mod = Vec::with_capacity(runs);
    for _ in 0..runs {
        let mut app = app(&kept(mods_folder()));
        load(&mut app);
        let t = Instant::now();
        spawn_grid(app.world_mut());
        native.push(t.elapsed());
        by_mod.push(mover_spawning("update").1);
    }
    native.sort();
    by_mod.sort_by_key(|s| s.main_thread);
    let native = native[runs / 2];
    let by_mod = &by_mod[runs / 2];
    let ratio = micros(by_mod.main_thread) / micros(native).max(0.1);
    figures.note("spawn.main_thread", ratio);
    println!("{:>40} {:>10} {:>10}", "", "µs", "/ native");
    println!("{:>40} {:>10.0}", "native (World::spawn)", micros(native));
    println!(
        "{:>40} {:>10.0} {ratio:>9.1}x",
        format!("mod, over {} ticks", by_mod.ticks),
        micros(by_mod.main_thread)
    );
}

/// Median frame time of each app, their frames taken in turn so that a
/// change in the machine's speed during the run hits them all alike.
fn interleaved(apps: &mut [&mut App]) -> Vec<Duration> {
    for app in apps.iter_mut() {
        frames(app, 20);
    }
    let mut times = vec![Vec::with_capacity(FRAMES); apps.len()];
    for _ in 0..FRAMES {
        for (app, times) in apps.iter_mut().zip(&mut times) {
            let t = Instant::now();
            app.update();
            times.push(t.elapsed());
        }
    }
    times
        .into_iter()
        .map(|mut t| {
            t.sort();
            t[t.len() / 2]
        })
        .collect()
}

fn mover(figures: &mut Figures) {
    println!();
    println!("position += velocity for {ENTITIES} entities, per frame");
    // Native: the same entities, moved by a Bevy system.
    let (empty_dir, native_dir) = (mods_folder(), mods_folder());
    let mut empty = app(&empty_dir);
    load(&mut empty);
    spawn_grid(empty.world_mut());

    let mut native = app(&native_dir);
    native
        .init_resource::<NativeTimes>()
        .add_systems(Update, native_move);
    load(&mut native);
    spawn_grid(native.world_mut());

    let mut update = mover_app("update");
    let mut read_write = mover_app("read-write");
    let mut floor = floor_app();
    let medians = interleaved(&mut [
        &mut empty,
        &mut native,
        &mut update,
        &mut read_write,
        &mut floor,
    ]);
    let [empty_t, native_t, update_t, read_write_t, floor_t] = medians[..] else {
        unreachable!("five apps")
    };
    // The system's own time is the steadier baseline on a shared machine.
    let mut inside = std::mem::take(&mut native.world_mut().resource_mut::<NativeTimes>().0);
    inside.sort();
    let native_inside = inside[inside.len() / 2];
    for (app, id) in [
        (&update, "mover"),
        (&read_write, "mover"),
        (&floor, "floor"),
    ] {
        assert_eq!(
            app.world()
                .resource::<ModRegistry>()
                .get(id)
                .map(|m| m.status),
            Some(ModStatus::Running)
        );
    }

    let native_frame_cost = micros(native_t) - micros(empty_t);
    let native_cost = micros(native_inside).max(0.1);
    let update_cost = micros(update_t) - micros(empty_t);
    let read_write_cost = micros(read_write_t) - micros(empty_t);
    let floor_cost = micros(floor_t) - micros(empty_t);
    figures.note("mover.update_batch", update_cost / native_cost);
    figures.note("mover.read_write", read_write_cost / native_cost);
    figures.note("mover.floor", floor_cost / native_cost);
    println!("{:>40} {:>10} {:>10}", "", "µs", "/ native");
    println!("{:>40} {:>10.1}", "frame, no work", micros(empty_t));
    println!(
        "{:>40} {:>10.1}",
        "native system (its own time)", native_cost
    );
    println!(
        "{:>40} {:>10.1}",
        "native system (frame cost)", native_frame_cost
    );
    println!(
        "{:>40} {:>10.1} {:>9.1}x",
        "mod, update_batch (frame cost)",
        update_cost,
        update_cost / native_cost
    );
    println!(
        "{:>40} {:>10.1} {:>9.1}x",
        "mod, read_batch + write_batch",
        read_write_cost,
        read_write_cost / native_cost
    );
    println!(
        "{:>40} {:>10.1} {:>9.1}x",
        "floor: the contract alone, no mod-api",
        floor_cost,
        floor_cost / native_cost
    );
    #[cfg(feature = "profiling")]
    {
        for (name, app) in [
            ("the update_batch mod", &mut update),
            ("the floor mod", &mut floor),
        ] {
            bevy_wasm_mods::timing::reset();
            frames(app, FRAMES);
            println!();
            println!("stages of {name}'s tick (median µs over {FRAMES} frames)");
            for (stage, median, count) in bevy_wasm_mods::timing::report() {
                println!("{stage:>52} {:>8.1} {count:>7}", micros(median));
            }
        }
    }
}

/// `bytes` made a distinct mod: a custom section holding `i`, so each copy
/// is compiled and run on its own, as different mods would be.
fn distinct(mut bytes: Vec<u8>, i: usize) -> Vec<u8> {
    let name = b"distinct";
    let payload = (i as u64).to_le_bytes();
    bytes.push(0);
    bytes.push((1 + name.len() + payload.len()) as u8);
    bytes.push(name.len() as u8);
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(&payload);
    bytes
}

/// `n` mods for the demo game: the ten examples first, then distinct
/// copies of the idle mod, the greeter and the mover in Rust, Python and
/// JavaScript in turn, as `(id, bytes)`.
fn many(n: usize) -> Vec<(String, Vec<u8>)> {
    let mut mods: Vec<(String, Vec<u8>)> = example_mods()
        .into_iter()
        .map(|(file, id)| (id.to_string(), std::fs::read(file).unwrap()))
        .collect();
    let (rust, py, js) = (built_mods(), python_mods(), js_mods());
    let kinds = [
        ("idle", rust.join("idle.wasm")),
        ("idle_py", py.join("tests/idle_py.wasm")),
        ("idle_js", js.join("tests/idle_js.wasm")),
        ("greeter", rust.join("greeter.wasm")),
        ("greeter_py", py.join("greeter_py.wasm")),
        ("greeter_js", js.join("greeter_js.wasm")),
        ("mover", rust.join("mover.wasm")),
        ("mover_py", py.join("mover_py.wasm")),
        ("mover_js", js.join("mover_js.wasm")),
    ];
    let mut i = 0;
    while mods.len() < n {
        let (kind, file) = &kinds[i % kinds.len()];
        let bytes = std::fs::read(file).unwrap();
        mods.push((format!("{kind}_{i:02}"), distinct(bytes, i)));
        i += 1;
    }
    mods.truncate(n);
    mods
}

/// 10, 25 and 50 mods in the demo game, headless, in real-time mode (a
/// frame waits at most 4 ms for the mods), one frame every 1/60 s: the
/// percentiles of the main thread's frame time, and how many ticks the
/// slowest mod got against the frames (a mod late for a frame skips it).
/// Compiled code comes from the player's cache: the first run fills it.
/// Fifty mods are run twice: with the workers at the game's priority (the
/// default) and below it (nice 19).
fn many_mods(figures: &mut Figures) {
    println!();
    println!("many mods in real time, 60 frames a second: frame time (ms)");
    println!(
        "{:>12} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>22}",
        "mods", "frames", "p10", "p50", "p90", "p99", "longest", "CPU p50", "fewest ticks / frames"
    );
    let frame = Duration::from_secs_f64(1.0 / 60.0);
    // `-- many N` runs N mods only.
    let counts: Vec<(usize, i32)> = match std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .nth(1)
    {
        Some(n) => vec![(n.parse().expect("a number of mods"), 0)],
        None => vec![(10, 0), (25, 0), (50, 0), (50, 19)],
    };
    for (n, nice) in counts {
        let dir = kept(mods_folder());
        let mods = many(n);
        for (id, bytes) in &mods {
            std::fs::write(dir.join(format!("{id}.wasm")), bytes).unwrap();
        }
        let plugin = demo_game::mod_plugin(&dir, bevy_wasm_mods::default_compile_cache())
            .with_watching(false)
            .with_frame_mode(FrameMode::default())
            .with_worker_nice(nice);
        let mut app = demo_game::headless_app(plugin);
        demo_game::load_mods(&mut app, Duration::from_secs(1800)).unwrap();
        let running = app.world().resource::<ModRegistry>().running().count();
        assert_eq!(running, n, "every mod runs");
        // Settle, then measure ten seconds of frames at 60 a second.
        for _ in 0..60 {
            app.update();
        }
        let ticks_before: Vec<u64> = mods.iter().map(|(id, _)| info(&app, id).ticks).collect();
        #[cfg(feature = "profiling")]
        bevy_wasm_mods::timing::reset();
        let count = 600;
        let mut times = Vec::with_capacity(count);
        let mut cpu = Vec::with_capacity(count);
        let mut next = Instant::now();
        for _ in 0..count {
            let (t, c) = (Instant::now(), thread_cpu());
            app.update();
            times.push(t.elapsed());
            cpu.push(thread_cpu().saturating_sub(c));
            next += frame;
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
        let fewest = mods
            .iter()
            .zip(&ticks_before)
            .map(|((id, _), before)| info(&app, id).ticks - before)
            .min()
            .unwrap_or(0);
        times.sort();
        cpu.sort();
        let cpu_p50 = cpu[cpu.len() / 2].as_secs_f64() * 1e3;
        let at = |p: usize| times[(times.len() * p / 100).min(times.len() - 1)].as_secs_f64() * 1e3;
        let longest = times.last().unwrap().as_secs_f64() * 1e3;
        let label = if nice == 0 {
            n.to_string()
        } else {
            format!("{n}, nice {nice}")
        };
        if nice == 0 {
            figures.note(&format!("many.p99_ms.{n}"), at(99));
        }
        println!(
            "{label:>12} {count:>8} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {longest:>8.2} {cpu_p50:>8.2} {:>14} / {count}",
            at(10),
            at(50),
            at(90),
            at(99),
            fewest
        );
        #[cfg(feature = "profiling")]
        for (stage, median, count) in bevy_wasm_mods::timing::report() {
            println!("{stage:>52} {:>8.1} {count:>7}", micros(median));
        }
    }
    println!(
        "(target: p99 within 16 ms at 50 mods; \"nice 19\": the workers below the game, ModPlugin::with_worker_nice)"
    );
}
