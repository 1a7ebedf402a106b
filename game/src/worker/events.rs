//! `events`: a mod emits events for the game and for other mods.

use super::state::HostState;
use crate::expose::ModAccess;
use crate::protocol::Command;
use crate::worker::bindings::bevy_wasm::mods::events::{BadInput, Host};
use crate::worker::bindings::types::ModError;

/// Longest event name accepted.
const MAX_NAME: usize = 256;

/// Most reports of bad input a tick counts.
const MAX_REJECTS: usize = 16;

/// Longest reason kept from a report.
const MAX_REASON: usize = 512;

impl Host for HostState {
    fn emit(&mut self, name: String, payload: Vec<u8>) -> Result<(), ModError> {
        let result = self.try_emit(name, payload);
        self.refuse_on_error(result)
    }

    fn reject(&mut self, input: BadInput, reason: String) {
        if !self.tick.open || self.tick.rejects >= MAX_REJECTS {
            return;
        }
        let (culprit, about) = match input {
            BadInput::Event(i) => {
                let Some((source, name)) = self.tick.delivered.get(i as usize) else {
                    return;
                };
                (
                    source.clone(),
                    format!("event `{}`", crate::text::escape(name)),
                )
            }
            BadInput::Value(name) => {
                let shown = shown_name(&name);
                match self.catalog.components.get(&name) {
                    Some((ModAccess::Read | ModAccess::ReadWrite, _)) => {
                        (None, format!("a value of the game's component `{shown}`"))
                    }
                    None => {
                        // Mods built before `reject-value` say only the
                        // type: its owner is blamed.
                        let owner = self.catalog.mod_types.owner(&name);
                        // The game's shared names have no mod to blame.
                        let culprit = owner.filter(|o| **o != *self.mod_id && !o.is_empty());
                        (
                            culprit.map(|o| o.to_string()),
                            format!("a value of component `{shown}`"),
                        )
                    }
                }
            }
        };
        let reason = cut_reason(reason);
        let bytes = about.len() + reason.len();
        self.tick.rejects += 1;
        let _ = self.record(
            Command::Reject {
                culprit,
                about,
                reason,
            },
            bytes,
        );
    }

    fn reject_value(&mut self, entity: u64, component: String, reason: String) {
        if !self.tick.open || self.tick.rejects >= MAX_REJECTS {
            return;
        }
        // Only a value this tick gave the mod (its queries' rows; what
        // `get` reads) can be reported, and not one the mod wrote itself
        // this tick: no report blames a writer for a value the mod never saw.
        if !self.tick.was_given(entity, &component) {
            return;
        }
        let reason = cut_reason(reason);
        self.tick.rejects += 1;
        // The game keeps its own types in their shape: a value of one that
        // does not decode is the reader's mistake, and no one else's.
        if self.catalog.components.contains_key(&component) {
            let about = format!(
                "a value of the game's component `{}` on entity {entity}",
                shown_name(&component)
            );
            let bytes = about.len() + reason.len();
            let _ = self.record(
                Command::Reject {
                    culprit: None,
                    about,
                    reason,
                },
                bytes,
            );
            return;
        }
        // Who wrote a mod-defined value is known on the main thread.
        let mut name = component;
        name.truncate(name.floor_char_boundary(MAX_NAME));
        let bytes = 8 + name.len() + reason.len();
        let _ = self.record(
            Command::RejectValue {
                entity,
                name,
                reason,
            },
            bytes,
        );
    }
}

/// A component name as a report shows it: cut and escaped.
fn shown_name(name: &str) -> String {
    let mut shown = name.to_string();
    shown.truncate(shown.floor_char_boundary(128));
    crate::text::escape(&shown).into_owned()
}

/// A mod's reason as a report keeps it: cut and escaped.
fn cut_reason(mut reason: String) -> String {
    reason.truncate(reason.floor_char_boundary(MAX_REASON));
    crate::text::escape(&reason).into_owned()
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
        if let Some(owner) = self.catalog.mod_events.denies(&name, &self.mod_id) {
            return Err(ModError::Denied(format!(
                "event `{}` belongs to mod `{owner}`; only it emits it",
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
