//! The plugin's settings: where mods come from and what each may use.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use bevy::prelude::Resource;

use crate::grants::ModGrants;

/// Limits applied to every mod. Each has a default a game can change.
#[derive(Clone, Debug)]
pub struct ModLimits {
    /// Linear memory one mod may grow to, in bytes (default 64 MiB).
    pub memory_bytes: usize,
    /// When a mod's linear memory reaches this share of its cap, in
    /// percent (default 75; 0: never), its instance is renewed between two
    /// ticks, its state kept: `save`, a fresh instance, `init`, `restore`,
    /// as for an update, at most once every 600 ticks. Linear memory never
    /// shrinks, and some guest toolchains leak a little on every call or
    /// collect garbage late: renewing gives the memory back before the cap
    /// is reached, without a fault. The one-time hooks' limit applies.
    pub renew_at_memory_percent: u8,
    /// Table elements one mod may have (default 100,000).
    pub table_elements: usize,
    /// A call into a mod that takes longer than this is logged as a warning
    /// (default 4 ms).
    pub soft_call_budget: Duration,
    /// A tick (its `on-event` and `on-tick` together) is stopped when it
    /// has used this much of its worker thread's CPU time (default 50 ms),
    /// or three times as much wall time on a machine too busy to give it
    /// that: a mod is not faulted for the time the system gave other
    /// threads, and a loop still stops.
    pub hard_call_limit: Duration,
    /// The one-time hooks, `init`, `save` and `restore`, and making the
    /// instance before `init`, are each stopped at this limit (default
    /// 1 s; CPU time, as for ticks). They start an interpreter in a Python or JavaScript mod, or
    /// carry its whole state, and on a loaded machine that can take tens
    /// of times a tick's work: measured on a 2-core machine with both cores
    /// kept busy, a Python mod's `init` passed 50 ms. A mod stuck in one
    /// holds one worker at most this long; a worker kept busy makes the
    /// pool start a spare, so other mods' ticks are not late.
    pub hook_call_limit: Duration,
    /// Commands one mod may issue in one tick (default 100,000).
    pub commands_per_tick: usize,
    /// Bytes of commands one mod may issue in one tick, and bytes of any one
    /// message between the game and a worker (default 32 MiB).
    pub bytes_per_tick: usize,
    /// Events one mod may emit in one tick (default 1,000).
    pub events_per_tick: usize,
    /// Deepest nesting of a MessagePack value from a mod (default 64).
    pub value_depth: usize,
    /// Log lines one mod may write in one tick (default 100), through the
    /// `log` interface, stdout and stderr together.
    pub log_lines_per_tick: usize,
    /// Bytes one mod may write to the game's log at once, through `log`,
    /// stdout and stderr together (default 256 KiB), before its steady
    /// rate applies.
    pub output_burst_bytes: u64,
    /// Bytes a minute one mod may write to the game's log once its burst is
    /// spent (default 1 MiB). What goes over is dropped before it is
    /// formatted, and one line at most every ten seconds says how much was
    /// dropped, so a mod writing all it can never fills the disk or slows
    /// the frames.
    pub output_bytes_per_minute: u64,
    /// Most entities one mod may spawn in one tick (default 16,384). The host
    /// reserves ids ahead of each tick, more for mods that spawn more.
    pub spawns_per_tick: usize,
    /// Most entities one mod may own at once (default 100,000); a spawn
    /// beyond it fails with `limit-exceeded`.
    pub entities_per_mod: usize,
    /// Fuel (roughly, WebAssembly instructions) one tick or hook may burn
    /// (default `None`: off). For games that need a cut-off that lands on
    /// the same instruction on every machine, as lockstep multiplayer does;
    /// the time limit above still applies. Metering costs about 5%.
    pub fuel_per_call: Option<u64>,
    /// Main-thread CPU time the game may spend checking and applying one
    /// mod's commands for one tick (default 16 ms, a frame at 60 fps). A
    /// mod whose commands take longer faults with
    /// [`FaultKind::OverBudget`](crate::FaultKind::OverBudget): staging
    /// stops at the limit and nothing of the tick is applied. Time on its
    /// query snapshot is measured beside it ([`ModCost::main_thread`](crate::ModCost::main_thread))
    /// but not charged, since other mods' entities make it grow.
    pub main_thread_per_tick: Duration,
    /// Bytes of component values (as MessagePack) one mod may keep on the
    /// entities it owns, game types and its own types together (default
    /// 16 MiB, half the message limit, so a mod's own values always fit in
    /// its query results). A tick that would go over it is refused whole
    /// with `InvalidOutput`; despawning or removing values frees room.
    pub state_bytes_per_mod: u64,
    /// Largest mod file read, in bytes (default 128 MiB; a Python mod is
    /// about 18 MB). A larger file is refused without being read.
    pub file_bytes: u64,
    /// Largest mod package (a folder or a `.zip`), all its files unpacked
    /// together, in bytes (default 256 MiB). A package over it is refused
    /// whole, from its listing (an archive's directory), before any of
    /// its files is read.
    pub package_bytes: u64,
    /// Most files (and folders) a mod package may hold (default 4096).
    pub package_files: usize,
    /// Bytes a mod's assets may take in the game once decoded (an image's
    /// RGBA pixels, any other file's bytes); files past it are left out
    /// and reported against the mod.
    pub asset_bytes: u64,
    /// Pixels an image in a mod's assets may have on a side.
    pub image_side: u32,
}

