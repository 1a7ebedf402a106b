//! What the threads working on a mod tell the main thread without a
//! message: where its loading stands, and what its last tick cost on the
//! worker. The main thread reads them after the reply they go with, which
//! the channel orders after the writes.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::package::ReadyAssets;

use crate::registry::LoadPhase;

/// One mod's gauge, shared by its loader, its worker and the main thread.
#[derive(Default)]
pub(crate) struct Gauge {
    /// 0 for none, else a [`LoadPhase`] by its place in [`PHASES`] plus 1.
    phase: AtomicU8,
    guest_nanos: AtomicU64,
    memory_bytes: AtomicU64,
    /// Times the instance was renewed to give its memory back.
    renewals: AtomicU64,
    /// Whether the code came from the disk cache.
    cached: AtomicBool,
    /// The assets of the code the mod runs now, and the SHA-256 of its
    /// component.
    code: Mutex<(Arc<ReadyAssets>, Option<[u8; 32]>)>,
}

const PHASES: [LoadPhase; 5] = [
    LoadPhase::Queued,
    LoadPhase::Reading,
    LoadPhase::Compiling,
    LoadPhase::LoadingCompiled,
    LoadPhase::Instantiating,
];

impl Gauge {
    /// A gauge for a file waiting for a loader thread.
    pub(crate) fn queued() -> Self {
        let gauge = Self::default();
        gauge.set_phase(Some(LoadPhase::Queued));
        gauge
    }

    pub(crate) fn set_phase(&self, phase: Option<LoadPhase>) {
        let n = phase.map_or(0, |p| PHASES.iter().position(|q| *q == p).unwrap_or(0) + 1);
        self.phase.store(n as u8, Ordering::Relaxed);
    }

    pub(crate) fn phase(&self) -> Option<LoadPhase> {
        match self.phase.load(Ordering::Relaxed) {
            0 => None,
            n => PHASES.get(n as usize - 1).copied(),
        }
    }

    /// A tick ran for `guest` on the worker; the instance holds `memory`
    /// bytes of linear memory.
    pub(crate) fn ticked(&self, guest: Duration, memory: u64) {
        self.guest_nanos.store(
            guest.as_nanos().min(u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
        self.memory_bytes.store(memory, Ordering::Relaxed);
    }

    /// The instance now holds `memory` bytes (after a start or a swap).
    pub(crate) fn set_memory(&self, memory: u64) {
        self.memory_bytes.store(memory, Ordering::Relaxed);
    }

    /// Whether the code loaded last came from the disk cache.
    pub(crate) fn set_cached(&self, yes: bool) {
        self.cached.store(yes, Ordering::Relaxed);
    }

    /// The mod runs `pre`'s code (and its package's assets).
    pub(crate) fn set_code(&self, pre: &crate::worker::contract::ModPre) {
        *self.code.lock().unwrap_or_else(|e| e.into_inner()) =
            (pre.assets.clone(), Some(pre.digest));
    }

    /// The assets of the code the mod runs now (none until it starts).
    pub(crate) fn assets(&self) -> Arc<ReadyAssets> {
        self.code
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .clone()
    }

    /// The SHA-256 of the component the mod runs now (none until it
    /// starts).
    pub(crate) fn code(&self) -> Option<[u8; 32]> {
        self.code.lock().unwrap_or_else(|e| e.into_inner()).1
    }

    pub(crate) fn cached(&self) -> bool {
        self.cached.load(Ordering::Relaxed)
    }

    pub(crate) fn guest_time(&self) -> Duration {
        Duration::from_nanos(self.guest_nanos.load(Ordering::Relaxed))
    }

    pub(crate) fn memory_bytes(&self) -> u64 {
        self.memory_bytes.load(Ordering::Relaxed)
    }

    /// One more renewal of the instance.
    pub(crate) fn renewed(&self) {
        self.renewals.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn renewals(&self) -> u64 {
        self.renewals.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_phase_reads_back() {
        let gauge = Gauge::queued();
        assert_eq!(gauge.phase(), Some(LoadPhase::Queued));
        for phase in PHASES {
            gauge.set_phase(Some(phase));
            assert_eq!(gauge.phase(), Some(phase));
        }
        gauge.set_phase(None);
        assert_eq!(gauge.phase(), None);
    }
}
