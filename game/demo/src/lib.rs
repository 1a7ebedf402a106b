//! The demo game: its moddable types and the plugin that exposes them.
//! They are what the bundled example mods, the tests and the benchmark use;
//! a game of your own exposes its own types instead.

use bevy::prelude::*;

use bevy_wasm_mods::{ModAccess, ModdingAppExt};

/// Where an entity is.
#[derive(
    Component,
    Reflect,
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    serde::Serialize,
    serde::Deserialize,
    bytemuck::Pod,
    bytemuck::Zeroable,
)]
#[reflect(Component, Default)]
#[repr(C)]
pub struct Position {
    /// Horizontal position.
    pub x: f32,
    /// Vertical position.
    pub y: f32,
}

/// How fast an entity moves, per second or per tick, as a mod likes.
#[derive(
    Component,
    Reflect,
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    serde::Serialize,
    serde::Deserialize,
    bytemuck::Pod,
    bytemuck::Zeroable,
)]
#[reflect(Component, Default)]
#[repr(C)]
pub struct Velocity {
    /// Horizontal speed.
    pub x: f32,
    /// Vertical speed.
    pub y: f32,
}

/// Hit points; mods may read them but only the game changes them.
#[derive(Component, Reflect, Clone, Copy, Debug, Default, PartialEq)]
#[reflect(Component, Default)]
pub struct Health {
    /// Current hit points.
    pub current: i32,
    /// Maximum hit points.
    pub max: i32,
}

/// A label shown over an entity; nested data, so it travels as MessagePack.
#[derive(Component, Reflect, Clone, Debug, Default, PartialEq)]
#[reflect(Component, Default)]
pub struct Nameplate {
    /// The text.
    pub text: String,
    /// Free-form tags.
    pub tags: Vec<String>,
}

/// Sent by the game when a player joins; mods may subscribe to it.
#[derive(Message, Reflect, Clone, Debug, Default, PartialEq)]
pub struct PlayerJoined {
    /// The player's name.
    pub name: String,
    /// The player's level.
    pub level: u32,
}

/// Exposes the demo types to mods.
pub struct DemoPlugin;

impl Plugin for DemoPlugin {
    fn build(&self, app: &mut App) {
        // Positions and velocities are what mods move in bulk: plain
        // structs of numbers, so their bytes cross as they are.
        app.add_moddable_component_pod::<Position>(ModAccess::ReadWrite)
            .add_moddable_component_pod::<Velocity>(ModAccess::ReadWrite)
            .add_moddable_component::<Nameplate>(ModAccess::ReadWrite)
            .add_moddable_component::<Health>(ModAccess::Read)
            .add_moddable_message::<PlayerJoined>();
    }
}