impl Default for ModLimits {
    fn default() -> Self {
        // The caps on commands have their defaults in the rule book the
        // test world shares.
        let rules = mod_rules::Limits::default();
        Self {
            memory_bytes: 64 << 20,
            renew_at_memory_percent: 75,
            table_elements: 100_000,
            soft_call_budget: Duration::from_millis(4),
            hard_call_limit: Duration::from_millis(50),
            hook_call_limit: Duration::from_secs(1),
            commands_per_tick: rules.commands_per_tick,
            bytes_per_tick: rules.bytes_per_tick,
            events_per_tick: rules.events_per_tick,
            value_depth: rules.value_depth,
            log_lines_per_tick: rules.log_lines_per_tick,
            output_burst_bytes: 256 << 10,
            output_bytes_per_minute: 1 << 20,
            spawns_per_tick: rules.spawns_per_tick,
            entities_per_mod: rules.entities_per_mod,
            fuel_per_call: None,
            main_thread_per_tick: Duration::from_millis(16),
            state_bytes_per_mod: rules.state_bytes_per_mod,
            file_bytes: 128 << 20,
            package_bytes: 256 << 20,
            package_files: 4096,
            asset_bytes: 64 << 20,
            image_side: 4096,
        }
    }
}

impl ModLimits {
    /// The caps on a mod's assets in the game.
    pub fn assets(&self) -> crate::package::AssetBounds {
        crate::package::AssetBounds {
            bytes: self.asset_bytes,
            image_side: self.image_side,
        }
    }

    /// The bounds a package is read within.
    pub fn package(&self) -> crate::package::PackageBounds {
        crate::package::PackageBounds {
            bytes: self.package_bytes,
            files: self.package_files,
            component_bytes: self.file_bytes,
        }
    }

    /// The caps on one tick's commands, as the shared rule book (and the
    /// test world) takes them.
    pub fn rules(&self) -> mod_rules::Limits {
        mod_rules::Limits {
            spawns_per_tick: self.spawns_per_tick,
            entities_per_mod: self.entities_per_mod,
            events_per_tick: self.events_per_tick,
            commands_per_tick: self.commands_per_tick,
            bytes_per_tick: self.bytes_per_tick,
            log_lines_per_tick: self.log_lines_per_tick,
            value_depth: self.value_depth,
            state_bytes_per_mod: self.state_bytes_per_mod,
        }
    }
}

