//! `check` and `run`: mods in the real host, headless, beside the demo
//! game.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bevy::prelude::*;
use bevy_wasm_mods::prelude::*;
use bevy_wasm_mods::{
    ExposedNames, ModAccess, ModInfo, ModLimits, ModManifest, ModSettings, escape, exposed_names,
};

/// How long mods may take to load (a big mod compiling at low priority on
/// a busy machine takes minutes the first time).
const LOAD_LIMIT: Duration = Duration::from_secs(600);

/// A folder of its own for the mods of one run, removed afterwards.
struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new() -> Result<Self, String> {
        tempfile::Builder::new()
            .prefix("modkit-")
            .tempdir()
            .map(Scratch)
            .map_err(|e| {
                format!(
                    "no scratch folder in {}: {e}",
                    std::env::temp_dir().display()
                )
            })
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    /// Copies the mods in (lone `.wasm` files, package folders, `.zip`
    /// packages), each under its own name; returns their ids.
    fn add(&self, files: &[PathBuf], ids: &mut Vec<String>) -> Result<(), String> {
        for file in files {
            let name = file
                .file_name()
                .and_then(|s| s.to_str())
                .ok_or_else(|| format!("{}: not a mod's name", file.display()))?;
            let lone = file.extension().is_some_and(|e| e == "wasm");
            let zip = file.extension().is_some_and(|e| e == "zip");
            if !file.exists() {
                return Err(format!("{}: no such file", file.display()));
            }
            if !(lone || zip || file.is_dir()) {
                return Err(format!(
                    "{}: a mod is a `.wasm` file, a package folder or a `.zip` package",
                    file.display()
                ));
            }
            let id = bevy_wasm_mods::package::id_of(file);
            if ids.contains(&id) {
                return Err(format!(
                    "two mods with the id {id}: the game knows a mod by its id"
                ));
            }
            let to = self.path().join(name);
            if file.is_dir() {
                copy_folder(file, &to)?;
            } else {
                std::fs::copy(file, &to).map_err(|e| format!("{}: {e}", file.display()))?;
            }
            ids.push(id);
        }
        Ok(())
    }
}

/// Copies a package folder, refusing links (the game refuses them too).
fn copy_folder(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    for entry in std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))? {
        let entry = entry.map_err(|e| format!("{}: {e}", from.display()))?;
        let kind = entry
            .file_type()
            .map_err(|e| format!("{}: {e}", entry.path().display()))?;
        let target = to.join(entry.file_name());
        if kind.is_symlink() {
            return Err(format!(
                "{}: a symbolic link; a package holds none",
                entry.path().display()
            ));
        } else if kind.is_dir() {
            copy_folder(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .map_err(|e| format!("{}: {e}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// The mods in a folder of mods, for `--mods`: every lone file, package
/// folder and `.zip` package, by name.
fn mods_in(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let hidden = p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            !hidden && (p.is_dir() || p.extension().is_some_and(|e| e == "wasm" || e == "zip"))
        })
        .collect();
    found.sort();
    Ok(found)
}

impl Scratch {}

/// The game's log on the console: every line the mods write, the host's
/// warnings.
fn log_to_console() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,mod=trace,wasmtime=error,cranelift=error".into()),
        )
        .with_writer(std::io::stderr)
        .try_init();
}

/// The demo game headless with the mods in `files`, loaded, and beside
/// them the mods of the folder `others` (their dependencies) but those
/// with an id of theirs. Returns the ids of `files`' mods.
fn start(files: &[PathBuf], others: Option<&Path>) -> Result<(Scratch, Vec<String>, App), String> {
    let scratch = Scratch::new()?;
    let mut ids = Vec::new();
    scratch.add(files, &mut ids)?;
    if let Some(dir) = others {
        let mut all = ids.clone();
        let extra: Vec<PathBuf> = mods_in(dir)?
            .into_iter()
            .filter(|p| !ids.contains(&bevy_wasm_mods::package::id_of(p)))
            .collect();
        scratch.add(&extra, &mut all)?;
    }
    log_to_console();
    let plugin = demo_game::mod_plugin(scratch.path(), bevy_wasm_mods::default_compile_cache())
        .with_watching(false);
    let mut app = demo_game::headless_app(plugin);
    demo_game::load_mods(&mut app, LOAD_LIMIT)?;
    Ok((scratch, ids, app))
}

/// A list for the console: `a, b` or `-`.
fn list<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    let shown: Vec<String> = items.into_iter().map(|s| escape(s).into_owned()).collect();
    if shown.is_empty() {
        "-".into()
    } else {
        shown.join(", ")
    }
}

/// The value at quantile `q` of sorted `values`.
fn quantile<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(i).copied()
}

