//! The calling thread's CPU time: what the main thread spends on a mod,
//! without the time the system gave other threads meanwhile. Charging CPU
//! time keeps the per-mod budget fair on a busy machine, where wall time
//! would blame a mod for being descheduled.

use std::time::Duration;

/// A reading of the thread's CPU clock.
pub(crate) struct ThreadClock {
    #[cfg(unix)]
    at: Duration,
    /// Without a per-thread clock, wall time stands in.
    #[cfg(not(unix))]
    at: std::time::Instant,
}

/// How old a real reading [`ThreadClock::estimate`] builds on may be.
#[cfg(unix)]
const ESTIMATE_AT_MOST: Duration = Duration::from_millis(1);

impl ThreadClock {
    pub(crate) fn now() -> Self {
        #[cfg(unix)]
        let at = thread_cpu();
        #[cfg(not(unix))]
        let at = std::time::Instant::now();
        Self { at }
    }

    /// A reading no earlier than the clock's own, without a system call
    /// most of the time: the thread's last real reading (kept per thread,
    /// renewed when older than [`ESTIMATE_AT_MOST`] of wall time) plus the
    /// wall time since, which the thread's CPU time cannot outrun.
    /// [`elapsed`](Self::elapsed) from it reads the real clock and is low
    /// by at most the time the thread was descheduled since that reading
    /// (under `ESTIMATE_AT_MOST`): a call's deadline starts this way, since
    /// most calls end long before anyone reads their clock again.
    pub(crate) fn estimate() -> Self {
        #[cfg(unix)]
        {
            use std::cell::Cell;
            use std::time::Instant;
            thread_local! {
                static LAST: Cell<Option<(Duration, Instant)>> = const { Cell::new(None) };
            }
            let now = Instant::now();
            let at = LAST.with(|last| match last.get() {
                Some((cpu, wall)) if now.duration_since(wall) < ESTIMATE_AT_MOST => {
                    cpu + now.duration_since(wall)
                }
                _ => {
                    let cpu = thread_cpu();
                    last.set(Some((cpu, now)));
                    cpu
                }
            });
            Self { at }
        }
        #[cfg(not(unix))]
        Self::now()
    }

    /// CPU time the thread used since `now`.
    pub(crate) fn elapsed(&self) -> Duration {
        #[cfg(unix)]
        return thread_cpu().saturating_sub(self.at);
        #[cfg(not(unix))]
        return self.at.elapsed();
    }
}

#[cfg(unix)]
fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}
