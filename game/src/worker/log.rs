//! `log`: a mod's log lines go to `tracing` with its id, escaped.

use super::state::HostState;
use crate::worker::bindings::bevy_wasm::mods::log::{Host, Level};

use mod_rules::caps::MAX_LOG;

impl Host for HostState {
    fn log(&mut self, level: Level, message: String) {
        let mut text = message;
        if text.len() > MAX_LOG {
            let mut cut = MAX_LOG;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        if !self.lines.take(&self.mod_id, text.len()) {
            return;
        }
        // A log line is one line of text, whatever the mod put in it.
        let text = crate::text::escape(&text);
        let name = &*self.mod_id;
        match level {
            Level::Trace => tracing::trace!(target: "mod", mod_id = name, "{text}"),
            Level::Debug => tracing::debug!(target: "mod", mod_id = name, "{text}"),
            Level::Info => tracing::info!(target: "mod", mod_id = name, "{text}"),
            Level::Warn => tracing::warn!(target: "mod", mod_id = name, "{text}"),
            Level::Error => tracing::error!(target: "mod", mod_id = name, "{text}"),
        }
    }
}
