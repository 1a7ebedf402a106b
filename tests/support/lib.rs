//! Helpers for the integration tests and benchmarks: build the mods once,
//! give each test its own mods folder, and drive a headless `App`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use bevy_wasm_mods::prelude::*;
use bevy_wasm_mods::{FrameMode, ModInfo, ModLimits};
use demo_game::{DemoPlugin, PlayerJoined, Position, Velocity};

pub mod figures;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Builds every mod crate the tests use (once per test process) and returns
/// the folder holding the `.wasm` files.
pub fn built_mods() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target = root().join("target/mods");
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(root())
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--target-dir",
            ])
            .arg(&target)
            .args([
                "-p",
                "mover",
                "-p",
                "greeter",
                "-p",
                "storm",
                "-p",
                "raw-spinner",
                "-p",
                "idle",
                "-p",
                "hostile",
                "-p",
                "floor",
            ])
            .status()
            .expect("cannot run cargo to build the mods");
        assert!(status.success(), "building the mods failed");
        target.join("wasm32-wasip2/release")
    })
}

/// The second version of the greeter (`--features next`: it greets players
/// back, as version 0.2.0), built once per test process.
pub fn greeter_next() -> Vec<u8> {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let file = BUILT.get_or_init(|| {
        let target = root().join("target/mods-next");
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(root())
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--target-dir",
            ])
            .arg(&target)
            .args(["-p", "greeter", "--features", "next"])
            .status()
            .expect("cannot run cargo to build the greeter's next version");
        assert!(
            status.success(),
            "building the greeter's next version failed"
        );
        target.join("wasm32-wasip2/release/greeter.wasm")
    });
    std::fs::read(file).expect("the greeter's next version is built")
}

/// The contract fixture (`tests/mods/contract`) built for one released
/// contract version or for none the game serves, by its feature (`v0-1-0`,
/// `v0-1-0-claims`, `v0-1-1`, `unserved`). Every build is made once per
/// test process, one after another in one target folder.
pub fn contract_fixture(feature: &str) -> Vec<u8> {
    const FEATURES: [&str; 5] = ["v0-1-0", "v0-1-0-claims", "v0-1-1", "v0-2-0", "unserved"];
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    assert!(FEATURES.contains(&feature), "no fixture {feature}");
    let dir = BUILT.get_or_init(|| {
        // Beside the other mods, whose dependencies it shares.
        let target = root().join("target/mods");
        let kept = target.join("contract-fixtures");
        std::fs::create_dir_all(&kept).expect("cannot make the fixtures' folder");
        for feature in FEATURES {
            let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .current_dir(root())
                .args([
                    "build",
                    "--release",
                    "--target",
                    "wasm32-wasip2",
                    "--target-dir",
                ])
                .arg(&target)
                .args(["-p", "contract-fixture", "--features", feature])
                .status()
                .expect("cannot run cargo to build the contract fixtures");
            assert!(
                status.success(),
                "building the contract fixture {feature} failed"
            );
            std::fs::copy(
                target.join("wasm32-wasip2/release/contract_fixture.wasm"),
                kept.join(format!("{feature}.wasm")),
            )
            .expect("cannot keep a built fixture");
        }
        kept
    });
    std::fs::read(dir.join(format!("{feature}.wasm"))).expect("the fixture is built")
}

/// A built mod's bytes, by crate name (`mover`, `greeter`, `raw_spinner`,
/// `idle`, `hostile`).
pub fn mod_bytes(name: &str) -> Vec<u8> {
    let path = built_mods().join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A test's own folder in the system's temporary folder, removed with
/// everything in it when the value is dropped (at the end of the test, or
/// when it panics). It reads as a `Path`.
#[derive(Debug)]
pub struct Scratch(tempfile::TempDir);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        self.0.path()
    }
}

impl From<&Scratch> for PathBuf {
    fn from(scratch: &Scratch) -> PathBuf {
        scratch.0.path().to_path_buf()
    }
}

