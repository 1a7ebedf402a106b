//! Many mods from many authors in one game: honest mods that share
//! component types run side by side, each changing only what it owns.

use bevy::prelude::*;
use bevy_wasm_mods::prelude::*;
use demo_game::{Position, Velocity};
use mod_tests::*;

#[test]
fn two_movers_share_a_query_for_10000_frames_and_neither_faults() {
    const FRAMES: usize = 10_000;
    let dir = folder_with(&[("mover", "a-mover.wasm"), ("mover", "b-mover.wasm")]);
    let mut app = app_with(
        ModPlugin::new()
            .with_mods_dir(&dir)
            .with_limits(relaxed_limits())
            .with_config("a-mover", mover_config(5, false, "mover-a"))
            .with_config("b-mover", mover_config(7, true, "mover-b")),
    );
    // The game's own entities with the same components: neither mod may
    // move them.
    let game: Vec<Entity> = (0..3)
        .map(|i| {
            let p = Position {
                x: -(i as f32),
                y: 100.0,
            };
            let v = Velocity { x: 5.0, y: 5.0 };
            app.world_mut().spawn((p, v)).id()
        })
        .collect();
    let failures = load(&mut app);
    assert!(failures.is_empty(), "{failures:?}");
    frames(&mut app, FRAMES);

    let registry = app.world().resource::<ModRegistry>();
    for id in ["a-mover", "b-mover"] {
        let info = registry.get(id).unwrap_or_else(|| panic!("{id} runs"));
        assert_eq!(
            (info.status, info.faults),
            (ModStatus::Running, 0),
            "{id}: {:?}",
            info.last_error
        );
        assert!(info.ticks >= FRAMES as u64);
    }
    assert_eq!(registry.get_by_name("mover-b").unwrap().id, "b-mover");
    for (owner, count) in [("a-mover", 5), ("b-mover", 7)] {
        let ticks = ticks(&app, owner);
        let world = app.world_mut();
        assert_mover_exact(world, owner, count, ticks);
    }
    for (i, e) in game.into_iter().enumerate() {
        let p = *app.world().get::<Position>(e).unwrap();
        assert_eq!(
            p,
            Position {
                x: -(i as f32),
                y: 100.0
            },
            "the game's entity {i} was not moved"
        );
    }
}

/// A config for the hostile test mod.
fn hostile_config(attack: &str, name: &str) -> Vec<u8> {
    hostile_aimed(attack, name, None)
}

/// Like [`hostile_config`], aimed at another mod's name (`target`).
fn hostile_aimed(attack: &str, name: &str, target: Option<&str>) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Config<'a> {
        attack: &'a str,
        name: &'a str,
        once: bool,
        target: Option<&'a str>,
    }
    rmp_serde::to_vec_named(&Config {
        attack,
        name,
        once: true,
        target,
    })
    .unwrap()
}

#[test]
fn a_display_name_is_a_label_two_mods_may_share_and_ids_tell_them_apart() {
    // `a-squatter` declares the mover's name and sorts first: both run.
    let dir = folder_with(&[("hostile", "a-squatter.wasm"), ("mover", "b-mover.wasm")]);
    let mut app = app_with(
        ModPlugin::new()
            .with_mods_dir(&dir)
            .with_limits(relaxed_limits())
            .with_config("a-squatter", hostile_config("work", "mover")),
    );
    load_clean(&mut app);
    frames(&mut app, 10);

    for id in ["a-squatter", "b-mover"] {
        let m = info(&app, id);
        assert_eq!(
            (m.name.as_str(), m.status, m.faults),
            ("mover", ModStatus::Running, 0),
            "{id}"
        );
    }
    // The mover's entities are marked with its id, not its display name.
    let world = app.world_mut();
    let owners: Vec<String> = world
        .query::<&SpawnedByMod>()
        .iter(world)
        .map(|s| s.0.to_string())
        .collect();
    assert_eq!(owners.len(), 10);
    assert!(owners.iter().all(|o| o == "b-mover"), "{owners:?}");
    let mover = info(&app, "b-mover");
    assert_mover_exact(app.world_mut(), "b-mover", 10, mover.ticks);
}

