//! Host bindings generated from `wit/`, the only copy of the contract.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "game-mod",
});

pub(crate) use bevy_wasm::mods::types;
