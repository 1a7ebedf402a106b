//! The demo game: runs the mods in a folder and prints what they did.
//!
//! `demo-game --headless --frames 300 --mods assets/mods`, or `--seconds 30`
//! to run at 60 frames a second of real time while the folder is changed:
//! each mod loaded, updated, refused, unloaded, faulted, recovered or
//! quarantined is a line as it happens.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bevy::app::ScheduleRunnerPlugin;
use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use bevy_wasm_mods::prelude::*;
use bevy_wasm_mods::{FrameMode, escape};
use demo_game::{DemoPlugin, PlayerJoined, Position};

struct Args {
    frames: u64,
    /// Run for this long at 60 frames a second instead of `frames` frames.
    seconds: Option<f64>,
    mods: PathBuf,
    /// Where compiled mods are kept; `None` compiles at every start.
    cache: Option<PathBuf>,
}

const USAGE: &str = "usage: demo-game [--headless] [--frames N | --seconds S] [--mods DIR] \
                     [--compile-cache DIR | --no-compile-cache]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        frames: 300,
        seconds: None,
        mods: PathBuf::from("assets/mods"),
        cache: bevy_wasm_mods::default_compile_cache(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            // This build has no window; the flag is accepted so scripts can
            // ask for headless runs explicitly.
            "--headless" => {}
            "--frames" => {
                args.frames = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or("--frames needs a number")?;
            }
            "--seconds" => {
                let s: f64 = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|s: &f64| s.is_finite() && *s >= 0.0)
                    .ok_or("--seconds needs a number of seconds")?;
                args.seconds = Some(s);
            }
            "--mods" => args.mods = it.next().ok_or("--mods needs a folder")?.into(),
            "--compile-cache" => {
                args.cache = Some(it.next().ok_or("--compile-cache needs a folder")?.into())
            }
            "--no-compile-cache" => args.cache = None,
            "--help" | "-h" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(args)
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,wasmtime=warn,cranelift=warn".into()),
        )
        .init();
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };

    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins.set(ScheduleRunnerPlugin::run_once()),
        // Lockstep: the summary's checksum is the same run after run.
        ModPlugin::new()
            .with_mods_dir(&args.mods)
            .with_compile_cache(args.cache.clone())
            // The greeters in Rust and in Python both keep a `Badge` and
            // send `greeting`s: the game opens those names to every mod.
            .with_shared_name("Badge")
            .with_shared_name("greeting")
            .with_shared_name("badge-seen")
            .with_frame_mode(FrameMode::Lockstep),
        DemoPlugin,
    ))
    // A fixed step, so a run is the same every time.
    .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_secs_f64(
        1.0 / 60.0,
    )))
    .add_systems(Update, (greet_players, print_lifecycle));

    let started = Instant::now();
    app.update();
    while app.world().resource::<ModRegistry>().is_loading() {
        // Compiling is done at low priority: on a machine busy besides, a
        // big mod's first load can take minutes (then it is cached).
        if started.elapsed() > Duration::from_secs(600) {
            eprintln!("mods did not finish loading in 600 s");
            std::process::exit(1);
        }
        std::thread::sleep(Duration::from_millis(2));
        app.update();
    }
    let loaded_in = started.elapsed();
    let frames = match args.seconds {
        // Real time, a frame every 1/60 s, for changes to the folder.
        Some(seconds) => {
            let step = Duration::from_secs_f64(1.0 / 60.0);
            let until = Instant::now() + Duration::from_secs_f64(seconds);
            let mut next = Instant::now();
            let mut frames = 0u64;
            while Instant::now() < until {
                app.update();
                frames += 1;
                next += step;
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
            frames
        }
        None => {
            for _ in 0..args.frames {
                app.update();
            }
            args.frames
        }
    };

    let world = app.world_mut();
    println!(
        "mods ({} found, loaded in {loaded_in:.2?}):",
        world.resource::<ModRegistry>().mods().len()
    );
    for m in world.resource::<ModRegistry>().mods() {
        // A failed mod's name is its file's, which may hold anything.
        let name = escape(&m.name);
        let file = m.file.display().to_string();
        let file = escape(&file);
        println!("  {name} {} [{:?}] {file}", escape(&m.version), m.status);
        if let Some(f) = &m.last_error {
            println!(
                "    {} fault(s), {} recovery(ies); last: {f}",
                m.faults, m.recoveries
            );
        }
        if let Some(f) = &m.update_refused {
            println!("    a newer file was refused, this version runs on: {f}");
        }
        if let Some(took) = m.load_time {
            let how = if m.compiled_from_cache {
                "its compiled code from the cache"
            } else {
                "compiled"
            };
            println!("    loaded in {took:.1?}, {how}");
        }
        let c = &m.cost;
        println!(
            "    guest {:.1?} last tick, {:.1?} on average; main thread {:.1?}, {:.1?} on average",
            c.guest_time, c.guest_time_avg, c.main_thread, c.main_thread_avg
        );
        println!(
            "    {} bytes in, {} bytes out a tick; {} entities, {} bytes kept; {} KiB of memory",
            c.bytes_in,
            c.bytes_out,
            c.entities,
            c.state_bytes,
            c.memory_bytes / 1024
        );
        println!(
            "    {} ticks, {} events dropped, {} inputs cut, {} skipped, {} rejected by others",
            m.ticks, c.events_dropped, c.inputs_cut, c.skipped_ticks, c.rejected_by_others
        );
    }
    let positioned = world.query::<&Position>().iter(world).count();
    let entities = world.iter_entities().count();
    println!("frames: {frames}");
    println!("entities: {entities} ({positioned} with a Position)");
    println!(
        "checksum: {:016x}",
        bevy_wasm_mods::moddable_checksum(world)
    );
}

