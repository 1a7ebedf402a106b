//! The WebAssembly side: one engine for all mods, an epoch ticker that bounds
//! every guest call in time, and the checks a file passes before it runs.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};

use super::bindings;
use super::contract::{self, ModPre};
use super::disk_cache::{Digest32, DiskCache};
use super::gauge::Gauge;
use super::state::HostState;
use super::wasi;
use crate::fault::{Fault, FaultKind, Hook};
use crate::registry::LoadPhase;

/// The contract version of `wit/`, the one new mods are built against
/// (the game serves earlier ones too: [`SERVED_CONTRACTS`]).
pub const WIT_VERSION: &str = contract::CURRENT;
/// The WIT package name mods import from.
pub const WIT_PACKAGE: &str = contract::PACKAGE;
/// Every contract version the game serves, oldest first.
pub const SERVED_CONTRACTS: &[&str] = contract::SERVED;

pub(crate) use super::deadline::EPOCH_PERIOD;

/// The engine, the linker with every host import, and the ticker thread.
pub(crate) struct Runtime {
    pub engine: Engine,
    pub linker: Arc<Linker<HostState>>,
    /// Compiled mods kept on disk, when the settings ask for it and the
    /// folder is the player's own.
    disk: Option<DiskCache>,
    /// The threads that compile mods, at a low priority: a big mod's
    /// compile takes the cores the game leaves idle, not its frames.
    compiler: Option<rayon::ThreadPool>,
    ticker: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

impl Runtime {
    /// Starts the engine; `fuel` turns on fuel metering for every mod.
    /// Compiled mods are kept in `cache` when it is given and fit to hold
    /// them (otherwise every start compiles, and says why once).
    pub(crate) fn new(fuel: bool, cache: Option<&CacheSpot>) -> Result<Self, String> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.consume_fuel(fuel);
        #[cfg(feature = "profiling")]
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        let engine = Engine::new(&config).map_err(|e| format!("cannot start wasmtime: {e:?}"))?;
        let mut linker = Linker::<HostState>::new(&engine);
        wasi::add_to_linker(&mut linker).map_err(|e| format!("cannot link WASI: {e:?}"))?;
        bindings::GameMod::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(
            &mut linker,
            |state| state,
        )
        .map_err(|e| format!("cannot link the mod interfaces: {e:?}"))?;
        super::v0_1::add_to_linker(&mut linker)
            .map_err(|e| format!("cannot link the 0.1 mod interfaces: {e:?}"))?;

        let disk = cache.and_then(|spot| {
            DiskCache::open(&spot.dir, &spot.mods_dir, &engine, spot.max_bytes)
                .map_err(|e| {
                    tracing::warn!(
                        "compiled mods are not kept on disk, so every start compiles them: {e}"
                    )
                })
                .ok()
        });
        let compiler = rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("mod compiler {i}"))
            .start_handler(|_| lower_priority(COMPILER_NICE))
            .build()
            .map_err(|e| tracing::warn!("mods compile on their loader threads: {e}"))
            .ok();
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let engine = engine.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("mod-epoch-ticker".into())
                .spawn(move || {
                    // Counts real time, not sleeps: on a busy machine a 1 ms
                    // sleep can take several, and a deadline counted in
                    // sleeps would stretch with it.
                    let start = std::time::Instant::now();
                    let mut ticks: u128 = 0;
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_PERIOD);
                        let due = start.elapsed().as_micros() / EPOCH_PERIOD.as_micros();
                        while ticks < due {
                            engine.increment_epoch();
                            ticks += 1;
                        }
                    }
                })
                .map_err(|e| format!("cannot start the epoch ticker: {e}"))?
        };
        Ok(Self {
            engine,
            linker: Arc::new(linker),
            disk,
            compiler,
            ticker: Some(ticker),
            stop,
        })
    }

    /// Compiles and links a mod file whose bytes have the digest `file`
    /// (or loads the code compiled from it before, from the disk cache);
    /// every refusal says why in words a player can act on.
    pub(crate) fn prepare(
        &self,
        bytes: &[u8],
        file: &Digest32,
        gauge: &Gauge,
    ) -> Result<ModPre, Fault> {
        check_header(bytes).map_err(invalid)?;
        let cached = self.disk.as_ref().and_then(|disk| {
            gauge.set_phase(Some(LoadPhase::LoadingCompiled));
            disk.load(&self.engine, file)
        });
        gauge.set_cached(cached.is_some());
        if let Some(component) = cached {
            return self.link(&component);
        }
        gauge.set_phase(Some(LoadPhase::Compiling));
        let compile = || Component::new(&self.engine, bytes);
        let component = match &self.compiler {
            // Wasmtime's parallel compile runs on the pool it is called in.
            Some(pool) => pool.install(compile),
            None => compile(),
        }
        .map_err(|e| invalid(format!("not a valid component: {}", first_line(&e))))?;
        let pre = self.link(&component)?;
        let Some(disk) = &self.disk else {
            return Ok(pre);
        };
        disk.store(&component, file);
        // The code just compiled sits in this process's memory, all of it;
        // the same code mapped from the cache costs only the pages the mod
        // touches (see `disk_cache`). Kept when the cache could not keep it.
        match disk.load(&self.engine, file) {
            Some(mapped) => self.link(&mapped),
            None => Ok(pre),
        }
    }

    /// Checks a compiled mod is built for a contract version this game
    /// serves and links it with that version's bindings.
    fn link(&self, component: &Component) -> Result<ModPre, Fault> {
        let contract = contract::built_for(&self.engine, component).map_err(invalid)?;
        let pre = self.linker.instantiate_pre(component).map_err(|e| {
            invalid(import_refused(
                &first_line(&e),
                &format!("{:#}", e.root_cause()),
            ))
        })?;
        ModPre::new(&self.engine, pre, contract).map_err(invalid)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}