/// `modkit check`.
pub fn check(file: &Path, frames: u64, others: Option<&Path>) -> Result<(), String> {
    println!("checking {}", file.display());
    let (_scratch, ids, mut app) = start(&[file.to_path_buf()], others)?;
    let id = &ids[0];
    let mut samples = sample(&mut app, id, frames);

    let world = app.world();
    let registry = world.resource::<ModRegistry>();
    let limits = &world.resource::<ModSettings>().limits;
    let m = registry
        .get(id)
        .ok_or_else(|| format!("the game did not take {}", file.display()))?;
    let mut notes: Vec<String> = Vec::new();
    match registry.manifest(id) {
        Some(manifest) => show_manifest(id, manifest, &exposed_names(world), &mut notes),
        None => println!("manifest: none (the mod never started)"),
    }
    if let Some(p) = &m.package {
        let deps = demo_game::dependencies(p);
        println!(
            "package: {} {} ({}), contract {}; depends on {}",
            p.id,
            p.version,
            escape(&p.name),
            escape(&p.contract),
            if deps.is_empty() {
                "nothing".into()
            } else {
                escape(&deps).into_owned()
            }
        );
    }
    if let Some(assets) = world.resource::<bevy_wasm_mods::ModAssets>().of_mod(id) {
        let files: Vec<String> = assets
            .files
            .iter()
            .map(|(path, asset)| match asset {
                bevy_wasm_mods::package::ModAsset::Image(i) => {
                    format!("{} ({}x{} image)", escape(path), i.width, i.height)
                }
                bevy_wasm_mods::package::ModAsset::Bytes(b) => {
                    format!("{} ({} bytes)", escape(path), b.len())
                }
            })
            .collect();
        println!("assets: {}", files.join(", "));
    }
    println!(
        "status: {:?} after {frames} frames, {} ticks",
        m.status, m.ticks
    );
    show_costs(m, &mut samples, limits, &mut notes);
    let problems = problems(m);
    for n in &notes {
        println!("note: {n}");
    }
    if problems.is_empty() {
        println!("clean: {id} ran {} ticks without a fault", m.ticks);
        Ok(())
    } else {
        for p in &problems {
            println!("problem: {p}");
        }
        Err(format!("{} did not run clean", file.display()))
    }
}

/// The mod's cost of each tick it ran in `frames` frames.
#[derive(Default)]
struct Samples {
    times: Vec<Duration>,
    bytes_out: Vec<u64>,
    bytes_in: Vec<u64>,
    /// The most linear memory it held.
    memory: u64,
}

/// Runs `frames` frames, taking the costs of each tick of mod `id`.
fn sample(app: &mut App, id: &str, frames: u64) -> Samples {
    let mut samples = Samples::default();
    let mut last_tick = app
        .world()
        .resource::<ModRegistry>()
        .get(id)
        .map_or(0, |m| m.ticks);
    for _ in 0..frames {
        app.update();
        let registry = app.world().resource::<ModRegistry>();
        let Some(m) = registry.get(id) else { break };
        // Costs are those of the mod's last tick: one sample per tick.
        if m.ticks > last_tick {
            samples.times.push(m.cost.guest_time);
            samples.bytes_out.push(m.cost.bytes_out);
            samples.bytes_in.push(m.cost.bytes_in);
        }
        last_tick = m.ticks;
        samples.memory = samples.memory.max(m.cost.memory_bytes);
    }
    samples
}

/// Prints what the manifest of mod `id` declares (full names: its own are
/// `id:Name`) beside what the game offers, and notes what cannot match
/// anything of the game's or the mod's own.
fn show_manifest(
    id: &str,
    manifest: &ModManifest,
    exposed: &ExposedNames,
    notes: &mut Vec<String>,
) {
    println!(
        "manifest: {} {}",
        escape(&manifest.name),
        escape(&manifest.version)
    );
    let queries: Vec<String> = manifest
        .queries
        .iter()
        .map(|q| format!("({})", list(q)))
        .collect();
    println!("  queries:    {}", list(&queries));
    println!("  subscribes: {}", list(&manifest.subscribes));
    println!("  defines:    {}", list(&manifest.defines));
    println!("  emits:      {}", list(&manifest.emits));
    println!("  shares:     {}", list(&manifest.shares));
    let game_type = |n: &String| exposed.components.iter().find(|(c, _)| c == n);
    let owner = |name: &str| bevy_wasm_mods::names::namespace(name).map(str::to_string);
    for name in manifest.queries.iter().flatten() {
        if game_type(name).is_some() || manifest.defines.contains(name) {
            continue;
        }
        match owner(name) {
            Some(ns) if ns == id => notes.push(format!(
                "queries `{}`, its own type, which it does not define: nothing can match it",
                escape(name)
            )),
            Some(ns) => notes.push(format!(
                "queries `{}`, a type of mod `{}`: it matches only while that mod runs",
                escape(name),
                escape(&ns)
            )),
            None => {}
        }
    }
    for name in &manifest.subscribes {
        if exposed.messages.contains(name) || manifest.emits.contains(name) {
            continue;
        }
        match owner(name) {
            Some(ns) if ns == id => notes.push(format!(
                "subscribes to `{}`, its own event, which only mods it shares it with \
                 can send (this game's messages: {})",
                escape(name),
                list(&exposed.messages)
            )),
            Some(ns) => notes.push(format!(
                "subscribes to `{}`, an event of mod `{}`: it arrives only while that mod runs",
                escape(name),
                escape(&ns)
            )),
            None => {}
        }
    }
    let types: Vec<String> = exposed
        .components
        .iter()
        .map(|(n, a)| match a {
            ModAccess::ReadWrite => n.clone(),
            ModAccess::Read => format!("{n} (read-only)"),
        })
        .collect();
    println!(
        "  the game exposes: {}; messages: {}",
        list(&types),
        list(&exposed.messages)
    );
}

