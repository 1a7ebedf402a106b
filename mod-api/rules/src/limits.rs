//! The caps a game sets on what one mod does in one tick, with their
//! defaults.

/// Caps on one mod's commands, with the game's defaults. The game's
/// `ModLimits` carries these beside its time and memory limits; the test
/// world takes them as they are, so a test can lower one to see how a mod
/// copes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most entities one tick may spawn (default 16,384). The host reserves
    /// ids ahead of each tick: [`MIN_RESERVE`](crate::caps::MIN_RESERVE)
    /// for a mod's first tick, then twice as many as its last tick spawned,
    /// up to this; `spawn` fails with `limit-exceeded` (without refusing
    /// the tick) when they run out.
    pub spawns_per_tick: usize,
    /// Most entities one mod may own at once (default 100,000); a spawn
    /// beyond it fails with `limit-exceeded`.
    pub entities_per_mod: usize,
    /// Events one tick may emit (default 1,000).
    pub events_per_tick: usize,
    /// Commands (spawns, inserts, writes, events, ...) one tick may make
    /// (default 100,000).
    pub commands_per_tick: usize,
    /// Bytes of commands one tick may make (default 32 MiB); the game also
    /// bounds any one message between it and a worker by this.
    pub bytes_per_tick: usize,
    /// Log lines one tick may write (default 100), through `log`, stdout
    /// and stderr together; more are dropped.
    pub log_lines_per_tick: usize,
    /// Deepest nesting of a MessagePack value from a mod (default 64).
    pub value_depth: usize,
    /// Bytes of component values (as MessagePack) one mod may keep on the
    /// entities it owns (default 16 MiB, half the message limit, so a
    /// mod's own values always fit in its query results). A tick that
    /// would go over it is refused whole.
    pub state_bytes_per_mod: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            spawns_per_tick: 16_384,
            entities_per_mod: 100_000,
            events_per_tick: 1_000,
            commands_per_tick: 100_000,
            bytes_per_tick: 32 << 20,
            log_lines_per_tick: 100,
            value_depth: 64,
            state_bytes_per_mod: 16 << 20,
        }
    }
}
