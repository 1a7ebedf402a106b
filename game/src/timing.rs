//! Where a frame's time goes, stage by stage, for the benchmark.
//!
//! With the `profiling` feature, every stage of a tick's round trip (the
//! main thread's snapshot, encoding, staging and applying; the worker's
//! decoding, guest call and encoding) records how long it took, and
//! [`report`] gives the median of each; the engine also writes a perf map
//! of the guests' compiled code (`/tmp/perf-<pid>.map`), so `perf report`
//! names guest functions. Without the feature, [`timed!`] is just its
//! expression and nothing is recorded.

/// Evaluates `$e`; with the `profiling` feature, records how long it took
/// under `$stage`.
macro_rules! timed {
    ($stage:literal, $e:expr) => {{
        #[cfg(feature = "profiling")]
        let started = std::time::Instant::now();
        let result = $e;
        #[cfg(feature = "profiling")]
        $crate::timing::record($stage, started.elapsed());
        result
    }};
}

#[cfg(feature = "profiling")]
mod recorder {
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    use std::time::Duration;

    static TIMES: Mutex<BTreeMap<&'static str, Vec<Duration>>> = Mutex::new(BTreeMap::new());

    pub(crate) fn record(stage: &'static str, took: Duration) {
        if let Ok(mut times) = TIMES.lock() {
            times.entry(stage).or_default().push(took);
        }
    }

    /// Each stage's median time and how many times it ran since the last
    /// [`reset`], in stage name order.
    pub fn report() -> Vec<(&'static str, Duration, usize)> {
        let Ok(times) = TIMES.lock() else {
            return Vec::new();
        };
        times
            .iter()
            .filter(|(_, t)| !t.is_empty())
            .map(|(stage, t)| {
                let mut sorted = t.clone();
                sorted.sort();
                (*stage, sorted[sorted.len() / 2], sorted.len())
            })
            .collect()
    }

    /// Forgets every time recorded so far (say, after warming up).
    pub fn reset() {
        if let Ok(mut times) = TIMES.lock() {
            times.clear();
        }
    }
}

#[cfg(feature = "profiling")]
pub(crate) use recorder::record;
#[cfg(feature = "profiling")]
pub use recorder::{report, reset};
