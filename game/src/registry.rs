//! What the game knows of each mod (its [`ModInfo`], status, costs) and
//! the messages sent when a mod loads, fails or emits an event. The
//! registry resource that holds each mod's record is `systems::ModRegistry`
//! (re-exported at the crate's root); this file names no part of the main
//! thread's machinery, so every part of it may use these types.

use std::path::PathBuf;
use std::time::Duration;

use bevy::prelude::*;
use serde::de::DeserializeOwned;

use crate::fault::Fault;

/// Where a mod stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModStatus {
    /// Being compiled, instantiated and initialised on its worker.
    Loading,
    /// Ticking every frame.
    Running,
    /// Faulted; waiting out its back-off, or being restarted from its
    /// compiled component. Its entities stay in the world meanwhile.
    Recovering,
    /// Stopped after faulting too often (see
    /// [`FaultPolicy`](crate::FaultPolicy)); `last_error` says why.
    Quarantined,
    /// Could not be loaded; `last_error` says why.
    Failed,
    /// Loaded and well, but not ticked: the game or the player turned it
    /// off with [`SetModEnabled`]. Its instance, its state and its entities
    /// are kept; it ticks again, from where it stopped, when turned on.
    Disabled,
    /// Loaded and well, but not ticked: a dependency in its package's
    /// `mod.toml` is missing, of another version, waiting itself or in a
    /// cycle, or a mod it is incompatible with is there
    /// ([`ModInfo::waiting_for`] says which). Its instance, its state and
    /// its entities are kept; it ticks, from where it stopped, once what
    /// it waits for is there.
    Waiting,
}

/// One mod file and what became of it. The registry keeps it up to date
/// as the mod loads, runs, faults and recovers.
#[derive(Clone, Debug)]
pub struct ModInfo {
    /// The mod's identity: its file's stem (`mover` for `mover.wasm`).
    /// Its entities, its grants, its config and [`ReloadMod`] go by this.
    pub id: String,
    /// The `.wasm` file the mod came from.
    pub file: PathBuf,
    /// The mod's display name from its manifest (its id until it loads):
    /// a label, which two mods may share.
    pub name: String,
    /// The mod's version from its manifest (empty until it loads).
    pub version: String,
    /// The contract version the mod's running code was built for
    /// (`0.1.0`; empty until it loads): one of
    /// [`SERVED_CONTRACTS`](crate::SERVED_CONTRACTS).
    pub contract: String,
    /// The package's `mod.toml` when the mod came as a package (a folder
    /// or a `.zip`): its name, version, authors, description and
    /// dependencies. `None` for a lone `.wasm` and until the mod loads.
    pub package: Option<crate::package::PackageManifest>,
    /// What the mod waits for before it may tick, one reason each
    /// (`weather ^1.2 (not installed)`); empty when it waits for nothing.
    pub waiting_for: Vec<String>,
    /// The files of its package's `assets/` left out of
    /// [`ModAssets`](crate::ModAssets), one line each: the path and why (an
    /// image that does not decode, one too big, files past the cap).
    pub asset_problems: Vec<String>,
    /// Where the mod stands.
    pub status: ModStatus,
    /// How many ticks the mod has been given, failed ones included.
    pub ticks: u64,
    /// How many faults the mod has had.
    pub faults: u32,
    /// How many times it was restarted after a fault and ran again.
    pub recoveries: u32,
    /// The last fault, if any.
    pub last_error: Option<Fault>,
    /// Why the last new version of the file was refused, while the version
    /// that ran before goes on (`None` once a new version runs).
    pub update_refused: Option<Fault>,
    /// What the mod's file is going through while the mod loads, or while
    /// a new version of it is prepared (the old version runs on meanwhile);
    /// `None` otherwise.
    pub phase: Option<LoadPhase>,
    /// How long the mod took from its file being found to its `init`
    /// returning, the last time it was loaded from its file.
    pub load_time: Option<Duration>,
    /// Whether that load found the file's compiled code in the disk cache
    /// (see [`ModSettings::compile_cache`](crate::ModSettings::compile_cache))
    /// rather than compiling it.
    pub compiled_from_cache: bool,
    /// What the mod costs the game, and what it lost to its neighbours.
    pub cost: ModCost,
    /// Whether the mod may tick (true unless turned off with
    /// [`SetModEnabled`]; a mod turned off shows as
    /// [`ModStatus::Disabled`] while it is otherwise well).
    pub enabled: bool,
}

/// A step of loading a mod file (see [`ModInfo::phase`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadPhase {
    /// Waiting for a loader thread (as many run as there are cores).
    Queued,
    /// Its file is being read and checked.
    Reading,
    /// Its code is being compiled: seconds for a big mod, once per version
    /// of the file, since the compiled code is then kept on disk (see
    /// [`ModSettings::compile_cache`](crate::ModSettings::compile_cache)).
    Compiling,
    /// Its compiled code is being loaded from the disk cache.
    LoadingCompiled,
    /// It is being instantiated and initialised (`init`, and `restore` for
    /// a new version) on a worker.
    Instantiating,
}

