//! Mod packages. Besides a lone `.wasm`, a mod can be a folder or a `.zip`
//! in the mods folder holding `mod.toml` (its id, name, version, authors,
//! description, dependencies and contract version), its component and an
//! `assets/` folder. A package is read whole and checked against its
//! bounds before any of it is used; its images are decoded off the main
//! thread ([`prepare_assets`]).

mod assets;
pub mod deps;
mod manifest;
mod read;

pub use assets::{AssetBounds, ModAsset, ModImage, ReadyAssets, decode_png, prepare_assets};
pub use manifest::{
    DEFAULT_COMPONENT, MAX_DEPENDENCIES, MAX_MANIFEST_BYTES, PackageManifest, check_id, check_path,
    id_from_name,
};
pub use read::{MAX_RATIO, Package, PackageBounds, read_package};

use std::path::Path;

/// Whether `path` in the mods folder is a lone component (a `.wasm`),
/// rather than a package (a folder or a `.zip`).
pub fn is_lone(path: &Path) -> bool {
    path.extension().is_some_and(|x| x == "wasm")
}

/// A mod's id from its path in the mods folder: a lone file's stem, or
/// the id a package's name gives ([`id_from_name`]); `mod.toml` must agree.
pub fn id_of(path: &Path) -> String {
    if is_lone(path) {
        return path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
    }
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    id_from_name(&name).0
}

#[cfg(test)]
mod tests;
