//! A mod written against the WIT package alone: no `mod-api`. It spawns one
//! entity with a `Position` and a `Nameplate`, moves it up by 2 every tick
//! with per-entity `get` and `insert` calls, and counts the greetings
//! other mods send, showing the count on the nameplate: the greeter's
//! (`greeter:greeting`, its own event), or, in a game that opens the name
//! `greeting` to every mod as the demo does, anyone's.

wit_bindgen::generate!({
    path: "../../wit",
    world: "game-mod",
});

use bevy_wasm::mods::types::{Component, Event, Manifest, ModError, QuerySpec, Tick};
use bevy_wasm::mods::{entities, log};
use exports::bevy_wasm::mods::hooks::Guest;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;

#[derive(Serialize, Deserialize)]
struct Position {
    x: f32,
    y: f32,
}

#[derive(Serialize, Deserialize)]
struct Nameplate {
    text: String,
    tags: Vec<String>,
}

#[derive(Default)]
struct State {
    entity: Option<u64>,
    greetings: u32,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// MessagePack with structs as maps, as the host expects.
fn pack<T: Serialize>(value: &T) -> Result<Vec<u8>, ModError> {
    let mut out = Vec::new();
    value
        .serialize(&mut rmp_serde::Serializer::new(&mut out).with_struct_map())
        .map_err(|e| ModError::Failed(e.to_string()))?;
    Ok(out)
}

fn nameplate(greetings: u32) -> Result<Component, ModError> {
    Ok(Component {
        name: "Nameplate".into(),
        value: pack(&Nameplate {
            text: format!("spinner ({greetings} greetings)"),
            tags: vec!["raw".into(), "wit".into()],
        })?,
    })
}

struct RawSpinner;

impl Guest for RawSpinner {
    fn init(_config: Vec<u8>) -> Result<Manifest, ModError> {
        Ok(Manifest {
            name: "raw-spinner".into(),
            version: "0.1.0".into(),
            subscribes: vec!["greeter:greeting".into(), "greeting".into()],
            queries: vec![QuerySpec {
                components: vec!["Position".into(), "Nameplate".into()],
            }],
            defines: vec![],
            emits: vec![],
            shares: vec![],
        })
    }

    fn on_tick(_tick: Tick) -> Result<(), ModError> {
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            match s.entity {
                None => {
                    let position = Component {
                        name: "Position".into(),
                        value: pack(&Position { x: 0.0, y: 0.0 })?,
                    };
                    let e = entities::spawn(&[position, nameplate(s.greetings)?])?;
                    s.entity = Some(e);
                }
                Some(e) => {
                    let bytes = entities::get(e, "Position")?
                        .ok_or_else(|| ModError::Failed("the spinner lost its position".into()))?;
                    let mut p: Position = rmp_serde::from_slice(&bytes)
                        .map_err(|e| ModError::Failed(e.to_string()))?;
                    p.y += 2.0;
                    let position = Component {
                        name: "Position".into(),
                        value: pack(&p)?,
                    };
                    entities::insert(e, &[position, nameplate(s.greetings)?])?;
                }
            }
            Ok(())
        })
    }

    fn on_event(events: Vec<Event>) -> Result<(), ModError> {
        STATE.with(|s| s.borrow_mut().greetings += events.len() as u32);
        log::log(
            log::Level::Debug,
            &format!("{} greeting(s) heard", events.len()),
        );
        Ok(())
    }

    fn save() -> Result<Vec<u8>, ModError> {
        STATE.with(|s| {
            let s = s.borrow();
            rmp_serde::to_vec(&(s.entity, s.greetings)).map_err(|e| ModError::Failed(e.to_string()))
        })
    }

    fn restore(state: Vec<u8>) -> Result<(), ModError> {
        let (entity, greetings) =
            rmp_serde::from_slice(&state).map_err(|e| ModError::Failed(e.to_string()))?;
        STATE.with(|s| *s.borrow_mut() = State { entity, greetings });
        Ok(())
    }
}

export!(RawSpinner);
