//! The demo game: runs the mods in a folder, in a window where there is a
//! display and the binary was built with the `window` feature, headless
//! otherwise.
//!
//! `demo-game --headless --frames 300 --mods assets/mods` runs 300 frames
//! and prints what the mods did, or `--seconds 30` runs at 60 frames a
//! second of real time while the folder is changed: each mod loaded,
//! updated, refused, unloaded, faulted, recovered or quarantined is a line
//! as it happens. In a window: `--panel` opens the mod panel at the start,
//! `--screenshot PATH` saves a screenshot `--frames N` frames (default 60)
//! after the mods loaded and quits.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_wasm_mods::prelude::*;
use demo_game::Position;

struct Args {
    /// Without a window, even where one could be opened.
    headless: bool,
    /// A screenshot to save (windowed).
    screenshot: Option<PathBuf>,
    /// Whether the mod panel starts open (windowed).
    panel: bool,
    /// Whether `--frames` was given.
    frames_given: bool,
    frames: u64,
    /// Run for this long at 60 frames a second instead of `frames` frames.
    seconds: Option<f64>,
    mods: PathBuf,
    /// Where compiled mods are kept; `None` compiles at every start.
    cache: Option<PathBuf>,
}

const USAGE: &str = "usage: demo-game [--headless] [--frames N | --seconds S] [--mods DIR] \
                     [--compile-cache DIR | --no-compile-cache] [--panel] [--screenshot PATH]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        headless: false,
        screenshot: None,
        panel: false,
        frames_given: false,
        frames: 300,
        seconds: None,
        mods: PathBuf::from("assets/mods"),
        cache: bevy_wasm_mods::default_compile_cache(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--headless" => args.headless = true,
            "--panel" => args.panel = true,
            "--screenshot" => {
                args.screenshot = Some(it.next().ok_or("--screenshot needs a file")?.into())
            }
            "--frames" => {
                args.frames = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or("--frames needs a number")?;
                args.frames_given = true;
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
    if !args.headless {
        match window_possible() {
            Ok(()) => return run_windowed(&args),
            Err(why) if args.screenshot.is_some() => {
                eprintln!("cannot take a screenshot: {why}");
                std::process::exit(1);
            }
            Err(why) => eprintln!("{why}: running headless"),
        }
    }

    let mut app = demo_game::headless_app(demo_game::mod_plugin(&args.mods, args.cache.clone()));
    let loaded_in = match demo_game::load_mods(&mut app, Duration::from_secs(600)) {
        Ok(took) => took,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
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
    demo_game::print_mods(world.resource::<ModRegistry>());
    let positioned = world.query::<&Position>().iter(world).count();
    let entities = world.iter_entities().count();
    println!("frames: {frames}");
    println!("entities: {entities} ({positioned} with a Position)");
    println!(
        "checksum: {:016x}",
        bevy_wasm_mods::moddable_checksum(world)
    );
}

/// Whether this binary can open a window here, or why not.
fn window_possible() -> Result<(), String> {
    if !cfg!(feature = "window") {
        return Err("this build has no window (build with `--features window`)".into());
    }
    #[cfg(all(unix, not(target_os = "macos")))]
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        return Err("no display (DISPLAY is not set)".into());
    }
    Ok(())
}

#[cfg(feature = "window")]
fn run_windowed(args: &Args) {
    let mut plugin = demo_game::mod_plugin(&args.mods, args.cache.clone());
    if args.screenshot.is_none() {
        // A player's game: a slow mod never slows a frame.
        plugin = plugin.with_frame_mode(bevy_wasm_mods::FrameMode::default());
    } else {
        // A screenshot is a replay (lockstep, a fixed step): the same
        // picture on a loaded machine too, where starting an interpreter
        // (a Python or JavaScript mod's init) can take longer than the
        // default 50 ms call limit.
        plugin = plugin.with_limits(bevy_wasm_mods::ModLimits {
            hard_call_limit: Duration::from_secs(2),
            soft_call_budget: Duration::from_millis(500),
            ..Default::default()
        });
    }
    let options = demo_game::window::WindowOptions {
        screenshot: args.screenshot.clone(),
        screenshot_after: if args.frames_given { args.frames } else { 60 },
        panel_open: args.panel,
    };
    let exit = demo_game::window::windowed_app(plugin, options).run();
    if !exit.is_success() {
        std::process::exit(1);
    }
}

#[cfg(not(feature = "window"))]
fn run_windowed(_: &Args) {
    unreachable!("window_possible() says no without the feature")
}
