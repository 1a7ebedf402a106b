//! The demo game's own rules with its example mods that change what the
//! player sees, headless: the storm (Rust, granted the game's entities)
//! speeds the game's asteroids up and shows a sign, the fireflies (Python)
//! circle the centre and greet the last player, the beacons (JavaScript)
//! pulse in the corners and count the players.

use std::time::Duration;

use bevy::prelude::*;
use bevy_wasm_mods::SpawnedByMod;
use bevy_wasm_mods::prelude::*;
use demo_game::arena::Asteroid;
use demo_game::{Hazard, Look, Nameplate, Position};
use mod_tests::*;

fn owned<T: Component + Clone>(world: &mut World, owner: &str) -> Vec<(Position, T)> {
    world
        .query::<(&Position, &T, &SpawnedByMod)>()
        .iter(world)
        .filter(|(_, _, by)| &*by.0 == owner)
        .map(|(p, t, _)| (*p, t.clone()))
        .collect()
}

fn hazards(world: &mut World) -> Vec<f32> {
    world
        .query_filtered::<&Hazard, With<Asteroid>>()
        .iter(world)
        .map(|h| h.speed)
        .collect()
}

#[test]
fn the_example_mods_change_what_the_player_sees() {
    let dir = mods_folder();
    for (from, file) in [
        (built_mods().join("storm.wasm"), "storm.wasm"),
        (python_mods().join("fireflies_py.wasm"), "fireflies_py.wasm"),
        (js_mods().join("beacons_js.wasm"), "beacons_js.wasm"),
    ] {
        std::fs::copy(&from, dir.join(file)).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    }
    let plugin = demo_game::mod_plugin(&dir, None)
        .with_limits(relaxed_limits())
        .with_watching(false);
    let mut app = demo_game::headless_app(plugin);
    demo_game::load_mods(&mut app, Duration::from_secs(600)).unwrap();
    for id in ["storm", "fireflies_py", "beacons_js"] {
        assert_eq!(info(&app, id).status, ModStatus::Running, "{id}");
    }
    // Calm for the first 5 s of game time.
    frames(&mut app, 60);
    let world = app.world_mut();
    assert_eq!(hazards(world), vec![1.0; 6]);
    let sign = owned::<Nameplate>(world, "storm");
    assert_eq!(sign.len(), 1);
    assert!(sign[0].1.text.starts_with("calm"), "{:?}", sign[0].1);

    // Eight fireflies on a circle of radius 220, a quarter turn every 2 s.
    let flies = owned::<Look>(world, "fireflies_py");
    assert_eq!(flies.len(), 8);
    for (p, look) in &flies {
        assert!(
            ((p.x * p.x + p.y * p.y).sqrt() - 220.0).abs() < 0.5,
            "{p:?}"
        );
        assert_eq!(
            (
                look.shape.as_str(),
                look.color.as_str(),
                look.sprite.as_str()
            ),
            ("circle", "yellow", "firefly.png")
        );
    }
    // The storm's sign is its own picture.
    let looks = owned::<Look>(world, "storm");
    assert_eq!(looks[0].1.sprite, "storm.png");
    // A player joined at the first frame: the fireflies greet them, the
    // beacons count them.
    let greeted = owned::<Nameplate>(world, "fireflies_py");
    assert_eq!(greeted.len(), 1);
    assert_eq!(greeted[0].1.text, "hello player-0");
    let beacons = owned::<Nameplate>(world, "beacons_js");
    assert_eq!(beacons.len(), 4);
    assert!(
        beacons.iter().all(|(_, n)| n.text == "0 keys, 1 players"),
        "{beacons:?}"
    );
    // One towards each corner.
    let mut quadrants: Vec<(bool, bool)> = beacons
        .iter()
        .map(|(p, _)| (p.x > 300.0, p.y > 0.0))
        .collect();
    quadrants.sort();
    assert!(
        beacons
            .iter()
            .all(|(p, _)| p.x.abs() >= 300.0 && p.y.abs() >= 200.0)
    );
    assert_eq!(
        quadrants,
        vec![(false, false), (false, true), (true, false), (true, true)]
    );

    // The storm rises after 5 s: the game's asteroids fly 2.5 times as
    // fast, because the demo grants the storm its entities.
    frames(&mut app, 260);
    let world = app.world_mut();
    assert_eq!(hazards(world), vec![2.5; 6]);
    let sign = owned::<Nameplate>(world, "storm");
    assert!(sign[0].1.text.starts_with("STORM"), "{:?}", sign[0].1);
    // The fireflies went on turning: 320 frames, 16/3 s, 4/3 of a turn at
    // pi/4 a second, measured from where they started.
    let flies = owned::<Look>(world, "fireflies_py");
    assert!(
        flies
            .iter()
            .all(|(p, _)| ((p.x * p.x + p.y * p.y).sqrt() - 220.0).abs() < 0.5)
    );
}

#[test]
fn a_look_without_a_sprite_as_mods_wrote_it_before_is_taken() {
    let mut app = app(&mods_folder());
    let world = app.world_mut();
    let e = world.spawn(Position { x: 0.0, y: 0.0 }).id();
    #[derive(serde::Serialize)]
    struct OldLook {
        shape: &'static str,
        color: &'static str,
        size: f32,
    }
    let old = rmp_serde::to_vec_named(&OldLook {
        shape: "ring",
        color: "red",
        size: 12.0,
    })
    .unwrap();
    bevy_wasm_mods::testing::insert_msgpack(world, e, "Look", &old).unwrap();
    let look = world.get::<Look>(e).unwrap();
    assert_eq!(
        (look.shape.as_str(), look.size, look.sprite.as_str()),
        ("ring", 12.0, "")
    );
}
