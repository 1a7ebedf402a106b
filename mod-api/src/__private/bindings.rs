//! Guest bindings generated from `wit/`, the only copy of the contract.
//! Nothing here is part of the public API; the crate wraps it.

wit_bindgen::generate!({
    path: "../wit",
    world: "game-mod",
    pub_export_macro: true,
    export_macro_name: "__export_game_mod",
    default_bindings_module: "mod_api::__private::bindings",
    additional_derives: [PartialEq],
});
