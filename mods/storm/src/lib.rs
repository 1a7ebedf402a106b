//! Storms in the demo game's asteroid field: every 5 seconds of game time
//! the weather turns, and in a storm the asteroids fly 2.5 times as fast.
//! The asteroids are the game's entities, so this needs the right to
//! change the game's entities (`modify_any_entity`, which the demo game
//! grants this mod by its file name, `storm`); without it, the asteroids
//! keep their speed. A sign at the top of the arena shows the weather and
//! how often the ship was knocked (the game's `Collided` messages).

use mod_api::prelude::*;
use serde::{Deserialize, Serialize};

/// The game's asteroid speed factor.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct Hazard {
    /// A multiple of the asteroid's `Velocity`.
    pub speed: f32,
}
component!(Hazard { speed: f32 });

/// The game's `Position`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct Position {
    /// Horizontal.
    pub x: f32,
    /// Vertical.
    pub y: f32,
}
component!(Position { x: f32, y: f32 });

/// How the game draws an entity.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Look {
    /// `circle`, `square`, `triangle` or `ring`.
    pub shape: String,
    /// `#rrggbb` or a colour's name.
    pub color: String,
    /// Width and height.
    pub size: f32,
    /// An image of the mod's package (`assets/storm.png`), drawn instead
    /// of the shape; the game of an older version ignores it.
    #[serde(default)]
    pub sprite: String,
}
component!(Look);

/// The text the game draws over an entity.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Nameplate {
    /// The text.
    pub text: String,
    /// Free-form tags.
    pub tags: Vec<String>,
}
component!(Nameplate);

/// Seconds between turns of the weather.
pub const SPELL: f32 = 5.0;
/// Asteroid speed in a storm.
pub const STORM_SPEED: f32 = 2.5;

#[derive(Default, Serialize, Deserialize)]
struct Storm {
    /// Game time seen, in seconds.
    clock: f32,
    storming: bool,
    knocks: u32,
    sign: Option<u64>,
}

impl Storm {
    fn sign(&self) -> (Position, Look, Nameplate) {
        let text = if self.storming { "STORM" } else { "calm" };
        (
            Position { x: 0.0, y: 235.0 },
            // Its own picture, from its package: a stormy sky over a
            // lightning-yellow band.
            Look {
                shape: "ring".into(),
                color: "white".into(),
                size: 32.0,
                sprite: "storm.png".into(),
            },
            Nameplate {
                text: format!("{text}  (ship knocked {} times)", self.knocks),
                tags: vec!["weather".into()],
            },
        )
    }
}

impl Mod for Storm {
    fn manifest(&self, manifest: Manifest) -> Manifest {
        manifest.query::<Hazard>().subscribe("Collided")
    }

    fn event(&mut self, event: &Event) -> Result<()> {
        if event.name == "Collided" {
            self.knocks += 1;
        }
        Ok(())
    }

    fn tick(&mut self, tick: &Tick) -> Result<()> {
        let dt = tick.delta_seconds;
        self.clock += if dt.is_finite() {
            dt.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let storming = (self.clock / SPELL) as u32 % 2 == 1;
        if storming != self.storming || tick.frame == 0 {
            self.storming = storming;
            let speed = if storming { STORM_SPEED } else { 1.0 };
            // Every asteroid this mod may change: all of them with the
            // grant, none without.
            update_batch::<Hazard, _>(|_, _| Hazard { speed })?;
            mod_api::log::info(if storming {
                "a storm rises"
            } else {
                "the storm passes"
            });
        }
        match self.sign {
            Some(bits) => insert(Entity::from_bits(bits), &self.sign())?,
            None => self.sign = Some(spawn(&self.sign())?.to_bits()),
        }
        Ok(())
    }

    fn save(&self) -> Result<Vec<u8>> {
        rmp_serde::to_vec(self).map_err(|e| Error::msg(e.to_string()))
    }

    fn restore(&mut self, state: &[u8]) -> Result<()> {
        *self = rmp_serde::from_slice(state).map_err(|e| Error::msg(e.to_string()))?;
        Ok(())
    }
}

register_mod!(Storm);

#[cfg(test)]
mod tests {
    use super::*;
    use mod_api::testing::TestWorld;

    fn world() -> TestWorld<Storm> {
        TestWorld::new()
            .expose::<Hazard>()
            .expose::<Position>()
            .expose::<Look>()
            .expose::<Nameplate>()
            .delta_seconds(0.5)
    }

    #[test]
    fn with_the_grant_the_asteroids_speed_up_in_a_storm_and_calm_down_after() {
        let mut world = world().grant_modify_any_entity();
        let rock = world.spawn(&Hazard { speed: 1.0 });
        // 5 s of calm (ticks 0-9), then a storm.
        world.run(11).unwrap();
        assert_eq!(
            world.get::<Hazard>(rock),
            Some(Hazard { speed: STORM_SPEED })
        );
        world.run(10).unwrap();
        assert_eq!(world.get::<Hazard>(rock), Some(Hazard { speed: 1.0 }));
    }

    #[test]
    fn without_it_the_game_keeps_its_speed_and_the_sign_still_shows() {
        let mut world = world();
        let rock = world.spawn(&Hazard { speed: 1.0 });
        world.run(12).unwrap();
        assert_eq!(world.get::<Hazard>(rock), Some(Hazard { speed: 1.0 }));
        let [sign] = world.entities_owned_by_mod()[..] else {
            panic!("one sign")
        };
        assert!(
            world
                .get::<Nameplate>(sign)
                .unwrap()
                .text
                .starts_with("STORM")
        );
    }

    #[test]
    fn the_sign_counts_the_ships_knocks() {
        let mut world = world();
        world.send("Collided", &(1u64, 2u64));
        world.send("Collided", &(1u64, 3u64));
        world.run(2).unwrap();
        let sign = world.entities_owned_by_mod()[0];
        assert_eq!(
            world.get::<Nameplate>(sign).unwrap().text,
            "calm  (ship knocked 2 times)"
        );
    }
}
