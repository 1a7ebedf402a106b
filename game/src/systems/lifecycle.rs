//! A mod's lifecycle: the one record of where a mod stands, changed only by
//! the transitions below, with the public [`ModInfo`] derived from it.
//!
//! ```text
//! Loading ─ready→ Ready ─start→ Idle ─send_tick→ InFlight ─tick_returned→ Idle
//!                   ↑            │ swapping (new code, state kept)
//!                   │            ↓
//!              Restarting     Swapping ─swapped / update_refused→ Idle
//!                   ↑
//!   any state ─fault→ BackingOff ─restarting→ Restarting
//!                   → Quarantined (too many faults in the window)
//!                   → Failed (the file never loaded, or no worker)
//! ```
//!
//! Nothing here touches the world or a worker: the systems do what a
//! transition asks for (send a request, write a message, free ids), so the
//! rules can be tested without WebAssembly.

use std::collections::VecDeque;
use std::time::Instant;

use crate::fault::{Fault, Hook};
use crate::registry::{ModInfo, ModStatus};
use crate::settings::FaultPolicy;

/// Where a mod stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// Compiling, instantiating and running `init` for the first time.
    Loading,
    /// `init` returned; waiting for the other start-up mods. `recovering`
    /// when the instance replaces one that ran and faulted.
    Ready { recovering: bool },
    /// Running; waiting for this frame's tick.
    Idle,
    /// A tick was sent at `sent`; its reply is due.
    InFlight { sent: Instant },
    /// Being swapped to new code that keeps its state.
    Swapping,
    /// Waiting out its back-off after a fault; restarted in app frame
    /// `until`.
    BackingOff { until: u64 },
    /// A fresh instance is being made after a fault.
    Restarting,
    /// Stopped for good after faulting too often.
    Quarantined,
    /// Could not be loaded; nothing about it changes until the file does.
    Failed,
}

impl State {
    /// What the game sees of this state.
    fn status(self) -> ModStatus {
        match self {
            State::Loading | State::Ready { recovering: false } => ModStatus::Loading,
            State::Idle | State::InFlight { .. } | State::Swapping => ModStatus::Running,
            State::Ready { recovering: true } | State::BackingOff { .. } | State::Restarting => {
                ModStatus::Recovering
            }
            State::Quarantined => ModStatus::Quarantined,
            State::Failed => ModStatus::Failed,
        }
    }
}

/// A reply that does not fit the state the mod is in: a host bug, never
/// the mod's doing; the caller logs it and treats the mod as faulted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Unexpected {
    pub what: &'static str,
    pub state: State,
}

impl std::fmt::Display for Unexpected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} while the mod was {:?}", self.what, self.state)
    }
}

/// How a mod that was `Ready` starts.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Started {
    /// For the first time.
    Loaded,
    /// Again, after a fault.
    Recovered,
}

/// What became of a mod after a fault.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AfterFault {
    /// It is restarted in app frame `at`.
    Retry { at: u64 },
    /// It faulted `in_window` times within the policy's window: stopped.
    Quarantined { in_window: u32 },
    /// It never loaded, or cannot be restarted: stopped.
    Failed,
}

/// One mod's lifecycle and the public record derived from it.
#[derive(Debug)]
pub(crate) struct Lifecycle {
    state: State,
    info: ModInfo,
    /// App frames of the mod's recent faults, oldest first.
    recent_faults: VecDeque<u64>,
    /// Whether an instance of the mod ever started (then a restart is a
    /// recovery).
    has_run: bool,
}

impl Lifecycle {
    /// A mod whose file was found: it starts loading.
    pub(crate) fn loading(info: ModInfo) -> Self {
        let mut life = Self {
            state: State::Loading,
            info,
            recent_faults: VecDeque::new(),
            has_run: false,
        };
        life.set(State::Loading);
        life
    }

    pub(crate) fn state(&self) -> State {
        self.state
    }

    /// The public record.
    pub(crate) fn info(&self) -> &ModInfo {
        &self.info
    }

    /// The mod's costs, which the systems update as they go.
    pub(crate) fn cost_mut(&mut self) -> &mut crate::registry::ModCost {
        &mut self.info.cost
    }

