//! What mods' packages bring besides code: their `assets/`, decoded off
//! the main thread within the caps of [`ModLimits`](crate::ModLimits)
//! (`asset_bytes`, `image_side`), for the game to use; with the feature
//! `images`, their images as Bevy `Image` assets as well ([`ModImages`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use bevy::prelude::*;

use crate::package::{ModAsset, ModImage, ReadyAssets};

/// The assets of every running mod, by name: the mod's id, a colon and the
/// file's path under its package's `assets/` (`storm:ship.png`), the way
/// its types and events are named. A mod's entry changes when it starts
/// with new code (its package changed) and goes when it is removed; a game
/// that turns assets into its own (textures, sounds) watches
/// [`generation`](Self::generation) to do it again.
///
/// A PNG comes decoded ([`ModAsset::Image`], RGBA), any other file as its
/// bytes. What a mod's package held that was left out (an image that does
/// not decode or is too big, files past the cap) is in
/// [`ModInfo::asset_problems`](crate::ModInfo::asset_problems).
#[derive(Resource, Default)]
pub struct ModAssets {
    by_mod: BTreeMap<String, Arc<ReadyAssets>>,
    generation: u64,
}

impl ModAssets {
    /// The asset named `name` (`storm:ship.png`).
    pub fn get(&self, name: &str) -> Option<&ModAsset> {
        let (id, path) = name.split_once(':')?;
        self.by_mod.get(id)?.files.get(path)
    }

    /// The image named `name` (`storm:ship.png`), when it is one.
    pub fn image(&self, name: &str) -> Option<&Arc<ModImage>> {
        match self.get(name)? {
            ModAsset::Image(image) => Some(image),
            ModAsset::Bytes(_) => None,
        }
    }

    /// Mod `id`'s assets, by path under `assets/`.
    pub fn of_mod(&self, id: &str) -> Option<&ReadyAssets> {
        self.by_mod.get(id).map(|a| &**a)
    }

    /// Every asset, by name, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (String, &ModAsset)> {
        self.by_mod.iter().flat_map(|(id, assets)| {
            assets
                .files
                .iter()
                .map(move |(path, asset)| (format!("{id}:{path}"), asset))
        })
    }

    /// A number that changes whenever any mod's assets change.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Mod `id` now runs code that came with `assets`.
    pub(crate) fn set(&mut self, id: &str, assets: Arc<ReadyAssets>) {
        let same = self.by_mod.get(id).is_some_and(|a| Arc::ptr_eq(a, &assets))
            || (assets.files.is_empty() && !self.by_mod.contains_key(id));
        if same {
            return;
        }
        if assets.files.is_empty() {
            self.by_mod.remove(id);
        } else {
            self.by_mod.insert(id.to_string(), assets);
        }
        self.generation += 1;
    }

    /// Mod `id` was removed.
    pub(crate) fn forget(&mut self, id: &str) {
        if self.by_mod.remove(id).is_some() {
            self.generation += 1;
        }
    }
}

/// Every running mod's images as Bevy `Image` assets, by the same names as
/// in [`ModAssets`] (`storm:storm.png`): what a game draws with (feature
/// `images`). Made again whenever mods' assets change; a handle of an
/// image that went no longer draws anything.
#[cfg(feature = "images")]
#[derive(Resource, Default)]
pub struct ModImages {
    generation: Option<u64>,
    by_name: std::collections::HashMap<String, Handle<bevy::image::Image>>,
}

#[cfg(feature = "images")]
impl ModImages {
    /// The image named `name` (`storm:storm.png`).
    pub fn get(&self, name: &str) -> Option<&Handle<bevy::image::Image>> {
        self.by_name.get(name)
    }
}

/// Keeps [`ModImages`] in step with [`ModAssets`], when the game has
/// Bevy's image assets.
#[cfg(feature = "images")]
pub(crate) fn sync_images(
    assets: Res<ModAssets>,
    mut images: ResMut<ModImages>,
    store: Option<ResMut<Assets<bevy::image::Image>>>,
) {
    let Some(mut store) = store else {
        return;
    };
    if images.generation == Some(assets.generation()) {
        return;
    }
    images.generation = Some(assets.generation());
    for (_, handle) in images.by_name.drain() {
        store.remove(&handle);
    }
    for (name, asset) in assets.iter() {
        let ModAsset::Image(decoded) = asset else {
            continue;
        };
        // Bevy's default image is one pixel of 8-bit sRGB RGBA, 2D: the
        // same layout with the mod's size and pixels.
        let mut image = bevy::image::Image::default();
        image.texture_descriptor.size.width = decoded.width;
        image.texture_descriptor.size.height = decoded.height;
        image.data = Some(decoded.rgba.clone());
        let handle = store.add(image);
        images.by_name.insert(name, handle);
    }
}
