//! Live modding: files dropped into, replaced in and removed from the mods
//! folder of a running game, as a player or a modder would.

use std::time::Duration;

use bevy::prelude::*;
use bevy_wasm_mods::prelude::*;
use bevy_wasm_mods::{FaultKind, Hook, ModLimits, SetModEnabled};
use mod_tests::*;

const WAIT: Duration = Duration::from_secs(60);

#[test]
fn a_mod_dropped_into_the_folder_starts_ticking_in_its_place_by_id() {
    let dir = folder_with(&[("mover", "mover.wasm")]);
    let mut app = watched(&dir);
    load_clean(&mut app);
    frames(&mut app, 5);

    put(&dir, "greeter.wasm", &mod_bytes("greeter"));
    let loaded = until::<ModLoaded>(&mut app, WAIT, |_, seen| !seen.is_empty());
    assert_eq!(loaded[0].id, "greeter");
    let before = info(&app, "greeter").ticks;
    frames(&mut app, 5);
    let greeter = info(&app, "greeter");
    assert_eq!(greeter.status, ModStatus::Running);
    assert_eq!(greeter.ticks, before + 5, "ticks every frame from then on");
    let order: Vec<String> = app
        .world()
        .resource::<ModRegistry>()
        .mods()
        .map(|m| m.id.clone())
        .collect();
    assert_eq!(
        order,
        ["greeter", "mover"],
        "by id, whenever it came: the same order in every run"
    );
    assert_eq!(info(&app, "mover").faults, 0);
    assert_eq!(join(&mut app, "Ada"), ("Welcome, Ada!".into(), 1));
}

#[test]
fn a_changed_greeter_keeps_its_count_and_runs_its_new_code() {
    let dir = folder_with(&[("greeter", "greeter.wasm"), ("mover", "mover.wasm")]);
    let mut app = watched(&dir);
    load_clean(&mut app);
    assert_eq!(join(&mut app, "Ada"), ("Welcome, Ada!".into(), 1));
    assert_eq!(join(&mut app, "Bo"), ("Welcome, Bo!".into(), 2));
    let entities = testing_entities(&mut app, "greeter");

    put(&dir, "greeter.wasm", &greeter_next());
    let updated = until::<ModUpdated>(&mut app, WAIT, |_, seen| !seen.is_empty());
    assert_eq!(
        (updated[0].id.as_str(), updated[0].version.as_str()),
        ("greeter", "0.2.0")
    );
    let greeter = info(&app, "greeter");
    assert_eq!(
        (greeter.status, greeter.version.as_str(), greeter.faults),
        (ModStatus::Running, "0.2.0", 0)
    );
    // Its count came across; its new code greets.
    assert_eq!(join(&mut app, "Cy"), ("Welcome back, Cy!".into(), 3));
    assert_eq!(
        testing_entities(&mut app, "greeter"),
        entities,
        "its entities stay"
    );
    let order: Vec<String> = app
        .world()
        .resource::<ModRegistry>()
        .mods()
        .map(|m| m.id.clone())
        .collect();
    assert_eq!(
        order,
        ["greeter", "mover"],
        "the new version keeps its place"
    );
}

/// The entities a mod owns.
fn testing_entities(app: &mut App, owner: &str) -> Vec<Entity> {
    let world = app.world_mut();
    let mut out: Vec<Entity> = world
        .query::<(Entity, &SpawnedByMod)>()
        .iter(world)
        .filter(|(_, s)| &*s.0 == owner)
        .map(|(e, _)| e)
        .collect();
    out.sort();
    out
}

