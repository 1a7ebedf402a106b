//! Saved games that keep the mods: a game saved mid-play and loaded in a
//! fresh app goes on to the same world as one that never stopped; a file
//! that cannot be loaded changes nothing; a mod that cannot restore its
//! state starts afresh while the others load.

use std::path::{Path, PathBuf};

use bevy::prelude::*;
use bevy_wasm_mods::moddable_checksum;
use bevy_wasm_mods::prelude::*;
use bevy_wasm_mods::save::{GameLoaded, GameSaved, LoadGame, SaveGame, SaveReport, SavedGame};
use demo_game::{Nameplate, PlayerJoined, Position};
use mod_tests::*;

/// The game's own marker on its players: not moddable, saved.
#[derive(Component, Reflect, Default)]
struct Player;

/// The game's frame count, for players joining: saved.
#[derive(Resource, Reflect, Default)]
struct Joins {
    frame: u32,
}

/// A player joins every 15 frames (the frames since the mods began), with
/// an entity of the game's own that mods see, and tells the mods: at
/// frame 30, where the game is saved, a message is on its way to them.
fn join(mut joins: ResMut<Joins>, mut joined: MessageWriter<PlayerJoined>, mut commands: Commands) {
    let frame = joins.frame;
    joins.frame += 1;
    if frame > 0 && frame.is_multiple_of(15) {
        let name = format!("player-{frame}");
        commands.spawn((
            Player,
            Position {
                x: frame as f32,
                y: 1.0,
            },
            Nameplate {
                text: name.clone(),
                tags: vec!["player".into()],
            },
        ));
        joined.write(PlayerJoined { name, level: 2 });
    }
}

fn game(dir: &Path, plugin: ModPlugin) -> App {
    let mut app = app_with(plugin.with_mods_dir(dir).with_limits(relaxed_limits()));
    app.init_resource::<Joins>()
        .add_saved_resource::<Joins>()
        .add_saved_component::<Player>()
        .add_systems(Update, join.run_if(mods_ready));
    app
}

fn save(app: &mut App, path: &Path) -> SaveReport {
    app.world_mut().write_message(SaveGame {
        path: path.to_path_buf(),
    });
    app.update();
    let saved = drain::<GameSaved>(app);
    assert_eq!(saved.len(), 1, "{saved:?}");
    saved[0].result.clone().expect("the game saves")
}

fn load_into(app: &mut App, path: &Path) -> Result<SaveReport, String> {
    app.world_mut().write_message(LoadGame {
        path: path.to_path_buf(),
    });
    app.update();
    let loaded = drain::<GameLoaded>(app);
    assert_eq!(loaded.len(), 1, "{loaded:?}");
    loaded[0].result.clone()
}

/// What a player sees of the world: the checksum, the greetings the mods
/// sent, the game's players, each mod's ticks.
fn seen(app: &mut App, greeted: Vec<(String, u32)>) -> (u64, Vec<(String, u32)>, usize, Vec<u64>) {
    let world = app.world_mut();
    let players = world
        .query_filtered::<(), With<Player>>()
        .iter(world)
        .count();
    let ticks = ["greeter", "mover"].map(|m| ticks(app, m)).to_vec();
    (moddable_checksum(app.world_mut()), greeted, players, ticks)
}

/// A saved game of mover and greeter at frame 30, in `scratch`.
fn saved_at_30(dir: &Path, scratch: &Path) -> PathBuf {
    let file = scratch.join("at-30.bwsave");
    let mut app = game(dir, ModPlugin::new());
    load_clean(&mut app);
    frames(&mut app, 29);
    save(&mut app, &file);
    file
}