/// Keeps `scratch` until the test's thread ends (each test runs on a
/// thread of its own), for a helper that hands out a plugin or an app
/// rather than the folder; returns its path.
pub fn kept(scratch: Scratch) -> PathBuf {
    thread_local! {
        static KEPT: std::cell::RefCell<Vec<Scratch>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let path = scratch.to_path_buf();
    KEPT.with(|kept| kept.borrow_mut().push(scratch));
    path
}

/// A fresh, empty folder for one test's mods, removed when dropped.
pub fn mods_folder() -> Scratch {
    Scratch(
        tempfile::Builder::new()
            .prefix("bevy-wasm-mods-test-")
            .tempdir()
            .expect("cannot make a mods folder"),
    )
}

/// A folder with the named built mods in it, in the given file names.
pub fn folder_with(mods: &[(&str, &str)]) -> Scratch {
    let dir = mods_folder();
    for (crate_name, file) in mods {
        std::fs::write(dir.join(file), mod_bytes(crate_name)).expect("cannot copy a mod");
    }
    dir
}

/// A headless app with the demo's moddable types and the plugin, stepping
/// a fixed 1/60 s per frame, in lockstep: every frame waits for every
/// mod, so a test sees the same world whatever the machine's load (see
/// [`app_in_real_time`] for the default mode).
pub fn app_with(plugin: ModPlugin) -> App {
    app_in_real_time(plugin.with_frame_mode(FrameMode::Lockstep))
}

/// Like [`app_with`], in the frame mode `plugin` says (real time unless
/// it says otherwise).
pub fn app_in_real_time(plugin: ModPlugin) -> App {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, plugin, DemoPlugin))
        .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_secs_f64(
            1.0 / 60.0,
        )));
    app
}

/// Limits for tests about behaviour, not timing: the suite runs many apps
/// at once on a small shared machine, where a guest call can be descheduled
/// for longer than the default 50 ms hard limit.
pub fn relaxed_limits() -> ModLimits {
    ModLimits {
        hard_call_limit: Duration::from_secs(5),
        soft_call_budget: Duration::from_secs(1),
        ..ModLimits::default()
    }
}

/// The same, for a folder, with [`relaxed_limits`].
pub fn app(dir: &Path) -> App {
    app_with(
        ModPlugin::new()
            .with_mods_dir(dir)
            .with_limits(relaxed_limits()),
    )
}

/// Steps the app until no start-up mod is loading, and fails the test,
/// printing each failure, if any mod failed meanwhile.
pub fn load_clean(app: &mut App) {
    let failed = load(app);
    assert!(failed.is_empty(), "mods failed while loading: {failed:#?}");
}

/// Steps the app until no start-up mod is loading; returns the failures
/// reported meanwhile. Mods tick from the frame in which the last one loads.
pub fn load(app: &mut App) -> Vec<ModFailed> {
    let started = Instant::now();
    let mut failed = drain::<ModFailed>(app);
    app.update();
    failed.extend(drain::<ModFailed>(app));
    while app.world().resource::<ModRegistry>().is_loading() {
        // A Python mod compiles on low-priority threads: on a machine busy
        // besides that takes minutes (once; then it is in the cache).
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "mods did not load"
        );
        std::thread::sleep(Duration::from_millis(1));
        app.update();
        failed.extend(drain::<ModFailed>(app));
    }
    failed
}

/// Ticks the named mod has completed.
pub fn ticks(app: &App, name: &str) -> u64 {
    app.world()
        .resource::<ModRegistry>()
        .get(name)
        .unwrap_or_else(|| panic!("no mod named {name}"))
        .ticks
}

/// Steps `n` frames.
pub fn frames(app: &mut App, n: usize) {
    for _ in 0..n {
        app.update();
    }
}

/// Steps `n` frames and returns every message of type `M` written meanwhile.
pub fn frames_collecting<M: Message + Clone>(app: &mut App, n: usize) -> Vec<M> {
    let mut out = drain::<M>(app);
    for _ in 0..n {
        app.update();
        out.extend(drain::<M>(app));
    }
    out
}

/// Every message of type `M` written so far that the test has not seen,
/// read through a cursor kept in the world.
pub fn drain<M: Message + Clone>(app: &mut App) -> Vec<M> {
    #[derive(Resource)]
    struct Seen<M: Message>(bevy::ecs::message::MessageCursor<M>);
    let world = app.world_mut();
    if !world.contains_resource::<Seen<M>>() {
        let cursor = world.resource::<Messages<M>>().get_cursor();
        world.insert_resource(Seen::<M>(cursor));
    }
    world.resource_scope(|world, mut seen: Mut<Seen<M>>| {
        seen.0
            .read(world.resource::<Messages<M>>())
            .cloned()
            .collect()
    })
}

/// A config for the mover: how many entities, which batch API, which name.
pub fn mover_config(count: u32, read_write: bool, name: &str) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Config<'a> {
        count: u32,
        api: &'a str,
        name: &'a str,
    }
    let api = if read_write { "read-write" } else { "update" };
    rmp_serde::to_vec_named(&Config { count, api, name }).unwrap()
}

