//! The demo game: runs the mods in a folder and prints what they did.
//!
//! `demo-game --headless --frames 300 --mods assets/mods`

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
    mods: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        frames: 300,
        mods: PathBuf::from("assets/mods"),
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
            "--mods" => args.mods = it.next().ok_or("--mods needs a folder")?.into(),
            "--help" | "-h" => {
                return Err("usage: demo-game [--headless] [--frames N] [--mods DIR]".into());
            }
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
            .with_frame_mode(FrameMode::Lockstep),
        DemoPlugin,
    ))
    // A fixed step, so a run is the same every time.
    .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_secs_f64(
        1.0 / 60.0,
    )))
    .add_systems(Update, greet_players);

    let started = Instant::now();
    app.update();
    while app.world().resource::<ModRegistry>().is_loading() {
        if started.elapsed() > Duration::from_secs(120) {
            eprintln!("mods did not finish loading in 120 s");
            std::process::exit(1);
        }
        std::thread::sleep(Duration::from_millis(2));
        app.update();
    }
    let loaded_in = started.elapsed();
    for _ in 0..args.frames {
        app.update();
    }

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
        match &m.last_error {
            None => println!("  {name} {} [{:?}] {file}", m.version, m.status),
            Some(f) => println!("  {name} [{:?}] {file}: {f}", m.status),
        }
    }
    let positioned = world.query::<&Position>().iter(world).count();
    let entities = world.iter_entities().count();
    println!("frames: {}", args.frames);
    println!("entities: {entities} ({positioned} with a Position)");
    println!(
        "checksum: {:016x}",
        bevy_wasm_mods::moddable_checksum(world)
    );
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
