//! The demo game's own rules, with or without a window: the player's ship
//! in an arena of drifting asteroids, a score, and the messages mods hear
//! (`Collided`). The ship flies itself in a circle until the player steers
//! it (the windowed game's arrow keys).

use std::collections::BTreeMap;

use bevy::prelude::*;

use bevy_wasm_mods::replay::GameInput;
use bevy_wasm_mods::{ModId, ModdingAppExt};

use crate::{Collided, Hazard, KeyPressed, Look, Nameplate, Position, Velocity};

/// The arena's size in world units; its centre is the origin.
pub const ARENA: Vec2 = Vec2::new(800.0, 600.0);

/// The player's ship.
#[derive(Component, Reflect, Default, Debug)]
pub struct Ship;

/// One of the game's asteroids.
#[derive(Component, Reflect, Default, Debug)]
pub struct Asteroid;

/// How the ship is steered.
#[derive(Resource, Reflect, Clone, Copy, Debug, Default, PartialEq)]
pub enum Steering {
    /// In a circle around the arena's centre (until the player steers).
    #[default]
    Autopilot,
    /// By the player: the direction held, each axis -1, 0 or 1.
    Player(Vec2),
}

/// The player's score: points for each mod's entity the ship touches, less
/// for each asteroid.
#[derive(Resource, Reflect, Clone, Copy, Debug, Default, PartialEq)]
pub struct Score {
    /// Points.
    pub points: i64,
    /// Asteroids hit.
    pub hits: u32,
}

/// What the ship touched last frame (by the ids mods know the entities
/// by), so a contact is one `Collided`.
#[derive(Resource, Reflect, Default)]
struct Touching(Vec<u64>);

/// What the player did in a frame, as a recording keeps it (the game's
/// own input, see [`GameInput`]): the windowed game records it, and a
/// replay, windowed or headless, plays it back.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
pub enum PlayerInput {
    /// The direction held changed to this (each axis -1, 0 or 1).
    Steer(f32, f32),
    /// A key was pressed (its `KeyCode` name, as `KeyPressed` says it).
    Press(String),
}

impl PlayerInput {
    /// Records it with this frame, when a recording is made.
    pub fn record(&self, input: &mut GameInput) {
        if let Ok(bytes) = rmp_serde::to_vec(self) {
            input.push(bytes);
        }
    }
}

/// In a replay, does what the recorded player did in this frame.
fn play_recorded_input(
    input: Res<GameInput>,
    mut steering: ResMut<Steering>,
    mut pressed: MessageWriter<KeyPressed>,
) {
    for bytes in input.replayed() {
        match rmp_serde::from_slice::<PlayerInput>(bytes) {
            Ok(PlayerInput::Steer(x, y)) => *steering = Steering::Player(Vec2::new(x, y)),
            Ok(PlayerInput::Press(key)) => {
                pressed.write(KeyPressed { key });
            }
            Err(e) => eprintln!("replay: a recorded input this game cannot read: {e}"),
        }
    }
}

/// Ship speed, units a second.
const SHIP_SPEED: f32 = 180.0;

/// The game's rules: spawns the ship and asteroids and runs them.
pub struct ArenaPlugin;

impl Plugin for ArenaPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Steering>()
            .init_resource::<Score>()
            .init_resource::<Touching>()
            // What a saved game needs of the arena besides what mods see.
            .add_saved_component::<Ship>()
            .add_saved_component::<Asteroid>()
            .add_saved_resource::<Steering>()
            .add_saved_resource::<Score>()
            .add_saved_resource::<Touching>()
            .add_systems(Startup, spawn_arena)
            // The arena holds still until the mods found at start-up run,
            // so a run takes the same frames whatever loading took.
            .add_systems(
                Update,
                (play_recorded_input, steer, fly, collide)
                    .chain()
                    .run_if(bevy_wasm_mods::mods_ready),
            );
    }
}

fn spawn_arena(mut commands: Commands) {
    commands.spawn((
        Ship,
        Position { x: 150.0, y: 0.0 },
        Velocity::default(),
        Look {
            shape: "triangle".into(),
            color: "#4fc3f7".into(),
            size: 28.0,
            ..Look::default()
        },
        Nameplate {
            text: "you".into(),
            tags: vec!["player".into()],
        },
    ));
    // Six asteroids, the same every run.
    for i in 0..6 {
        let a = i as f32 * std::f32::consts::TAU / 6.0 + 0.3;
        commands.spawn((
            Asteroid,
            Position {
                x: 300.0 * a.cos(),
                y: 220.0 * a.sin(),
            },
            Velocity {
                x: 40.0 * (a * 2.0).sin(),
                y: 35.0 * (a * 3.0).cos(),
            },
            Look {
                shape: "circle".into(),
                color: "grey".into(),
                size: 30.0 + 6.0 * i as f32,
                ..Look::default()
            },
            Hazard::default(),
        ));
    }
}

