//! Greets players. For each `PlayerJoined` the game sends, it counts the
//! player, emits a `greeting` event with a nested payload, and keeps a badge
//! (a component type the mod defines itself) on an entity of its own; every
//! tick it reads the badge back and reports it in a `badge-seen` event.

use std::collections::BTreeMap;

use mod_api::prelude::*;
use serde::{Deserialize, Serialize};

/// The game's `PlayerJoined` message.
#[derive(Deserialize, Debug)]
struct PlayerJoined {
    name: String,
    level: u32,
}

/// A component only this mod knows: the game stores it as data.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Badge {
    /// Players greeted so far.
    pub greeted: u32,
    /// The names of the last [`RECENT`] of them, oldest first.
    pub names: Vec<String>,
}

component!(Badge);

/// This build's version: the `next` feature builds the next one, for live
/// updates.
#[cfg(not(feature = "next"))]
const VERSION: &str = env!("CARGO_PKG_VERSION");
#[cfg(feature = "next")]
const VERSION: &str = "0.2.0";

/// Names a badge keeps: a game runs for hours, and a mod's state must not
/// grow with it.
pub const RECENT: usize = 8;

/// The `greeting` event: maps of lists of maps, strings and numbers.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub struct Greeting {
    /// Text for the player.
    pub text: String,
    /// How many players the mod has greeted, this one included.
    pub count: u32,
    /// Details of the player.
    pub player: BTreeMap<String, Vec<BTreeMap<String, Detail>>>,
}

/// A value in the greeting's details.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(untagged)]
pub enum Detail {
    /// A number.
    Number(f64),
    /// Some text.
    Text(String),
    /// A list of numbers.
    List(Vec<i64>),
}

#[derive(Default, Serialize, Deserialize)]
struct Greeter {
    count: u32,
    names: Vec<String>,
    badge: Option<u64>,
}

impl Mod for Greeter {
    fn manifest(&self, manifest: Manifest) -> Manifest {
        let manifest = Manifest::new(manifest.name(), VERSION);
        manifest
            .subscribe("PlayerJoined")
            .emits("greeting")
            .emits("badge-seen")
            .define::<Badge>()
            .query::<Badge>()
    }

    fn event(&mut self, event: &Event) -> Result<()> {
        let joined: PlayerJoined = event.decode()?;
        self.count += 1;
        self.names.push(joined.name.clone());
        if self.names.len() > RECENT {
            self.names.remove(0);
        }
        let detail = BTreeMap::from([
            ("name".to_string(), Detail::Text(joined.name.clone())),
            ("level".to_string(), Detail::Number(joined.level as f64)),
            (
                "milestones".to_string(),
                Detail::List((1..=joined.level as i64).collect()),
            ),
        ]);
        #[cfg(not(feature = "next"))]
        let text = format!("Welcome, {}!", joined.name);
        #[cfg(feature = "next")]
        let text = format!("Welcome back, {}!", joined.name);
        let greeting = Greeting {
            text,
            count: self.count,
            player: BTreeMap::from([("joined".to_string(), vec![detail])]),
        };
        emit("greeting", &greeting)?;
        mod_api::log::info(format!("greeted {} ({} so far)", joined.name, self.count));
        Ok(())
    }

    fn tick(&mut self, _tick: &Tick) -> Result<()> {
        // Report the badge as the world holds it (written last tick).
        for (_, badge) in read_batch::<Badge>()? {
            emit("badge-seen", &badge)?;
        }
        let badge = Badge {
            greeted: self.count,
            names: self.names.clone(),
        };
        match self.badge {
            Some(bits) => insert(Entity::from_bits(bits), &badge)?,
            None => self.badge = Some(spawn(&badge)?.to_bits()),
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

    fn restore_from(&mut self, state: &[u8], saved_by: Option<&str>) -> Result<()> {
        // Every version so far keeps its state alike; one that changes it
        // converts an older version's here.
        if let Some(older) = saved_by.filter(|v| *v != VERSION) {
            mod_api::log::info(format!("carrying on from the state version {older} saved"));
        }
        self.restore(state)
    }
}

register_mod!(Greeter);

#[cfg(test)]
mod tests {
    use super::*;
    use mod_api::testing::TestWorld;

    #[derive(Serialize)]
    struct Joined {
        name: &'static str,
        level: u32,
    }

    #[test]
    fn greets_each_player_with_nested_details_and_keeps_a_badge() {
        let mut world = TestWorld::<Greeter>::new();
        world.send(
            "PlayerJoined",
            &Joined {
                name: "Ada",
                level: 3,
            },
        );
        world.tick().unwrap();
        world.send(
            "PlayerJoined",
            &Joined {
                name: "Bo",
                level: 1,
            },
        );
        world.run(2).unwrap();

        let greetings: Vec<Greeting> = world.emitted_as("greeting");
        assert_eq!(greetings.len(), 2);
        assert_eq!(greetings[1].count, 2);
        let detail = &greetings[0].player["joined"][0];
        assert_eq!(detail["name"], Detail::Text("Ada".into()));
        assert_eq!(detail["milestones"], Detail::List(vec![1, 2, 3]));
        #[cfg(not(feature = "next"))]
        assert_eq!(greetings[0].text, "Welcome, Ada!");

        // The badge it wrote is read back the tick after.
        let badges: Vec<Badge> = world.emitted_as("badge-seen");
        assert_eq!(badges.last().unwrap().names, ["Ada", "Bo"]);
        let [badge] = world.entities_owned_by_mod()[..] else {
            panic!("one badge entity")
        };
        assert_eq!(world.get::<Badge>(badge).unwrap().greeted, 2);
        assert!(
            world
                .logs()
                .iter()
                .any(|l| l.message == "greeted Bo (2 so far)")
        );
    }

    #[test]
    fn a_reload_keeps_the_count() {
        let mut world = TestWorld::<Greeter>::new();
        world.send(
            "PlayerJoined",
            &Joined {
                name: "Ada",
                level: 1,
            },
        );
        world.run(2).unwrap();
        world.reload().unwrap();
        world.send(
            "PlayerJoined",
            &Joined {
                name: "Cy",
                level: 2,
            },
        );
        world.run(2).unwrap();
        let greetings: Vec<Greeting> = world.emitted_as("greeting");
        assert_eq!(greetings[1].count, 2);
        assert_eq!(world.entities_owned_by_mod().len(), 1);
    }

    #[test]
    fn a_payload_that_does_not_decode_is_blamed_on_the_game() {
        let mut world = TestWorld::<Greeter>::new();
        world.send("PlayerJoined", &"not a player");
        world.tick().unwrap();
        assert_eq!(world.rejects().len(), 1);
        assert_eq!(world.rejects()[0].culprit, None);
        assert!(world.emitted_as::<Greeting>("greeting").is_empty());
    }
}