#[test]
fn names_that_are_not_printable_text_are_refused() {
    let dir = folder_with(&[
        ("hostile", "a-newline.wasm"),
        ("hostile", "b-escape.wasm"),
        ("hostile", "c-zero-width.wasm"),
        ("hostile", "d-bidi.wasm"),
        ("mover", "e-mover.wasm"),
    ]);
    let names = [
        ("a-newline", "two\nlines"),
        ("b-escape", "\u{1b}[2Jred"),
        ("c-zero-width", "mo\u{200b}ver"),
        ("d-bidi", "revo\u{202e}m"),
    ];
    let mut plugin = ModPlugin::new()
        .with_mods_dir(&dir)
        .with_limits(relaxed_limits());
    for (id, name) in names {
        plugin = plugin.with_config(id, hostile_config("none", name));
    }
    let mut app = app_with(plugin);
    load(&mut app);
    frames(&mut app, 3);
    for (id, _) in names {
        let refused = info(&app, id);
        assert_ne!(refused.status, ModStatus::Running, "{id}");
        let fault = refused.last_error.unwrap();
        assert!(
            fault.message.contains("not shown as itself"),
            "{id}: {fault}"
        );
        // The fault as a line of text holds nothing a terminal acts on.
        let line = fault.to_string();
        assert!(!line.chars().any(|c| c.is_control()), "{id}: {line:?}");
    }
    assert_eq!(info(&app, "e-mover").status, ModStatus::Running);
}

#[test]
fn each_mod_gets_its_own_random_stream_the_same_in_every_run() {
    let run = || {
        let dir = folder_with(&[("hostile", "a-dice.wasm"), ("hostile", "b-dice.wasm")]);
        let mut app = app_with(
            ModPlugin::new()
                .with_mods_dir(&dir)
                .with_limits(relaxed_limits())
                .with_config("a-dice", hostile_config("random", "dice-a"))
                .with_config("b-dice", hostile_config("random", "dice-b")),
        );
        load(&mut app);
        let events = frames_collecting::<ModEvent>(&mut app, 6);
        let by = |id: &str| -> Vec<u8> {
            let e = events
                .iter()
                .find(|e| e.name == format!("{id}:random") && e.source == id)
                .unwrap_or_else(|| panic!("{id} sent its bytes: {events:?}"));
            e.decode::<serde_bytes::ByteBuf>().unwrap().into_vec()
        };
        (by("a-dice"), by("b-dice"))
    };
    let (a, b) = run();
    assert_eq!(a.len(), 96);
    assert_ne!(a, b, "two mods, two streams");
    // A real generator: no cycle of the seed's length.
    assert_ne!(a[..32], a[32..64]);
    assert_ne!(a[..8], a[8..16]);
    assert_eq!(run(), (a, b), "the same in every run");
}

#[test]
fn only_regular_files_inside_the_folder_and_under_the_size_limit_are_read() {
    let outside = mods_folder();
    std::fs::write(outside.join("elsewhere.wasm"), mod_bytes("mover")).unwrap();
    let dir = folder_with(&[("mover", "a-mover.wasm")]);
    std::os::unix::fs::symlink(outside.join("elsewhere.wasm"), dir.join("b-link-out.wasm"))
        .unwrap();
    std::os::unix::fs::symlink(dir.join("a-mover.wasm"), dir.join("c-link-in.wasm")).unwrap();
    std::fs::create_dir(dir.join("d-folder.wasm")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.join("e-device.wasm")).unwrap();
    let fifo = dir.join("f-pipe.wasm");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    // The example mods are a few MB each.
    std::fs::write(dir.join("g-huge.wasm"), vec![0u8; 17 << 20]).unwrap();
    let limits = bevy_wasm_mods::ModLimits {
        file_bytes: 16 << 20,
        ..relaxed_limits()
    };
    let mut app = app_with(
        ModPlugin::new()
            .with_mods_dir(&dir)
            .with_limits(limits)
            .with_config("c-link-in", mover_config(1, false, "mover-linked")),
    );
    load(&mut app);
    frames(&mut app, 3);
    assert_eq!(info(&app, "a-mover").status, ModStatus::Running);
    assert_eq!(
        info(&app, "c-link-in").status,
        ModStatus::Running,
        "a link inside the folder"
    );
    for (id, why) in [
        ("b-link-out", "outside the mods folder"),
        ("d-folder", "a folder"),
        ("e-device", "outside the mods folder"),
        ("f-pipe", "a device, pipe or socket"),
        ("g-huge", "over the 16777216-byte limit"),
    ] {
        let refused = info(&app, id);
        assert_eq!(refused.status, ModStatus::Failed, "{id}");
        let fault = refused.last_error.unwrap();
        assert!(fault.message.contains(why), "{id}: {fault}");
    }
}

