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
    /// The version the mod's manifest gave, which its saved state carries.
    static VERSION: RefCell<String> = const { RefCell::new(String::new()) };
}

/// What saved state starts with when it says which version saved it: a
/// byte MessagePack never starts a value with (`0xc1`), then `BWMS`. Then
/// one byte, the version's length, the version, and the state. The Python
/// and JavaScript libraries write and read the same.
pub const SAVED_BY: &[u8; 5] = b"\xc1BWMS";

/// `state` as saved by `version`: framed as [`SAVED_BY`] says (nothing
/// saved stays nothing).
pub fn frame_state(version: &str, state: Vec<u8>) -> Vec<u8> {
    if state.is_empty() || version.len() > 255 {
        return state;
    }
    let mut out = Vec::with_capacity(SAVED_BY.len() + 1 + version.len() + state.len());
    out.extend_from_slice(SAVED_BY);
    out.push(version.len() as u8);
    out.extend_from_slice(version.as_bytes());
    out.extend_from_slice(&state);
    out
}

/// The version that saved `state` (if it says) and the state itself.
pub fn unframe_state(state: &[u8]) -> (Option<&str>, &[u8]) {
    let framed = state.strip_prefix(SAVED_BY.as_slice()).and_then(|rest| {
        let (&len, rest) = rest.split_first()?;
        let (version, state) = rest.split_at_checked(len as usize)?;
        Some((std::str::from_utf8(version).ok()?, state))
    });
    match framed {
        Some((version, inner)) => (Some(version), inner),
        None => (None, state),
    }
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
        VERSION.with(|v| v.borrow_mut().clone_from(&manifest.version));
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
        let state = with(|m| m.save())?;
        Ok(VERSION.with(|v| frame_state(&v.borrow(), state)))
    }

    fn restore(state: Vec<u8>) -> Result<(), ModError> {
        let (saved_by, state) = unframe_state(&state);
        with(|m| m.restore_from(state, saved_by))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_state_says_which_version_saved_it() {
        let framed = frame_state("1.2.0", vec![0x93, 1, 2, 3]);
        assert_eq!(&framed[..5], b"\xc1BWMS");
        assert_eq!(
            unframe_state(&framed),
            (Some("1.2.0"), &[0x93, 1, 2, 3][..])
        );
        // State a build older than this library saved: as it is.
        assert_eq!(
            unframe_state(&[0x93, 1, 2, 3]),
            (None, &[0x93, 1, 2, 3][..])
        );
        // Nothing saved stays nothing; a frame cut short is taken as it is.
        assert!(frame_state("1.2.0", Vec::new()).is_empty());
        assert_eq!(unframe_state(&framed[..8]), (None, &framed[..8]));
    }
}