#[test]
fn a_game_saved_mid_play_and_loaded_in_a_fresh_app_goes_on_to_the_same_world() {
    let dir = folder_with(&[("mover", "mover.wasm"), ("greeter", "greeter.wasm")]);
    let scratch = mods_folder();
    let file = scratch.join("at-30.bwsave");

    // Straight through: 60 frames after the mods began.
    let mut straight = game(&dir, ModPlugin::new());
    load_clean(&mut straight);
    let greeted = greetings(&frames_collecting::<ModEvent>(&mut straight, 60));
    let straight = seen(&mut straight, greeted);
    assert_eq!(straight.2, 4, "players joined at 15, 30, 45 and 60");

    // Saved at the end of frame 30, going on to 60.
    let mut saving = game(&dir, ModPlugin::new());
    load_clean(&mut saving);
    let mut greeted = greetings(&frames_collecting::<ModEvent>(&mut saving, 29));
    let report = save(&mut saving, &file);
    assert_eq!(report.frame, 30);
    assert_eq!(report.mods, ["greeter", "mover"]);
    assert!(report.problems.is_empty(), "{report:?}");
    greeted.extend(greetings(&frames_collecting::<ModEvent>(&mut saving, 30)));
    assert_eq!(
        seen(&mut saving, greeted),
        straight,
        "saving changes nothing"
    );

    // A fresh app loads it when its mods begin and plays frames 31 to 60.
    let mut loaded = game(&dir, ModPlugin::new().with_load(&file));
    load_clean(&mut loaded);
    let report = drain::<GameLoaded>(&mut loaded);
    let report = report[0].result.clone().expect("the game loads");
    assert_eq!(report.frame, 30);
    assert_eq!(report.mods, ["greeter", "mover"]);
    assert!(report.problems.is_empty(), "{report:?}");
    let after = greetings(&frames_collecting::<ModEvent>(&mut loaded, 30));
    let (checksum, _, players, ticks) = seen(&mut loaded, Vec::new());
    assert_eq!(
        (checksum, players, ticks),
        (straight.0, straight.2, straight.3.clone()),
        "the loaded game ends where the straight one did"
    );
    // The greetings of frames 31 to 60: the players who joined on frame 30
    // (the message on its way when the game was saved) and on 45.
    let straight_after: Vec<(String, u32)> = straight.1[straight.1.len() - after.len()..].to_vec();
    assert_eq!(after, straight_after);
    assert!(
        after.iter().any(|(who, _)| who.contains("player-30")),
        "{after:?}"
    );
    assert_mover_exact(loaded.world_mut(), "mover", 10, straight.3[1]);
}

#[test]
fn a_saved_game_that_cannot_be_loaded_changes_nothing() {
    let dir = folder_with(&[("mover", "mover.wasm"), ("greeter", "greeter.wasm")]);
    let scratch = mods_folder();
    let good = saved_at_30(&dir, &scratch);

    let mut app = game(&dir, ModPlugin::new());
    load_clean(&mut app);
    frames(&mut app, 5);
    let checksum = moddable_checksum(app.world_mut());

    // Not a saved game at all.
    let junk = scratch.join("junk.bwsave");
    std::fs::write(&junk, b"BWMODREC and then some").unwrap();
    let e = load_into(&mut app, &junk).unwrap_err();
    assert!(
        e.contains("junk.bwsave") && e.contains("not a saved game"),
        "{e}"
    );

    // A saved game with one value that does not fit its type: refused
    // whole, naming the entity and the component.
    let mut broken = SavedGame::read(&good).unwrap();
    let (at, value) = broken
        .entities
        .iter_mut()
        .find_map(|e| {
            let id = e.id;
            e.components
                .iter_mut()
                .find(|c| c.name == "Position")
                .map(|c| (id, c))
        })
        .unwrap();
    value.value = serde_bytes::ByteBuf::from(b"\xa5hello".to_vec());
    let file = scratch.join("broken.bwsave");
    broken.write(&file).unwrap();
    let e = load_into(&mut app, &file).unwrap_err();
    assert!(
        e.contains(&format!("entity {at}: component `Position`")),
        "{e}"
    );

    // An event on its way to a mod that is not MessagePack: refused too.
    let mut bad_event = SavedGame::read(&good).unwrap();
    bad_event.mods[0]
        .inbox
        .push(bevy_wasm_mods::save::SavedEvent {
            name: "PlayerJoined".into(),
            source: None,
            payload: serde_bytes::ByteBuf::from(vec![0xc1]),
        });
    let file = scratch.join("bad-event.bwsave");
    bad_event.write(&file).unwrap();
    let e = load_into(&mut app, &file).unwrap_err();
    assert!(e.contains("a mod's inbox: event `PlayerJoined`"), "{e}");

    // Nothing changed, and the mods run on as before.
    let mut again = game(&dir, ModPlugin::new());
    load_clean(&mut again);
    frames(&mut again, 8);
    assert_eq!(
        moddable_checksum(app.world_mut()),
        moddable_checksum(again.world_mut()),
        "three refused loads are three frames like any other"
    );
    assert_ne!(checksum, moddable_checksum(app.world_mut()));
    for m in ["greeter", "mover"] {
        assert_eq!(info(&app, m).status, ModStatus::Running);
    }
}