/// Lowers the calling thread's scheduling priority to the nice value
/// `nice` (which Linux keeps per thread), so the scheduler runs the
/// threads of higher priority first whenever they are ready.
#[cfg(target_os = "linux")]
pub(crate) fn lower_priority(nice: i32) {
    let me = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(me), nice) {
        tracing::debug!("a thread keeps its priority: {e}");
    }
}

/// Elsewhere the priority is per process: threads keep theirs.
#[cfg(not(target_os = "linux"))]
pub(crate) fn lower_priority(_nice: i32) {}

/// The compiler threads' nice value: the scheduler gives a thread of the
/// default priority about ten times their share of a busy core. Measured
/// on 2 cores: at nice 10 no frame got longer while a 16 MB mod compiled,
/// at nice 5 the longest grew by 1.6-2.6 ms, at 0 by 5.8 ms. The price: on
/// a machine whose cores are all busy with other work, a compile gets
/// about a tenth of a core, and a big mod takes minutes to load.
const COMPILER_NICE: i32 = 10;

/// Where compiled mods are kept, and how much room they may take.
pub(crate) struct CacheSpot {
    pub dir: std::path::PathBuf,
    /// The mods folder, which the cache must never be.
    pub mods_dir: std::path::PathBuf,
    pub max_bytes: u64,
}

fn invalid(message: String) -> Fault {
    Fault {
        kind: FaultKind::Invalid,
        hook: Hook::Load,
        message,
    }
}

