//! Events between the game and mods.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{BadInput, Error, Result};
use crate::sys::events as host;

/// An event delivered to the mod.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The event's name.
    pub name: String,
    /// The id of the mod that emitted it (its file's name without `.wasm`),
    /// or `None` when the game sent it.
    pub source: Option<String>,
    /// The payload as MessagePack.
    pub payload: Vec<u8>,
    /// Its place in the list being delivered, to report it.
    pub(crate) index: u32,
}

impl Event {
    /// An event as the host delivers it (for a mod's own tests).
    pub fn new(name: impl Into<String>, source: Option<String>, payload: Vec<u8>) -> Self {
        Self {
            name: name.into(),
            source,
            payload,
            index: 0,
        }
    }

    /// Decodes the payload into a serde type. A payload that does not fit
    /// is [`Error::BadInput`]: returned from [`Mod::event`](crate::Mod::event)
    /// (with `?`), it is reported as the sender's fault and the mod goes on
    /// with the next event.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T> {
        rmp_serde::from_slice(&self.payload).map_err(|e| Error::BadInput {
            input: BadInput::Event(self.index),
            reason: format!("`{}`: {e}", self.name),
        })
    }
}

/// Tells the host the mod could not use an input; the host blames whoever
/// made it.
pub(crate) fn reject(input: &BadInput, reason: &str) {
    let input = match input {
        BadInput::Event(i) => host::BadInput::Event(*i),
        BadInput::Value(name) => host::BadInput::Value(name.clone()),
    };
    host::reject(&input, reason);
}

/// Emits an event: game systems read it this frame, subscribed mods get it
/// on their next tick. The payload may nest maps and lists freely.
pub fn emit<T: Serialize + ?Sized>(name: &str, payload: &T) -> Result<()> {
    let bytes = crate::component::encode(payload)?;
    Ok(host::emit(name, &bytes)?)
}
