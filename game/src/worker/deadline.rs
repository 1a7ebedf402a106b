//! When a call into a guest must stop: its limit of CPU time, with a
//! ceiling of wall time, checked on the engine's epoch ticks.

use std::time::{Duration, Instant};

use wasmtime::UpdateDeadline;

use crate::cpu_clock::ThreadClock;

/// How often the epoch advances; deadlines are counted in these ticks.
pub(crate) const EPOCH_PERIOD: Duration = Duration::from_millis(1);

/// How many times its limit a call may take in wall time, on a machine too
/// busy to give its thread the CPU time it is allowed.
pub(crate) const WALL_CEILING: u32 = 3;

/// When a call must stop: once it has used its limit of its worker
/// thread's CPU time, or [`WALL_CEILING`] times its limit of wall time,
/// whichever comes first. A mod is charged for the time it ran, not for
/// the time the system gave other threads (on a busy machine a wall-time
/// limit faults mods for being descheduled), and a loop still stops: at
/// its limit when it has a core, at the ceiling when it has almost none.
/// Checked when the epoch deadline (set for the time left) passes. The
/// CPU time counts from an estimate of the clock at the call's start (see
/// [`ThreadClock::estimate`]): a call descheduled just before it began may
/// run up to a millisecond past its limit, never past the ceiling.
pub(crate) struct CallDeadline {
    cpu: ThreadClock,
    wall: Instant,
    limit: Duration,
}

impl CallDeadline {
    pub(crate) fn start(limit: Duration) -> Self {
        Self {
            // One real reading of the CPU clock (a system call) per
            // millisecond at most, not one per call: the limit is
            // milliseconds, and the deadline reads the clock when it checks.
            cpu: ThreadClock::estimate(),
            wall: Instant::now(),
            limit,
        }
    }

    /// Epoch ticks to the first check: the whole limit.
    pub(crate) fn first_check(&self) -> u64 {
        epochs(self.limit)
    }

    /// At a check: stop the call, or check again when the time it has
    /// left could have passed.
    pub(crate) fn check(&self) -> UpdateDeadline {
        let ran = self.cpu.elapsed();
        let waited = self.wall.elapsed();
        let ceiling = self.limit * WALL_CEILING;
        if ran >= self.limit || waited >= ceiling {
            return UpdateDeadline::Interrupt;
        }
        UpdateDeadline::Continue(epochs((self.limit - ran).min(ceiling - waited)))
    }
}

/// Epoch ticks in `d`, at least one.
pub(crate) fn epochs(d: Duration) -> u64 {
    (d.as_micros() / EPOCH_PERIOD.as_micros()).max(1) as u64
}
