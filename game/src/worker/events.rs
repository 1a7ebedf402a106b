//! `events`: a mod emits events for the game and for other mods.

use super::state::HostState;
use crate::protocol::Command;
use crate::worker::bindings::bevy_wasm::mods::events::Host;
use crate::worker::bindings::types::ModError;

/// Longest event name accepted.
const MAX_NAME: usize = 256;

impl Host for HostState {
    fn emit(&mut self, name: String, payload: Vec<u8>) -> Result<(), ModError> {
        let result = self.try_emit(name, payload);
        self.refuse_on_error(result)
    }
}

impl HostState {
    fn try_emit(&mut self, name: String, payload: Vec<u8>) -> Result<(), ModError> {
        if name.is_empty() || name.len() > MAX_NAME {
            return Err(ModError::InvalidValue(format!(
                "event names are 1 to {MAX_NAME} bytes long"
            )));
        }
        if self.catalog.messages.contains(&name) {
            return Err(ModError::Denied(format!(
                "`{}` is the game's message; mods cannot send it",
                crate::text::escape(&name)
            )));
        }
        self.check_room(name.len() + payload.len())?;
        self.check_value(&name, &payload)?;
        if self.tick.events >= self.caps.events {
            return Err(self.violate(format!("more than {} events in one tick", self.caps.events)));
        }
        let bytes = name.len() + payload.len();
        self.record(
            Command::Emit {
                name,
                payload: payload.into(),
            },
            bytes,
        )?;
        self.tick.events += 1;
        Ok(())
    }
}
