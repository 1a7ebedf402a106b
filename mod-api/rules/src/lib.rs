//! The rules the game keeps with a mod's calls, written once.
//!
//! The game's host (on its worker threads and its main thread) and
//! `mod-api`'s native test world (`mod_api::testing::TestWorld`) both
//! decide with these functions and say why in these words, so a mod's test
//! that passes in the test world fails for the same reasons in the game.
//! A rule changes here, and both sides obey it.
//!
//! What lives here: the caps on one tick and their defaults ([`Limits`]),
//! the bounds on each call ([`caps`]), which names are acceptable
//! ([`text`]), whose a name is ([`names`]), what a manifest may say
//! ([`manifest`]), what a value may be ([`value`]), who may write a
//! component type and emit an event ([`access`]), the counting a tick
//! does against its caps ([`Ledger`]), and the refusals a call gets
//! ([`Refusal`]). What does not: the state each side keeps (snapshots,
//! worlds, commands), which differs.

pub mod access;
pub mod caps;
pub mod ledger;
pub mod limits;
pub mod manifest;
pub mod names;
pub mod refusal;
pub mod text;
pub mod value;

pub use ledger::Ledger;
pub use limits::Limits;
pub use refusal::Refusal;