/// Prints the mod's load time, time, bytes and memory per tick, and notes
/// what went over the game's budgets or was dropped.
fn show_costs(m: &ModInfo, samples: &mut Samples, limits: &ModLimits, notes: &mut Vec<String>) {
    if let Some(took) = m.load_time {
        let how = if m.compiled_from_cache {
            "compiled code from the cache"
        } else {
            "compiled"
        };
        println!("  loaded in {took:.1?} ({how})");
    }
    let times = &mut samples.times;
    times.sort();
    if let (Some(median), Some(p99), Some(max)) = (
        quantile(times, 0.5),
        quantile(times, 0.99),
        times.last().copied(),
    ) {
        println!(
            "  time per tick: median {median:.1?}, 99th percentile {p99:.1?}, longest {max:.1?} \
             (the game warns over {:.0?} and stops a call at {:.0?})",
            limits.soft_call_budget, limits.hard_call_limit
        );
        let over = times
            .iter()
            .filter(|t| **t > limits.soft_call_budget)
            .count();
        if over > 0 {
            notes.push(format!(
                "{over} of {} ticks took longer than the game's {:.0?} budget",
                times.len(),
                limits.soft_call_budget
            ));
        }
    }
    samples.bytes_out.sort();
    samples.bytes_in.sort();
    if let (Some(out_median), Some(out_max), Some(in_median)) = (
        quantile(&samples.bytes_out, 0.5),
        samples.bytes_out.last().copied(),
        quantile(&samples.bytes_in, 0.5),
    ) {
        println!(
            "  output per tick (commands and events): median {out_median} bytes, most {out_max} bytes; \
             input per tick (queries and events): median {in_median} bytes"
        );
    }
    println!(
        "  memory: {:.2} MiB of linear memory at most; {} entities holding {} bytes of values",
        samples.memory as f64 / (1024.0 * 1024.0),
        m.cost.entities,
        m.cost.state_bytes
    );
    let c = &m.cost;
    for (n, what) in [
        (
            c.events_dropped,
            "events sent to it were dropped (its inbox was full)",
        ),
        (
            c.inputs_cut,
            "query results were cut to fit the game's message limit",
        ),
        (
            c.skipped_ticks,
            "ticks were skipped while a late reply was awaited",
        ),
    ] {
        if n > 0 {
            notes.push(format!("{n} {what}"));
        }
    }
}

/// What keeps the mod from running clean: faults, a refused update, a
/// status other than running, no tick at all, assets the game left out.
fn problems(m: &ModInfo) -> Vec<String> {
    let mut problems = Vec::new();
    if m.faults > 0 {
        problems.push(format!(
            "{} fault(s), {} recovery(ies)",
            m.faults, m.recoveries
        ));
    }
    if let Some(f) = &m.last_error {
        // Escaped to one line when it was recorded; shown as the lines it
        // had (a traceback, a panic's message and place).
        let shown = f.to_string().replace("\\n", "\n    ");
        problems.push(format!("last fault: {shown}"));
    }
    if let Some(f) = &m.update_refused {
        problems.push(format!("refused: {f}"));
    }
    if !m.waiting_for.is_empty() {
        problems.push(format!(
            "it waits for {} (give a folder of mods it needs with --mods DIR)",
            escape(&m.waiting_for.join("; "))
        ));
    }
    for problem in &m.asset_problems {
        problems.push(format!("asset left out: {problem}"));
    }
    if m.status != ModStatus::Running {
        problems.push(format!("it is {:?}, not running", m.status));
    } else if m.ticks == 0 {
        problems.push("it never ticked".into());
    }
    problems
}

/// `modkit run`.
pub fn run(files: &[PathBuf], frames: u64) -> Result<(), String> {
    let (_scratch, ids, mut app) = start(files, None)?;
    for _ in 0..frames {
        app.update();
    }
    let world = app.world_mut();
    let positioned = world.query::<&demo_game::Position>().iter(world).count();
    let registry = world.resource::<ModRegistry>();
    println!("after {frames} frames:");
    demo_game::print_mods(registry);
    println!("entities with a Position: {positioned}");
    let stopped: Vec<&String> = ids
        .iter()
        .filter(|id| {
            registry
                .get(id)
                .is_none_or(|m| m.status != ModStatus::Running)
        })
        .collect();
    if stopped.is_empty() {
        Ok(())
    } else {
        Err(format!("not running at the end: {}", list(stopped)))
    }
}
