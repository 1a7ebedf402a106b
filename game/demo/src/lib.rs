//! The demo game: its moddable types and the plugin that exposes them.
//! They are what the bundled example mods, the tests and the benchmark use;
//! a game of your own exposes its own types instead. Also the headless game
//! loop and its console report, which the `demo-game` binary and `modkit`
//! share.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bevy::app::ScheduleRunnerPlugin;
use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;

use bevy_wasm_mods::prelude::*;
use bevy_wasm_mods::{FrameMode, ModAccess, ModdingAppExt, escape};

/// Where an entity is.
#[derive(
    Component,
    Reflect,
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    serde::Serialize,
    serde::Deserialize,
    bytemuck::Pod,
    bytemuck::Zeroable,
)]
#[reflect(Component, Default)]
#[repr(C)]
pub struct Position {
    /// Horizontal position.
    pub x: f32,
    /// Vertical position.
    pub y: f32,
}

/// How fast an entity moves, per second or per tick, as a mod likes.
#[derive(
    Component,
    Reflect,
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    serde::Serialize,
    serde::Deserialize,
    bytemuck::Pod,
    bytemuck::Zeroable,
)]
#[reflect(Component, Default)]
#[repr(C)]
pub struct Velocity {
    /// Horizontal speed.
    pub x: f32,
    /// Vertical speed.
    pub y: f32,
}

/// Hit points; mods may read them but only the game changes them.
#[derive(Component, Reflect, Clone, Copy, Debug, Default, PartialEq)]
#[reflect(Component, Default)]
pub struct Health {
    /// Current hit points.
    pub current: i32,
    /// Maximum hit points.
    pub max: i32,
}

/// A label shown over an entity; nested data, so it travels as MessagePack.
#[derive(Component, Reflect, Clone, Debug, Default, PartialEq)]
#[reflect(Component, Default)]
pub struct Nameplate {
    /// The text.
    pub text: String,
    /// Free-form tags.
    pub tags: Vec<String>,
}

/// Sent by the game when a player joins; mods may subscribe to it.
#[derive(Message, Reflect, Clone, Debug, Default, PartialEq)]
pub struct PlayerJoined {
    /// The player's name.
    pub name: String,
    /// The player's level.
    pub level: u32,
}

/// How an entity is drawn in the windowed game. An entity with a
/// `Position` and no `Look` is drawn as a small square in its mod's colour.
#[derive(Component, Reflect, Clone, Debug, PartialEq)]
#[reflect(Component, Default)]
pub struct Look {
    /// `circle`, `square`, `triangle` or `ring` (anything else: `square`).
    pub shape: String,
    /// `#rrggbb`, or a name: `white`, `red`, `green`, `blue`, `yellow`,
    /// `orange`, `purple`, `cyan`, `grey` (anything else: white).
    pub color: String,
    /// Width and height in world units, 1 to 200.
    pub size: f32,
    /// A PNG from the package of the mod that spawned the entity
    /// (`storm.png` for its `assets/storm.png`), drawn instead of the
    /// shape and tinted by `color` (`white`: as it is); or another mod's
    /// by its full name (`storm:storm.png`). Empty, or naming no image
    /// the game has: the shape.
    pub sprite: String,
}

impl Default for Look {
    fn default() -> Self {
        Look {
            shape: "square".into(),
            color: "white".into(),
            size: 10.0,
            sprite: String::new(),
        }
    }
}

/// The full name of the sprite a `Look` names on an entity of mod `owner`
/// (`storm:storm.png`), if it names one.
pub fn sprite_name(look: &Look, owner: Option<&str>) -> Option<String> {
    if look.sprite.is_empty() {
        return None;
    }
    if look.sprite.contains(':') {
        return Some(look.sprite.clone());
    }
    owner.map(|o| format!("{o}:{}", look.sprite))
}

/// How fast the game moves its asteroids: a rule of the game's own that
/// mods can read, and change when the game or the player grants a mod
/// the right to change the game's entities.
#[derive(Component, Reflect, Clone, Copy, Debug, PartialEq)]
#[reflect(Component, Default)]
pub struct Hazard {
    /// The asteroid's speed as a multiple of its `Velocity` (0 to 10).
    pub speed: f32,
}

impl Default for Hazard {
    fn default() -> Self {
        Hazard { speed: 1.0 }
    }
}

/// Sent by the game when two entities touch (the player's ship and
/// anything with a `Position`); mods may subscribe to it.
#[derive(Message, Reflect, Clone, Debug, Default, PartialEq)]
pub struct Collided {
    /// The ship, by the id mods know it by (its `ModId`).
    pub a: u64,
    /// What it touched, by its `ModId`.
    pub b: u64,
}

/// Sent by the windowed game when the player presses a key; mods may
/// subscribe to it.
#[derive(Message, Reflect, Clone, Debug, Default, PartialEq)]
pub struct KeyPressed {
    /// The key's name, as Bevy's `KeyCode` spells it (`KeyA`, `Space`,
    /// `ArrowUp`).
    pub key: String,
}