/// Where the mover's logic puts its entity `i` after `ticks` ticks
/// (spawned in tick 0, moved once in each later tick).
pub fn expected(i: u32, ticks: u64) -> (Position, Velocity) {
    let step_y = i as f32 / 10.0;
    let (mut x, mut y) = (i as f32, 0.0f32);
    for _ in 1..ticks {
        x += 1.0;
        y += step_y;
    }
    (Position { x, y }, Velocity { x: 1.0, y: step_y })
}

/// A mod's record, by id.
pub fn info(app: &App, id: &str) -> ModInfo {
    app.world()
        .resource::<ModRegistry>()
        .get(id)
        .unwrap_or_else(|| panic!("{id} is in the registry"))
        .clone()
}

/// Starts `n` threads that keep a core busy until the returned flag is set.
pub fn busy_threads(
    n: usize,
) -> (
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    Vec<std::thread::JoinHandle<()>>,
) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let handles = (0..n)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut x = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
                }
            })
        })
        .collect();
    (stop, handles)
}

/// Checks that the `count` entities of the mover `owner` are exactly where
/// its logic puts them after `ticks` ticks.
pub fn assert_mover_exact(world: &mut World, owner: &str, count: u32, ticks: u64) {
    let mut mine: Vec<(Position, Velocity)> = world
        .query::<(&Position, &Velocity, &SpawnedByMod)>()
        .iter(world)
        .filter(|(_, _, s)| &*s.0 == owner)
        .map(|(p, v, _)| (*p, *v))
        .collect();
    mine.sort_by(|a, b| a.0.y.total_cmp(&b.0.y));
    // Entity `i` of the mover moves `i / 10` up a tick: by y, in order.
    let want: Vec<(Position, Velocity)> = (0..count).map(|i| expected(i, ticks)).collect();
    assert_eq!(mine, want, "{owner}'s entities after {ticks} ticks");
}

/// A mod as big to compile as a mod written in Python (whose component
/// carries a whole interpreter): the `idle` mod with a core module of
/// `functions` generated functions of about `ops` instructions each added
/// to its component. Wasmtime compiles every core module a component
/// holds, so this one costs compile time, cache room and load time like a
/// real interpreter, and runs like `idle`. `seed` makes distinct files.
pub fn big_mod(functions: u32, ops: u32, seed: u32) -> Vec<u8> {
    use wasm_encoder::{
        BlockType, CodeSection, ExportKind, ExportSection, Function, FunctionSection, Module,
        TypeSection, ValType,
    };
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32], [ValType::I32]);
    let mut funcs = FunctionSection::new();
    let mut code = CodeSection::new();
    let mut exports = ExportSection::new();
    for f in 0..functions {
        funcs.function(0);
        let mut body = Function::new([(1, ValType::I32)]);
        let mut sink = body.instructions();
        for op in 0..ops / 12 {
            let k = (seed ^ f.wrapping_mul(2_654_435_761) ^ op.wrapping_mul(40_503)) as i32;
            sink.local_get(0)
                .i32_const(k | 1)
                .i32_mul()
                .i32_const(k >> 7)
                .i32_xor()
                .local_tee(1)
                .i32_const(0)
                .i32_lt_s()
                .if_(BlockType::Empty)
                .local_get(1)
                .local_set(0)
                .end();
        }
        sink.local_get(0).end();
        code.function(&body);
        if f < 16 {
            exports.export(&format!("f{f}"), ExportKind::Func, f);
        }
    }
    let mut module = Module::new();
    module
        .section(&types)
        .section(&funcs)
        .section(&exports)
        .section(&code);
    let module = module.finish();
    // A component's core module section: id 1, the size, the module.
    let mut bytes = mod_bytes("idle");
    bytes.push(1);
    let mut size = module.len() as u64;
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        if size == 0 {
            bytes.push(byte);
            break;
        }
        bytes.push(byte | 0x80);
    }
    bytes.extend_from_slice(&module);
    bytes
}

/// A built mod as if built against WIT package version `version` (as long
/// as this host's, e.g. `0.2.0`): every `bevy-wasm:mods/…@` version in its
/// import and export names rewritten, the component otherwise intact.
pub fn as_built_for(mut bytes: Vec<u8>, version: &str) -> Vec<u8> {
    let ours = format!("@{}", bevy_wasm_mods::WIT_VERSION);
    let theirs = format!("@{version}");
    assert_eq!(ours.len(), theirs.len(), "versions of one length");
    let package = format!("{}/", bevy_wasm_mods::WIT_PACKAGE);
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let (mut i, mut changed) = (0, 0);
    while let Some(at) = find(&bytes[i..], package.as_bytes()) {
        let name = i + at;
        let window = name..bytes.len().min(name + 64);
        if let Some(v) = find(&bytes[window], ours.as_bytes()) {
            bytes[name + v..name + v + ours.len()].copy_from_slice(theirs.as_bytes());
            changed += 1;
        }
        i = name + package.len();
    }
    assert!(changed > 0, "the mod names its WIT package");
    bytes
}

