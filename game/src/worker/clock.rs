//! What a mod's clocks read: game time, never the machine's, so a mod's
//! behaviour depends on the game's inputs alone.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use wasmtime_wasi::clocks::{HostMonotonicClock, HostWallClock};

/// What a mod's wall clock reads at game time zero: 2025-01-01T00:00:00Z.
/// A fixed date, so that a mod's behaviour does not depend on the day the
/// game is played; mods that need the player's date cannot have it.
const WALL_CLOCK_START: Duration = Duration::from_secs(1_735_689_600);

/// Game time since start-up, in nanoseconds, set by the worker before each
/// call; both of a mod's clocks read it.
#[derive(Clone, Default)]
pub(crate) struct GameTime(Arc<AtomicU64>);

impl GameTime {
    pub(crate) fn set(&self, nanos: u64) {
        self.0.store(nanos, Ordering::Relaxed);
    }

    fn nanos(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl HostMonotonicClock for GameTime {
    fn resolution(&self) -> u64 {
        1
    }

    fn now(&self) -> u64 {
        self.nanos()
    }
}

impl HostWallClock for GameTime {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }

    fn now(&self) -> Duration {
        WALL_CLOCK_START + Duration::from_nanos(self.nanos())
    }
}