/// Exposes the demo types to mods.
pub struct DemoPlugin;

impl Plugin for DemoPlugin {
    fn build(&self, app: &mut App) {
        // Positions and velocities are what mods move in bulk: plain
        // structs of numbers, so their bytes cross as they are.
        app.add_moddable_component_pod::<Position>(ModAccess::ReadWrite)
            .add_moddable_component_pod::<Velocity>(ModAccess::ReadWrite)
            .add_moddable_component::<Nameplate>(ModAccess::ReadWrite)
            .add_moddable_component::<Health>(ModAccess::Read)
            .add_moddable_component::<Look>(ModAccess::ReadWrite)
            .add_moddable_component::<Hazard>(ModAccess::ReadWrite)
            .add_moddable_message::<PlayerJoined>()
            .add_moddable_message::<Collided>()
            .add_moddable_message::<KeyPressed>()
            // A loaded game goes on with the next player due.
            .init_resource::<Arrivals>()
            .add_saved_resource::<Arrivals>()
            // In the frame the game is saved or loaded (the plugin does it
            // after `Update`), so a run that ends then says so too.
            .add_systems(Last, report_saves);
    }
}

/// Where F5 saves the game and F9 loads it from (windowed).
pub const QUICKSAVE: &str = "saves/quicksave.bwsave";

/// Asks for a save to `path` at the end of this frame, making its folder.
pub fn save_to(path: &Path, saves: &mut MessageWriter<bevy_wasm_mods::save::SaveGame>) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!("cannot save to {}: {e}", path.display());
        return;
    }
    saves.write(bevy_wasm_mods::save::SaveGame {
        path: path.to_path_buf(),
    });
}

/// One line per game saved or loaded, with what did not go as it should.
pub fn report_saves(
    mut saved: MessageReader<bevy_wasm_mods::save::GameSaved>,
    mut loaded: MessageReader<bevy_wasm_mods::save::GameLoaded>,
) {
    let outcomes = saved
        .read()
        .map(|s| ("game saved", &s.path, &s.result))
        .chain(loaded.read().map(|l| ("game loaded", &l.path, &l.result)));
    for (what, path, result) in outcomes {
        let path = escape(&path.display().to_string()).into_owned();
        match result {
            Ok(r) => {
                println!(
                    "{what}: {path}, frame {}, {} entities, {} mods' state",
                    r.frame,
                    r.entities,
                    r.mods.len()
                );
                for problem in &r.problems {
                    println!("{what}: {path}: {}", escape(problem));
                }
            }
            Err(e) => println!("{what}: failed: {}", escape(e)),
        }
    }
}

pub mod arena;
#[cfg(feature = "window")]
pub mod window;

/// The mod plugin as the demo game sets it up: the mods in `mods`, compiled
/// code kept in `cache`, lockstep frames (a run gives the same world every
/// time), the names the example greeters in every language share, and the
/// storm's grant.
pub fn mod_plugin(mods: &Path, cache: Option<PathBuf>) -> ModPlugin {
    ModPlugin::new()
        .with_mods_dir(mods)
        .with_compile_cache(cache)
        // The greeters in Rust, Python and JavaScript all keep a `Badge`
        // and send `greeting`s: the game opens those names to every mod.
        .with_shared_name("Badge")
        .with_shared_name("greeting")
        .with_shared_name("badge-seen")
        // The storm example changes the game's own asteroids: the game
        // grants it, by its file name, the right to change the game's
        // entities.
        .with_grants(
            "storm",
            bevy_wasm_mods::ModGrants::default().modify_any_entity(),
        )
        .with_frame_mode(FrameMode::Lockstep)
}

/// The demo game without a window: the arena's rules, a frame per
/// [`App::update`] at a fixed step of 1/60 s, a player joining every 100
/// frames, and a console line for each change in a mod's life.
pub fn headless_app(plugin: ModPlugin) -> App {
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins.set(ScheduleRunnerPlugin::run_once()),
        plugin,
        DemoPlugin,
        arena::ArenaPlugin,
    ))
    // A fixed step, so a run is the same every time.
    .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_secs_f64(
        1.0 / 60.0,
    )))
    .add_systems(Update, (greet_players.run_if(mods_ready), print_lifecycle));
    app
}

/// Runs frames until no mod is loading; returns how long that took.
/// Compiling is done at low priority: on a machine busy besides, a big
/// mod's first load can take minutes (then it is cached).
pub fn load_mods(app: &mut App, limit: Duration) -> Result<Duration, String> {
    let started = Instant::now();
    app.update();
    while app.world().resource::<ModRegistry>().is_loading() {
        if started.elapsed() > limit {
            return Err(format!("mods did not finish loading in {limit:.0?}"));
        }
        std::thread::sleep(Duration::from_millis(2));
        app.update();
    }
    Ok(started.elapsed())
}