fn first_line(e: &wasmtime::Error) -> String {
    format!("{e:#}")
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Reads a mod file found in `folder`: a regular file whose name is
/// printable, inside the folder (a symbolic link may point elsewhere in it,
/// never out of it), of at most `max` bytes; nothing more is ever read, and
/// a refusal says why.
pub(crate) fn read_mod_file(path: &Path, folder: &Path, max: u64) -> Result<Vec<u8>, String> {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    crate::text::printable(&stem).map_err(|e| format!("the file's name {e}"))?;
    let io = |what: &str, e: std::io::Error| format!("cannot {what}: {e}");
    let link = std::fs::symlink_metadata(path).map_err(|e| io("read the file", e))?;
    let target = if link.file_type().is_symlink() {
        let target = std::fs::canonicalize(path).map_err(|e| io("follow the link", e))?;
        let root = std::fs::canonicalize(folder).map_err(|e| io("find the mods folder", e))?;
        if !target.starts_with(&root) {
            return Err(format!(
                "a symbolic link to {}, outside the mods folder",
                crate::text::escape(&target.display().to_string())
            ));
        }
        target
    } else {
        path.to_path_buf()
    };
    // Checked before opening (opening a pipe would wait for a writer) and
    // again on the open file, so it cannot be swapped in between.
    let regular = |meta: std::fs::Metadata| {
        if meta.is_file() {
            return Ok(meta);
        }
        let kind = if meta.is_dir() {
            "a folder"
        } else {
            "a device, pipe or socket"
        };
        Err(format!("not a regular file but {kind}"))
    };
    regular(std::fs::metadata(&target).map_err(|e| io("read the file", e))?)?;
    let mut file = std::fs::File::open(&target).map_err(|e| io("open the file", e))?;
    let meta = regular(file.metadata().map_err(|e| io("read the file", e))?)?;
    if meta.len() > max {
        return Err(format!(
            "{} bytes, over the {max}-byte limit for a mod file",
            meta.len()
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    (&mut file)
        .take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io("read the file", e))?;
    if bytes.len() as u64 > max {
        return Err(format!(
            "grew past the {max}-byte limit for a mod file while it was read"
        ));
    }
    Ok(bytes)
}

/// Why a mod's import was refused, from wasmtime's words (`component
/// imports instance `wasi:http/types@0.2.3`, but ...` and its root cause),
/// with what a modder can do about it.
fn import_refused(context: &str, cause: &str) -> String {
    let Some(name) = context.split('`').nth(1) else {
        return format!("imports something this game does not provide: {context}");
    };
    let advice = if name.starts_with("wasi:http/") {
        "mods get no network. A JavaScript mod made with componentize-js imports it \
         unless built without its HTTP features (`-d http fetch-event`)"
    } else if name.starts_with("wasi:sockets/") {
        "mods get no network; build the mod without networking"
    } else if name.starts_with("wasi:") {
        "mods get WASI 0.2 (preview 2) without network, HTTP or other proposals; \
         build for `wasm32-wasip2` or another WASI 0.2 target"
    } else if name.starts_with(WIT_PACKAGE) {
        "rebuild the mod against this game's WIT package"
    } else {
        "a mod may import only this game's WIT package and WASI 0.2 interfaces"
    };
    let why = if cause == context || cause.is_empty() {
        String::new()
    } else {
        format!(" ({})", crate::text::escape(cause))
    };
    format!(
        "imports `{}`, which this game does not provide{why}: {advice}",
        crate::text::escape(name)
    )
}

/// Tells a core module, a component and anything else apart by the header.
fn check_header(bytes: &[u8]) -> Result<(), String> {
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err("not a WebAssembly file (no `\\0asm` header)".into());
    }
    match bytes[4..8] {
        [1, 0, 0, 0] => Err(
            "a core WebAssembly module, not a component: build it for `wasm32-wasip2` \
             or wrap it with `wasm-tools component new`"
                .into(),
        ),
        [0x0d, 0, 1, 0] => Ok(()),
        _ => Err(format!(
            "unknown WebAssembly version or layer {:?}",
            &bytes[4..8]
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_told_apart() {
        assert!(check_header(b"").unwrap_err().contains("empty"));
        assert!(
            check_header(b"hello world")
                .unwrap_err()
                .contains("not a WebAssembly")
        );
        assert!(
            check_header(b"\0asm\x01\0\0\0")
                .unwrap_err()
                .contains("core")
        );
        assert!(check_header(b"\0asm\x0d\0\x01\0").is_ok());
    }

    #[test]
    fn a_refused_import_is_named_with_what_to_do() {
        let said = |name: &str| {
            import_refused(
                &format!(
                    "component imports instance `{name}`, but a matching implementation \
                     was not found in the linker"
                ),
                "",
            )
        };
        let http = said("wasi:http/types@0.2.3");
        assert!(
            http.starts_with("imports `wasi:http/types@0.2.3`, which this game does not provide")
                && http.contains("-d http fetch-event"),
            "{http}"
        );
        assert!(said("wasi:sockets/tcp@0.2.0").contains("no network"));
        assert!(said("wasi:nn/graph@0.2.0").contains("WASI 0.2"));
        assert!(said("bevy-wasm:mods/future@0.1.0").contains("rebuild the mod"));
        assert!(said("acme:thing/x").contains("only this game's WIT package"));
        let typed = import_refused(
            "component imports instance `wasi:cli/stdout@0.2.0`, but a matching \
             implementation was not found in the linker",
            "instance export `get-stdout` has the wrong type",
        );
        assert!(
            typed.contains("(instance export `get-stdout` has the wrong type)"),
            "{typed}"
        );
    }
}
