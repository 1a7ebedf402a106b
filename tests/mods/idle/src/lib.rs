//! Does nothing, every tick: what the host spends on it is pure overhead.
//! Its name comes from the game's config (`{"name": ...}`), so many copies
//! can run side by side.

use mod_api::prelude::*;

#[derive(Default)]
struct Idle {
    name: Option<String>,
}

#[derive(serde::Deserialize)]
struct Config {
    name: String,
}

impl Mod for Idle {
    fn init(&mut self, config: &[u8]) -> Result<()> {
        self.name = rmp_serde::from_slice::<Config>(config).ok().map(|c| c.name);
        Ok(())
    }

    fn manifest(&self, manifest: Manifest) -> Manifest {
        match &self.name {
            Some(name) => manifest.with_name(name.clone()),
            None => manifest,
        }
    }
}

register_mod!(Idle);