/// A package's dependencies in a line: `weather ^1.2, music >=0.3
/// (optional), old-storm * (incompatible)`.
pub fn dependencies(p: &bevy_wasm_mods::package::PackageManifest) -> String {
    let kinds = [
        (&p.dependencies, ""),
        (&p.optional_dependencies, " (optional)"),
        (&p.incompatible, " (incompatible)"),
    ];
    kinds
        .iter()
        .flat_map(|(deps, kind)| {
            deps.iter()
                .map(move |(id, range)| format!("{id} {range}{kind}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Prints each mod's state and costs, as the demo's summary does.
pub fn print_mods(registry: &ModRegistry) {
    for m in registry.mods() {
        // A failed mod's name is its file's, which may hold anything.
        let name = escape(&m.name);
        let file = m.file.display().to_string();
        let file = escape(&file);
        println!("  {name} {} [{:?}] {file}", escape(&m.version), m.status);
        if let Some(p) = &m.package {
            let by = if p.authors.is_empty() {
                String::new()
            } else {
                format!(" by {}", escape(&p.authors.join(", ")))
            };
            println!(
                "    package {} ({}) {}{by}",
                m.id,
                escape(&p.name),
                p.version
            );
            let deps = dependencies(p);
            if !deps.is_empty() {
                println!("    depends on {}", escape(&deps));
            }
        }
        if !m.waiting_for.is_empty() {
            println!("    waits for {}", escape(&m.waiting_for.join("; ")));
        }
        for problem in &m.asset_problems {
            println!("    asset left out: {problem}");
        }
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
            let contract = if m.contract.is_empty() {
                String::new()
            } else {
                format!(", built for contract {}", m.contract)
            };
            println!("    loaded in {took:.1?}, {how}{contract}");
        }
        let c = &m.cost;
        println!(
            "    guest {:.1?} last tick, {:.1?} on average; main thread {:.1?}, {:.1?} on average",
            c.guest_time, c.guest_time_avg, c.main_thread, c.main_thread_avg
        );
        println!(
            "    {} bytes in, {} bytes out a tick; {} entities, {} bytes kept; {} KiB of memory, renewed {} times",
            c.bytes_in,
            c.bytes_out,
            c.entities,
            c.state_bytes,
            c.memory_bytes / 1024,
            c.renewals
        );
        println!(
            "    {} ticks, {} events dropped, {} inputs cut, {} skipped, {} rejected by others",
            m.ticks, c.events_dropped, c.inputs_cut, c.skipped_ticks, c.rejected_by_others
        );
    }
}

/// One line per change in a mod's life, as it happens, with its file.
pub fn print_lifecycle(mut lives: MessageReader<ModLifecycle>) {
    let file = |f: &std::path::Path| escape(&f.display().to_string()).into_owned();
    for life in lives.read() {
        match life {
            ModLifecycle::Loaded(m) => println!(
                "loaded: {} {} ({})",
                escape(&m.name),
                escape(&m.version),
                file(&m.file)
            ),
            ModLifecycle::Updated(m) => println!(
                "updated, state kept: {} {} ({})",
                escape(&m.name),
                escape(&m.version),
                file(&m.file)
            ),
            ModLifecycle::UpdateRefused(m) => println!(
                "update refused, the running version goes on: {}: {}",
                file(&m.file),
                m.fault
            ),
            ModLifecycle::Unloaded(m) => println!(
                "unloaded: {} ({}), {} entities despawned",
                escape(&m.name),
                file(&m.file),
                m.despawned
            ),
            ModLifecycle::Failed(m) => println!(
                "faulted: {} ({}): {}",
                escape(&m.name),
                file(&m.file),
                m.fault
            ),
            ModLifecycle::Recovered(m) => {
                let from = match m.resumed_at {
                    Some(tick) => format!("resumed from its checkpoint of tick {tick}"),
                    None => "started afresh".to_string(),
                };
                println!(
                    "recovered: {} ({}), {from}, {} faults so far",
                    escape(&m.name),
                    file(&m.file),
                    m.faults
                );
            }
            ModLifecycle::Quarantined(m) => println!(
                "quarantined: {} ({}): {}",
                escape(&m.name),
                file(&m.file),
                m.fault
            ),
        }
    }
}

/// Frames since the mods began, for players joining (kept in saved games).
#[derive(Resource, Reflect, Default, Debug)]
pub struct Arrivals {
    frame: u32,
}

/// A player joins every 100 frames once the mods run, so mods that greet
/// players have work; levels go from 1 to 10 and round again.
pub fn greet_players(mut arrivals: ResMut<Arrivals>, mut joined: MessageWriter<PlayerJoined>) {
    let frame = arrivals.frame;
    if frame.is_multiple_of(100) {
        joined.write(PlayerJoined {
            name: format!("player-{}", frame / 100),
            level: 1 + (frame / 100) % 10,
        });
    }
    arrivals.frame += 1;
}
