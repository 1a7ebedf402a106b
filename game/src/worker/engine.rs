//! The WebAssembly side: one engine for all mods, an epoch ticker that bounds
//! every guest call in time, and the checks a file passes before it runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};

use super::bindings;
use super::state::HostState;
use super::wasi;
use crate::fault::{Fault, FaultKind, Hook};

/// The WIT package version this host implements.
pub const WIT_VERSION: &str = "0.1.0";
/// The WIT package name mods import from.
pub const WIT_PACKAGE: &str = "bevy-wasm:mods";

/// How often the epoch advances; deadlines are counted in these ticks.
pub(crate) const EPOCH_PERIOD: Duration = Duration::from_millis(1);

/// The engine, the linker with every host import, and the ticker thread.
pub(crate) struct Runtime {
    pub engine: Engine,
    pub linker: Arc<Linker<HostState>>,
    ticker: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

impl Runtime {
    /// Starts the engine; `fuel` turns on fuel metering for every mod.
    pub(crate) fn new(fuel: bool) -> Result<Self, String> {
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
            ticker: Some(ticker),
            stop,
        })
    }

    /// Compiles and links a mod file; every refusal says why in words a
    /// player can act on.
    pub(crate) fn prepare(&self, bytes: &[u8]) -> Result<bindings::GameModPre<HostState>, Fault> {
        let invalid = |message: String| Fault {
            kind: FaultKind::Invalid,
            hook: Hook::Load,
            message,
        };
        check_header(bytes).map_err(invalid)?;
        let component = Component::new(&self.engine, bytes)
            .map_err(|e| invalid(format!("not a valid component: {}", first_line(&e))))?;
        check_world(&self.engine, &component).map_err(invalid)?;
        let pre = self.linker.instantiate_pre(&component).map_err(|e| {
            invalid(format!(
                "imports something this game does not provide: {}",
                first_line(&e)
            ))
        })?;
        bindings::GameModPre::new(pre)
            .map_err(|e| invalid(format!("does not export the mod hooks: {}", first_line(&e))))
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

fn first_line(e: &wasmtime::Error) -> String {
    format!("{e:#}")
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
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

/// Checks the component was built against a compatible version of this
/// game's WIT package and exports its hooks.
fn check_world(engine: &Engine, component: &Component) -> Result<(), String> {
    let ty = component.component_type();
    let prefix = format!("{WIT_PACKAGE}/");
    let mut names: Vec<String> = ty.imports(engine).map(|(n, _)| n.to_string()).collect();
    let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
    names.extend(exports.iter().cloned());
    for name in &names {
        if let Some(rest) = name.strip_prefix(&prefix) {
            let version = rest.split('@').nth(1).unwrap_or("");
            if !compatible(version) {
                return Err(format!(
                    "built for {WIT_PACKAGE}@{version}, but this game provides \
                     {WIT_PACKAGE}@{WIT_VERSION}; rebuild the mod against this version"
                ));
            }
        }
    }
    let hooks = format!("{WIT_PACKAGE}/hooks@");
    if !exports.iter().any(|e| e.starts_with(&hooks)) {
        return Err(format!(
            "does not implement the `{WIT_PACKAGE}/game-mod` world: it exports no \
             `{WIT_PACKAGE}/hooks` (its exports: {})",
            if exports.is_empty() {
                "none".into()
            } else {
                exports.join(", ")
            }
        ));
    }
    Ok(())
}

/// Semver compatibility with [`WIT_VERSION`]: same major, and for 0.x the
/// same minor.
fn compatible(version: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64)> {
        let mut it = v.split('.');
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    };
    match (parse(version), parse(WIT_VERSION)) {
        (Some((a, b)), Some((c, d))) => a == c && (a > 0 || b == d),
        _ => false,
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
    fn versions_follow_semver() {
        assert!(compatible("0.1.0"));
        assert!(compatible("0.1.7"));
        assert!(!compatible("0.2.0"));
        assert!(!compatible("1.1.0"));
        assert!(!compatible("garbage"));
    }
}
