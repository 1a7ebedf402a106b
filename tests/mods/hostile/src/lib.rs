//! Misbehaves on purpose. The game's config says how (`{"attack": ...}`)
//! and from which tick (`{"from": n}`, default 3). Before each attack the
//! mod spawns an entity, so a test can check that nothing of the failed tick
//! reached the world.

use mod_api::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Copy)]
struct Position {
    x: f32,
    y: f32,
}

component!(Position { x: f32, y: f32 });

#[derive(Deserialize, Default)]
struct Config {
    attack: String,
    #[serde(default)]
    from: Option<u64>,
}

#[derive(Default)]
struct Hostile {
    config: Config,
}

impl Mod for Hostile {
    fn init(&mut self, config: &[u8]) -> Result<()> {
        self.config = rmp_serde::from_slice(config).map_err(|e| Error::msg(e.to_string()))?;
        if self.config.attack == "loop-in-init" {
            #[allow(clippy::empty_loop)]
            loop {}
        }
        Ok(())
    }

    fn tick(&mut self, tick: &Tick) -> Result<()> {
        if tick.frame < self.config.from.unwrap_or(3) {
            return Ok(());
        }
        // Marks the tick: this entity must never appear.
        spawn(&Position { x: -1.0, y: -1.0 })?;
        match self.config.attack.as_str() {
            "loop" =>
            {
                #[allow(clippy::empty_loop)]
                loop {}
            }
            "panic" => panic!("this mod panics on purpose"),
            "allocate" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1; 1 << 20]);
                }
            }
            "recurse" => {
                fn down(n: u64) -> u64 {
                    if n == u64::MAX {
                        0
                    } else {
                        1 + down(std::hint::black_box(n + 1))
                    }
                }
                let _ = down(0);
                Ok(())
            }
            "error" => Err(Error::msg("this mod fails on purpose")),
            _ => Ok(()),
        }
    }
}

register_mod!(Hostile);
