//! The core slice, end to end: real mods built from `mods/`, loaded into a
//! real headless `App`, stepped frame by frame.

use std::collections::BTreeMap;

use bevy::prelude::*;
use bevy_wasm_mods::prelude::*;
use bevy_wasm_mods::{FaultKind, Hook, moddable_checksum};
use demo_game::{Nameplate, PlayerJoined, Position, Velocity};
use mod_tests::*;
use serde::Deserialize;

/// The mover's entities, keyed by their index `i` (velocity y is `i / 10`).
fn mover_entities(app: &mut App) -> BTreeMap<u32, (Position, Velocity, String)> {
    let world = app.world_mut();
    world
        .query::<(&Position, &Velocity, &SpawnedByMod)>()
        .iter(world)
        .map(|(p, v, owner)| ((v.y * 10.0).round() as u32, (*p, *v, owner.0.to_string())))
        .collect()
}

#[test]
fn mover_moves_its_entities_exactly_as_its_logic_says() {
    let dir = folder_with(&[("mover", "mover.wasm")]);
    check_mover(app(&dir));
}

#[test]
fn mover_moves_them_the_same_through_read_batch_and_write_batch() {
    let dir = folder_with(&[("mover", "mover.wasm")]);
    #[derive(serde::Serialize)]
    struct Config {
        count: u32,
        api: &'static str,
    }
    let config = rmp_serde::to_vec_named(&Config {
        count: 10,
        api: "read-write",
    })
    .unwrap();
    check_mover(app_with(
        ModPlugin::new()
            .with_mods_dir(&dir)
            .with_config("mover", config),
    ));
}

/// Runs the mover with its default 10 entities and checks where they are.
fn check_mover(mut app: App) {
    load(&mut app);
    frames(&mut app, 24);
    let ticks = ticks(&app, "mover");
    assert!(ticks >= 24);

    let entities = mover_entities(&mut app);
    assert_eq!(entities.len(), 10, "the mover spawns 10 entities");
    // Spawned in tick 0 (applied after it), then moved once in each later tick.
    for (i, (pos, vel, owner)) in entities {
        assert_eq!(owner, "mover");
        let (mut x, mut y) = (i as f32, 0.0f32);
        let step_y = i as f32 / 10.0;
        for _ in 1..ticks {
            x += 1.0;
            y += step_y;
        }
        assert_eq!(vel, Velocity { x: 1.0, y: step_y });
        assert_eq!(pos, Position { x, y }, "entity {i} after {ticks} ticks");
    }
}

