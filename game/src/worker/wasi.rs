//! The WASI a mod gets: nothing it was not granted, clocks that read game
//! time, randomness seeded per mod, and output into the game's log.
//!
//! wasmtime-wasi provides the interfaces; a few are replaced here, where
//! its behaviour would let a mod block its worker or act unnoticed:
//! - `monotonic-clock`: sleeping returns at once. Game time does not pass
//!   during a call, and a real sleep would hold the worker past the call's
//!   deadline (the epoch only interrupts WebAssembly code, not host waits).
//! - `tcp-create-socket`, `udp-create-socket`, `ip-name-lookup`: refused
//!   with `access-denied`, and logged under the mod's name.
//! - `environment`, `preopens`: empty unless granted, and a mod asking is
//!   logged once per instance.

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker, Resource};
use wasmtime_wasi::clocks::WasiClocksCtxView;
use wasmtime_wasi::filesystem::{FsPerms, WasiFilesystemCtxView};
use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, sockets};
use wasmtime_wasi::p2::{DynPollable, SocketResult};
use wasmtime_wasi::sockets::WasiSocketsCtxView;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

use chacha20::ChaCha12Rng;
use chacha20::rand_core::SeedableRng;

use super::clock::GameTime;
use super::stdio::{LineBudget, LogPipe};
use crate::grants::{GUEST_DATA_DIR, ModGrants};
use crate::worker::state::HostState;

/// Most random bytes one call may ask for.
const MAX_RANDOM_BYTES: u64 = 64 << 10;

/// Builds a mod's WASI context: only what `grants` allows.
pub(crate) fn context(
    name: &Arc<str>,
    seed: u64,
    time: &GameTime,
    lines: &LineBudget,
    grants: &ModGrants,
) -> Result<WasiCtx, String> {
    // Two ChaCha streams per mod, one for each of WASI's random sources:
    // a real generator (no short cycle), the same in every run.
    let secure = ChaCha12Rng::seed_from_u64(seed);
    let insecure = ChaCha12Rng::seed_from_u64(!seed);
    let mut builder = WasiCtxBuilder::new();
    builder
        .stdout(LogPipe::new(name.clone(), false, lines.clone()))
        .stderr(LogPipe::new(name.clone(), true, lines.clone()))
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        // A request for more bytes fails; the host never makes a big buffer
        // in one uninterruptible call.
        .max_random_size(MAX_RANDOM_BYTES)
        .secure_random(secure)
        .insecure_random(insecure)
        .insecure_random_seed(u128::from(seed) << 64 | u128::from(!seed))
        .wall_clock(time.clone())
        .monotonic_clock(time.clone());
    if let Some(dir) = &grants.read_dir {
        builder
            .preopened_dir(dir, GUEST_DATA_DIR, FsPerms::ReadOnly)
            .map_err(|e| format!("cannot open the granted folder {}: {e}", dir.display()))?;
    }
    Ok(builder.build())
}

/// Adds WASI to the linker, with the replacements this module describes.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_sync(linker)?;
    linker.allow_shadowing(true);
    type Own = HasSelf<HostState>;
    fn me(s: &mut HostState) -> &mut HostState {
        s
    }
    clocks::monotonic_clock::add_to_linker::<HostState, Own>(linker, me)?;
    sockets::tcp_create_socket::add_to_linker::<HostState, Own>(linker, me)?;
    wasmtime_wasi::p2::bindings::sync::sockets::udp_create_socket::add_to_linker::<HostState, Own>(
        linker, me,
    )?;
    sockets::ip_name_lookup::add_to_linker::<HostState, Own>(linker, me)?;
    cli::environment::add_to_linker::<HostState, Own>(linker, me)?;
    filesystem::preopens::add_to_linker::<HostState, Own>(linker, me)?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Things a mod may ask for once an instance and be told of in the log.
#[derive(Clone, Copy)]
pub(crate) enum Asked {
    Environment = 1,
    Files = 2,
}

impl HostState {
    fn clocks_view(&mut self) -> WasiClocksCtxView<'_> {
        WasiClocksCtxView {
            ctx: self.wasi.clocks(),
            table: &mut self.table,
        }
    }

    fn sockets_view(&mut self) -> WasiSocketsCtxView<'_> {
        WasiSocketsCtxView {
            ctx: self.wasi.sockets(),
            table: &mut self.table,
        }
    }

    /// Logs a refused network action; the mod gets `access-denied`.
    fn deny_network(&self, what: &str) -> wasmtime_wasi::p2::SocketError {
        tracing::warn!(
            target: "mod",
            mod_id = &*self.mod_id,
            "denied: {} (mods have no network access)",
            crate::text::escape(what)
        );
        sockets::network::ErrorCode::AccessDenied.into()
    }

    /// Logs, once per instance, that the mod asked for `what`.
    fn note_asked(&mut self, asked: Asked, what: &str) {
        if self.asked & asked as u8 == 0 {
            self.asked |= asked as u8;
            tracing::info!(target: "mod", mod_id = &*self.mod_id, "{}", crate::text::escape(what));
        }
    }
}

