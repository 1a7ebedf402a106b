//! The example mods written in Python (`mods/python/`, on the guest
//! library `mod-api/python/bevy_mods`) and in JavaScript (`mods/js/`, on
//! `mod-api/js/bevy-mods.js`) pass the tests the Rust ones pass: positions
//! after N frames, the nested event round trip, state across a live update,
//! and beside the Rust mods. An exception reaches the registry with its
//! traceback or stack.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_wasm_mods::prelude::*;
use bevy_wasm_mods::{FaultKind, Hook};
use demo_game::PlayerJoined;
use mod_tests::*;
use serde::Deserialize;

/// A language other than Rust: its file suffix and where its mods are built.
struct Lang {
    suffix: &'static str,
    built: fn() -> &'static Path,
}

const LANGS: [Lang; 2] = [
    Lang {
        suffix: "py",
        built: python_mods,
    },
    Lang {
        suffix: "js",
        built: js_mods,
    },
];

impl Lang {
    /// A built mod's bytes: `mover`, `greeter`, or `next/greeter`.
    fn bytes(&self, name: &str) -> Vec<u8> {
        let path = (self.built)().join(format!("{name}_{}.wasm", self.suffix));
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    }

    /// The mod's id (file stem) for example `name`.
    fn id(&self, name: &str) -> String {
        format!("{name}_{}", self.suffix)
    }
}

fn plugin(dir: &Path) -> ModPlugin {
    ModPlugin::new()
        .with_mods_dir(dir)
        .with_limits(relaxed_limits())
}

#[test]
fn the_python_and_javascript_movers_move_exactly_like_the_rust_mover_beside_them() {
    for read_write in [false, true] {
        let dir = mods_folder();
        std::fs::write(dir.join("mover.wasm"), mod_bytes("mover")).unwrap();
        let mut plugin = plugin(&dir).with_config("mover", mover_config(12, read_write, "mover"));
        let mut ids = vec!["mover".to_string()];
        for lang in &LANGS {
            let id = lang.id("mover");
            std::fs::write(dir.join(format!("{id}.wasm")), lang.bytes("mover")).unwrap();
            let name = format!("mover-{}", lang.suffix);
            plugin = plugin.with_config(id.clone(), mover_config(12, read_write, &name));
            ids.push(id);
        }
        let mut app = app_with(plugin);
        let failed = load(&mut app);
        assert!(failed.is_empty(), "{failed:?}");
        frames(&mut app, 40);
        for id in &ids {
            let m = info(&app, id);
            assert_eq!((m.status, m.faults), (ModStatus::Running, 0), "{m:?}");
            assert_mover_exact(app.world_mut(), id, 12, m.ticks);
        }
        assert_eq!(info(&app, "mover_js").name, "mover-js");
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
    load_clean(&mut app);
    let mut greetings = Vec::new();
    let mut seen = Vec::new();
    for (name, level) in [("ada", 3), ("grace", 1), ("edsger", 5)] {
        app.world_mut().write_message(PlayerJoined {
            name: name.into(),
            level,
        });
        for e in frames_collecting::<ModEvent>(&mut app, 3) {
            // Its events are its own: named under its id.
            let id = file.trim_end_matches(".wasm");
            match e.name.strip_prefix(&format!("{id}:")) {
                Some("greeting") => greetings.push(e.decode::<Greeting>().unwrap()),
                Some("badge-seen") => seen.push(e.decode::<Badge>().unwrap()),
                _ => panic!("unexpected event {}", e.name),
            }
        }
    }
    let id = file.trim_end_matches(".wasm");
    let m = info(&app, id);
    assert_eq!((m.status, m.faults), (ModStatus::Running, 0), "{m:?}");
    (greetings, seen)
}

#[test]
fn the_python_and_javascript_greeters_answer_with_the_same_nested_events_as_the_rust_one() {
    let (rust, rust_badges) = greet("greeter.wasm", &mod_bytes("greeter"));
    assert_eq!(rust.len(), 3);
    assert_eq!(
        rust.last().map(|g| (g.text.as_str(), g.count)),
        Some(("Welcome, edsger!", 3))
    );
    let logs = captured_logs();
    for lang in &LANGS {
        let id = lang.id("greeter");
        let file = format!("{id}.wasm");
        let (greetings, badges) = greet(&file, &lang.bytes("greeter"));
        assert_eq!(greetings, rust, "{file}");
        assert_eq!(badges, rust_badges, "{file}");
        // What it logged, printed (`print`, `console.log`), under its id.
        let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
        let ours: Vec<&str> = text
            .lines()
            .filter(|l| l.contains(&format!("mod_id=\"{id}\"")))
            .collect();
        for says in ["greeted edsger (3 so far)", "stdout works too: edsger"] {
            assert!(
                ours.iter().any(|l| l.contains(says)),
                "`{says}` from {id}: {ours:#?}"
            );
        }
    }
}

#[test]
fn the_python_and_javascript_greeters_keep_their_count_across_a_live_update() {
    for lang in &LANGS {
        greeter_keeps_its_count_across_a_live_update(lang);
    }
}

fn greeter_keeps_its_count_across_a_live_update(lang: &Lang) {
    let logs = captured_logs();
    let id = lang.id("greeter");
    let dir = mods_folder();
    std::fs::write(dir.join(format!("{id}.wasm")), lang.bytes("greeter")).unwrap();
    let mut app = app_with(plugin(&dir));
    load_clean(&mut app);
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
                .find(|e| e.name == format!("{id}:greeting"))
            {
                return e.decode().unwrap();
            }
            assert!(started.elapsed() < Duration::from_secs(60), "no greeting");
        }
    };
    assert_eq!(join(&mut app, "Ada").count, 1);
    assert_eq!(join(&mut app, "Bo").count, 2);

    let tmp = dir.join(format!(".{id}.part"));
    std::fs::write(&tmp, lang.bytes("next/greeter")).unwrap();
    std::fs::rename(&tmp, dir.join(format!("{id}.wasm"))).unwrap();
    let started = Instant::now();
    while drain::<ModUpdated>(&mut app).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "not updated: {:?}",
            info(&app, &id)
        );
        std::thread::sleep(Duration::from_millis(5));
        app.update();
    }
    let m = info(&app, &id);
    assert_eq!((m.version.as_str(), m.faults), ("0.2.0", 0), "{m:?}");
    // The new version's `restore` was told which version saved its state.
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(
        text.lines().any(|l| l.contains(&format!("mod_id=\"{id}\""))
            && l.contains("carrying on from the state version 0.1.0 saved")),
        "{id} was not told the version that saved its state"
    );
    let greeting = join(&mut app, "Cy");
    assert_eq!(
        (greeting.text.as_str(), greeting.count),
        ("Welcome back, Cy!", 3)
    );
}

