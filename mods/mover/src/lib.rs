//! Spawns `count` entities (10 unless the game's config says otherwise) with
//! a `Position` and a `Velocity`, then moves every entity that has both by
//! its velocity each tick, reading and writing them all in one call each:
//! with `update_batch`, or, when the config says `api = "read-write"`, with
//! `read_batch` and `write_batch` (the benchmark times both).

use mod_api::prelude::*;
use serde::{Deserialize, Serialize};

/// The game's `Position`.
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
    /// Horizontal speed, per tick.
    pub x: f32,
    /// Vertical speed, per tick.
    pub y: f32,
}

// Plain numbers: listing the fields makes batches read them directly.
component!(Position { x: f32, y: f32 });
component!(Velocity { x: f32, y: f32 });

#[derive(Deserialize)]
struct Config {
    count: u32,
    #[serde(default)]
    api: Option<String>,
    /// A display name other than the crate's, to run two copies side by
    /// side.
    #[serde(default)]
    name: Option<String>,
    /// The tick in which to fail on purpose, once (for tests of recovery).
    #[serde(default)]
    fail_at: Option<u64>,
}

#[derive(Default)]
struct Mover {
    name: Option<String>,
    wanted: u32,
    spawned: u32,
    read_write: bool,
    fail_at: Option<u64>,
}

impl Mod for Mover {
    fn manifest(&self, manifest: Manifest) -> Manifest {
        let manifest = match &self.name {
            Some(name) => manifest.with_name(name.clone()),
            None => manifest,
        };
        manifest.query::<(Position, Velocity)>()
    }

    fn init(&mut self, config: &[u8]) -> Result<()> {
        let config = rmp_serde::from_slice::<Config>(config).ok();
        self.wanted = config.as_ref().map_or(10, |c| c.count);
        self.name = config.as_ref().and_then(|c| c.name.clone());
        self.fail_at = config.as_ref().and_then(|c| c.fail_at);
        self.read_write = config.and_then(|c| c.api).as_deref() == Some("read-write");
        Ok(())
    }

    fn tick(&mut self, tick: &Tick) -> Result<()> {
        if self.fail_at == Some(tick.frame) {
            return Err(Error::msg(format!(
                "failing on purpose in tick {}",
                tick.frame
            )));
        }
        let moved = |p: Position, v: Velocity| Position {
            x: p.x + v.x,
            y: p.y + v.y,
        };
        if self.read_write {
            let rows = read_batch::<(Position, Velocity)>()?;
            let ids: Vec<Entity> = rows.iter().map(|(e, _)| *e).collect();
            let positions: Vec<Position> = rows.iter().map(|(_, (p, v))| moved(*p, *v)).collect();
            write_batch(&ids, &positions)?;
        } else {
            update_batch::<(Position, Velocity), _>(|_, (p, v)| moved(p, v))?;
        }

        // Entity `i` starts at (i, 0) and moves by (1, i / 10) each tick.
        while self.spawned < self.wanted {
            let i = self.spawned as f32;
            let bundle = (
                Position { x: i, y: 0.0 },
                Velocity {
                    x: 1.0,
                    y: i / 10.0,
                },
            );
            match spawn(&bundle) {
                Ok(_) => self.spawned += 1,
                // The host reserves more ids next tick; carry on then.
                Err(Error::LimitExceeded(_)) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn save(&self) -> Result<Vec<u8>> {
        rmp_serde::to_vec(&(self.wanted, self.spawned)).map_err(|e| Error::msg(e.to_string()))
    }

    fn restore(&mut self, state: &[u8]) -> Result<()> {
        (self.wanted, self.spawned) =
            rmp_serde::from_slice(state).map_err(|e| Error::msg(e.to_string()))?;
        Ok(())
    }
}

register_mod!(Mover);

#[cfg(test)]
mod tests {
    use super::*;
    use mod_api::testing::TestWorld;

    /// The game as the demo sets it up: both types read-write.
    fn world() -> TestWorld<Mover> {
        TestWorld::new().expose::<Position>().expose::<Velocity>()
    }

    #[test]
    fn moves_each_entity_by_its_velocity_every_tick() {
        let mut world = world();
        world.run(6).unwrap();
        let mine = world.entities_owned_by_mod();
        assert_eq!(mine.len(), 10);
        // Spawned in tick 0, moved by ticks 1 to 5.
        for (i, e) in mine.iter().enumerate() {
            let i = i as f32;
            assert_eq!(
                world.get::<Position>(*e),
                Some(Position {
                    x: i + 5.0,
                    y: 5.0 * (i / 10.0)
                })
            );
        }
    }

    #[test]
    fn both_batch_apis_move_alike_and_other_entities_stay() {
        #[derive(Serialize)]
        struct Config {
            count: u32,
            api: &'static str,
        }
        let mut a = world().config(&Config {
            count: 40,
            api: "update",
        });
        let mut b = world().config(&Config {
            count: 40,
            api: "read-write",
        });
        let rocks = [&mut a, &mut b]
            .map(|w| w.spawn(&(Position { x: -1.0, y: -1.0 }, Velocity { x: 3.0, y: 3.0 })));
        a.run(8).unwrap();
        b.run(8).unwrap();
        // 40 entities take three ticks: the game reserves 16 ids, then 32.
        let positions = |w: &TestWorld<Mover>| {
            w.entities_owned_by_mod()
                .into_iter()
                .map(|e| w.get::<Position>(e).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(positions(&a).len(), 40);
        assert_eq!(positions(&a), positions(&b));
        assert_eq!(
            a.get::<Position>(rocks[0]),
            Some(Position { x: -1.0, y: -1.0 })
        );
        assert_eq!(
            b.get::<Position>(rocks[1]),
            Some(Position { x: -1.0, y: -1.0 })
        );
    }

    #[test]
    fn a_reload_spawns_no_more() {
        let mut world = world();
        world.run(2).unwrap();
        world.reload().unwrap();
        world.run(2).unwrap();
        assert_eq!(world.entities_owned_by_mod().len(), 10);
    }
}
