//! The frame the mods found at start-up begin on, for games that hold
//! their own simulation until then: a run takes the same frames, the same
//! game time and the same inputs whatever the mods' compile and load time.

use std::time::Duration;

use bevy::prelude::*;

/// Inserted on the frame the mods found at start-up start together (once
/// none of them is still loading; those that failed or wait for a
/// dependency count as settled). From that frame on, mods tick every
/// frame, and the game time they see counts from [`ModsStarted::at`].
/// Mods added later start as soon as they are ready.
///
/// A game that must give the same world from the same inputs (lockstep,
/// replays, golden tests) runs its own simulation only from this frame,
/// with the run condition [`mods_ready`].
#[derive(Resource, Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModsStarted {
    /// The app's frame it happened on, counting the first `update` as 1.
    pub frame: u64,
    /// `Time::elapsed()` at that frame: the mods' game time is measured
    /// from it (their first tick sees 0).
    pub at: Duration,
}

/// A run condition: whether the mods found at start-up have started (see
/// [`ModsStarted`]).
///
/// ```no_run
/// # use bevy::prelude::*;
/// # use bevy_wasm_mods::mods_ready;
/// # fn simulate() {}
/// # let mut app = App::new();
/// app.add_systems(Update, simulate.run_if(mods_ready));
/// ```
pub fn mods_ready(started: Option<Res<ModsStarted>>) -> bool {
    started.is_some()
}