impl LoadPhase {
    /// The phase in a word or two, for a console or a panel.
    pub fn describe(self) -> &'static str {
        match self {
            LoadPhase::Queued => "queued",
            LoadPhase::Reading => "reading",
            LoadPhase::Compiling => "compiling",
            LoadPhase::LoadingCompiled => "loading compiled code",
            LoadPhase::Instantiating => "instantiating",
        }
    }
}

/// What one mod costs the game, and what limits took from it. Updated with
/// every tick.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModCost {
    /// Main-thread CPU time spent on the mod's last tick: its query
    /// snapshot, then staging and applying its commands. Charged against
    /// [`ModLimits::main_thread_per_tick`](crate::ModLimits::main_thread_per_tick).
    pub main_thread: Duration,
    /// The same, averaged over about the last 60 ticks.
    pub main_thread_avg: Duration,
    /// Time the mod's last tick took on its worker: `on-event` and
    /// `on-tick`, with the host calls they made.
    pub guest_time: Duration,
    /// The same, averaged over about the last 60 ticks.
    pub guest_time_avg: Duration,
    /// Bytes of input the mod's last tick carried: query results, events
    /// and reserved entity ids.
    pub bytes_in: u64,
    /// Bytes of commands the mod's last tick returned.
    pub bytes_out: u64,
    /// Entities the mod owns (it spawned them and they still exist).
    pub entities: u64,
    /// Linear memory the mod's instance holds, in bytes (what its
    /// `memory.grow` calls reached; WebAssembly never gives memory back).
    pub memory_bytes: u64,
    /// Times the mod's instance was renewed, its state kept, because its
    /// linear memory reached
    /// [`ModLimits::renew_at_memory_percent`](crate::ModLimits::renew_at_memory_percent)
    /// of its cap.
    pub renewals: u64,
    /// Bytes of component values the mod set on the entities it owns,
    /// capped by [`ModLimits::state_bytes_per_mod`](crate::ModLimits::state_bytes_per_mod).
    pub state_bytes: u64,
    /// Ticks whose query results left out the rows of other mods' entities
    /// (those keeping the most values first) to fit the message limit.
    /// Each one is also logged, naming those mods.
    pub inputs_cut: u64,
    /// Ticks the mod did not get because its input was over the message
    /// limit even without other mods' rows. Each one is also logged.
    pub skipped_ticks: u64,
    /// Events meant for the mod that were dropped because senders sent more
    /// than its inbox holds: the biggest sender's oldest went first.
    pub events_dropped: u64,
    /// Inputs this mod sent that other mods reported they could not decode.
    pub rejected_by_others: u64,
    /// The last such report: who could not decode what, and why.
    pub last_rejection: Option<String>,
}

impl ModInfo {
    /// A mod file found, before it loads: known by the file's stem.
    pub(crate) fn found(file: PathBuf, stem: String) -> Self {
        Self {
            id: stem.clone(),
            file,
            name: stem,
            version: String::new(),
            contract: String::new(),
            package: None,
            waiting_for: Vec::new(),
            asset_problems: Vec::new(),
            status: ModStatus::Loading,
            ticks: 0,
            faults: 0,
            recoveries: 0,
            last_error: None,
            update_refused: None,
            phase: Some(LoadPhase::Queued),
            load_time: None,
            compiled_from_cache: false,
            cost: ModCost::default(),
            enabled: true,
        }
    }
}

/// Everything that happens in a mod's life, as one message, in the order
/// it happened: for a listener that follows all of it (a console, a
/// panel, a log). Each is also sent as its own message type, for a
/// listener that wants one kind.
#[derive(Message, Clone, Debug)]
pub enum ModLifecycle {
    /// [`ModLoaded`].
    Loaded(ModLoaded),
    /// [`ModUpdated`].
    Updated(ModUpdated),
    /// [`ModUpdateRefused`].
    UpdateRefused(ModUpdateRefused),
    /// [`ModUnloaded`].
    Unloaded(ModUnloaded),
    /// [`ModFailed`].
    Failed(ModFailed),
    /// [`ModRecovered`].
    Recovered(ModRecovered),
    /// [`ModQuarantined`].
    Quarantined(ModQuarantined),
}

impl ModLifecycle {
    /// The id (the file's stem) of the mod it happened to.
    pub fn id(&self) -> &str {
        match self {
            ModLifecycle::Loaded(m) => &m.id,
            ModLifecycle::Updated(m) => &m.id,
            ModLifecycle::UpdateRefused(m) => &m.id,
            ModLifecycle::Unloaded(m) => &m.id,
            ModLifecycle::Failed(m) => &m.id,
            ModLifecycle::Recovered(m) => &m.id,
            ModLifecycle::Quarantined(m) => &m.id,
        }
    }
}

/// Sends one of the lifecycle messages, and the same as [`ModLifecycle`].
pub(crate) fn announce<M>(world: &mut World, message: M)
where
    M: Message + Clone + Into<ModLifecycle>,
{
    world.write_message(message.clone().into());
    world.write_message(message);
}

macro_rules! into_lifecycle {
    ($($kind:ident => $variant:ident),+ $(,)?) => {
        $(impl From<$kind> for ModLifecycle {
            fn from(m: $kind) -> Self {
                ModLifecycle::$variant(m)
            }
        })+
    };
}