    /// The mod's file was loaded in `took`, its code from the disk cache
    /// or not.
    pub(crate) fn loaded_in(&mut self, took: std::time::Duration, from_cache: bool) {
        self.info.load_time = Some(took);
        self.info.compiled_from_cache = from_cache;
    }

    /// Says what the mod's file is going through (see [`ModInfo::phase`]).
    pub(crate) fn set_phase(&mut self, phase: Option<crate::registry::LoadPhase>) {
        self.info.phase = phase;
    }

    /// The only place the state changes, so the public status follows it.
    fn set(&mut self, state: State) {
        self.state = state;
        self.info.status = match state.status() {
            ModStatus::Running if !self.info.enabled => ModStatus::Disabled,
            ModStatus::Running if !self.info.waiting_for.is_empty() => ModStatus::Waiting,
            status => status,
        };
    }

    /// The game or the player turns the mod on or off.
    pub(crate) fn set_enabled(&mut self, enabled: bool) {
        self.info.enabled = enabled;
        self.set(self.state);
    }

    /// Whether an instance of the mod ever started.
    /// Sets the mod's tick count (a loaded game's).
    pub(crate) fn set_ticks(&mut self, ticks: u64) {
        self.info.ticks = ticks;
    }

    pub(crate) fn has_run(&self) -> bool {
        self.has_run
    }

    /// Whether the mod is running (ticking, in a tick, or reloading).
    pub(crate) fn is_running(&self) -> bool {
        matches!(
            self.state,
            State::Idle | State::InFlight { .. } | State::Swapping
        )
    }

    /// The worker made an instance and `init` returned.
    pub(crate) fn ready(&mut self) -> Result<(), Unexpected> {
        match self.state {
            State::Loading | State::Restarting => {
                self.set(State::Ready {
                    recovering: self.has_run,
                });
                Ok(())
            }
            state => Err(Unexpected {
                what: "an instance became ready",
                state,
            }),
        }
    }

    /// A ready mod starts ticking under the name and version of its
    /// manifest.
    pub(crate) fn start(&mut self, name: &str, version: &str) -> Result<Started, Unexpected> {
        let State::Ready { recovering } = self.state else {
            return Err(Unexpected {
                what: "a mod was started",
                state: self.state,
            });
        };
        self.info.name = name.to_string();
        self.info.version = version.to_string();
        self.has_run = true;
        self.set(State::Idle);
        if recovering {
            self.info.recoveries += 1;
            Ok(Started::Recovered)
        } else {
            Ok(Started::Loaded)
        }
    }

    /// The mod's file or package is now at `file` (a package replaced by
    /// another of the same id, say `storm_1.1.0.zip` for `storm_1.0.0.zip`).
    pub(crate) fn moved_to(&mut self, file: std::path::PathBuf) {
        self.info.file = file;
    }

    /// Notes what the mod's running code came with: its display name (a
    /// label a new version may change), the contract version it was built
    /// for, and its package's `mod.toml`.
    pub(crate) fn adopt_build(&mut self, manifest: &crate::manifest::ModManifest) {
        self.info.name = manifest.name.clone();
        self.info.contract = manifest.contract.clone();
        self.info.package = manifest.package.clone();
    }

    /// Whether a tick may be sent now.
    pub(crate) fn can_tick(&self) -> bool {
        self.state == State::Idle && self.info.enabled && self.info.waiting_for.is_empty()
    }

    /// What of its package's assets was left out, and why.
    pub(crate) fn set_asset_problems(&mut self, problems: Vec<String>) {
        self.info.asset_problems = problems;
    }

    /// What the mod waits for before it may tick (nothing: it may).
    pub(crate) fn set_waiting(&mut self, waiting_for: Vec<String>) {
        if waiting_for != self.info.waiting_for {
            self.info.waiting_for = waiting_for;
            self.set(self.state);
        }
    }

    /// A tick was sent.
    pub(crate) fn send_tick(&mut self, now: Instant) {
        if self.state == State::Idle {
            self.set(State::InFlight { sent: now });
        }
    }

