//! The counting a tick does against its caps.

use crate::{Limits, Refusal, caps};

/// One tick's count of what a mod sent, against its [`Limits`], and the
/// first cap it broke. Both the host's worker and the test world keep
/// one per tick and ask it before they record a command.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    open: bool,
    commands: usize,
    bytes: usize,
    events: usize,
    rejects: usize,
    violation: Option<String>,
}

impl Ledger {
    /// Starts a tick: commands may be recorded until [`close`](Self::close).
    pub fn begin(&mut self) {
        *self = Ledger {
            open: true,
            ..Ledger::default()
        };
    }

    /// Ends the tick and hands over why it is refused, if it is.
    pub fn close(&mut self) -> Result<(), String> {
        self.open = false;
        match self.violation.take() {
            Some(why) => Err(why),
            None => Ok(()),
        }
    }

    /// Whether commands may be recorded now (in `on-tick` and `on-event`).
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Why the tick is refused, once it is.
    pub fn violation(&self) -> Option<&str> {
        self.violation.as_deref()
    }

    /// Bytes of commands recorded this tick.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Refuses the tick (the first reason stands) and gives the mod its
    /// error.
    pub fn violate(&mut self, refusal: Refusal) -> Refusal {
        if self.violation.is_none() {
            self.violation = Some(refusal.describe());
        }
        refusal
    }

    /// Passes a call's result on; a refused call refuses the tick unless
    /// the refusal [keeps it](Refusal::keeps_tick).
    pub fn refuse_on_error<T>(&mut self, result: Result<T, Refusal>) -> Result<T, Refusal> {
        if let Err(e) = &result
            && self.open
            && self.violation.is_none()
            && !e.keeps_tick()
        {
            self.violation = Some(e.describe());
        }
        result
    }

    /// Refuses a call whose arguments would take the tick past its byte
    /// cap, before any of them is checked: what a call costs is bounded by
    /// what the tick may still send.
    pub fn room(&mut self, limits: &Limits, bytes: usize) -> Result<(), Refusal> {
        if self.bytes.saturating_add(bytes) > limits.bytes_per_tick {
            return Err(self.violate(Refusal::too_many_bytes(limits.bytes_per_tick)));
        }
        Ok(())
    }

    /// Counts a command of `bytes`, or refuses it (and the tick) at a cap.
    pub fn record(&mut self, limits: &Limits, bytes: usize) -> Result<(), Refusal> {
        if !self.open {
            return Err(Refusal::closed());
        }
        if self.commands >= limits.commands_per_tick {
            return Err(self.violate(Refusal::too_many_commands(limits.commands_per_tick)));
        }
        self.room(limits, bytes)?;
        self.commands += 1;
        self.bytes += bytes;
        Ok(())
    }

    /// Counts an event before it is recorded, or refuses it (and the tick)
    /// at the cap.
    pub fn event(&mut self, limits: &Limits) -> Result<(), Refusal> {
        if self.events >= limits.events_per_tick {
            return Err(self.violate(Refusal::too_many_events(limits.events_per_tick)));
        }
        self.events += 1;
        Ok(())
    }

    /// Whether one more report of bad input counts this tick (at most
    /// [`MAX_REJECTS`](caps::MAX_REJECTS), and only while the tick is open).
    pub fn take_report(&mut self) -> bool {
        if !self.open || self.rejects >= caps::MAX_REJECTS {
            return false;
        }
        self.rejects += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_broken_cap_refuses_the_tick_and_later_calls_too() {
        let limits = Limits {
            commands_per_tick: 2,
            ..Limits::default()
        };
        let mut ledger = Ledger::default();
        assert_eq!(ledger.record(&limits, 1), Err(Refusal::closed()));
        ledger.begin();
        ledger.record(&limits, 1).unwrap();
        ledger.record(&limits, 1).unwrap();
        assert_eq!(
            ledger.record(&limits, 1),
            Err(Refusal::too_many_commands(2))
        );
        let _ = ledger.refuse_on_error::<()>(Err(Refusal::NotOwner(3)));
        assert_eq!(
            ledger.close(),
            Err("limit exceeded: more than 2 commands in one tick".into())
        );
    }

    #[test]
    fn running_out_of_ids_keeps_the_tick() {
        let mut ledger = Ledger::default();
        ledger.begin();
        let _ = ledger.refuse_on_error::<()>(Err(Refusal::out_of_ids(false)));
        assert_eq!(ledger.close(), Ok(()));
        ledger.begin();
        let _ = ledger.refuse_on_error::<()>(Err(Refusal::ReadOnly("Health".into())));
        assert_eq!(
            ledger.close(),
            Err("component `Health` is read-only".into())
        );
    }

    #[test]
    fn bytes_are_checked_before_they_are_counted() {
        let limits = Limits {
            bytes_per_tick: 10,
            ..Limits::default()
        };
        let mut ledger = Ledger::default();
        ledger.begin();
        ledger.record(&limits, 6).unwrap();
        assert!(ledger.room(&limits, 4).is_ok());
        assert!(ledger.record(&limits, 5).is_err());
        assert_eq!(ledger.bytes(), 6);
    }

    #[test]
    fn reports_are_counted_up_to_their_cap_while_open() {
        let mut ledger = Ledger::default();
        assert!(!ledger.take_report());
        ledger.begin();
        let taken = (0..100).filter(|_| ledger.take_report()).count();
        assert_eq!(taken, caps::MAX_REJECTS);
    }
}
