//! What `register_mod!` and `component!` expand to, and the bindings
//! generated from `wit/`; not part of the API.

use std::cell::RefCell;
use std::marker::PhantomData;

/// The bindings generated from `wit/`, the only copy of the contract.
#[allow(unsafe_code, missing_docs, clippy::all)]
pub mod bindings;

use crate::{Event, Manifest, Mod, Tick};
use bindings::bevy_wasm::mods::types::{self, ModError};
use bindings::exports::bevy_wasm::mods::hooks::Guest;
pub use mod_api_packed as packed;

thread_local! {
    static INSTANCE: RefCell<Option<Box<dyn Mod>>> = const { RefCell::new(None) };
}

/// The mod crate's name and version, filled in by `register_mod!`.
pub trait Describe {
    const NAME: &'static str;
    const VERSION: &'static str;
}

/// Turns the generated hooks into calls on the registered [`Mod`].
pub struct Adapter<M>(PhantomData<M>);

fn with<R>(f: impl FnOnce(&mut dyn Mod) -> crate::Result<R>) -> Result<R, ModError> {
    INSTANCE.with(|i| match i.borrow_mut().as_deref_mut() {
        Some(m) => f(m).map_err(ModError::from),
        None => Err(ModError::Failed("the mod was not initialised".into())),
    })
}

/// Input that did not decode is reported to the host, which blames its
/// maker; the mod goes on. Any other error stands.
pub(crate) fn reported(result: crate::Result<()>) -> crate::Result<()> {
    match result {
        Err(crate::Error::BadInput { input, reason }) => {
            crate::events::reject(&input, &reason);
            Ok(())
        }
        other => other,
    }
}

impl<M: Mod + Default + Describe> Guest for Adapter<M> {
    fn init(config: Vec<u8>) -> Result<types::Manifest, ModError> {
        let mut m = M::default();
        m.init(&config).map_err(ModError::from)?;
        let manifest = m.manifest(Manifest::new(M::NAME, M::VERSION));
        INSTANCE.with(|i| *i.borrow_mut() = Some(Box::new(m)));
        Ok(types::Manifest {
            name: manifest.name,
            version: manifest.version,
            subscribes: manifest.subscribes,
            queries: manifest
                .queries
                .into_iter()
                .map(|components| types::QuerySpec { components })
                .collect(),
            defines: manifest.defines,
            emits: manifest.emits,
            shares: manifest.shares,
        })
    }

    fn on_tick(tick: types::Tick) -> Result<(), ModError> {
        let tick = Tick {
            frame: tick.frame,
            delta_seconds: tick.delta_seconds,
        };
        with(|m| reported(m.tick(&tick)))
    }

    fn on_event(events: Vec<types::Event>) -> Result<(), ModError> {
        with(|m| {
            for (index, e) in events.into_iter().enumerate() {
                reported(m.event(&Event {
                    name: e.name,
                    source: e.source,
                    payload: e.payload,
                    index: index as u32,
                }))?;
            }
            Ok(())
        })
    }

    fn save() -> Result<Vec<u8>, ModError> {
        with(|m| m.save())
    }

    fn restore(state: Vec<u8>) -> Result<(), ModError> {
        with(|m| m.restore(&state))
    }
}

/// The host's functions as the contract gives them, natively, against the
/// running test world: for the project's own test that the test world and
/// the game refuse the same raw calls alike (`tests/rule_book.rs`). Not
/// part of the API.
#[cfg(not(target_arch = "wasm32"))]
pub mod raw {
    use super::bindings::bevy_wasm::mods::types::{Batch, Component, ModError};
    use crate::sys;

    /// `entities.spawn`.
    pub fn spawn(components: &[Component]) -> Result<u64, ModError> {
        sys::entities::spawn(components)
    }

    /// `entities.despawn`.
    pub fn despawn(entity: u64) -> Result<(), ModError> {
        sys::entities::despawn(entity)
    }

    /// `entities.insert`.
    pub fn insert(entity: u64, components: &[Component]) -> Result<(), ModError> {
        sys::entities::insert(entity, components)
    }

    /// `entities.remove`.
    pub fn remove(entity: u64, names: &[String]) -> Result<(), ModError> {
        sys::entities::remove(entity, names)
    }

    /// `entities.write-batch`.
    pub fn write_batch(batch: &Batch) -> Result<(), ModError> {
        sys::entities::write_batch(batch)
    }

    /// `events.emit`.
    pub fn emit(name: &str, payload: &[u8]) -> Result<(), ModError> {
        sys::events::emit(name, payload)
    }
}