#[test]
fn text_from_a_mod_reaches_the_log_escaped() {
    let logs = captured_logs();
    let dir = folder_with(&[("hostile", "a-noisy.wasm")]);
    let mut app = app_with(
        ModPlugin::new()
            .with_mods_dir(&dir)
            .with_limits(relaxed_limits())
            .with_config("a-noisy", hostile_config("noisy", "noisy")),
    );
    load(&mut app);
    frames(&mut app, 6);
    let fault = info(&app, "a-noisy").last_error.expect("the mod failed");
    assert!(
        fault.message.contains("failed \\u{1b}[2J\\nforged"),
        "{fault:?}"
    );
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    let ours: Vec<&str> = text.lines().filter(|l| l.contains("a-noisy")).collect();
    assert!(
        ours.iter()
            .any(|l| l.contains("first\\nforged line \\u{1b}[2J \\u{202e}desrever")),
        "{ours:#?}"
    );
    assert!(
        ours.iter()
            .any(|l| l.contains("stdout \\u{1b}[31mred\\rover")),
        "{ours:#?}"
    );
    assert!(
        ours.iter()
            .any(|l| l.contains("mod failed: failed \\u{1b}[2J\\nforged")),
        "{ours:#?}"
    );
    for forged in ["forged line", "forged fault line"] {
        assert!(
            !text.lines().any(|l| l.starts_with(forged)),
            "a mod started a log line of its own"
        );
    }
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{202e}'),
        "raw control text in the log"
    );
}

#[test]
fn refused_calls_cannot_flood_the_log() {
    let logs = captured_logs();
    let dir = folder_with(&[("hostile", "a-flooder.wasm")]);
    let mut app = app_with(
        ModPlugin::new()
            .with_mods_dir(&dir)
            .with_limits(relaxed_limits())
            .with_config("a-flooder", hostile_config("flood-denied", "flooder")),
    );
    load(&mut app);
    frames(&mut app, 6);
    let flooder = info(&app, "a-flooder");
    assert_eq!(flooder.faults, 1, "the tick was refused: {flooder:?}");
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    let denials = text
        .lines()
        .filter(|l| l.contains("a-flooder") && l.contains("denied: writing component"))
        .count();
    // 10,000 refused calls; the mod's 100 lines a tick bound what is logged.
    assert!((1..=100).contains(&denials), "{denials} lines logged");
}

#[test]
fn a_mods_own_types_and_the_games_messages_cannot_be_written_by_another_mod() {
    let dir = folder_with(&[
        ("greeter", "a-greeter.wasm"),
        ("hostile", "b-thief.wasm"),
        ("hostile", "c-forger.wasm"),
        ("hostile", "d-liar.wasm"),
    ]);
    let mut app = app_with(
        ModPlugin::new()
            .with_mods_dir(&dir)
            .with_limits(relaxed_limits())
            .with_config(
                "b-thief",
                hostile_aimed("steal-type", "thief", Some("a-greeter:Badge")),
            )
            .with_config("c-forger", hostile_config("forge-message", "forger"))
            .with_config(
                "d-liar",
                hostile_aimed("steal-event", "liar", Some("a-greeter:greeting")),
            ),
    );
    load(&mut app);
    let events = frames_collecting::<ModEvent>(&mut app, 8);
    assert!(
        !events.iter().any(|e| e.name.ends_with(":escaped")),
        "{events:?}"
    );
    for (id, why) in [
        (
            "b-thief",
            "component `a-greeter:Badge` is mod `a-greeter`'s",
        ),
        ("c-forger", "`PlayerJoined` is the game's message"),
        ("d-liar", "event `a-greeter:greeting` is mod `a-greeter`'s"),
    ] {
        let attacker = info(&app, id);
        let fault = attacker
            .last_error
            .unwrap_or_else(|| panic!("{id} was refused"));
        assert!(fault.message.contains(why), "{id}: {fault}");
    }
    assert_eq!(info(&app, "a-greeter").faults, 0);
    // No badge but the greeter's own.
    let world = app.world_mut();
    let badges: Vec<String> = world
        .query::<(&bevy_wasm_mods::ModData, &SpawnedByMod)>()
        .iter(world)
        .filter(|(d, _)| d.values.contains_key("a-greeter:Badge"))
        .map(|(_, s)| s.0.to_string())
        .collect();
    assert!(badges.iter().all(|o| o == "a-greeter"), "{badges:?}");
}

