//! What went wrong with a mod, as the registry and the messages report it.

use serde::{Deserialize, Serialize};

/// Which export of the mod was running when something failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Hook {
    /// Compiling, checking or instantiating the component.
    Load,
    /// `init`.
    Init,
    /// `on-tick`.
    Tick,
    /// `on-event`.
    Event,
    /// `save`.
    Save,
    /// `restore`.
    Restore,
}

/// Why a mod's call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FaultKind {
    /// The file is not a usable component for this game.
    Invalid,
    /// The guest trapped (including a Rust panic, which aborts).
    Trap,
    /// The call ran past its time limit and was interrupted.
    Timeout,
    /// The call burned all the fuel it was given (see
    /// [`ModLimits::fuel_per_call`](crate::ModLimits::fuel_per_call)).
    OutOfFuel,
    /// The guest hit its memory limit.
    OutOfMemory,
    /// The call returned an error value.
    ModError,
    /// The mod's output broke a rule or a cap; nothing of the tick was applied.
    InvalidOutput,
    /// Checking and applying the mod's commands took more of the game's
    /// main thread than [`ModLimits::main_thread_per_tick`](crate::ModLimits::main_thread_per_tick)
    /// allows.
    OverBudget,
    /// The worker stopped answering.
    Unresponsive,
}

/// A failure, with what is known of where it happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// What went wrong.
    pub kind: FaultKind,
    /// The hook that was running.
    pub hook: Hook,
    /// A human-readable account (including the guest backtrace when known).
    pub message: String,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // One line, whatever the message holds: it may quote a mod.
        write!(
            f,
            "{:?} in {:?}: {}",
            self.kind,
            self.hook,
            crate::text::escape(&self.message)
        )
    }
}