#[test]
fn a_broken_update_leaves_the_running_version_as_it_was() {
    let dir = folder_with(&[("greeter", "greeter.wasm")]);
    let mut app = watched(&dir);
    load_clean(&mut app);
    assert_eq!(join(&mut app, "Ada"), ("Welcome, Ada!".into(), 1));

    // Not a component at all, then another mod that cannot start with the
    // greeter's config: each refused, the greeter going on as it was.
    let noise: Vec<u8> = (0..50_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for (bytes, hook, why) in [
        (noise, Hook::Load, "not a WebAssembly file"),
        (
            as_built_for(mod_bytes("greeter"), "0.3.0"),
            Hook::Load,
            "built for bevy-wasm:mods@0.3.0",
        ),
        (mod_bytes("hostile"), Hook::Init, ""),
    ] {
        put(&dir, "greeter.wasm", &bytes);
        let refused = until::<ModUpdateRefused>(&mut app, WAIT, |_, seen| !seen.is_empty());
        assert_eq!(refused[0].id, "greeter");
        assert_eq!(refused[0].fault.hook, hook, "{}", refused[0].fault);
        assert!(
            refused[0].fault.message.contains(why),
            "{}",
            refused[0].fault
        );
        let greeter = info(&app, "greeter");
        assert_eq!(
            (greeter.status, greeter.version.as_str(), greeter.faults),
            (ModStatus::Running, "0.1.0", 0),
            "{greeter:?}"
        );
        assert_eq!(greeter.update_refused.as_ref(), Some(&refused[0].fault));
    }
    assert_eq!(join(&mut app, "Bo"), ("Welcome, Bo!".into(), 2));

    // A good version after the bad ones runs, with the count.
    put(&dir, "greeter.wasm", &greeter_next());
    until::<ModUpdated>(&mut app, WAIT, |_, seen| !seen.is_empty());
    assert!(info(&app, "greeter").update_refused.is_none());
    assert_eq!(join(&mut app, "Cy"), ("Welcome back, Cy!".into(), 3));
}

#[test]
fn an_update_whose_restore_fails_or_whose_init_loops_is_refused() {
    #[derive(serde::Serialize)]
    struct Config {
        attack: &'static str,
        name: &'static str,
    }
    let config = |attack, name| rmp_serde::to_vec_named(&Config { attack, name }).unwrap();
    let dir = folder_with(&[("hostile", "a-restore.wasm"), ("hostile", "b-loop.wasm")]);
    let mut app = app_with(
        ModPlugin::new()
            .with_mods_dir(&dir)
            .with_limits(ModLimits {
                hard_call_limit: Duration::from_millis(500),
                soft_call_budget: Duration::from_millis(500),
                ..ModLimits::default()
            })
            .with_config("a-restore", config("fail-restore", "restore"))
            .with_config("b-loop", config("loop-in-late-init", "loop")),
    );
    load_clean(&mut app);
    // A second of game time: a start from now on is late.
    frames(&mut app, 60);
    let ticks = info(&app, "a-restore").ticks;

    // The same bytes written again are a new version all the same.
    for file in ["a-restore.wasm", "b-loop.wasm"] {
        put(&dir, file, &mod_bytes("hostile"));
    }
    let refused = until::<ModUpdateRefused>(&mut app, WAIT, |_, seen| seen.len() == 2);
    for (id, kind, hook) in [
        ("a-restore", FaultKind::ModError, Hook::Restore),
        ("b-loop", FaultKind::Timeout, Hook::Init),
    ] {
        let r = refused.iter().find(|r| r.id == id).expect("refused");
        assert_eq!((r.fault.kind, r.fault.hook), (kind, hook), "{}", r.fault);
        let m = info(&app, id);
        assert_eq!((m.status, m.faults), (ModStatus::Running, 0), "{m:?}");
    }
    frames(&mut app, 3);
    assert!(info(&app, "a-restore").ticks > ticks, "it goes on ticking");
}

#[test]
fn a_removed_mod_is_unloaded_and_its_entities_follow_the_setting() {
    for despawn in [true, false] {
        let dir = folder_with(&[("greeter", "greeter.wasm"), ("mover", "mover.wasm")]);
        let mut app = app_with(
            ModPlugin::new()
                .with_mods_dir(&dir)
                .with_limits(relaxed_limits())
                .with_despawn_on_remove(despawn)
                .with_config("mover", mover_config(5, false, "mover")),
        );
        load_clean(&mut app);
        frames(&mut app, 5);
        assert_eq!(testing_entities(&mut app, "mover").len(), 5);

        std::fs::remove_file(dir.join("mover.wasm")).unwrap();
        let gone = until::<ModUnloaded>(&mut app, WAIT, |_, seen| !seen.is_empty());
        assert_eq!(gone[0].id, "mover");
        assert!(app.world().resource::<ModRegistry>().get("mover").is_none());
        let left = testing_entities(&mut app, "mover").len();
        assert_eq!(
            (gone[0].despawned, left),
            if despawn { (5, 0) } else { (0, 5) }
        );
        frames(&mut app, 3);
        let greeter = info(&app, "greeter");
        assert_eq!((greeter.status, greeter.faults), (ModStatus::Running, 0));
        // The same file put back is a new mod again.
        put(&dir, "mover.wasm", &mod_bytes("mover"));
        until::<ModLoaded>(&mut app, WAIT, |_, seen| {
            seen.iter().any(|l| l.id == "mover")
        });
    }
}

#[test]
fn a_half_written_file_is_not_loaded() {
    let dir = folder_with(&[("mover", "mover.wasm")]);
    let mut app = watched(&dir);
    load_clean(&mut app);
    let bytes = mod_bytes("greeter");
    let (first, rest) = bytes.split_at(bytes.len() / 2);

    // Written in two goes, a little apart, as a slow copy does.
    let file = dir.join("greeter.wasm");
    std::fs::write(&file, first).unwrap();
    for _ in 0..10 {
        app.update();
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut out = std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap();
    std::io::Write::write_all(&mut out, rest).unwrap();
    drop(out);
    let failed = until::<ModFailed>(&mut app, WAIT, |app, _| {
        app.world()
            .resource::<ModRegistry>()
            .get("greeter")
            .is_some_and(|g| g.status == ModStatus::Running)
    });
    assert!(failed.is_empty(), "{failed:?}");

    // A file left half written is refused by name; completed, it loads.
    let file = dir.join("late.wasm");
    std::fs::write(&file, first).unwrap();
    let failed = until::<ModFailed>(&mut app, WAIT, |_, seen| !seen.is_empty());
    assert_eq!(failed[0].id, "late");
    assert_eq!(failed[0].fault.hook, Hook::Load, "{}", failed[0].fault);
    put(&dir, "late.wasm", &mod_bytes("idle"));
    until::<ModLoaded>(&mut app, WAIT, |_, seen| {
        seen.iter().any(|l| l.id == "late")
    });
    assert_eq!(info(&app, "late").status, ModStatus::Running);
}

#[test]
fn reload_mod_reads_the_file_again() {
    let dir = folder_with(&[("greeter", "greeter.wasm")]);
    let mut app = app_with(
        ModPlugin::new()
            .with_mods_dir(&dir)
            .with_limits(relaxed_limits())
            .with_watching(false),
    );
    load_clean(&mut app);
    assert_eq!(join(&mut app, "Ada"), ("Welcome, Ada!".into(), 1));
    put(&dir, "greeter.wasm", &greeter_next());
    frames(&mut app, 30);
    assert_eq!(
        info(&app, "greeter").version,
        "0.1.0",
        "the folder is not watched"
    );

    app.world_mut().write_message(ReloadMod {
        id: "greeter".into(),
    });
    until::<ModUpdated>(&mut app, WAIT, |_, seen| !seen.is_empty());
    assert_eq!(join(&mut app, "Bo"), ("Welcome back, Bo!".into(), 2));
}

#[test]
fn a_mod_turned_off_stops_where_it_is_and_goes_on_when_turned_on() {
    let dir = folder_with(&[("mover", "mover.wasm"), ("greeter", "greeter.wasm")]);
    let mut app = app_with(
        ModPlugin::new()
            .with_mods_dir(&dir)
            .with_limits(relaxed_limits())
            .with_watching(false),
    );
    load_clean(&mut app);
    frames(&mut app, 5);
    let ticked = info(&app, "mover").ticks;
    assert_mover_exact(app.world_mut(), "mover", 10, ticked);

    app.world_mut().write_message(SetModEnabled {
        id: "mover".into(),
        enabled: false,
    });
    frames(&mut app, 20);
    let off = info(&app, "mover");
    assert_eq!((off.status, off.enabled), (ModStatus::Disabled, false));
    // A tick in flight when it was turned off may still land.
    let stopped_at = off.ticks;
    assert!(stopped_at <= ticked + 1, "{stopped_at} ticks");
    assert_mover_exact(app.world_mut(), "mover", 10, stopped_at);
    // Its neighbour goes on.
    assert_eq!(join(&mut app, "Ada"), ("Welcome, Ada!".into(), 1));

    app.world_mut().write_message(SetModEnabled {
        id: "mover".into(),
        enabled: true,
    });
    frames(&mut app, 10);
    let on = info(&app, "mover");
    assert_eq!(on.status, ModStatus::Running);
    assert!(on.ticks > stopped_at + 5);
    // The same instance, so the same state: its entities go on from where
    // they stood, none spawned twice.
    assert_mover_exact(app.world_mut(), "mover", 10, on.ticks);
}
