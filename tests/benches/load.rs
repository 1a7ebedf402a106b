//! Loading benchmark: cold and cached loads, frames while a big mod
//! compiles, and memory per idle mod.
//!
//! `cargo bench -p mod-tests --bench load` (`-- cache`, `-- compile` or
//! `-- memory` runs one part). `-- soak [FRAMES]` runs the ten example
//! mods together for 100,000 frames (or FRAMES) and prints each one's
//! memory as it goes; it is not part of a plain run (it takes about
//! twenty minutes).
//!
//! The machine is shared: read the ratios, each measured in the same run.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_wasm_mods::LoadPhase;
use bevy_wasm_mods::prelude::*;
use mod_tests::*;

/// The big mod: about as much code as a Python mod's interpreter.
const BIG: (u32, u32) = (24_000, 240);

fn main() {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .init();
    }
    built_mods();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [first, language, n, cache, ..] = &args[..]
        && first == "memory-child"
    {
        let cache = (cache != "-").then(|| std::path::PathBuf::from(cache));
        memory_child(language, n.parse().expect("a number of mods"), cache);
        return;
    }
    if let [first, cache, ..] = &args[..]
        && first == "examples-child"
    {
        examples_child(Path::new(cache));
        return;
    }
    let only = args.iter().find(|a| !a.starts_with('-')).cloned();
    let run = |part: &str| only.as_deref().is_none_or(|o| o == part);
    if run("cache") {
        cold_and_cached();
    }
    if run("compile") {
        frames_while_compiling();
    }
    if run("memory") {
        memory_per_idle_mod();
        memory_per_language();
    }
    if only.as_deref() == Some("soak") {
        let frames = args
            .iter()
            .filter(|a| !a.starts_with('-'))
            .nth(1)
            .map_or(100_000, |n| n.parse().expect("a number of frames"));
        soak(frames);
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// An app that loads the mods in `dir`, caching in `cache`, in real time.
fn app_in(dir: &Path, cache: Option<&Path>) -> App {
    app_in_real_time(
        ModPlugin::new()
            .with_mods_dir(dir)
            .with_limits(relaxed_limits())
            .with_compile_cache(cache.map(Path::to_path_buf)),
    )
}

/// Wall time from the app's first frame to every mod running.
fn time_to_running(dir: &Path, cache: Option<&Path>) -> (Duration, bool) {
    let mut app = app_in(dir, cache);
    let started = Instant::now();
    let failed = load(&mut app);
    let took = started.elapsed();
    assert!(failed.is_empty(), "{failed:?}");
    let cached = app
        .world()
        .resource::<ModRegistry>()
        .mods()
        .all(|m| m.compiled_from_cache);
    (took, cached)
}

fn cold_and_cached() {
    println!("loading one mod: cold (compiled) and cached (from the disk cache)");
    println!(
        "{:>10} {:>10} {:>12} {:>12} {:>14}",
        "mod", "size (KB)", "cold (ms)", "cached (ms)", "cached / cold"
    );
    let big = big_mod(BIG.0, BIG.1, 7);
    for (name, bytes) in [("rust", mod_bytes("mover")), ("big", big)] {
        let dir = mods_folder();
        std::fs::write(dir.join(format!("{name}.wasm")), &bytes).unwrap();
        let cache = mods_folder();
        let (cold, from_cache) = time_to_running(&dir, Some(&cache));
        assert!(!from_cache);
        // The best of three: the cached load is short enough for noise.
        let cached = (0..3)
            .map(|_| {
                let (t, from_cache) = time_to_running(&dir, Some(&cache));
                assert!(from_cache, "the second start found the cache");
                t
            })
            .min()
            .unwrap();
        println!(
            "{name:>10} {:>10} {:>12.1} {:>12.1} {:>14.3}",
            bytes.len() / 1000,
            ms(cold),
            ms(cached),
            cached.as_secs_f64() / cold.as_secs_f64()
        );
    }
}

/// Frame times of an app running the mover while nothing loads, then
/// while the big mod compiles beside it.
fn frames_while_compiling() {
    let dir = mods_folder();
    std::fs::write(dir.join("mover.wasm"), mod_bytes("mover")).unwrap();
    let mut app = app_in_real_time(
        ModPlugin::new()
            .with_mods_dir(&dir)
            .with_limits(relaxed_limits())
            .with_compile_cache(None)
            .with_config("mover", mover_config(1000, false, "mover")),
    );
    load(&mut app);
    let step = Duration::from_millis(16);
    let frame = |app: &mut App| {
        let t = Instant::now();
        app.update();
        let took = t.elapsed();
        std::thread::sleep(step.saturating_sub(took));
        took
    };
    let mut normal: Vec<Duration> = (0..300).map(|_| frame(&mut app)).collect();
    std::fs::write(dir.join("big.wasm"), big_mod(BIG.0, BIG.1, 8)).unwrap();
    let mut compiling = Vec::new();
    loop {
        let took = frame(&mut app);
        let big = app.world().resource::<ModRegistry>().get("big").cloned();
        match big.as_ref().map(|m| (m.status, m.phase)) {
            Some((_, Some(LoadPhase::Compiling))) => compiling.push(took),
            Some((ModStatus::Running, _)) => break,
            _ => {}
        }
    }
    normal.sort();
    compiling.sort();
    let median = |v: &[Duration]| v[v.len() / 2];
    let longest = |v: &[Duration]| *v.last().unwrap();
    let p99 = |v: &[Duration]| v[v.len() * 99 / 100];
    println!("frames of a game running the mover (1000 entities), 60 a second");
    println!(
        "{:>28} {:>8} {:>12} {:>12} {:>12}",
        "", "frames", "median (ms)", "p99 (ms)", "longest (ms)"
    );
    for (what, v) in [
        ("nothing loading", &normal),
        ("a big mod compiling", &compiling),
    ] {
        println!(
            "{what:>28} {:>8} {:>12.3} {:>12.3} {:>12.3}",
            v.len(),
            ms(median(v)),
            ms(p99(v)),
            ms(longest(v))
        );
    }
    println!(
        "longest frame while compiling, over the longest normal one: {:+.3} ms",
        ms(longest(&compiling)) - ms(longest(&normal))
    );
}

/// This process's resident memory, from the kernel.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A mod's bytes made distinct: a custom section holding `i`, so each file
/// is compiled and kept on its own, as different mods would be.
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

/// The idle mod (hooks that return at once) built in `language`.
fn idle_in(language: &str) -> Vec<u8> {
    let path = match language {
        "rust" => built_mods().join("idle.wasm"),
        "python" => python_mods().join("tests/idle_py.wasm"),
        "javascript" => js_mods().join("tests/idle_js.wasm"),
        other => panic!("no idle mod in {other}"),
    };
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Runs this benchmark again as a child measuring one thing (see
/// [`memory_child`]) and returns the figures it prints.
fn measured_by_child(args: &[&str]) -> Vec<f64> {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(args)
        .output()
        .expect("cannot run the benchmark again");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The figures are the last line (the demo may print before them).
    let out = String::from_utf8_lossy(&out.stdout);
    let line = out.lines().last().unwrap_or_default();
    line.split(' ').filter_map(|f| f.parse().ok()).collect()
}

/// Each count of mods is measured in a process of its own, so memory freed
/// by one measure is not counted in the next.
fn memory_per_idle_mod() {
    println!("memory per idle mod (distinct files, each compiled on its own)");
    println!(
        "{:>6} {:>28} {:>28} {:>26}",
        "mods",
        "resident / mod, compiled (KB)",
        "resident / mod, cached (KB)",
        "linear memory / mod (KB)"
    );
    let child = |n: usize, cache: &str| {
        let figures = measured_by_child(&["memory-child", "rust", &n.to_string(), cache]);
        (figures[0], figures[1])
    };
    for n in [1usize, 10, 100] {
        let (compiled, linear) = child(n, "-");
        let cache = mods_folder();
        let cache = cache.to_str().unwrap();
        child(n, cache);
        let (cached, _) = child(n, cache);
        println!("{n:>6} {compiled:>29.0} {cached:>28.0} {linear:>26.0}");
    }
    println!("(resident: the process's growth with the mods loaded, compiled code included)");
}

/// Memory per Python and JavaScript mod (idle, distinct files) at 1 and
/// 10 mods, and the ten example mods together, every one from a compile
/// cache filled beforehand (a player's second start).
fn memory_per_language() {
    println!();
    println!("memory per idle mod by language (distinct files, from the compile cache)");
    println!(
        "{:>12} {:>6} {:>22} {:>26}",
        "language", "mods", "resident / mod (MB)", "linear memory / mod (MB)"
    );
    let mb = |kb: f64| kb / 1024.0;
    for language in ["rust", "python", "javascript"] {
        let cache = mods_folder();
        let cache = cache.to_str().unwrap();
        for n in [1usize, 10] {
            let n = n.to_string();
            // The first start compiles into the cache; the second is measured.
            measured_by_child(&["memory-child", language, &n, cache]);
            let figures = measured_by_child(&["memory-child", language, &n, cache]);
            println!(
                "{language:>12} {n:>6} {:>22.1} {:>26.1}",
                mb(figures[0]),
                mb(figures[1])
            );
        }
    }
    let cache = mods_folder();
    let cache = cache.to_str().unwrap();
    measured_by_child(&["examples-child", cache]);
    let figures = measured_by_child(&["examples-child", cache]);
    println!(
        "the ten example mods together: {:.0} MB resident, {:.0} MB of it linear memory",
        mb(figures[0]),
        mb(figures[1])
    );
    println!("(resident: the process's growth over an app with no mods, compiled code included)");
}

/// An app with no mods, run a few frames, and the process's resident
/// memory then: what the engine, the workers and Bevy hold before any mod.
/// Keep the app while measuring.
fn baseline_resident() -> (App, u64) {
    let empty = mods_folder();
    let mut base = app_with(ModPlugin::new().with_mods_dir(&*empty));
    load(&mut base);
    frames(&mut base, 30);
    (base, resident_bytes().unwrap_or(0))
}

/// One measure of [`memory_per_idle_mod`] and [`memory_per_language`]: `n`
/// distinct idle mods in `language`, compiled or from `cache`; prints
/// resident and linear memory per mod in KB.
fn memory_child(language: &str, n: usize, cache: Option<std::path::PathBuf>) {
    let dir = mods_folder();
    let mut plugin = ModPlugin::new()
        .with_mods_dir(&dir)
        .with_compile_cache(cache);
    let idle = idle_in(language);
    for i in 0..n {
        let stem = format!("idle-{i:03}");
        std::fs::write(dir.join(format!("{stem}.wasm")), distinct(idle.clone(), i)).unwrap();
        let config = rmp_serde::to_vec_named(&BTreeMap::from([("name", &stem)])).unwrap();
        plugin = plugin.with_config(stem, config);
    }
    let (_base, before) = baseline_resident();
    let mut app = app_with(plugin);
    let failed = load(&mut app);
    assert!(failed.is_empty(), "{failed:#?}");
    frames(&mut app, 30);
    let after = resident_bytes().unwrap_or(0);
    let registry = app.world().resource::<ModRegistry>();
    assert_eq!(registry.running().count(), n);
    let linear: u64 = registry.mods().map(|m| m.cost.memory_bytes).sum();
    println!(
        "{:.0} {:.0}",
        after.saturating_sub(before) as f64 / n as f64 / 1024.0,
        linear as f64 / n as f64 / 1024.0
    );
}

/// The ten example mods in the demo's headless app, from `cache`; prints
/// the process's growth and the mods' linear memory in KB.
fn examples_child(cache: &Path) {
    let dir = mods_folder();
    for (from, id) in example_mods() {
        std::fs::copy(&from, dir.join(format!("{id}.wasm"))).unwrap();
    }
    let (_base, before) = baseline_resident();
    let plugin = demo_game::mod_plugin(&dir, Some(cache.to_path_buf())).with_watching(false);
    let mut app = demo_game::headless_app(plugin);
    demo_game::load_mods(&mut app, Duration::from_secs(600)).unwrap();
    frames(&mut app, 30);
    let after = resident_bytes().unwrap_or(0);
    let registry = app.world().resource::<ModRegistry>();
    assert_eq!(registry.running().count(), example_mods().len());
    let linear: u64 = registry.mods().map(|m| m.cost.memory_bytes).sum();
    println!(
        "{:.0} {:.0}",
        after.saturating_sub(before) as f64 / 1024.0,
        linear as f64 / 1024.0
    );
}

/// The ten example mods together, headless in lockstep, for `frames`
/// frames: each mod's linear memory, renewals and faults every tenth of
/// the run, and the most memory each held.
fn soak(total: usize) {
    println!();
    println!("the ten example mods together for {total} frames");
    let dir = mods_folder();
    for (from, id) in example_mods() {
        std::fs::copy(&from, dir.join(format!("{id}.wasm"))).unwrap();
    }
    let plugin =
        demo_game::mod_plugin(&dir, bevy_wasm_mods::default_compile_cache()).with_watching(false);
    let mut app = demo_game::headless_app(plugin);
    demo_game::load_mods(&mut app, Duration::from_secs(600)).unwrap();
    let ids: Vec<&str> = example_mods().into_iter().map(|(_, id)| id).collect();
    print!("{:>8}", "frame");
    for id in &ids {
        print!(" {id:>12}");
    }
    println!("   (KiB of linear memory, renewals)");
    let mut most: BTreeMap<&str, u64> = BTreeMap::new();
    let started = Instant::now();
    let step = (total / 10).max(1);
    let mut done = 0;
    while done < total {
        let n = step.min(total - done);
        for _ in 0..n {
            app.update();
            for id in &ids {
                let memory = info(&app, id).cost.memory_bytes;
                let top = most.entry(id).or_default();
                *top = (*top).max(memory);
            }
        }
        done += n;
        print!("{done:>8}");
        for id in &ids {
            let m = info(&app, id);
            print!(" {:>7} {:>4}", m.cost.memory_bytes >> 10, m.cost.renewals);
        }
        println!();
    }
    println!("{total} frames in {:.0?}", started.elapsed());
    for id in &ids {
        let m = info(&app, id);
        println!(
            "  {id:>12}: {:?}, {} faults, {} renewals, at most {} KiB",
            m.status,
            m.faults,
            m.cost.renewals,
            most[id] >> 10
        );
    }
}