impl clocks::monotonic_clock::Host for HostState {
    fn now(&mut self) -> wasmtime::Result<u64> {
        clocks::monotonic_clock::Host::now(&mut self.clocks_view())
    }

    fn resolution(&mut self) -> wasmtime::Result<u64> {
        clocks::monotonic_clock::Host::resolution(&mut self.clocks_view())
    }

    fn subscribe_instant(&mut self, _when: u64) -> wasmtime::Result<Resource<DynPollable>> {
        self.clocks_view().subscribe_duration(0)
    }

    fn subscribe_duration(&mut self, _duration: u64) -> wasmtime::Result<Resource<DynPollable>> {
        self.clocks_view().subscribe_duration(0)
    }
}

// The socket interfaces' error conversions, needed by the ones replaced
// here; wasmtime-wasi's own do the work.
impl sockets::network::Host for HostState {
    fn convert_error_code(
        &mut self,
        error: wasmtime_wasi::p2::SocketError,
    ) -> wasmtime::Result<sockets::network::ErrorCode> {
        sockets::network::Host::convert_error_code(&mut self.sockets_view(), error)
    }

    fn network_error_code(
        &mut self,
        err: Resource<sockets::network::Error>,
    ) -> wasmtime::Result<Option<sockets::network::ErrorCode>> {
        sockets::network::Host::network_error_code(&mut self.sockets_view(), err)
    }
}

impl sockets::network::HostNetwork for HostState {
    fn drop(&mut self, network: Resource<sockets::network::Network>) -> wasmtime::Result<()> {
        sockets::network::HostNetwork::drop(&mut self.sockets_view(), network)
    }
}

impl sockets::tcp_create_socket::Host for HostState {
    fn create_tcp_socket(
        &mut self,
        _family: sockets::network::IpAddressFamily,
    ) -> SocketResult<Resource<wasmtime_wasi::p2::TcpSocket>> {
        Err(self.deny_network("a TCP socket"))
    }
}

impl wasmtime_wasi::p2::bindings::sync::sockets::udp_create_socket::Host for HostState {
    fn create_udp_socket(
        &mut self,
        _family: sockets::network::IpAddressFamily,
    ) -> SocketResult<Resource<wasmtime_wasi::p2::UdpSocket>> {
        Err(self.deny_network("a UDP socket"))
    }
}

impl sockets::ip_name_lookup::Host for HostState {
    fn resolve_addresses(
        &mut self,
        _network: Resource<sockets::network::Network>,
        name: String,
    ) -> SocketResult<Resource<sockets::ip_name_lookup::ResolveAddressStream>> {
        let mut shown = name;
        shown.truncate(shown.floor_char_boundary(128));
        Err(self.deny_network(&format!("looking up the address of `{shown}`")))
    }
}

impl sockets::ip_name_lookup::HostResolveAddressStream for HostState {
    fn resolve_next_address(
        &mut self,
        stream: Resource<sockets::ip_name_lookup::ResolveAddressStream>,
    ) -> SocketResult<Option<sockets::network::IpAddress>> {
        self.sockets_view().resolve_next_address(stream)
    }

    fn subscribe(
        &mut self,
        stream: Resource<sockets::ip_name_lookup::ResolveAddressStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        sockets::ip_name_lookup::HostResolveAddressStream::subscribe(
            &mut self.sockets_view(),
            stream,
        )
    }

    fn drop(
        &mut self,
        stream: Resource<sockets::ip_name_lookup::ResolveAddressStream>,
    ) -> wasmtime::Result<()> {
        sockets::ip_name_lookup::HostResolveAddressStream::drop(&mut self.sockets_view(), stream)
    }
}

impl cli::environment::Host for HostState {
    fn get_environment(&mut self) -> wasmtime::Result<Vec<(String, String)>> {
        self.note_asked(
            Asked::Environment,
            "read its environment: mods get no environment variables",
        );
        Ok(Vec::new())
    }

    fn get_arguments(&mut self) -> wasmtime::Result<Vec<String>> {
        self.note_asked(
            Asked::Environment,
            "read its arguments: mods get no arguments",
        );
        Ok(Vec::new())
    }

    fn initial_cwd(&mut self) -> wasmtime::Result<Option<String>> {
        Ok(None)
    }
}

impl filesystem::preopens::Host for HostState {
    fn get_directories(
        &mut self,
    ) -> wasmtime::Result<Vec<(Resource<filesystem::types::Descriptor>, String)>> {
        let dirs = filesystem::preopens::Host::get_directories(&mut WasiFilesystemCtxView {
            ctx: self.wasi.filesystem(),
            table: &mut self.table,
        })?;
        if dirs.is_empty() {
            self.note_asked(
                Asked::Files,
                "asked for the file system: no folder is granted to this mod \
                 (see grants.toml in the mods folder)",
            );
        }
        Ok(dirs)
    }
}