/// Sets the ship's velocity: the player's keys, or the autopilot's circle.
fn steer(steering: Res<Steering>, mut ship: Query<(&Position, &mut Velocity), With<Ship>>) {
    for (p, mut v) in &mut ship {
        *v = match *steering {
            Steering::Player(dir) => {
                let d = dir.normalize_or_zero() * SHIP_SPEED;
                Velocity { x: d.x, y: d.y }
            }
            Steering::Autopilot => {
                // Tangent to a circle of radius 150 around the centre,
                // pulled back onto it.
                let at = Vec2::new(p.x, p.y);
                let radial = at.normalize_or(Vec2::X);
                let pull = (150.0 - at.length()) * 2.0;
                let d = radial.perp() * SHIP_SPEED * 0.6 + radial * pull;
                Velocity { x: d.x, y: d.y }
            }
        };
    }
}

/// Moves the game's own entities: the ship stays in the arena, asteroids
/// wrap around its edges at their `Hazard` speed.
#[allow(clippy::type_complexity)]
fn fly(
    time: Res<Time>,
    mut ships: Query<(&mut Position, &Velocity), With<Ship>>,
    mut rocks: Query<(&mut Position, &Velocity, Option<&Hazard>), (With<Asteroid>, Without<Ship>)>,
) {
    let dt = time.delta_secs();
    let half = ARENA / 2.0;
    for (mut p, v) in &mut ships {
        p.x = (p.x + v.x * dt).clamp(-half.x, half.x);
        p.y = (p.y + v.y * dt).clamp(-half.y, half.y);
    }
    for (mut p, v, hazard) in &mut rocks {
        // A mod may set any number; the game keeps it sane.
        let speed = hazard.map_or(1.0, |h| h.speed);
        let speed = if speed.is_finite() {
            speed.clamp(0.0, 10.0)
        } else {
            1.0
        };
        p.x = wrap(p.x + v.x * speed * dt, half.x);
        p.y = wrap(p.y + v.y * speed * dt, half.y);
    }
}

/// `x` brought back into `-half..half` across the far edge.
fn wrap(x: f32, half: f32) -> f32 {
    if !x.is_finite() {
        return 0.0;
    }
    (x + half).rem_euclid(2.0 * half) - half
}

/// The size an entity is drawn at (its `Look`'s, or a mod entity's
/// default), within the limits the game allows.
pub fn drawn_size(look: Option<&Look>) -> f32 {
    let size = look.map_or(10.0, |l| l.size);
    if size.is_finite() {
        size.clamp(1.0, 200.0)
    } else {
        10.0
    }
}

/// The ship touching anything drawn: a `Collided` per new contact, and
/// the score.
#[allow(clippy::type_complexity)]
fn collide(
    ship: Query<(&ModId, &Position, Option<&Look>), With<Ship>>,
    others: Query<(&ModId, &Position, Option<&Look>, Has<Asteroid>), Without<Ship>>,
    mut touching: ResMut<Touching>,
    mut score: ResMut<Score>,
    mut collided: MessageWriter<Collided>,
) {
    let Ok((ship, at, look)) = ship.single() else {
        return;
    };
    let reach = drawn_size(look) / 2.0;
    // Contacts in the order of the entities' ids, not of Bevy's tables
    // (which a loaded game lays out differently), so mods get the same
    // messages in the same order in every run.
    let mut now = BTreeMap::new();
    for (other, p, look, asteroid) in &others {
        let d = Vec2::new(p.x - at.x, p.y - at.y).length();
        if d < reach + drawn_size(look) / 2.0 {
            now.insert(other.get(), asteroid);
        }
    }
    for (&other, &asteroid) in &now {
        if touching.0.binary_search(&other).is_ok() {
            continue;
        }
        // Mods know entities by their `ModId`s.
        collided.write(Collided {
            a: ship.get(),
            b: other,
        });
        if asteroid {
            score.points -= 5;
            score.hits += 1;
        } else {
            score.points += 1;
        }
    }
    // In order: `now` is sorted.
    touching.0 = now.into_keys().collect();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asteroids_wrap_across_the_far_edge() {
        assert_eq!(wrap(401.0, 400.0), -399.0);
        assert_eq!(wrap(-401.0, 400.0), 399.0);
        assert_eq!(wrap(10.0, 400.0), 10.0);
        assert_eq!(wrap(f32::NAN, 400.0), 0.0);
    }

    #[test]
    fn sizes_stay_within_what_the_game_draws() {
        let look = |size| Look {
            size,
            ..Look::default()
        };
        assert_eq!(drawn_size(None), 10.0);
        assert_eq!(drawn_size(Some(&look(1e9))), 200.0);
        assert_eq!(drawn_size(Some(&look(f32::NAN))), 10.0);
    }
}
