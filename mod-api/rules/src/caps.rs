//! Bounds on one call, whatever the game's [`Limits`](crate::Limits):
//! they keep what one call can make the host do small, so they are not
//! settings.

/// Most component types a query names, and most columns a batch carries.
pub const MAX_QUERY_NAMES: usize = 16;

/// Most components one `spawn` or `insert` carries, or names one `remove`
/// takes.
pub const MAX_COMPONENTS: usize = 256;

/// Longest event name, in bytes.
pub const MAX_EVENT_NAME: usize = 256;

/// Most reports of bad input (`reject`, `reject-value`) one tick counts;
/// more are dropped.
pub const MAX_REJECTS: usize = 16;

/// Longest reason kept from a report of bad input, in bytes.
pub const MAX_REASON: usize = 512;

/// Longest log line kept, in bytes; longer ones are cut.
pub const MAX_LOG: usize = 4096;

/// Fewest entity ids reserved for a tick's spawns.
pub const MIN_RESERVE: usize = 16;

/// Most queries one manifest declares.
pub const MAX_QUERIES: usize = 64;

/// Most names in each of a manifest's lists (subscriptions, types defined,
/// events emitted, names shared).
pub const MAX_MANIFEST_LIST: usize = 256;

/// Entity ids to reserve for a mod's next tick: twice what its last tick
/// spawned, at least [`MIN_RESERVE`], at most the tick's spawn cap.
pub fn next_reserve(spawned_last_tick: usize, spawns_per_tick: usize) -> usize {
    spawned_last_tick
        .saturating_mul(2)
        .max(MIN_RESERVE)
        .min(spawns_per_tick)
}
