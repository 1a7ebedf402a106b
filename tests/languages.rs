//! The example mods written in Python (`mods/python/`, on the guest
//! library `mod-api/python/bevy_mods`) pass the tests the Rust ones pass:
//! positions after N frames, the nested event round trip, state across a
//! live update, and beside the Rust mods. A Python exception reaches the
//! registry with its traceback.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_wasm_mods::prelude::*;
use bevy_wasm_mods::{FaultKind, Hook};
use demo_game::PlayerJoined;
use mod_tests::*;
use serde::Deserialize;

/// A built Python mod's bytes: `mover`, `greeter`, or `next/greeter`.
fn python(name: &str) -> Vec<u8> {
    let path = python_mods().join(format!("{name}_py.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn plugin(dir: &Path) -> ModPlugin {
    ModPlugin::new()
        .with_mods_dir(dir)
        .with_limits(relaxed_limits())
}

#[test]
fn the_python_mover_moves_exactly_like_the_rust_mover_beside_it() {
    for read_write in [false, true] {
        let dir = mods_folder();
        std::fs::write(dir.join("mover.wasm"), mod_bytes("mover")).unwrap();
        std::fs::write(dir.join("mover_py.wasm"), python("mover")).unwrap();
        let mut app = app_with(
            plugin(&dir)
                .with_config("mover", mover_config(12, read_write, "mover"))
                .with_config("mover_py", mover_config(12, read_write, "mover-py")),
        );
        let failed = load(&mut app);
        assert!(failed.is_empty(), "{failed:?}");
        frames(&mut app, 40);
        for id in ["mover", "mover_py"] {
            let m = info(&app, id);
            assert_eq!((m.status, m.faults), (ModStatus::Running, 0), "{m:?}");
            assert_mover_exact(app.world_mut(), id, 12, m.ticks);
        }
        assert_eq!(info(&app, "mover_py").name, "mover-py");
    }
}

/// The greeter's `greeting` event, as a test reads it.
#[derive(Deserialize, Debug, PartialEq)]
struct Greeting {
    text: String,
    count: u32,
    player: BTreeMap<String, Vec<BTreeMap<String, Detail>>>,
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(untagged)]
enum Detail {
    Number(f64),
    Text(String),
    List(Vec<i64>),
}

#[derive(Deserialize, Debug, PartialEq)]
struct Badge {
    greeted: u32,
    names: Vec<String>,
}

/// Players join a greeter alone in its folder; what it answered and the
/// badges it kept in the world.
fn greet(file: &str, bytes: &[u8]) -> (Vec<Greeting>, Vec<Badge>) {
    let dir = mods_folder();
    std::fs::write(dir.join(file), bytes).unwrap();
    let mut app = app_with(plugin(&dir));
    assert!(load(&mut app).is_empty());
    let mut greetings = Vec::new();
    let mut seen = Vec::new();
    for (name, level) in [("ada", 3), ("grace", 1), ("edsger", 5)] {
        app.world_mut().write_message(PlayerJoined {
            name: name.into(),
            level,
        });
        for e in frames_collecting::<ModEvent>(&mut app, 3) {
            match e.name.as_str() {
                "greeting" => greetings.push(e.decode::<Greeting>().unwrap()),
                "badge-seen" => seen.push(e.decode::<Badge>().unwrap()),
                other => panic!("unexpected event {other}"),
            }
        }
    }
    let id = file.trim_end_matches(".wasm");
    let m = info(&app, id);
    assert_eq!((m.status, m.faults), (ModStatus::Running, 0), "{m:?}");
    (greetings, seen)
}

#[test]
fn the_python_greeter_answers_with_the_same_nested_events_as_the_rust_greeter() {
    let (rust, rust_badges) = greet("greeter.wasm", &mod_bytes("greeter"));
    let (python, python_badges) = greet("greeter_py.wasm", &python("greeter"));
    assert_eq!(rust.len(), 3);
    assert_eq!(python, rust);
    assert_eq!(python_badges, rust_badges);
    assert_eq!(
        python.last().map(|g| (g.text.as_str(), g.count)),
        Some(("Welcome, edsger!", 3))
    );
}

#[test]
fn the_python_greeter_keeps_its_count_across_a_live_update() {
    let dir = mods_folder();
    std::fs::write(dir.join("greeter_py.wasm"), python("greeter")).unwrap();
    let mut app = app_with(plugin(&dir));
    assert!(load(&mut app).is_empty());
    let join = |app: &mut App, name: &str| -> Greeting {
        app.world_mut().write_message(PlayerJoined {
            name: name.into(),
            level: 1,
        });
        let started = Instant::now();
        loop {
            app.update();
            if let Some(e) = drain::<ModEvent>(app)
                .into_iter()
                .find(|e| e.name == "greeting")
            {
                return e.decode().unwrap();
            }
            assert!(started.elapsed() < Duration::from_secs(60), "no greeting");
        }
    };
    assert_eq!(join(&mut app, "Ada").count, 1);
    assert_eq!(join(&mut app, "Bo").count, 2);

    let tmp = dir.join(".greeter_py.part");
    std::fs::write(&tmp, python("next/greeter")).unwrap();
    std::fs::rename(&tmp, dir.join("greeter_py.wasm")).unwrap();
    let started = Instant::now();
    while drain::<ModUpdated>(&mut app).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "not updated: {:?}",
            info(&app, "greeter_py")
        );
        std::thread::sleep(Duration::from_millis(5));
        app.update();
    }
    let m = info(&app, "greeter_py");
    assert_eq!((m.version.as_str(), m.faults), ("0.2.0", 0), "{m:?}");
    let greeting = join(&mut app, "Cy");
    assert_eq!(
        (greeting.text.as_str(), greeting.count),
        ("Welcome back, Cy!", 3)
    );
}

#[test]
fn a_python_exception_reaches_the_registry_with_its_traceback() {
    let dir = mods_folder();
    std::fs::write(dir.join("mover_py.wasm"), python("mover")).unwrap();
    // A count the mover cannot compare with a number: a TypeError in `tick`.
    let config = rmp_serde::to_vec_named(&BTreeMap::from([("count", "many")])).unwrap();
    let mut app = app_with(plugin(&dir).with_config("mover_py", config));
    let mut failed = load(&mut app);
    failed.extend(frames_collecting::<ModFailed>(&mut app, 3));
    let fault = &failed.first().expect("the mod faulted").fault;
    assert_eq!(
        (fault.kind, fault.hook),
        (FaultKind::ModError, Hook::Tick),
        "{fault}"
    );
    for says in ["Traceback (most recent call last)", "app.py", "TypeError"] {
        assert!(
            fault.message.contains(says),
            "`{says}` in: {}",
            fault.message
        );
    }
}