/// Builds the Python example mods (`bash mods/python/build.sh`, which
/// installs its pinned toolchain on first use), once per test process, and
/// returns the folder holding `mover_py.wasm`, `greeter_py.wasm` and
/// `next/greeter_py.wasm`.
pub fn python_mods() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let status = Command::new("bash")
            .arg(root().join("mods/python/build.sh"))
            .status()
            .expect("cannot run mods/python/build.sh");
        assert!(status.success(), "building the Python mods failed");
        root().join("target/mods-py")
    })
}

/// Builds the JavaScript example mods (`bash mods/js/build.sh`, which
/// installs its pinned toolchain on first use), once per test process, and
/// returns the folder holding `mover_js.wasm`, `greeter_js.wasm` and
/// `next/greeter_js.wasm`.
pub fn js_mods() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let status = Command::new("bash")
            .arg(root().join("mods/js/build.sh"))
            .status()
            .expect("cannot run mods/js/build.sh");
        assert!(status.success(), "building the JavaScript mods failed");
        root().join("target/mods-js")
    })
}

/// Everything logged in this test process, as text without colours (the
/// first call installs the subscriber that keeps it).
pub fn captured_logs() -> &'static std::sync::Mutex<Vec<u8>> {
    use std::sync::{Mutex, OnceLock};
    static LOGS: OnceLock<&'static Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs: &'static Mutex<Vec<u8>> = Box::leak(Box::new(Mutex::new(Vec::new())));
        struct Sink(&'static Mutex<Vec<u8>>);
        impl std::io::Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let _ = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || Sink(logs))
            .try_init();
        logs
    })
}

/// The ten example mods, in Rust, Python and JavaScript: each built file
/// and the id it has in `assets/mods/`.
pub fn example_mods() -> Vec<(std::path::PathBuf, &'static str)> {
    let mut files = Vec::new();
    for m in ["mover", "greeter", "storm", "raw_spinner"] {
        files.push((built_mods().join(format!("{m}.wasm")), m));
    }
    for m in ["mover_py", "greeter_py", "fireflies_py"] {
        files.push((python_mods().join(format!("{m}.wasm")), m));
    }
    for m in ["mover_js", "greeter_js", "beacons_js"] {
        files.push((js_mods().join(format!("{m}.wasm")), m));
    }
    files
}

// Live changes of a mods folder.

/// Steps frames (letting real time pass, for the folder watch) until
/// `done` holds; panics after `limit`. Returns every `M` written meanwhile.
pub fn until<M: Message + Clone>(
    app: &mut App,
    limit: Duration,
    mut done: impl FnMut(&mut App, &[M]) -> bool,
) -> Vec<M> {
    let started = Instant::now();
    let mut seen = Vec::new();
    loop {
        app.update();
        seen.extend(drain::<M>(app));
        if done(app, &seen) {
            return seen;
        }
        assert!(
            started.elapsed() < limit,
            "not within {limit:?}: {:?}",
            app.world().resource::<ModRegistry>()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Writes a file the way a copy does: to a temporary name, then renamed.
pub fn put(dir: &Path, file: &str, bytes: &[u8]) {
    let tmp = dir.join(format!(".{file}.part"));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, dir.join(file)).unwrap();
}

/// The greetings the greeter sent (its own `greeting`, under its id):
/// (text, count).
pub fn greetings(events: &[ModEvent]) -> Vec<(String, u32)> {
    #[derive(serde::Deserialize)]
    struct Greeting {
        text: String,
        count: u32,
    }
    events
        .iter()
        .filter(|e| e.name == format!("{}:greeting", e.source))
        .map(|e| {
            let g: Greeting = e.decode().unwrap();
            (g.text, g.count)
        })
        .collect()
}

/// A player joins; the greeting that answers it, a frame or two later.
pub fn join(app: &mut App, name: &str) -> (String, u32) {
    app.world_mut().write_message(PlayerJoined {
        name: name.into(),
        level: 1,
    });
    let events = until::<ModEvent>(app, Duration::from_secs(10), |_, seen| {
        !greetings(seen).is_empty()
    });
    greetings(&events).remove(0)
}

/// An app watching `dir`, with room for slow machines.
pub fn watched(dir: &Path) -> App {
    app_with(
        ModPlugin::new()
            .with_mods_dir(dir)
            .with_limits(relaxed_limits()),
    )
}
