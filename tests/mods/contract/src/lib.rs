//! Built against one released version of the contract, which a feature
//! picks, straight from its WIT in `wit/versions/` (no `mod-api`, which
//! follows the current contract): the current game must run it unchanged.
//!
//! It spawns one entity with a `Position` and a counter of its own type
//! (`Odometer <version>`). Each tick it reads the counter back with `get`,
//! moves the entity to `x = count` with `insert` and emits `ping <version>`
//! with the count. It subscribes to `ping 0.2.0` and emits `heard <version>`
//! each tick with how many such events reached it so far: built for 0.1, a
//! plain name it subscribes to is any mod's, so it hears the 0.2.0
//! fixture; built for 0.2, a plain name is its own, and it hears no one.
//! The `unserved` build is for a version no game serves.

#[cfg(feature = "v0-1-0")]
wit_bindgen::generate!({ path: "../../../wit/versions/0.1.0", world: "game-mod" });
#[cfg(feature = "v0-1-0-claims")]
wit_bindgen::generate!({ path: "../../../wit/versions/0.1.0+claims", world: "game-mod" });
#[cfg(feature = "v0-1-1")]
wit_bindgen::generate!({ path: "../../../wit/versions/0.1.1", world: "game-mod" });
#[cfg(feature = "v0-2-0")]
wit_bindgen::generate!({ path: "../../../wit/versions/0.2.0", world: "game-mod" });
#[cfg(feature = "unserved")]
wit_bindgen::generate!({ path: "unserved", world: "game-mod" });

/// What the build is told apart by: the version, and the shape of 0.1.0.
#[cfg(feature = "v0-1-0")]
const TAG: &str = "0.1.0";
#[cfg(feature = "v0-1-0-claims")]
const TAG: &str = "0.1.0+claims";
#[cfg(feature = "v0-1-1")]
const TAG: &str = "0.1.1";
#[cfg(feature = "v0-2-0")]
const TAG: &str = "0.2.0";

#[cfg(not(feature = "unserved"))]
mod fixture {
    use super::TAG;
    use super::bevy_wasm::mods::types::{Component, Event, Manifest, ModError, QuerySpec, Tick};
    use super::bevy_wasm::mods::{entities, events, log};
    use super::exports::bevy_wasm::mods::hooks::Guest;
    use serde::Serialize;
    use std::cell::Cell;

    #[derive(Serialize)]
    struct Position {
        x: f32,
        y: f32,
    }

    thread_local! {
        static ENTITY: Cell<Option<u64>> = const { Cell::new(None) };
        static HEARD: Cell<u64> = const { Cell::new(0) };
    }

    /// What it listens to, by short name.
    const LISTENS: &str = "ping 0.2.0";

    fn odometer() -> String {
        format!("Odometer {TAG}")
    }

    fn ping() -> String {
        format!("ping {TAG}")
    }

    /// MessagePack with structs as maps, as the host expects.
    fn pack<T: Serialize>(value: &T) -> Result<Vec<u8>, ModError> {
        let mut out = Vec::new();
        value
            .serialize(&mut rmp_serde::Serializer::new(&mut out).with_struct_map())
            .map_err(|e| ModError::Failed(e.to_string()))?;
        Ok(out)
    }

    fn components(count: u64) -> Result<Vec<Component>, ModError> {
        Ok(vec![
            Component {
                name: "Position".into(),
                value: pack(&Position {
                    x: count as f32,
                    y: -50.0,
                })?,
            },
            Component {
                name: odometer(),
                value: pack(&count)?,
            },
        ])
    }

    struct Fixture;

    impl Guest for Fixture {
        fn init(_config: Vec<u8>) -> Result<Manifest, ModError> {
            log::log(log::Level::Info, &format!("built for {TAG}"));
            Ok(Manifest {
                name: format!("Fixture {TAG}"),
                version: "1.0.0".into(),
                subscribes: vec![LISTENS.into()],
                queries: vec![QuerySpec {
                    components: vec![odometer()],
                }],
                defines: vec![odometer()],
                #[cfg(not(feature = "v0-1-0"))]
                emits: vec![ping()],
                #[cfg(not(feature = "v0-1-0"))]
                shares: vec![],
            })
        }

        fn on_tick(_tick: Tick) -> Result<(), ModError> {
            let entity = match ENTITY.get() {
                Some(entity) => entity,
                None => {
                    let entity = entities::spawn(&components(0)?)?;
                    ENTITY.set(Some(entity));
                    return Ok(());
                }
            };
            let count: u64 = match entities::get(entity, &odometer())? {
                Some(bytes) => rmp_serde::from_slice(&bytes)
                    .map_err(|e| ModError::Failed(format!("my own counter: {e}")))?,
                None => return Err(ModError::Failed("my counter is gone".into())),
            };
            entities::insert(entity, &components(count + 1)?)?;
            events::emit(&ping(), &pack(&(count + 1))?)?;
            events::emit(&format!("heard {TAG}"), &pack(&HEARD.get())?)?;
            Ok(())
        }

        fn on_event(events: Vec<Event>) -> Result<(), ModError> {
            // Events arrive named as subscribed.
            let heard = events.iter().filter(|e| e.name == LISTENS).count() as u64;
            HEARD.set(HEARD.get() + heard);
            Ok(())
        }

        fn save() -> Result<Vec<u8>, ModError> {
            pack(&ENTITY.get())
        }

        fn restore(state: Vec<u8>) -> Result<(), ModError> {
            let entity: Option<u64> = rmp_serde::from_slice(&state)
                .map_err(|e| ModError::Failed(format!("my saved state: {e}")))?;
            ENTITY.set(entity);
            Ok(())
        }
    }

    super::export!(Fixture with_types_in super);
}

#[cfg(feature = "unserved")]
mod fixture {
    use super::bevy_wasm::mods::types::Manifest;
    use super::exports::bevy_wasm::mods::hooks::Guest;

    struct Fixture;

    impl Guest for Fixture {
        fn init(_config: Vec<u8>) -> Result<Manifest, String> {
            Ok(Manifest {
                name: "Fixture from the future".into(),
                version: "1.0.0".into(),
            })
        }
    }

    super::export!(Fixture with_types_in super);
}
