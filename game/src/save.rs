//! Saved games that keep the mods: every mod's state (its `save` hook),
//! the entities mods can see with their moddable components, and what the
//! game adds of its own, in one file a later run loads back.
//!
//! A game saves with a [`SaveGame`] message and loads with [`LoadGame`]
//! (or [`ModPlugin::with_load`](crate::ModPlugin::with_load) when the mods
//! begin); [`GameSaved`] and [`GameLoaded`] say how it went. A save is
//! taken at the end of a frame, once every tick in flight has come in and
//! been applied, so it holds a whole frame.
//!
//! What is saved:
//! - each mod: its id, version and the SHA-256 of its component, its tick
//!   count, what its `save` hook returned, the ids reserved for its spawns
//!   and the events waiting for it;
//! - every entity with a [`ModId`](crate::ModId): its id, the mod that
//!   spawned it, each exposed component (MessagePack, by reflection), its
//!   mod-defined values ([`ModData`](crate::ModData)) and the game's
//!   components registered with
//!   [`add_saved_component`](crate::ModdingAppExt::add_saved_component);
//! - the game's resources registered with
//!   [`add_saved_resource`](crate::ModdingAppExt::add_saved_resource);
//! - the mods' game time, the next entity id, and the events mods emitted
//!   that were not delivered yet.
//!
//! Loading replaces all of that: every entity with a `ModId` is despawned
//! and the saved ones are spawned with their ids, and every running mod
//! gets a fresh instance whose `restore` is given its saved state. A mod
//! whose `restore` fails starts afresh, and the others load (the
//! [`GameLoaded`] report names it). A file that cannot be read or decoded
//! whole is refused, and nothing changes.
//!
//! The file: the 8 bytes `BWMODSAV`, then one MessagePack map, a
//! [`SavedGame`].

use std::path::{Path, PathBuf};

use bevy::prelude::*;
use bevy::reflect::{FromReflect, GetTypeRegistration, Typed};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

/// The first bytes of every saved game.
pub const MAGIC: &[u8; 8] = b"BWMODSAV";

/// The version of the file's layout this game writes and reads.
pub const FORMAT: u32 = 1;

/// The largest saved game this game reads (1 GiB).
pub const MAX_BYTES: u64 = 1 << 30;

/// A saved game.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SavedGame {
    /// The layout's version ([`FORMAT`]).
    pub format: u32,
    /// The mod contract the game served ([`WIT_VERSION`](crate::WIT_VERSION)).
    pub contract: String,
    /// Frames since the mods began ([`ModsStarted`](crate::ModsStarted)).
    pub frame: u64,
    /// The mods' game time (what their clocks read), in nanoseconds.
    pub game_time_nanos: u64,
    /// The next entity id to give ([`ModIds::next`](crate::ModIds::next)).
    pub next_id: u64,
    /// The mods, in load order.
    pub mods: Vec<SavedMod>,
    /// The entities with a [`ModId`](crate::ModId), in id order.
    pub entities: Vec<SavedEntity>,
    /// The game's saved resources.
    pub resources: Vec<SavedValue>,
    /// The game's messages for mods sent in the saved frame, for the next
    /// one.
    pub pending_messages: Vec<SavedEvent>,
    /// Events mods emitted in the saved frame, for the next one.
    pub pending_events: Vec<SavedEvent>,
}

/// A mod as it was saved.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SavedMod {
    /// Its id.
    pub id: String,
    /// The version its manifest gave.
    pub version: String,
    /// The SHA-256 of its component, in hex.
    pub code: String,
    /// Whether the player had it turned on.
    pub enabled: bool,
    /// Its tick count (what its next `tick.frame` goes on from).
    pub ticks: u64,
    /// What its `save` hook returned; `None` when it was not saved (see
    /// `not_saved`).
    pub state: Option<ByteBuf>,
    /// Why its state is not in the save (it was not running, or its
    /// `save` failed).
    pub not_saved: Option<String>,
    /// The entity ids reserved for its next spawns.
    pub reserved: Vec<u64>,
    /// How many ids it gets reserved.
    pub reserve_target: u64,
    /// Events delivered to it and not yet given to its hooks.
    pub inbox: Vec<SavedEvent>,
}