/// What happens to a mod after a fault. Counted in frames, so two runs with
/// the same inputs restart a mod in the same frame.
#[derive(Clone, Debug)]
pub struct FaultPolicy {
    /// Frames to wait before restarting a mod after its first fault
    /// (default 30, half a second at 60 fps). Each further fault within
    /// `window_frames` doubles the wait.
    pub backoff_frames: u64,
    /// Longest wait before a restart (default 1,800 frames).
    pub max_backoff_frames: u64,
    /// Faults within `window_frames` that quarantine a mod (default 4): it is
    /// stopped for the rest of the session.
    pub quarantine_after: u32,
    /// The window in which faults count toward quarantine (default 3,600
    /// frames, a minute at 60 fps).
    pub window_frames: u64,
    /// Whether the entities a quarantined mod spawned are despawned (default
    /// false: they stay, and simply stop changing).
    pub despawn_on_quarantine: bool,
    /// How often a mod's state is saved for a restart to resume from, in
    /// the mod's ticks (default 180, three seconds at 60 fps; 0: never).
    /// The worker calls the mod's `save` at the start of its first tick
    /// and then every this many ticks, under the one-time hooks' limit;
    /// its time counts as the tick's guest time. After a fault the fresh
    /// instance is given that state (`restore`), and the entities the mod
    /// spawned since are despawned, since the state does not know them:
    /// the mod goes on from the checkpoint with exactly the entities it
    /// knew then, never a second copy. A mod whose `save` returns nothing
    /// (the default of a Rust mod) keeps no checkpoint: it restarts afresh
    /// and its entities stay, as they do when a checkpoint cannot be
    /// restored.
    pub checkpoint_every_ticks: u64,
}

impl Default for FaultPolicy {
    fn default() -> Self {
        Self {
            backoff_frames: 30,
            max_backoff_frames: 1_800,
            quarantine_after: 4,
            window_frames: 3_600,
            despawn_on_quarantine: false,
            checkpoint_every_ticks: 180,
        }
    }
}

impl FaultPolicy {
    /// Frames to wait after the `n`th fault in the window (1-based).
    pub fn backoff(&self, n: u32) -> u64 {
        let doubled = self
            .backoff_frames
            .saturating_mul(1u64 << n.saturating_sub(1).min(32));
        doubled.min(self.max_backoff_frames)
    }
}

/// How long a frame waits for mods' replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameMode {
    /// A frame waits for mods at most `budget` in all (the default, 4 ms).
    /// A mod whose reply is late has it applied in a later frame, checked
    /// against the world as it is then, and gets no new tick meanwhile; a
    /// reply not come by the mod's hard limit is a fault. A slow or
    /// looping mod never makes the game's frames slow; which frame a late
    /// mod's commands land in depends on the machine.
    RealTime {
        /// Longest a frame waits for all mods together.
        budget: Duration,
    },
    /// Every frame waits for every mod's reply (up to its hard limit), so
    /// the same inputs always give the same world, at the price of a slow
    /// frame whenever a mod is slow. For lockstep multiplayer and replays.
    Lockstep,
}

impl Default for FrameMode {
    fn default() -> Self {
        FrameMode::RealTime {
            budget: Duration::from_millis(4),
        }
    }
}