into_lifecycle!(
    ModLoaded => Loaded,
    ModUpdated => Updated,
    ModUpdateRefused => UpdateRefused,
    ModUnloaded => Unloaded,
    ModFailed => Failed,
    ModRecovered => Recovered,
    ModQuarantined => Quarantined,
);

/// Sent when a mod has loaded; it ticks from this frame on.
#[derive(Message, Clone, Debug)]
pub struct ModLoaded {
    /// The mod's id (its file's stem).
    pub id: String,
    /// The mod's display name.
    pub name: String,
    /// The mod's version.
    pub version: String,
    /// The file it came from.
    pub file: PathBuf,
}

/// Sent when a running mod was swapped to a new version of its file, with
/// its state kept; it ticks on from the next frame.
#[derive(Message, Clone, Debug)]
pub struct ModUpdated {
    /// The mod's id (its file's stem).
    pub id: String,
    /// The mod's display name.
    pub name: String,
    /// The new version.
    pub version: String,
    /// The file it came from.
    pub file: PathBuf,
}

/// Sent when a new version of a running mod's file was refused; the
/// version that ran goes on.
#[derive(Message, Clone, Debug)]
pub struct ModUpdateRefused {
    /// The mod's id (its file's stem).
    pub id: String,
    /// The file.
    pub file: PathBuf,
    /// Why the new version was refused.
    pub fault: Fault,
}

/// Sent when a mod's file was removed from the folder: the mod is stopped
/// and gone from the registry.
#[derive(Message, Clone, Debug)]
pub struct ModUnloaded {
    /// The mod's id (its file's stem).
    pub id: String,
    /// The mod's display name.
    pub name: String,
    /// The file it came from.
    pub file: PathBuf,
    /// How many of its entities were despawned with it.
    pub despawned: usize,
}

/// Sent when a mod fails: it could not be loaded, or a call into it failed.
/// A mod that loaded is then restarted after a back-off (see
/// [`ModRecovered`]) or, after too many faults, quarantined (see
/// [`ModQuarantined`]).
#[derive(Message, Clone, Debug)]
pub struct ModFailed {
    /// The mod's id (its file's stem).
    pub id: String,
    /// The mod's display name (the file's stem when it never loaded).
    pub name: String,
    /// The file it came from.
    pub file: PathBuf,
    /// What went wrong.
    pub fault: Fault,
}

/// Sent when a mod that faulted runs again: a fresh instance of its
/// compiled component, given the state of its last checkpoint (see
/// [`FaultPolicy::checkpoint_every_ticks`](crate::FaultPolicy::checkpoint_every_ticks)).
#[derive(Message, Clone, Debug)]
pub struct ModRecovered {
    /// The mod's id (its file's stem).
    pub id: String,
    /// The mod's display name.
    pub name: String,
    /// The file it came from.
    pub file: PathBuf,
    /// Its faults so far.
    pub faults: u32,
    /// The mod's tick whose checkpoint it resumed from (the entities it
    /// spawned from that tick on were despawned); `None` when it started
    /// afresh (it saves no state, or had no checkpoint yet), its entities
    /// left as they were.
    pub resumed_at: Option<u64>,
}

/// Sent when a mod has faulted too often and is stopped for good.
#[derive(Message, Clone, Debug)]
pub struct ModQuarantined {
    /// The mod's id (its file's stem).
    pub id: String,
    /// The mod's display name.
    pub name: String,
    /// The file it came from.
    pub file: PathBuf,
    /// The last fault.
    pub fault: Fault,
    /// Its faults in all.
    pub faults: u32,
}

/// Asks for a running mod to be reloaded: its state is saved, a fresh
/// instance is made from the compiled component, initialised, and given the
/// saved state. The mod skips the frames this takes.
#[derive(Message, Clone, Debug)]
pub struct ReloadMod {
    /// The mod's id (its file's stem).
    pub id: String,
}

/// Ask the plugin to turn a mod off or on again (a mod panel's switch). A
/// mod turned off keeps its instance, state and entities and is not
/// ticked; events sent to it meanwhile wait in its inbox (up to its cap).
/// Turned on, it goes on where it stopped. A mod that is loading,
/// recovering or being updated keeps doing so, and stays off afterwards.
#[derive(Message, Clone, Debug, PartialEq, Eq)]
pub struct SetModEnabled {
    /// The mod's id (its file's stem).
    pub id: String,
    /// On (`true`) or off.
    pub enabled: bool,
}

/// An event a mod emitted. Game systems read these with a
/// `MessageReader<ModEvent>`; other mods subscribed to `name` get it on
/// their next tick.
#[derive(Message, Clone, Debug, PartialEq)]
pub struct ModEvent {
    /// The emitting mod's id (its file's stem).
    pub source: String,
    /// The event's name.
    pub name: String,
    /// The payload as MessagePack.
    pub payload: Vec<u8>,
}

impl ModEvent {
    /// Decodes the payload into a serde type.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, rmp_serde::decode::Error> {
        rmp_serde::from_slice(&self.payload)
    }
}
