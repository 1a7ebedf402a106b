//! `events`: a mod emits events for the game and for other mods.

use super::state::HostState;
use crate::expose::ModAccess;
use crate::protocol::Command;
use crate::worker::bindings::bevy_wasm::mods::events::{BadInput, Host};
use crate::worker::bindings::types::ModError;

use mod_rules::caps::MAX_REASON;

impl Host for HostState {
    fn emit(&mut self, name: String, payload: Vec<u8>) -> Result<(), ModError> {
        let name = self.full(mod_rules::names::Kind::Event, name);
        let result = self.try_emit(name, payload);
        self.refuse_on_error(result)
    }

    fn reject(&mut self, input: BadInput, reason: String) {
        if !self.tick.ledger.take_report() {
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
                let name = self.full_type(name);
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
        // Only a value this tick gave the mod (its queries' rows; what
        // `get` reads) can be reported, and not one the mod wrote itself
        // this tick: no report blames a writer for a value the mod never saw.
        let component = self.full_type(component);
        if !self.tick.is_open() || !self.tick.was_given(entity, &component) {
            return;
        }
        if !self.tick.ledger.take_report() {
            return;
        }
        let reason = cut_reason(reason);
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
        name.truncate(name.floor_char_boundary(crate::text::MAX_NAME));
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
        mod_rules::access::may_emit(&*self.catalog, &self.mod_id, &name)?;
        self.check_room(name.len() + payload.len())?;
        self.check_value(&name, &payload)?;
        self.tick.ledger.event(&self.rules)?;
        let bytes = name.len() + payload.len();
        self.record(
            Command::Emit {
                name,
                payload: payload.into(),
            },
            bytes,
        )
    }
}