/// An entity mods could see.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SavedEntity {
    /// Its [`ModId`](crate::ModId).
    pub id: u64,
    /// The id of the mod that spawned it.
    pub owner: Option<String>,
    /// The spawning mod's tick it was spawned in.
    pub spawn_tick: Option<u64>,
    /// Its exposed components (by the names mods use) and saved game
    /// components (by type path), each one MessagePack value.
    pub components: Vec<SavedValue>,
    /// Its mod-defined values, by full name.
    pub data: Vec<SavedValue>,
}

/// A named MessagePack value.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SavedValue {
    /// The name: an exposed type's, a type path, or a mod-defined name.
    pub name: String,
    /// One MessagePack value.
    pub value: ByteBuf,
}

/// An event on its way to mods.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SavedEvent {
    /// Its full name.
    pub name: String,
    /// The mod that emitted it (`None`: the game).
    pub source: Option<String>,
    /// One MessagePack value.
    pub payload: ByteBuf,
}

impl SavedGame {
    /// Reads the saved game at `path`. A file that is not a saved game, is
    /// of a layout this game does not read, or is cut short is refused
    /// with the reason. Saves are shared between players: one over
    /// [`MAX_BYTES`] is refused before it is read.
    pub fn read(path: &Path) -> Result<SavedGame, String> {
        let size = std::fs::metadata(path)
            .map_err(|e| format!("cannot open saved game {}: {e}", path.display()))?
            .len();
        if size > MAX_BYTES {
            return Err(format!(
                "saved game {} is {size} bytes, over the {MAX_BYTES} this game reads",
                path.display()
            ));
        }
        let bytes = std::fs::read(path)
            .map_err(|e| format!("cannot read saved game {}: {e}", path.display()))?;
        Self::from_bytes(&bytes).map_err(|e| format!("saved game {}: {e}", path.display()))
    }

    /// A saved game from its file's bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<SavedGame, String> {
        let body = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or_else(|| "not a saved game (it does not start with BWMODSAV)".to_string())?;
        // The layout's version first, so a newer layout is named as such.
        #[derive(Deserialize)]
        struct Format {
            format: u32,
        }
        let format = rmp_serde::from_slice::<Format>(body)
            .map_err(|e| format!("cannot be read: {e}"))?
            .format;
        if format != FORMAT {
            return Err(format!(
                "its layout is version {format}; this game reads version {FORMAT}"
            ));
        }
        rmp_serde::from_slice(body).map_err(|e| format!("cannot be read: {e}"))
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        // Plain data: serializing it cannot fail.
        out.extend(rmp_serde::to_vec_named(self).unwrap_or_default());
        out
    }

    /// Writes the file whole or not at all: to a file beside it first,
    /// then renamed over `path`.
    pub fn write(&self, path: &Path) -> Result<(), String> {
        let mut part = path.as_os_str().to_owned();
        part.push(".part");
        let part = PathBuf::from(part);
        std::fs::write(&part, self.to_bytes())
            .and_then(|()| std::fs::rename(&part, path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&part);
                format!("cannot write saved game {}: {e}", path.display())
            })
    }
}

/// Asks for the game to be saved to `path` at the end of this frame.
#[derive(Message, Clone, Debug)]
pub struct SaveGame {
    /// Where.
    pub path: PathBuf,
}

/// Asks for the saved game at `path` to be loaded at the end of this
/// frame.
#[derive(Message, Clone, Debug)]
pub struct LoadGame {
    /// From where.
    pub path: PathBuf,
}

/// What saving or loading a game did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SaveReport {
    /// The frame saved (frames since the mods began).
    pub frame: u64,
    /// Entities saved or loaded.
    pub entities: usize,
    /// Mods whose state was saved, or restored, by id.
    pub mods: Vec<String>,
    /// What did not go as it should, by mod, in words: a mod not running
    /// (saved without its state), a `save` or `restore` that failed (the
    /// mod started afresh), a mod in the save that is not here.
    pub problems: Vec<String>,
}

