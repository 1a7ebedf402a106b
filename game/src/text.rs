//! Text from mods and from file names is data, never terminal control:
//! names must be printable to be accepted, and everything else a mod
//! writes is escaped before it reaches a log, the console or a UI. The
//! rules live in `mod-rules`, which the test world shares.

pub use mod_rules::text::escape;
pub(crate) use mod_rules::text::{MAX_NAME, cut, escape_keeping_lines, invisible, printable};

/// Longest fault message kept: a mod's error text and its backtrace.
pub(crate) const MAX_FAULT: usize = 8 << 10;