    /// When the tick in flight was sent.
    pub(crate) fn in_flight_since(&self) -> Option<Instant> {
        match self.state {
            State::InFlight { sent } => Some(sent),
            _ => None,
        }
    }

    /// The tick in flight came back, applied or not (a failed tick counts:
    /// tick numbers go on across a restart, so a mod never sees the same
    /// number twice). A fault is reported separately with [`Self::fault`].
    pub(crate) fn tick_returned(&mut self) -> Result<(), Unexpected> {
        match self.state {
            State::InFlight { .. } => {
                self.info.ticks += 1;
                self.set(State::Idle);
                Ok(())
            }
            state => Err(Unexpected {
                what: "a tick's reply came",
                state,
            }),
        }
    }

    /// A swap to new code was sent to the worker (only an idle mod swaps).
    pub(crate) fn swapping(&mut self) {
        if self.state == State::Idle {
            self.set(State::Swapping);
        }
    }

    /// The mod runs its new code, `version`, with its state kept.
    pub(crate) fn swapped(&mut self, version: &str) -> Result<(), Unexpected> {
        match self.state {
            State::Swapping => {
                self.info.version = version.to_string();
                self.info.update_refused = None;
                self.set(State::Idle);
                Ok(())
            }
            state => Err(Unexpected {
                what: "a swap finished",
                state,
            }),
        }
    }

    /// A new version was refused: the one that ran goes on. `fault` says
    /// why; the refusal is not the running mod's fault.
    pub(crate) fn update_refused(&mut self, fault: Fault) {
        if self.state == State::Swapping {
            self.set(State::Idle);
        }
        self.info.update_refused = Some(fault);
    }

    /// A call into the mod failed in app frame `frame` (nothing of it was
    /// applied). `can_restart` is false when there is no worker to restart
    /// it on.
    pub(crate) fn fault(
        &mut self,
        fault: Fault,
        frame: u64,
        policy: &FaultPolicy,
        can_restart: bool,
    ) -> AfterFault {
        self.info.faults += 1;
        self.recent_faults.push_back(frame);
        while self
            .recent_faults
            .front()
            .is_some_and(|f| frame.saturating_sub(*f) >= policy.window_frames)
        {
            self.recent_faults.pop_front();
        }
        let in_window = self.recent_faults.len() as u32;
        // A file that does not load stays failed until it changes; but
        // starting it may only have been slow (an interpreter's start on a
        // loaded machine), so a timeout is retried like any fault, and
        // quarantined if it keeps happening.
        let permanent = (fault.hook == Hook::Load
            && fault.kind != crate::fault::FaultKind::Timeout)
            || !can_restart;
        self.info.last_error = Some(fault);
        let (state, after) = if permanent {
            (State::Failed, AfterFault::Failed)
        } else if in_window >= policy.quarantine_after {
            (State::Quarantined, AfterFault::Quarantined { in_window })
        } else {
            let at = frame + policy.backoff(in_window);
            (State::BackingOff { until: at }, AfterFault::Retry { at })
        };
        self.set(state);
        after
    }

    /// Whether the mod's back-off is over in app frame `frame`.
    pub(crate) fn restart_due(&self, frame: u64) -> bool {
        matches!(self.state, State::BackingOff { until } if until <= frame)
    }

