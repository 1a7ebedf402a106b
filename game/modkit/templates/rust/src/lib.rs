//! {{name}}: a mod for games built on the bevy-wasm-mods plugin.
//!
//! It spawns three entities with a `Position` and a `Velocity` (types the
//! demo game exposes) and moves every entity of its own by its velocity,
//! in units per second of game time.
//!
//! `modkit test` runs the tests below natively; `modkit build` makes
//! `build/{{name}}.wasm`; `modkit check build/{{name}}.wasm` runs it in the
//! game, headless, and says how it did.

use mod_api::prelude::*;
use serde::{Deserialize, Serialize};

/// The game's `Position`: the same name and fields as the game's type.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct Position {
    /// Horizontal position.
    pub x: f32,
    /// Vertical position.
    pub y: f32,
}

/// The game's `Velocity`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct Velocity {
    /// Horizontal speed, per second.
    pub x: f32,
    /// Vertical speed, per second.
    pub y: f32,
}

// Structs of plain numbers: listing the fields makes batches read and
// write them directly.
component!(Position { x: f32, y: f32 });
component!(Velocity { x: f32, y: f32 });

/// Where an entity at `p` is after `dt` seconds at velocity `v`.
pub fn step(p: Position, v: Velocity, dt: f32) -> Position {
    Position {
        x: p.x + v.x * dt,
        y: p.y + v.y * dt,
    }
}

#[derive(Default, Serialize, Deserialize)]
struct MyMod {
    spawned: bool,
}

impl Mod for MyMod {
    fn manifest(&self, manifest: Manifest) -> Manifest {
        manifest.query::<(Position, Velocity)>()
    }

    fn tick(&mut self, tick: &Tick) -> Result<()> {
        if !self.spawned {
            for i in 0..3 {
                let i = i as f32;
                spawn(&(
                    Position {
                        x: 0.0,
                        y: 10.0 * i,
                    },
                    Velocity {
                        x: 10.0 * (i + 1.0),
                        y: 0.0,
                    },
                ))?;
            }
            self.spawned = true;
            mod_api::log::info("spawned three entities");
        }
        // Every entity of its own with both components, in one call each
        // way; other mods' and the game's entities are left alone.
        update_batch::<(Position, Velocity), _>(|_, (p, v)| step(p, v, tick.delta_seconds))
    }

    // What a new version of the mod continues from when the file changes
    // while the game runs.
    fn save(&self) -> Result<Vec<u8>> {
        rmp_serde::to_vec(self).map_err(|e| Error::msg(e.to_string()))
    }

    fn restore(&mut self, state: &[u8]) -> Result<()> {
        *self = rmp_serde::from_slice(state).map_err(|e| Error::msg(e.to_string()))?;
        Ok(())
    }
}

register_mod!(MyMod);

#[cfg(test)]
mod tests {
    use super::*;
    use mod_api::testing::TestWorld;

    /// The world as the game sets it up: it exposes both types read-write.
    fn world() -> TestWorld<MyMod> {
        TestWorld::new()
            .expose::<Position>()
            .expose::<Velocity>()
            .delta_seconds(0.5)
    }

    #[test]
    fn moves_its_entities_by_their_velocity() {
        let mut world = world();
        // Spawned in the first tick, moved by the next two (half a second
        // each).
        world.run(3).unwrap();
        let mine = world.entities_owned_by_mod();
        assert_eq!(mine.len(), 3);
        assert_eq!(
            world.get::<Position>(mine[2]),
            Some(Position { x: 30.0, y: 20.0 })
        );
        assert_eq!(world.logs()[0].message, "spawned three entities");
    }

    #[test]
    fn leaves_the_games_entities_alone() {
        let mut world = world();
        let rock = world.spawn(&(Position { x: 1.0, y: 1.0 }, Velocity { x: 5.0, y: 5.0 }));
        world.run(3).unwrap();
        assert_eq!(
            world.get::<Position>(rock),
            Some(Position { x: 1.0, y: 1.0 })
        );
    }

    #[test]
    fn a_new_version_does_not_spawn_again() {
        let mut world = world();
        world.run(2).unwrap();
        world.reload().unwrap();
        world.run(2).unwrap();
        assert_eq!(world.entities_owned_by_mod().len(), 3);
    }
}