/// Runs a greeter beside a squatter whose file sorts first and which
/// declares the greeter's names (`Badge`, `greeting`) as its own; returns
/// the events of 8 frames after a player joined.
fn greeter_beside(squatter: &str, attack: &str) -> (App, Vec<ModEvent>) {
    let dir = folder_with(&[
        ("hostile", &format!("{squatter}.wasm")),
        ("greeter", "greeter.wasm"),
    ]);
    let mut app = app_with(
        ModPlugin::new()
            .with_mods_dir(&dir)
            .with_limits(relaxed_limits())
            .with_config(squatter, hostile_config(attack, "Greeter")),
    );
    load(&mut app);
    app.world_mut().write_message(demo_game::PlayerJoined {
        name: "Ada".into(),
        level: 2,
    });
    let events = frames_collecting::<ModEvent>(&mut app, 8);
    (app, events)
}

#[test]
fn names_belong_to_their_mod_whatever_a_mod_that_loads_first_declares() {
    // It sorts first and declares `Badge` and `greeting`: it gets its own.
    let (mut app, events) = greeter_beside("a-squatter", "squat");
    let squatter = info(&app, "a-squatter");
    assert_eq!((squatter.status, squatter.faults), (ModStatus::Running, 0));
    let greeter = info(&app, "greeter");
    assert_eq!((greeter.status, greeter.faults), (ModStatus::Running, 0));
    // The greeter greets under its name; the squatter's greetings are its
    // own, and it read only its own badge.
    let greetings: Vec<&str> = events
        .iter()
        .filter(|e| e.name.ends_with(":greeting"))
        .map(|e| e.name.as_str())
        .collect();
    assert!(greetings.contains(&"greeter:greeting"), "{greetings:?}");
    for e in events.iter().filter(|e| e.name.ends_with(":greeting")) {
        assert_eq!(e.name, format!("{}:greeting", e.source), "{e:?}");
    }
    let seen: Vec<usize> = events
        .iter()
        .filter(|e| e.name == "a-squatter:greeting")
        .map(|e| e.decode().unwrap())
        .collect();
    // Its own badge, from the tick after it spawned it: never the greeter's.
    assert_eq!(seen.last(), Some(&1), "{seen:?}");
    assert!(seen.iter().all(|n| *n <= 1), "{seen:?}");
    // Each badge is where its mod put it, under its mod's id.
    let world = app.world_mut();
    let mut badges: Vec<(String, String)> = world
        .query::<(&bevy_wasm_mods::ModData, &SpawnedByMod)>()
        .iter(world)
        .flat_map(|(d, s)| {
            d.values
                .keys()
                .map(|k| (s.0.to_string(), k.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    badges.sort();
    assert_eq!(
        badges,
        [
            ("a-squatter".to_string(), "a-squatter:Badge".to_string()),
            ("greeter".to_string(), "greeter:Badge".to_string()),
        ]
    );
    // Both show the same display name, told apart by their ids.
    assert_eq!(info(&app, "a-squatter").name, "Greeter");

    // Declaring the greeter's type by its full name is refused at load,
    // saying why; the greeter runs on.
    let (app, events) = greeter_beside("a-squatter", "squat-full");
    let squatter = info(&app, "a-squatter");
    let fault = squatter.last_error.expect("refused");
    assert!(
        fault
            .message
            .contains("\"greeter:Badge\", a name of mod `greeter`"),
        "{fault}"
    );
    assert_ne!(squatter.status, ModStatus::Running);
    assert_eq!(info(&app, "greeter").faults, 0);
    assert!(events.iter().any(|e| e.name == "greeter:greeting"));
}

/// Limits under which a call may run half a second before it is stopped
/// (a frame that waited for it would take that long), and the config of a
/// hostile mod that loops in every tick from its fifth.
fn looper() -> (bevy_wasm_mods::ModLimits, Vec<u8>) {
    use std::time::Duration;
    let limits = bevy_wasm_mods::ModLimits {
        hard_call_limit: Duration::from_millis(500),
        soft_call_budget: Duration::from_millis(500),
        ..Default::default()
    };
    #[derive(serde::Serialize)]
    struct Config {
        attack: &'static str,
        from: u64,
    }
    let config = rmp_serde::to_vec_named(&Config {
        attack: "loop",
        from: 5,
    })
    .unwrap();
    (limits, config)
}

#[test]
fn in_real_time_a_looping_mod_costs_the_game_no_slow_frame() {
    use std::time::{Duration, Instant};
    let (limits, looping) = looper();
    let dir = folder_with(&[("hostile", "a-looper.wasm"), ("mover", "b-mover.wasm")]);
    let mut app = app_in_real_time(
        ModPlugin::new()
            .with_mods_dir(&dir)
            .with_limits(limits)
            .with_worker_threads(0)
            .with_config("a-looper", looping),
    );
    load(&mut app);
    // Two threads compete for the machine's cores the whole time.
    let (stop, spinners) = busy_threads(2);
    let mut slowest = Duration::ZERO;
    let started = Instant::now();
    let mut frames_run = 0;
    // Long enough for the looper to be stopped and restarted at least once.
    while frames_run < 120 || info(&app, "a-looper").faults == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the looper never faulted"
        );
        let t = Instant::now();
        app.update();
        slowest = slowest.max(t.elapsed());
        frames_run += 1;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for s in spinners {
        s.join().unwrap();
    }
    let looper = info(&app, "a-looper");
    assert_eq!(
        looper.last_error.as_ref().map(|f| f.kind),
        Some(bevy_wasm_mods::FaultKind::Timeout),
        "{looper:?}"
    );
    // Measured on a loaded 2-core machine: frames of a few ms, the slowest
    // tens of ms; waiting for the looper would take 500 ms.
    assert!(
        slowest < Duration::from_millis(250),
        "a frame took {slowest:?}"
    );
    let mover = info(&app, "b-mover");
    assert_eq!(mover.faults, 0, "{mover:?}");
    assert!(
        mover.ticks + 10 >= frames_run as u64,
        "the mover ticked {} times in {frames_run} frames",
        mover.ticks
    );
}

#[test]
fn a_looping_mod_makes_no_mod_late_that_shares_its_workers() {
    use std::time::{Duration, Instant};
    let (limits, looping) = looper();
    // Two workers for three mods, the looper last in load order: a worker
    // may have a mover's reply in hand when it takes the looper's tick.
    let dir = folder_with(&[
        ("mover", "a-mover.wasm"),
        ("mover", "b-mover.wasm"),
        ("hostile", "c-looper.wasm"),
    ]);
    let mut app = app_in_real_time(
        ModPlugin::new()
            .with_mods_dir(&dir)
            .with_limits(limits)
            .with_worker_threads(2)
            .with_config("a-mover", mover_config(5, false, "mover-a"))
            .with_config("b-mover", mover_config(5, false, "mover-b"))
            .with_config("c-looper", looping),
    );
    load(&mut app);
    let (stop, spinners) = busy_threads(2);
    let started = Instant::now();
    let mut frames_run = 0u64;
    // The longest a mover went without finishing a tick.
    let mut last = [(0u64, Instant::now()); 2];
    let mut longest = [Duration::ZERO; 2];
    // On until the looper was stopped twice (each time 500 ms of a worker).
    while frames_run < 120 || info(&app, "c-looper").faults < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the looper never faulted twice"
        );
        app.update();
        frames_run += 1;
        for (m, id) in ["a-mover", "b-mover"].into_iter().enumerate() {
            let ticks = info(&app, id).ticks;
            if ticks != last[m].0 {
                longest[m] = longest[m].max(last[m].1.elapsed());
                last[m] = (ticks, Instant::now());
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for s in spinners {
        s.join().unwrap();
    }
    for (m, id) in ["a-mover", "b-mover"].into_iter().enumerate() {
        let mover = info(&app, id);
        assert_eq!(mover.faults, 0, "{mover:?}");
        // Behind the looper a mover would wait out its 500 ms each time;
        // on a loaded machine a tick still comes every few frames.
        println!("{id}: longest wait for a tick {:?}", longest[m]);
        assert!(
            longest[m] < Duration::from_millis(300),
            "{id} waited {:?} for a tick",
            longest[m]
        );
    }
}