    /// A restart was sent to the worker.
    pub(crate) fn restarting(&mut self) {
        if matches!(self.state, State::BackingOff { .. }) {
            self.set(State::Restarting);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::FaultKind;

    fn info() -> ModInfo {
        ModInfo::found("mods/a.wasm".into(), "a".into())
    }

    #[test]
    fn a_disabled_mod_does_not_tick_and_goes_on_when_enabled() {
        let mut life = Lifecycle::loading(info());
        life.ready().unwrap();
        life.start("Drift", "1.0.0").unwrap();
        life.send_tick(Instant::now());
        life.set_enabled(false);
        // The tick in flight comes back; no other is sent.
        assert_eq!(life.info().status, ModStatus::Disabled);
        life.tick_returned().unwrap();
        assert!(!life.can_tick());
        assert_eq!(life.info().status, ModStatus::Disabled);
        // A fault while off is still a fault; the restarted mod stays off.
        life.fault(trap(Hook::Tick), 10, &FaultPolicy::default(), true);
        assert_eq!(life.info().status, ModStatus::Recovering);
        life.set_enabled(true);
        assert_eq!(life.info().status, ModStatus::Recovering);
        life.set_enabled(false);
        life.restarting();
        life.ready().unwrap();
        life.start("Drift", "1.0.0").unwrap();
        assert_eq!(life.info().status, ModStatus::Disabled);
        life.set_enabled(true);
        assert_eq!(life.info().status, ModStatus::Running);
        assert!(life.can_tick());
    }

    fn trap(hook: Hook) -> Fault {
        Fault {
            kind: FaultKind::Trap,
            hook,
            message: "unreachable".into(),
        }
    }

    fn policy() -> FaultPolicy {
        FaultPolicy {
            backoff_frames: 10,
            max_backoff_frames: 25,
            quarantine_after: 3,
            window_frames: 100,
            ..FaultPolicy::default()
        }
    }

    fn running() -> Lifecycle {
        let mut life = Lifecycle::loading(info());
        life.ready().unwrap();
        assert_eq!(life.start("Drift", "1.0.0"), Ok(Started::Loaded));
        life
    }

    fn one_tick(life: &mut Lifecycle) {
        assert!(life.can_tick());
        life.send_tick(Instant::now());
        life.tick_returned().unwrap();
    }

    #[test]
    fn a_mod_loads_starts_and_ticks() {
        let mut life = Lifecycle::loading(info());
        assert_eq!(life.info().status, ModStatus::Loading);
        life.ready().unwrap();
        assert_eq!(
            life.info().status,
            ModStatus::Loading,
            "waits for the others"
        );
        assert!(!life.can_tick());
        assert_eq!(life.start("Drift", "1.0.0"), Ok(Started::Loaded));
        let shown = life.info();
        assert_eq!(
            (shown.name.as_str(), shown.version.as_str(), shown.status),
            ("Drift", "1.0.0", ModStatus::Running)
        );
        life.send_tick(Instant::now());
        assert_eq!(life.info().status, ModStatus::Running);
        assert!(!life.can_tick(), "one tick at a time");
        life.tick_returned().unwrap();
        assert_eq!(life.info().ticks, 1);
    }

    #[test]
    fn replies_that_do_not_fit_the_state_are_refused() {
        let mut life = Lifecycle::loading(info());
        assert!(life.tick_returned().is_err());
        assert!(life.swapped("2.0.0").is_err());
        assert!(life.start("x", "1").is_err());
        let mut life = running();
        assert_eq!(
            life.ready(),
            Err(Unexpected {
                what: "an instance became ready",
                state: State::Idle
            })
        );
    }

    #[test]
    fn back_off_doubles_and_the_restart_is_a_recovery() {
        let mut life = running();
        one_tick(&mut life);
        life.send_tick(Instant::now());
        life.tick_returned().unwrap();
        assert_eq!(
            life.fault(trap(Hook::Tick), 5, &policy(), true),
            AfterFault::Retry { at: 15 }
        );
        assert_eq!(life.info().status, ModStatus::Recovering);
        assert_eq!(life.info().ticks, 2, "the failed tick counts");
        assert!(!life.can_tick());
        assert!(!life.restart_due(14));
        assert!(life.restart_due(15));
        life.restarting();
        assert_eq!(life.state(), State::Restarting);
        life.ready().unwrap();
        assert_eq!(life.info().status, ModStatus::Recovering);
        assert_eq!(life.start("Drift", "1.0.0"), Ok(Started::Recovered));
        assert_eq!((life.info().faults, life.info().recoveries), (1, 1));
        // The second fault in the window waits twice as long.
        assert_eq!(
            life.fault(trap(Hook::Tick), 20, &policy(), true),
            AfterFault::Retry { at: 40 }
        );
    }

    #[test]
    fn too_many_faults_in_the_window_quarantine() {
        let mut life = running();
        for frame in [1, 30] {
            assert!(matches!(
                life.fault(trap(Hook::Tick), frame, &policy(), true),
                AfterFault::Retry { .. }
            ));
            life.restarting();
            life.ready().unwrap();
            life.start("Drift", "1.0.0").unwrap();
        }
        assert_eq!(
            life.fault(trap(Hook::Tick), 60, &policy(), true),
            AfterFault::Quarantined { in_window: 3 }
        );
        assert_eq!(life.info().status, ModStatus::Quarantined);
        assert!(!life.restart_due(u64::MAX));
        assert!(!life.is_running());
    }

    #[test]
    fn faults_outside_the_window_are_forgotten() {
        let mut life = running();
        for frame in [0, 150, 300, 450] {
            assert_eq!(
                life.fault(trap(Hook::Tick), frame, &policy(), true),
                AfterFault::Retry { at: frame + 10 },
                "frame {frame}: the only fault in its window"
            );
            life.restarting();
            life.ready().unwrap();
            life.start("Drift", "1.0.0").unwrap();
        }
        assert_eq!(life.info().faults, 4);
    }

    #[test]
    fn a_file_that_never_loaded_fails_for_good() {
        let mut life = Lifecycle::loading(info());
        assert_eq!(
            life.fault(trap(Hook::Load), 0, &policy(), true),
            AfterFault::Failed
        );
        assert_eq!(life.info().status, ModStatus::Failed);
        assert!(!life.restart_due(u64::MAX));
        // A start that ran out of time is tried again, as a load.
        let mut life = Lifecycle::loading(info());
        let slow = Fault {
            kind: FaultKind::Timeout,
            hook: Hook::Load,
            message: "stopped at its time limit".into(),
        };
        assert_eq!(
            life.fault(slow, 0, &policy(), true),
            AfterFault::Retry { at: 10 }
        );
        assert!(life.restart_due(10));
        life.restarting();
        life.ready().unwrap();
        assert_eq!(life.start("Drift", "1.0.0"), Ok(Started::Loaded));
        // Without a worker a mod cannot be restarted either.
        let mut life = running();
        assert_eq!(
            life.fault(trap(Hook::Tick), 0, &policy(), false),
            AfterFault::Failed
        );
    }

    #[test]
    fn a_mod_whose_first_init_failed_loads_rather_than_recovers() {
        let mut life = Lifecycle::loading(info());
        assert!(matches!(
            life.fault(trap(Hook::Init), 0, &policy(), true),
            AfterFault::Retry { .. }
        ));
        life.restarting();
        life.ready().unwrap();
        assert_eq!(life.start("Drift", "1.0.0"), Ok(Started::Loaded));
        assert_eq!(life.info().recoveries, 0);
    }

    #[test]
    fn a_swap_keeps_the_mod_running_and_takes_its_new_version() {
        let mut life = running();
        life.send_tick(Instant::now());
        life.swapping();
        assert!(
            matches!(life.state(), State::InFlight { .. }),
            "not while a tick is out"
        );
        life.tick_returned().unwrap();
        life.swapping();
        assert_eq!(life.info().status, ModStatus::Running);
        assert!(!life.can_tick(), "no tick while swapping");
        life.swapped("1.1.0").unwrap();
        assert!(life.can_tick());
        assert_eq!(life.info().version, "1.1.0");
        assert!(life.swapped("1.2.0").is_err(), "no swap was sent");
    }

    #[test]
    fn a_refused_update_leaves_the_running_version() {
        let mut life = running();
        life.swapping();
        life.update_refused(trap(Hook::Restore));
        assert!(life.can_tick());
        let info = life.info();
        assert_eq!((info.version.as_str(), info.faults), ("1.0.0", 0));
        assert!(info.update_refused.is_some());
        life.swapping();
        life.swapped("1.0.1").unwrap();
        assert!(life.info().update_refused.is_none(), "a later one ran");
    }

    #[test]
    fn a_failed_save_is_a_fault_and_recovers() {
        let mut life = running();
        life.swapping();
        assert!(matches!(
            life.fault(trap(Hook::Save), 3, &policy(), true),
            AfterFault::Retry { .. }
        ));
        assert_eq!(life.info().status, ModStatus::Recovering);
    }
}
