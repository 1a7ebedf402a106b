//! The imports of mods built for 0.1.x, served by the current
//! implementations.
//!
//! 0.2.0 changed what names mean (see `mod_rules::names`), not one
//! signature: every function a 0.1.x mod imports has the same type today.
//! wasmtime links only semver-compatible names to each other, and 0.1 and
//! 0.2 are not, so the 0.1.1 interfaces are bound here, beside the current
//! ones, with the current `types` (identical in shape), and forward to the
//! current functions. A 0.1.0 mod's imports reach these (0.1.0 and 0.1.1
//! are compatible). The mod's names follow the rules it was built for: the
//! host knows it was built for 0.1 ([`HostState::legacy`]).

use super::bindings::bevy_wasm::mods as current;
use super::bindings::types::{Batch, Component, Entity, ModError};
use super::state::HostState;

wasmtime::component::bindgen!({
    path: "../wit/versions/0.1.1",
    world: "game-mod",
    with: {
        "bevy-wasm:mods/types": super::bindings::bevy_wasm::mods::types,
    },
});

use bevy_wasm::mods::{entities, events, log};

impl entities::Host for HostState {
    fn spawn(&mut self, components: Vec<Component>) -> Result<Entity, ModError> {
        current::entities::Host::spawn(self, components)
    }

    fn despawn(&mut self, entity: Entity) -> Result<(), ModError> {
        current::entities::Host::despawn(self, entity)
    }

    fn insert(&mut self, entity: Entity, components: Vec<Component>) -> Result<(), ModError> {
        current::entities::Host::insert(self, entity, components)
    }

    fn remove(&mut self, entity: Entity, names: Vec<String>) -> Result<(), ModError> {
        current::entities::Host::remove(self, entity, names)
    }

    fn get(&mut self, entity: Entity, name: String) -> Result<Option<Vec<u8>>, ModError> {
        current::entities::Host::get(self, entity, name)
    }

    fn query(&mut self, names: Vec<String>) -> Result<Vec<Entity>, ModError> {
        current::entities::Host::query(self, names)
    }

    fn query_batch(&mut self, names: Vec<String>) -> Result<Batch, ModError> {
        current::entities::Host::query_batch(self, names)
    }

    fn writable_rows(&mut self, names: Vec<String>) -> Result<Vec<u8>, ModError> {
        current::entities::Host::writable_rows(self, names)
    }

    fn write_batch(&mut self, batch: Batch) -> Result<(), ModError> {
        current::entities::Host::write_batch(self, batch)
    }
}

impl events::Host for HostState {
    fn emit(&mut self, name: String, payload: Vec<u8>) -> Result<(), ModError> {
        current::events::Host::emit(self, name, payload)
    }

    fn reject(&mut self, input: events::BadInput, reason: String) {
        let input = match input {
            events::BadInput::Event(i) => current::events::BadInput::Event(i),
            events::BadInput::Value(name) => current::events::BadInput::Value(name),
        };
        current::events::Host::reject(self, input, reason)
    }

    fn reject_value(&mut self, entity: Entity, component: String, reason: String) {
        current::events::Host::reject_value(self, entity, component, reason)
    }
}

impl log::Host for HostState {
    fn log(&mut self, level: log::Level, message: String) {
        use current::log::Level as Now;
        let level = match level {
            log::Level::Trace => Now::Trace,
            log::Level::Debug => Now::Debug,
            log::Level::Info => Now::Info,
            log::Level::Warn => Now::Warn,
            log::Level::Error => Now::Error,
        };
        current::log::Host::log(self, level, message)
    }
}

/// Links the 0.1.1 imports (and through them 0.1.0's).
pub(crate) fn add_to_linker(
    linker: &mut wasmtime::component::Linker<HostState>,
) -> wasmtime::Result<()> {
    type Own = wasmtime::component::HasSelf<HostState>;
    entities::add_to_linker::<HostState, Own>(linker, |s| s)?;
    events::add_to_linker::<HostState, Own>(linker, |s| s)?;
    log::add_to_linker::<HostState, Own>(linker, |s| s)
}