#[test]
fn an_exception_reaches_the_registry_with_its_traceback_or_stack() {
    // A count that is not a number: Python's comparison raises a TypeError
    // in `tick`; the JavaScript mover checks it and throws one.
    for (lang, says) in [
        (
            &LANGS[0],
            &["Traceback (most recent call last)", "app.py", "TypeError"][..],
        ),
        (
            &LANGS[1],
            &["TypeError: count must be a number", "mover.js"][..],
        ),
    ] {
        let id = lang.id("mover");
        let dir = mods_folder();
        std::fs::write(dir.join(format!("{id}.wasm")), lang.bytes("mover")).unwrap();
        let config = rmp_serde::to_vec_named(&BTreeMap::from([("count", "many")])).unwrap();
        let mut app = app_with(plugin(&dir).with_config(id.clone(), config));
        let mut failed = load(&mut app);
        failed.extend(frames_collecting::<ModFailed>(&mut app, 3));
        let fault = &failed
            .first()
            .unwrap_or_else(|| panic!("{id} faulted"))
            .fault;
        assert_eq!(
            (fault.kind, fault.hook),
            (FaultKind::ModError, Hook::Tick),
            "{id}: {fault}"
        );
        for says in says {
            assert!(
                fault.message.contains(says),
                "`{says}` in: {}",
                fault.message
            );
        }
    }
}

/// The Python and JavaScript libraries' MessagePack (written for their
/// interpreters, in `_msgpack.py` and `msgpack.js`) writes the bytes
/// msgpack itself writes and reads what it reads, refusing broken input:
/// the Python test checks thousands of values against msgpack and writes
/// vectors the JavaScript test checks too.
#[test]
fn the_guest_libraries_messagepack_is_msgpacks_byte_for_byte() {
    // The Python toolchain's folder holds msgpack, the reference.
    python_mods();
    let dir = mods_folder();
    let vectors = dir.join("vectors.json");
    let out = std::process::Command::new("python3")
        .arg(root().join("mod-api/python/tests/test_msgpack.py"))
        .arg(&vectors)
        .env("PYTHONPATH", root().join("target/python/site"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("cannot run python3");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new("node")
        .arg(root().join("mod-api/js/tests/msgpack.test.mjs"))
        .arg(&vectors)
        .output()
        .expect("cannot run node");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
