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
//! after the mods loaded and quits. `--record FILE` records what enters the
//! mods; `--replay FILE` runs a recording again, compares each frame and
//! reports the first that differs (headless or windowed). `--save-at N
//! FILE` saves the game (every mod's state with the world) after frame N;
//! `--load FILE` goes on from a saved game. In a window F5 saves and F9
//! loads.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_wasm_mods::escape;
use bevy_wasm_mods::prelude::*;
use bevy_wasm_mods::replay::ReplayStatus;
use demo_game::Position;

/// The demo game: runs the mods in a folder and shows what they do.
#[derive(clap::Parser, Debug)]
#[command(version, about, long_about = None)]
struct Args {
    /// Run without a window, even where one could be opened.
    #[arg(long)]
    headless: bool,
    /// Frames to run (headless, default 300), or to wait after the mods
    /// loaded before `--screenshot` (windowed, default 60).
    #[arg(long, value_name = "N", conflicts_with = "seconds")]
    frames: Option<u64>,
    /// Run for this long at 60 frames a second of real time, for changes
    /// to the mods folder while the game runs (headless).
    #[arg(long, value_name = "S", value_parser = seconds)]
    seconds: Option<f64>,
    /// The mods folder.
    #[arg(long, value_name = "DIR", default_value = "assets/mods")]
    mods: PathBuf,
    /// Where compiled mods are kept (default: the player's cache folder).
    #[arg(long, value_name = "DIR", conflicts_with = "no_compile_cache")]
    compile_cache: Option<PathBuf>,
    /// Compile every mod at every start.
    #[arg(long)]
    no_compile_cache: bool,
    /// Worker threads that run the mods (default: one per core, more
    /// started while a mod holds one). The world is the same whatever
    /// the number.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    workers: Option<u16>,
    /// Record what enters the mods, frame by frame, into FILE (a
    /// recording replays the run, see --replay).
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    record: Option<PathBuf>,
    /// Replay the recording in FILE: as many frames as it holds, each
    /// compared with it; the first frame that differs is reported with the
    /// mods whose commands differ, and the game stops there (exit code 3).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["frames", "seconds"])]
    replay: Option<PathBuf>,
    /// Save the game into FILE after frame N (counted from the frame the
    /// mods begin on, 0), headless: every mod's state with the world.
    #[arg(long, num_args = 2, value_names = ["N", "FILE"], conflicts_with = "replay")]
    save_at: Option<Vec<String>>,
    /// Load the saved game in FILE when the mods begin, and go on from it.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["replay", "record"])]
    load: Option<PathBuf>,
    /// Open the mod panel at the start (windowed).
    #[arg(long)]
    panel: bool,
    /// Save a screenshot and quit (windowed).
    #[arg(long, value_name = "PATH")]
    screenshot: Option<PathBuf>,
}

impl Args {
    /// The mod plugin as these arguments set it up.
    fn plugin(&self) -> ModPlugin {
        let mut plugin = demo_game::mod_plugin(&self.mods, self.cache());
        if let Some(n) = self.workers {
            plugin = plugin.with_worker_threads(n.into());
        }
        if let Some(file) = &self.record {
            plugin = plugin.with_recording(file);
        }
        if let Some(file) = &self.replay {
            plugin = plugin.with_replay(file);
        }
        if let Some(file) = &self.load {
            plugin = plugin.with_load(file);
        }
        plugin
    }

    /// The frame and file of `--save-at`, or why they are wrong.
    fn save_at(&self) -> Result<Option<(u64, PathBuf)>, String> {
        let Some(v) = &self.save_at else {
            return Ok(None);
        };
        let frame = v[0]
            .parse::<u64>()
            .map_err(|_| format!("--save-at: `{}` is not a frame number", escape(&v[0])))?;
        Ok(Some((frame, PathBuf::from(&v[1]))))
    }

    /// Where compiled mods are kept; `None` compiles at every start.
    fn cache(&self) -> Option<PathBuf> {
        if self.no_compile_cache {
            return None;
        }
        self.compile_cache
            .clone()
            .or_else(bevy_wasm_mods::default_compile_cache)
    }
}

/// A number of seconds: finite, not negative.
fn seconds(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .ok_or_else(|| format!("`{text}` is not a number of seconds"))
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,wasmtime=warn,cranelift=warn".into()),
        )
        .init();
    let args = <Args as clap::Parser>::parse();
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

    let save_at = match args.save_at() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let mut app = demo_game::headless_app(args.plugin());
    if let Some((frame, path)) = save_at {
        app.insert_resource(SaveAt { frame, path })
            .add_systems(Update, save_when_due.run_if(mods_ready));
    }
    let loaded_in = match demo_game::load_mods(&mut app, Duration::from_secs(600)) {
        Ok(took) => took,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let status = app.world().resource::<ReplayStatus>().clone();
    if let Some(e) = status.error {
        eprintln!("{e}");
        std::process::exit(1);
    }
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
        // A replay: its frames (the first ran as the mods began, as in
        // the recorded run), up to the first that differs.
        None if args.replay.is_some() => {
            let mut frames = 0;
            loop {
                let status = app.world().resource::<ReplayStatus>();
                if status.finished || status.diverged.is_some() {
                    break;
                }
                app.update();
                frames += 1;
            }
            frames
        }
        None => {
            let frames = args.frames.unwrap_or(300);
            for _ in 0..frames {
                app.update();
            }
            frames
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
    if args.replay.is_some() {
        let status = world.resource::<ReplayStatus>();
        for d in &status.mods_differ {
            println!("replay: {}", escape(d));
        }
        match &status.diverged {
            Some(d) => {
                println!("replay: {}", escape(&d.to_string()));
                std::process::exit(3);
            }
            None => println!(
                "replay: {} frames, each the same as the recording",
                status.frame
            ),
        }
    }
}

/// `--save-at`: the frame after which to save, and where.
#[derive(Resource)]
struct SaveAt {
    frame: u64,
    path: PathBuf,
}

/// Saves the game at the end of the frame `--save-at` names.
fn save_when_due(
    at: Res<SaveAt>,
    mut frame: Local<u64>,
    mut saves: MessageWriter<bevy_wasm_mods::save::SaveGame>,
) {
    if *frame == at.frame {
        demo_game::save_to(&at.path, &mut saves);
    }
    *frame += 1;
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
    let mut plugin = args.plugin();
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
        screenshot_after: args.frames.unwrap_or(60),
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