#[test]
fn a_mod_that_cannot_restore_its_state_starts_afresh_and_the_others_load() {
    let dir = folder_with(&[("mover", "mover.wasm"), ("greeter", "greeter.wasm")]);
    let scratch = mods_folder();
    let good = saved_at_30(&dir, &scratch);
    let mut file = SavedGame::read(&good).unwrap();
    let mover = file.mods.iter_mut().find(|m| m.id == "mover").unwrap();
    // Not MessagePack: the mover's `restore` returns an error.
    mover.state = Some(serde_bytes::ByteBuf::from(vec![0xc1, 0xc1]));
    // A mod the save had that this game does not.
    file.mods.push(bevy_wasm_mods::save::SavedMod {
        id: "gone".into(),
        version: "1.0.0".into(),
        ..Default::default()
    });
    let path = scratch.join("mover-broken.bwsave");
    file.write(&path).unwrap();

    let mut app = game(&dir, ModPlugin::new());
    load_clean(&mut app);
    let report = load_into(&mut app, &path).expect("the game loads");
    assert_eq!(report.mods, ["greeter"], "{report:?}");
    assert!(
        report
            .problems
            .iter()
            .any(|p| p
                .starts_with("mod `mover` could not restore its saved state and started afresh")),
        "{report:?}"
    );
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.starts_with("mod `gone` was in the saved game and is not here")),
        "{report:?}"
    );
    frames(&mut app, 3);
    for m in ["greeter", "mover"] {
        assert_eq!(info(&app, m).status, ModStatus::Running, "{m}");
    }
    // The fresh mover spawned its ten again beside the saved ten.
    let world = app.world_mut();
    let movers = world
        .query::<&SpawnedByMod>()
        .iter(world)
        .filter(|s| &*s.0 == "mover")
        .count();
    assert_eq!(movers, 20);
}

#[test]
fn a_game_saved_by_an_older_version_of_a_mod_loads_into_the_newer_one_which_is_told() {
    let logs = captured_logs();
    let dir = folder_with(&[("mover", "mover.wasm"), ("greeter", "greeter.wasm")]);
    let scratch = mods_folder();
    let file = saved_at_30(&dir, &scratch);

    // The player updated the greeter since: version 0.2.0.
    std::fs::write(dir.join("greeter.wasm"), greeter_next()).unwrap();
    let mut app = game(&dir, ModPlugin::new().with_load(&file));
    load_clean(&mut app);
    let report = drain::<GameLoaded>(&mut app)[0]
        .result
        .clone()
        .expect("the game loads");
    assert_eq!(report.mods, ["greeter", "mover"], "{report:?}");
    assert_eq!(
        report.problems,
        [
            "mod `greeter` was saved by its version 0.1.0 and runs 0.2.0: its `restore` is given \
          the older version's state"
        ]
    );
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(
        text.lines().any(|l| l.contains("mod_id=\"greeter\"")
            && l.contains("carrying on from the state version 0.1.0 saved")),
        "the greeter's `restore` was not told the version that saved its state"
    );
    // It goes on counting from the save, where it had greeted the player
    // of frame 15: the one of frame 30 was on the way.
    let greeted = greetings(&frames_collecting::<ModEvent>(&mut app, 20));
    assert_eq!(greeted[0], ("Welcome back, player-30!".to_string(), 2));
}
