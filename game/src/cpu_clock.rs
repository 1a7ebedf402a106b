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

impl ThreadClock {
    pub(crate) fn now() -> Self {
        #[cfg(unix)]
        let at = thread_cpu();
        #[cfg(not(unix))]
        let at = std::time::Instant::now();
        Self { at }
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