#[test]
fn mover_spawns_as_many_as_asked_across_ticks() {
    // 300 entities need more ids than the host reserves at first: the mod
    // spawns what it can each tick and the reserve grows.
    let dir = folder_with(&[("mover", "mover.wasm")]);
    let config = rmp_serde::to_vec_named(&BTreeMap::from([("count", 300u32)])).unwrap();
    let mut app = app_with(
        ModPlugin::new()
            .with_mods_dir(&dir)
            .with_config("mover", config),
    );
    load(&mut app);
    frames(&mut app, 12);
    let entities = mover_entities(&mut app);
    assert_eq!(entities.len(), 300);
    assert_eq!(
        app.world()
            .resource::<ModRegistry>()
            .get("mover")
            .unwrap()
            .status,
        ModStatus::Running
    );
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

fn join(app: &mut App, name: &str, level: u32) {
    app.world_mut().write_message(PlayerJoined {
        name: name.into(),
        level,
    });
}

#[test]
fn game_event_reaches_the_mod_and_its_nested_answer_comes_back_intact() {
    let dir = folder_with(&[("greeter", "greeter.wasm")]);
    let mut app = app(&dir);
    load(&mut app);
    join(&mut app, "ada", 3);
    let events = frames_collecting::<ModEvent>(&mut app, 3);
    let greetings: Vec<Greeting> = events
        .iter()
        .filter(|e| e.name == "greeter:greeting")
        .map(|e| {
            assert_eq!(e.source, "greeter");
            e.decode().expect("the payload decodes")
        })
        .collect();
    let expected = Greeting {
        text: "Welcome, ada!".into(),
        count: 1,
        player: BTreeMap::from([(
            "joined".into(),
            vec![BTreeMap::from([
                ("name".into(), Detail::Text("ada".into())),
                ("level".into(), Detail::Number(3.0)),
                ("milestones".into(), Detail::List(vec![1, 2, 3])),
            ])],
        )]),
    };
    assert_eq!(greetings, vec![expected]);

    // The counter lives in the mod's own state.
    join(&mut app, "grace", 1);
    let events = frames_collecting::<ModEvent>(&mut app, 3);
    let counts: Vec<u32> = events
        .iter()
        .filter(|e| e.name == "greeter:greeting")
        .map(|e| e.decode::<Greeting>().unwrap().count)
        .collect();
    assert_eq!(counts, vec![2]);
}

#[test]
fn mod_defined_components_are_stored_on_entities_and_read_back() {
    let dir = folder_with(&[("greeter", "greeter.wasm")]);
    let mut app = app(&dir);
    load(&mut app);
    join(&mut app, "ada", 2);
    let events = frames_collecting::<ModEvent>(&mut app, 4);

    // The world holds the badge as data on the mod's entity...
    let world = app.world_mut();
    let badges: Vec<Badge> = world
        .query::<(&ModData, &SpawnedByMod)>()
        .iter(world)
        .filter(|(_, owner)| &*owner.0 == "greeter")
        .map(|(data, _)| rmp_serde::from_slice(&data.values["greeter:Badge"]).unwrap())
        .collect();
    let expected = Badge {
        greeted: 1,
        names: vec!["ada".into()],
    };
    assert_eq!(badges, vec![expected]);

    // ...and the mod read it back through its query.
    let seen: Vec<Badge> = events
        .iter()
        .filter(|e| e.name == "greeter:badge-seen")
        .map(|e| e.decode().unwrap())
        .collect();
    assert!(seen.contains(&Badge {
        greeted: 1,
        names: vec!["ada".into()],
    }));
}

#[test]
fn one_mods_events_reach_another_mod_on_the_next_tick() {
    let dir = folder_with(&[
        ("greeter", "greeter.wasm"),
        ("raw_spinner", "raw_spinner.wasm"),
    ]);
    let mut app = app(&dir);
    load(&mut app);
    frames(&mut app, 2);
    join(&mut app, "ada", 1);
    frames(&mut app, 4);
    let world = app.world_mut();
    let plates: Vec<(Nameplate, Position)> = world
        .query::<(&Nameplate, &Position)>()
        .iter(world)
        .map(|(n, p)| (n.clone(), *p))
        .collect();
    assert_eq!(plates.len(), 1, "the raw mod spawned one entity");
    assert_eq!(plates[0].0.text, "spinner (1 greetings)");
    assert_eq!(plates[0].0.tags, vec!["raw".to_string(), "wit".into()]);
}

#[test]
fn a_mod_written_against_the_wit_alone_moves_its_entity_by_per_entity_calls() {
    let dir = folder_with(&[("raw_spinner", "raw_spinner.wasm")]);
    let mut app = app(&dir);
    load(&mut app);
    frames(&mut app, 10);
    let ticks = ticks(&app, "raw_spinner");
    let registry = app.world().resource::<ModRegistry>();
    let info = registry.get("raw_spinner").expect("registered by its file");
    assert_eq!(
        registry.get_by_name("raw-spinner").map(|m| m.id.as_str()),
        Some("raw_spinner"),
        "and found by its display name"
    );
    assert_eq!(
        (info.version.as_str(), info.status),
        ("0.1.0", ModStatus::Running)
    );
    let world = app.world_mut();
    let ys: Vec<f32> = world
        .query::<&Position>()
        .iter(world)
        .map(|p| p.y)
        .collect();
    // Spawned in tick 0, moved up by 2 in each tick after.
    assert_eq!(ys, vec![2.0 * (ticks - 1) as f32]);
}

#[test]
fn bad_files_are_reported_by_name_and_reason_while_good_mods_run() {
    let dir = folder_with(&[("mover", "mover.wasm")]);
    std::fs::write(dir.join("a-text-file.wasm"), b"this is not WebAssembly").unwrap();
    std::fs::write(dir.join("b-empty.wasm"), b"").unwrap();
    // The smallest valid core module: a header and nothing else.
    std::fs::write(dir.join("c-core-module.wasm"), b"\0asm\x01\0\0\0").unwrap();
    // The smallest valid component: no imports, no exports.
    std::fs::write(dir.join("d-other-world.wasm"), b"\0asm\x0d\0\x01\0").unwrap();
    let truncated = mod_bytes("mover");
    std::fs::write(
        dir.join("e-truncated.wasm"),
        &truncated[..truncated.len() / 2],
    )
    .unwrap();
    // Random bytes, and random bytes behind a component's header.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect();
    std::fs::write(dir.join("f-random.wasm"), &random).unwrap();
    let mut headed = b"\0asm\x0d\0\x01\0".to_vec();
    headed.extend_from_slice(&random);
    std::fs::write(dir.join("g-random-component.wasm"), &headed).unwrap();
    // The mover as if built against an incompatible WIT package: the
    // version in its import and export names rewritten, same length.
    let future = as_built_for(mod_bytes("mover"), "0.9.0");
    std::fs::write(dir.join("h-incompatible.wasm"), &future).unwrap();

    let mut app = app(&dir);
    let failures = load(&mut app);
    frames(&mut app, 5);

    let registry = app.world().resource::<ModRegistry>();
    let reason = |file: &str| -> String {
        let info = registry
            .mods()
            .find(|m| m.file.ends_with(file))
            .unwrap_or_else(|| panic!("{file} is in the registry"));
        assert_eq!(info.status, ModStatus::Failed, "{file}");
        let fault = info.last_error.clone().expect("a failed mod has an error");
        assert_eq!(
            (fault.kind, fault.hook),
            (FaultKind::Invalid, Hook::Load),
            "{file}"
        );
        fault.message
    };
    assert!(reason("a-text-file.wasm").contains("not a WebAssembly file"));
    assert!(reason("b-empty.wasm").contains("empty"));
    assert!(reason("c-core-module.wasm").contains("core WebAssembly module, not a component"));
    assert!(reason("d-other-world.wasm").contains("does not implement"));
    assert!(reason("e-truncated.wasm").contains("not a valid component"));
    assert!(reason("f-random.wasm").contains("not a WebAssembly file"));
    assert!(reason("g-random-component.wasm").contains("not a valid component"));
    let incompatible = reason("h-incompatible.wasm");
    assert!(
        incompatible.contains("built for bevy-wasm:mods@0.9.0")
            && incompatible.contains("does not serve")
            && incompatible.contains("update the game"),
        "{incompatible}"
    );

    // Reported as each file's loader finishes, so in no fixed order.
    let mut failed_files: Vec<String> = failures
        .iter()
        .map(|f| f.file.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    failed_files.sort();
    assert_eq!(
        failed_files,
        [
            "a-text-file.wasm",
            "b-empty.wasm",
            "c-core-module.wasm",
            "d-other-world.wasm",
            "e-truncated.wasm",
            "f-random.wasm",
            "g-random-component.wasm",
            "h-incompatible.wasm"
        ]
    );

    assert_eq!(registry.get("mover").unwrap().status, ModStatus::Running);
    assert_eq!(
        mover_entities(&mut app).len(),
        10,
        "the good mod still runs"
    );
}

#[test]
fn reloading_a_mod_keeps_its_state() {
    let dir = folder_with(&[("greeter", "greeter.wasm")]);
    let mut app = app(&dir);
    load(&mut app);
    join(&mut app, "ada", 1);
    frames(&mut app, 3);
    app.world_mut().write_message(ReloadMod {
        id: "greeter".into(),
    });
    frames(&mut app, 3);
    let info = app
        .world()
        .resource::<ModRegistry>()
        .get("greeter")
        .unwrap()
        .clone();
    assert_eq!(info.status, ModStatus::Running, "{:?}", info.last_error);
    join(&mut app, "grace", 1);
    let before = ticks(&app, "greeter");
    let mut events = Vec::new();
    // The reload takes a few frames; the event waits for the mod.
    for _ in 0..2000 {
        events.extend(frames_collecting::<ModEvent>(&mut app, 1));
        if ticks(&app, "greeter") > before + 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let counts: Vec<u32> = events
        .iter()
        .filter(|e| e.name == "greeter:greeting")
        .map(|e| e.decode::<Greeting>().unwrap().count)
        .collect();
    assert_eq!(counts, vec![2], "the count survived the reload");
}

/// Runs all three example mods for a while, with players joining.
fn full_run() -> (u64, usize) {
    let dir = folder_with(&[
        ("greeter", "greeter.wasm"),
        ("mover", "mover.wasm"),
        ("raw_spinner", "raw_spinner.wasm"),
    ]);
    let mut app = app(&dir);
    load(&mut app);
    for frame in 0..120 {
        if frame % 30 == 0 {
            join(&mut app, &format!("player-{frame}"), frame / 30 + 1);
        }
        app.update();
    }
    let world = app.world_mut();
    let positioned = world.query::<&Position>().iter(world).count();
    (moddable_checksum(world), positioned)
}

#[test]
fn two_runs_with_the_same_inputs_end_in_the_same_world() {
    let (a, positioned) = full_run();
    let (b, _) = full_run();
    assert_eq!(positioned, 11, "10 from the mover and 1 from the raw mod");
    assert_eq!(a, b);
}

#[test]
fn a_mod_built_for_an_earlier_compatible_contract_runs_beside_current_ones() {
    // The mover as built for 0.1.0, before `reject-value` was added: the
    // host serves every 0.1.x mod with its 0.1 bindings.
    let dir = folder_with(&[("greeter", "greeter.wasm")]);
    std::fs::write(
        dir.join("mover.wasm"),
        as_built_for(mod_bytes("mover"), "0.1.0"),
    )
    .unwrap();
    let mut app = app(&dir);
    load_clean(&mut app);
    frames(&mut app, 5);
    for id in ["mover", "greeter"] {
        let m = info(&app, id);
        assert_eq!((m.status, m.faults), (ModStatus::Running, 0), "{m:?}");
    }
    let moved = ticks(&app, "mover");
    assert_mover_exact(app.world_mut(), "mover", 10, moved);
}
