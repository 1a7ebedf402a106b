//! The mod panel without a window: a row per mod kept to the registry
//! every frame, and its buttons turning a mod off and on (what a click
//! does: the button's `Interaction` becomes `Pressed`); F5 and F9 saving
//! and loading the game, with a notice on screen.

use std::time::Duration;

use bevy::prelude::*;
use bevy_wasm_mods::prelude::*;
use demo_game::window::{
    NoticeText, PanelAction, PanelButton, PanelPlugin, Quicksave, keys, spawn_notices, spawn_panel,
};

fn panel_text(app: &mut App) -> String {
    let world = app.world_mut();
    let mut lines: Vec<String> = world
        .query::<&Text>()
        .iter(world)
        .map(|t| t.0.clone())
        .collect();
    lines.sort();
    lines.join("\n")
}

fn notice_text(app: &mut App) -> String {
    let world = app.world_mut();
    world
        .query_filtered::<&Text, With<NoticeText>>()
        .iter(world)
        .map(|t| t.0.clone())
        .collect()
}

fn press(app: &mut App, id: &str, action: PanelAction) {
    let world = app.world_mut();
    let button = world
        .query::<(Entity, &PanelButton)>()
        .iter(world)
        .find(|(_, b)| b.id == id && b.action == action)
        .map(|(e, _)| e)
        .unwrap_or_else(|| panic!("a {action:?} button for {id}"));
    world.entity_mut(button).insert(Interaction::Pressed);
}

/// The headless demo with the panel open and its notices, running `mods`
/// (lone files in a folder of their own, which it returns) once loaded.
fn panel_app(mods: &[&str]) -> (tempfile::TempDir, App) {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let scratch = tempfile::Builder::new()
        .prefix("panel-test-")
        .tempdir()
        .unwrap();
    let dir = scratch.path();
    // Their components as lone files (the storm is a package in
    // assets/mods).
    for m in mods {
        std::fs::copy(
            repo.join(format!("target/mods/wasm32-wasip2/release/{m}.wasm")),
            dir.join(format!("{m}.wasm")),
        )
        .expect("the example mods are built (bash mods/build.sh)");
    }
    let plugin = demo_game::mod_plugin(dir, None).with_watching(false);
    let mut app = demo_game::headless_app(plugin);
    app.add_plugins(PanelPlugin);
    app.world_mut()
        .run_system_cached(|mut commands: Commands| {
            spawn_panel(&mut commands, true);
            spawn_notices(&mut commands);
        })
        .unwrap();
    demo_game::load_mods(&mut app, Duration::from_secs(600)).unwrap();
    (scratch, app)
}

#[test]
fn the_panel_shows_each_mod_and_turns_it_off_and_on() {
    let (_scratch, mut app) = panel_app(&["mover", "storm"]);
    for _ in 0..3 {
        app.update();
    }
    // Each mod that loaded has a notice on screen.
    let notices = notice_text(&mut app);
    assert!(notices.contains("mod loaded: mover 0.1.0"), "{notices}");
    assert!(notices.contains("mod loaded: storm 0.1.0"), "{notices}");
    let shown = panel_text(&mut app);
    assert!(shown.contains("mover 0.1.0  [Running]"), "{shown}");
    assert!(shown.contains("storm 0.1.0  [Running]"), "{shown}");
    assert!(shown.contains("| 10 entities"), "{shown}");

    // A click on the mover's switch: off, within a frame or two.
    press(&mut app, "mover", PanelAction::Toggle);
    app.update();
    app.update();
    let mover = app
        .world()
        .resource::<ModRegistry>()
        .get("mover")
        .unwrap()
        .clone();
    assert_eq!(mover.status, ModStatus::Disabled);
    let shown = panel_text(&mut app);
    assert!(shown.contains("mover 0.1.0  [Disabled]"), "{shown}");
    assert!(shown.contains("Turn on"), "{shown}");
    let ticks = mover.ticks;
    for _ in 0..10 {
        app.update();
    }
    assert!(
        app.world()
            .resource::<ModRegistry>()
            .get("mover")
            .unwrap()
            .ticks
            <= ticks + 1
    );

    // And on again.
    app.world_mut()
        .run_system_cached(|mut q: Query<&mut Interaction>| {
            for mut i in &mut q {
                *i = Interaction::None;
            }
        })
        .unwrap();
    press(&mut app, "mover", PanelAction::Toggle);
    for _ in 0..5 {
        app.update();
    }
    let mover = app
        .world()
        .resource::<ModRegistry>()
        .get("mover")
        .unwrap()
        .clone();
    assert_eq!(mover.status, ModStatus::Running);
    assert!(mover.ticks > ticks + 2);
    assert!(panel_text(&mut app).contains("mover 0.1.0  [Running]"));

    // Reload from the panel: the file is read again and swapped in with
    // the mod's state kept, and a notice says so.
    press(&mut app, "storm", PanelAction::Reload);
    let started = std::time::Instant::now();
    while !notice_text(&mut app).contains("mod updated, state kept: storm 0.1.0") {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{}",
            notice_text(&mut app)
        );
        std::thread::sleep(Duration::from_millis(5));
        app.update();
    }
    assert_eq!(
        app.world()
            .resource::<ModRegistry>()
            .get("storm")
            .unwrap()
            .status,
        ModStatus::Running
    );
}

#[test]
fn f5_saves_the_game_and_f9_loads_it_back() {
    let (scratch, mut app) = panel_app(&["mover"]);
    let dir = scratch.path();
    app.init_resource::<ButtonInput<KeyCode>>()
        .insert_resource(Quicksave(dir.join("saves/quick.bwsave")))
        .add_systems(Update, keys);
    let key = |app: &mut App, key: KeyCode| {
        app.world_mut()
            .resource_mut::<ButtonInput<KeyCode>>()
            .press(key);
        app.update();
        let mut input = app.world_mut().resource_mut::<ButtonInput<KeyCode>>();
        input.release(key);
        input.clear();
    };
    for _ in 0..10 {
        app.update();
    }
    key(&mut app, KeyCode::F5);
    let saved = bevy_wasm_mods::moddable_checksum(app.world_mut());
    assert!(dir.join("saves/quick.bwsave").is_file());
    for _ in 0..20 {
        app.update();
    }
    assert_ne!(bevy_wasm_mods::moddable_checksum(app.world_mut()), saved);
    key(&mut app, KeyCode::F9);
    assert_eq!(
        bevy_wasm_mods::moddable_checksum(app.world_mut()),
        saved,
        "F9 brings back the world F5 saved"
    );
    app.update();
    let notices = notice_text(&mut app);
    assert!(notices.contains("game saved: frame 11"), "{notices}");
    assert!(notices.contains("game loaded: frame 11"), "{notices}");
}
