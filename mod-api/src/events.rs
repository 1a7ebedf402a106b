//! Events between the game and mods.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::__private::bindings::bevy_wasm::mods::events as host;
use crate::error::Result;

/// An event delivered to the mod.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The event's name.
    pub name: String,
    /// The mod that emitted it, or `None` when the game sent it.
    pub source: Option<String>,
    /// The payload as MessagePack.
    pub payload: Vec<u8>,
}

impl Event {
    /// Decodes the payload into a serde type.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T> {
        Ok(rmp_serde::from_slice(&self.payload)?)
    }
}

/// Emits an event: game systems read it this frame, subscribed mods get it
/// on their next tick. The payload may nest maps and lists freely.
pub fn emit<T: Serialize + ?Sized>(name: &str, payload: &T) -> Result<()> {
    let bytes = crate::component::encode(payload)?;
    Ok(host::emit(name, &bytes)?)
}
