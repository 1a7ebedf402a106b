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
use game::demo::{Position, Velocity};
use game::prelude::*;
use mod_tests::*;

const FRAMES: usize = 400;
const ENTITIES: u32 = 10_000;

/// Median wall time of one `app.update()` over `FRAMES` frames.
fn median_frame(app: &mut App) -> Duration {
    frames(app, 20);
    let mut times: Vec<Duration> = (0..FRAMES)
        .map(|_| {
            let t = Instant::now();
            app.update();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn idle_app(mods: usize) -> App {
    let dir = mods_folder();
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

    // `-- mover` or `-- idle` runs one half (handy under a profiler).
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if only.as_deref() != Some("mover") {
        idle_mods();
    }
    if only.as_deref() != Some("idle") {
        mover();
    }
}

fn idle_mods() {
    println!("idle mods: main-thread time per mod per frame");
    println!("{:>6} {:>14} {:>16}", "mods", "frame (µs)", "per mod (µs)");
    let base = median_frame(&mut idle_app(0));
    println!("{:>6} {:>14.1} {:>16}", 0, micros(base), "-");
    for n in [1, 10, 100] {
        let mut app = idle_app(n);
        let running = app.world().resource::<ModRegistry>().running().count();
        assert_eq!(running, n, "every idle mod runs");
        let t = median_frame(&mut app);
        let per = (micros(t) - micros(base)) / n as f64;
        println!("{n:>6} {:>14.1} {per:>16.2}", micros(t));
    }
}

fn mover() {
    println!();
    println!("position += velocity for {ENTITIES} entities, per frame");
    // Native: the same entities, moved by a Bevy system.
    let mut empty = app(&mods_folder());
    load(&mut empty);
    spawn_grid(empty.world_mut());
    let empty_t = median_frame(&mut empty);

    let mut native = app(&mods_folder());
    native
        .init_resource::<NativeTimes>()
        .add_systems(Update, native_move);
    load(&mut native);
    spawn_grid(native.world_mut());
    let native_t = median_frame(&mut native);
    // The system's own time is the steadier baseline on a shared machine.
    let mut inside = std::mem::take(&mut native.world_mut().resource_mut::<NativeTimes>().0);
    inside.sort();
    let native_inside = inside[inside.len() / 2];

    let dir = folder_with(&[("mover", "mover.wasm")]);
    let config = rmp_serde::to_vec_named(&BTreeMap::from([("count", ENTITIES)])).unwrap();
    let mut modded = app_with(
        ModPlugin::new()
            .with_mods_dir(&dir)
            .with_config("mover", config),
    );
    load(&mut modded);
    // Let the mod spawn all its entities first.
    for _ in 0..200 {
        modded.update();
        let world = modded.world_mut();
        if world.query::<&Position>().iter(world).count() as u32 >= ENTITIES {
            break;
        }
    }
    let modded_t = median_frame(&mut modded);
    let world = modded.world_mut();
    assert_eq!(
        world.query::<&Position>().iter(world).count() as u32,
        ENTITIES
    );
    assert_eq!(
        world
            .resource::<ModRegistry>()
            .get("mover")
            .map(|m| m.status),
        Some(ModStatus::Running)
    );

    let native_frame_cost = micros(native_t) - micros(empty_t);
    let native_cost = micros(native_inside).max(0.1);
    let mod_cost = micros(modded_t) - micros(empty_t);
    println!("{:>32} {:>12}", "", "µs");
    println!("{:>32} {:>12.1}", "frame, no work", micros(empty_t));
    println!(
        "{:>32} {:>12.1}",
        "native system (its own time)", native_cost
    );
    println!(
        "{:>32} {:>12.1}",
        "native system (frame cost)", native_frame_cost
    );
    println!("{:>32} {:>12.1}", "mod via batch (frame cost)", mod_cost);
    println!("{:>32} {:>12.1}x", "mod / native", mod_cost / native_cost);
}