/// A game was saved, or why it was not.
#[derive(Message, Clone, Debug)]
pub struct GameSaved {
    /// Where.
    pub path: PathBuf,
    /// What was saved, or why nothing was.
    pub result: Result<SaveReport, String>,
}

/// A saved game was loaded, or why it was not (then nothing changed).
#[derive(Message, Clone, Debug)]
pub struct GameLoaded {
    /// From where.
    pub path: PathBuf,
    /// What was loaded, or why nothing was.
    pub result: Result<SaveReport, String>,
}

/// A game type saved with the mods' world: how to read and set it.
pub(crate) struct SavedType<Get, Set> {
    /// Its type path, its name in the file.
    pub name: &'static str,
    pub get: Get,
    pub set: Set,
    pub from_reflect: fn(&dyn PartialReflect) -> Option<Box<dyn Reflect>>,
}

type ComponentType = SavedType<
    fn(&World, Entity) -> Option<&dyn PartialReflect>,
    fn(&mut World, Entity, Box<dyn Reflect>),
>;
type ResourceType =
    SavedType<fn(&World) -> Option<&dyn PartialReflect>, fn(&mut World, Box<dyn Reflect>)>;

/// The game's types saved beside the mods' world.
#[derive(Resource, Default)]
pub(crate) struct SavedTypes {
    pub components: Vec<ComponentType>,
    pub resources: Vec<ResourceType>,
}

/// What a game type needs to be saved: reflection, registered.
pub trait SavableType: Reflect + FromReflect + Typed + GetTypeRegistration {}

impl<T> SavableType for T where T: Reflect + FromReflect + Typed + GetTypeRegistration {}

pub(crate) fn component_type<T: Component + SavableType>() -> ComponentType {
    SavedType {
        name: T::type_path(),
        get: |world, e| world.get::<T>(e).map(|c| c.as_partial_reflect()),
        set: |world, e, value| {
            if let (Ok(value), Ok(mut e)) = (value.downcast::<T>(), world.get_entity_mut(e)) {
                e.insert(*value);
            }
        },
        from_reflect: |v| T::from_reflect(v).map(|t| Box::new(t) as Box<dyn Reflect>),
    }
}

pub(crate) fn resource_type<R: Resource + SavableType>() -> ResourceType {
    SavedType {
        name: R::type_path(),
        get: |world| world.get_resource::<R>().map(|r| r.as_partial_reflect()),
        set: |world, value| {
            if let Ok(value) = value.downcast::<R>() {
                world.insert_resource(*value);
            }
        },
        from_reflect: |v| R::from_reflect(v).map(|r| Box::new(r) as Box<dyn Reflect>),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_game_reads_back_and_a_broken_one_is_refused_with_the_reason() {
        let saved = SavedGame {
            format: FORMAT,
            contract: "0.2.0".into(),
            frame: 300,
            next_id: 12,
            mods: vec![SavedMod {
                id: "mover".into(),
                state: Some(ByteBuf::from(vec![0x90])),
                reserved: vec![10, 11],
                ..Default::default()
            }],
            entities: vec![SavedEntity {
                id: 3,
                owner: Some("mover".into()),
                components: vec![SavedValue {
                    name: "Position".into(),
                    value: ByteBuf::from(vec![0x92, 0x01, 0x02]),
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let bytes = saved.to_bytes();
        assert_eq!(SavedGame::from_bytes(&bytes).unwrap(), saved);
        let cut = SavedGame::from_bytes(&bytes[..bytes.len() - 3]).unwrap_err();
        assert!(cut.starts_with("cannot be read"), "{cut}");
        let other = SavedGame::from_bytes(b"BWMODREC....").unwrap_err();
        assert!(other.contains("not a saved game"), "{other}");
        let newer = SavedGame {
            format: FORMAT + 1,
            ..saved
        };
        let newer = SavedGame::from_bytes(&newer.to_bytes()).unwrap_err();
        assert!(
            newer.contains("version 2; this game reads version 1"),
            "{newer}"
        );
    }
}