/// One line per change in a mod's life, as it happens, with its file.
#[allow(clippy::too_many_arguments)]
fn print_lifecycle(
    mut loaded: MessageReader<ModLoaded>,
    mut updated: MessageReader<ModUpdated>,
    mut refused: MessageReader<ModUpdateRefused>,
    mut unloaded: MessageReader<ModUnloaded>,
    mut failed: MessageReader<ModFailed>,
    mut recovered: MessageReader<ModRecovered>,
    mut quarantined: MessageReader<ModQuarantined>,
) {
    let file = |f: &std::path::Path| escape(&f.display().to_string()).into_owned();
    for m in loaded.read() {
        println!(
            "loaded: {} {} ({})",
            escape(&m.name),
            escape(&m.version),
            file(&m.file)
        );
    }
    for m in updated.read() {
        println!(
            "updated, state kept: {} {} ({})",
            escape(&m.name),
            escape(&m.version),
            file(&m.file)
        );
    }
    for m in refused.read() {
        println!(
            "update refused, the running version goes on: {}: {}",
            file(&m.file),
            m.fault
        );
    }
    for m in unloaded.read() {
        println!(
            "unloaded: {} ({}), {} entities despawned",
            escape(&m.name),
            file(&m.file),
            m.despawned
        );
    }
    for m in failed.read() {
        println!(
            "faulted: {} ({}): {}",
            escape(&m.name),
            file(&m.file),
            m.fault
        );
    }
    for m in recovered.read() {
        println!(
            "recovered: {} ({}), {} faults so far",
            escape(&m.name),
            file(&m.file),
            m.faults
        );
    }
    for m in quarantined.read() {
        println!(
            "quarantined: {} ({}): {}",
            escape(&m.name),
            file(&m.file),
            m.fault
        );
    }
}

/// A player joins every 100 frames once the mods run, so mods that greet
/// players have work.
fn greet_players(
    mut frame: Local<u32>,
    registry: Res<ModRegistry>,
    mut joined: MessageWriter<PlayerJoined>,
) {
    if registry.is_loading() {
        return;
    }
    if *frame % 100 == 0 {
        joined.write(PlayerJoined {
            name: format!("player-{}", *frame / 100),
            level: 1 + *frame / 100,
        });
    }
    *frame += 1;
}