/// Settings of [`ModPlugin`](crate::ModPlugin), kept as a resource.
#[derive(Resource, Clone, Debug)]
pub struct ModSettings {
    /// The folder scanned for `.wasm` files at start-up (default
    /// `assets/mods`).
    pub mods_dir: PathBuf,
    /// Limits for every mod.
    pub limits: ModLimits,
    /// What happens to a mod after a fault.
    pub faults: FaultPolicy,
    /// MessagePack passed to a mod's `init`, by the mod file's stem.
    pub configs: BTreeMap<String, Vec<u8>>,
    /// What the game grants mods beyond the defaults, by the mod file's
    /// stem. The player's grants file in the mods folder adds to these.
    pub grants: BTreeMap<String, ModGrants>,
    /// Worker threads that run mods (default: one per core). They share
    /// one queue: any idle worker runs the next mod's request, so a slow
    /// mod holds one worker and the others run the rest. 0 starts as many
    /// workers as there are mods.
    pub worker_threads: usize,
    /// The worker threads' nice value, 0 to 19 (default 0: the priority of
    /// the game's own threads). Higher runs the mods below the game: when
    /// the mods want more of the cores than is left, the game's frames keep
    /// their pace and the mods tick less often (in real time) instead of
    /// the frames stretching. Measured with 50 mods on 2 cores, real time:
    /// at 0 the frame's p99 is about 30 ms, at 19 about 11 ms, the slowest
    /// mod then ticking in half the frames (`docs/benchmarks.md`). The
    /// price: on a machine whose cores are busy with other programs, a
    /// mod's call gets little CPU, and one that cannot finish within three
    /// times its limit in wall time is stopped as a fault. Linux only (elsewhere a
    /// priority is per process).
    pub worker_nice: i32,
    /// How long a frame waits for mods (default: real time, 4 ms).
    pub frame_mode: FrameMode,
    /// Whether the mods folder is watched while the game runs (default
    /// true): a `.wasm` file that appears is loaded, one that changes is
    /// swapped in with the mod's state kept (the old version runs on if the
    /// new one fails), one that goes is unloaded.
    pub watch: bool,
    /// Whether the entities of a mod whose file was removed are despawned
    /// with it (default true: nothing could change them any more, and a
    /// player removes a mod to be rid of what it does; a file replaced in
    /// place is an update, not a removal).
    pub despawn_on_remove: bool,
    /// Names of mod-defined component types and events the game opens to
    /// every mod (default none): no mod can claim them for itself.
    pub shared_names: std::collections::BTreeSet<String>,
    /// Where compiled mods are kept between runs, so a mod whose file did
    /// not change starts without compiling (default: the player's cache
    /// folder, see [`default_compile_cache`](crate::default_compile_cache);
    /// `None` compiles every mod at every start). The folder is created
    /// for the player alone and refused if anyone else may write to it or
    /// if it is in the mods folder: compiled code is trusted like the
    /// game's own (see `docs/security.md`).
    pub compile_cache: Option<PathBuf>,
    /// How big the compiled-mods folder may grow (default 2 GiB); the least
    /// recently used entries go first.
    pub compile_cache_bytes: u64,
    /// Records what enters the mods into this file (see
    /// [`crate::replay`]); needs [`FrameMode::Lockstep`].
    pub record: Option<PathBuf>,
    /// Replays this recording: the mods are given its game messages and
    /// each frame is compared with it (see [`crate::replay`]). The folder
    /// is not watched meanwhile.
    pub replay: Option<PathBuf>,
    /// Loads this saved game on the frame the mods found at start-up begin
    /// (see [`crate::save`]).
    pub load: Option<PathBuf>,
    /// Frames between two checksums of the world in a recording (default
    /// 60).
    pub checksum_every: u32,
}

impl Default for ModSettings {
    fn default() -> Self {
        Self {
            mods_dir: PathBuf::from("assets/mods"),
            limits: ModLimits::default(),
            faults: FaultPolicy::default(),
            configs: BTreeMap::new(),
            grants: BTreeMap::new(),
            worker_threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            worker_nice: 0,
            frame_mode: FrameMode::default(),
            shared_names: Default::default(),
            watch: true,
            despawn_on_remove: true,
            compile_cache: crate::default_compile_cache(),
            compile_cache_bytes: 2 << 30,
            record: None,
            replay: None,
            load: None,
            checksum_every: 60,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_per_fault_up_to_the_cap() {
        let policy = FaultPolicy {
            backoff_frames: 30,
            max_backoff_frames: 200,
            ..FaultPolicy::default()
        };
        let waits: Vec<u64> = (1..=5).map(|n| policy.backoff(n)).collect();
        assert_eq!(waits, [30, 60, 120, 200, 200]);
        assert_eq!(policy.backoff(1_000), 200, "no overflow");
    }
}
