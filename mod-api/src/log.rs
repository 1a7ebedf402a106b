//! Logging into the game's log, under the mod's name.

use crate::sys::log::{Level, log};

/// Logs a trace line.
pub fn trace(message: impl AsRef<str>) {
    log(Level::Trace, message.as_ref());
}

/// Logs a debug line.
pub fn debug(message: impl AsRef<str>) {
    log(Level::Debug, message.as_ref());
}

/// Logs an info line.
pub fn info(message: impl AsRef<str>) {
    log(Level::Info, message.as_ref());
}

/// Logs a warning.
pub fn warn(message: impl AsRef<str>) {
    log(Level::Warn, message.as_ref());
}

/// Logs an error.
pub fn error(message: impl AsRef<str>) {
    log(Level::Error, message.as_ref());
}
