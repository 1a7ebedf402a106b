//! Recordings and replays inside a game: a game records its player's input
//! beside what enters the mods (`GameInput`), a replay in a fresh app plays
//! it back and ends in the same world, frame for frame; a game that does
//! not play the recorded input back is told the first frame its world went
//! another way. Mods know entities by ids of their own (`ModId`), so a
//! game whose own entities differ (a window's) replays the same.

use std::path::Path;

use bevy::prelude::*;
use bevy_wasm_mods::moddable_checksum;
use bevy_wasm_mods::prelude::*;
use bevy_wasm_mods::replay::{GameInput, Recording, ReplayDiverged, ReplayStatus};
use demo_game::{Nameplate, PlayerJoined, Position};
use mod_tests::*;

/// Frames recorded after the mods began.
const FRAMES: usize = 60;

/// Whether the game plays recorded input back (a game that forgets to
/// is the second test's).
#[derive(Resource, Clone, Copy)]
struct PlaysBack(bool);

/// The game's player: on frames 3, 7 and 20 someone joins, which the
/// game shows with an entity of its own and tells the mods. Recorded as
/// the game's input; in a replay, taken from the recording.
fn player(
    mut frame: Local<u32>,
    plays_back: Res<PlaysBack>,
    mut input: ResMut<GameInput>,
    mut joined: MessageWriter<PlayerJoined>,
    mut commands: Commands,
) {
    let mut join = |name: String| {
        commands.spawn((
            Position {
                x: *frame as f32,
                y: name.len() as f32,
            },
            Nameplate {
                text: name.clone(),
                tags: vec!["player".into()],
            },
        ));
        joined.write(PlayerJoined { name, level: 1 });
    };
    if input.replaying() {
        if plays_back.0 {
            let names: Vec<String> = input
                .replayed()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect();
            names.into_iter().for_each(&mut join);
        }
    } else if [3, 7, 20].contains(&*frame) {
        let name = format!("player-{}", *frame);
        input.push(name.clone().into_bytes());
        join(name);
    }
    *frame += 1;
}

/// A component of the game's own, not moddable (as a window's label).
#[derive(Component)]
struct Labelled;

/// Entities of the game's own, none of them moddable: one or two more
/// every frame, so every later entity sits elsewhere in Bevy's world; and
/// a component of its own on every other moddable entity, which moves
/// them to other tables, so Bevy lists them in another order.
fn clutter(
    mut frame: Local<u32>,
    mut commands: Commands,
    moddable: Query<(Entity, &ModId), (With<Position>, Without<Labelled>)>,
) {
    *frame += 1;
    for _ in 0..1 + *frame % 2 {
        commands.spawn(Transform::default());
    }
    for (e, id) in &moddable {
        if id.get() % 2 == 0 {
            commands.entity(e).insert(Labelled);
        }
    }
}

fn game(dir: &Path, plugin: ModPlugin, plays_back: bool) -> App {
    let mut plugin = plugin.with_mods_dir(dir).with_limits(relaxed_limits());
    plugin.settings.checksum_every = 5;
    let mut app = app_with(plugin);
    app.insert_resource(PlaysBack(plays_back))
        .add_systems(Update, player.run_if(mods_ready));
    app
}

/// The greetings the mods sent in `app` over `frames` frames, with the
/// world's checksum after them.
fn play(app: &mut App, frames: usize) -> (Vec<(String, u32)>, u64) {
    load_clean(app);
    // The frame the mods began on ran in `load`.
    let events = frames_collecting::<ModEvent>(app, frames);
    (greetings(&events), moddable_checksum(app.world_mut()))
}

#[test]
fn a_recording_with_the_players_input_replays_to_the_same_world() {
    let dir = folder_with(&[("mover", "mover.wasm"), ("greeter", "greeter.wasm")]);
    let scratch = mods_folder();
    let file = scratch.join("session.bwrec");

    let mut recorded = game(&dir, ModPlugin::new().with_recording(&file), true);
    let (greeted, checksum) = play(&mut recorded, FRAMES);
    assert_eq!(greeted.len(), 3, "{greeted:?}");
    drop(recorded);

    let recording = Recording::read(&file).unwrap();
    assert_eq!(recording.frames.len(), FRAMES + 1);
    let inputs: Vec<usize> = (0..recording.frames.len())
        .filter(|n| !recording.frames[*n].input.is_empty())
        .collect();
    assert_eq!(inputs, [3, 7, 20], "the player's input, on its frames");
    let names: Vec<&str> = recording
        .header
        .mods
        .iter()
        .map(|m| m.id.as_str())
        .collect();
    assert_eq!(names, ["greeter", "mover"]);

    // The replaying game also has entities and components of its own that
    // mods do not see (as a window has its camera and labels): every
    // entity the mods know has another Bevy `Entity` than in the recorded
    // run and sits in other tables, and is the same to the mods.
    let mut replayed = game(&dir, ModPlugin::new().with_replay(&file), true);
    replayed.add_systems(Update, clutter);
    let (greeted_again, checksum_again) = play(&mut replayed, FRAMES);
    let status = replayed.world().resource::<ReplayStatus>();
    assert_eq!(status.diverged, None);
    assert!(
        status.finished && status.frame == FRAMES as u64 + 1,
        "{status:?}"
    );
    assert!(status.mods_differ.is_empty(), "{status:?}");
    assert_eq!(greeted_again, greeted);
    assert_eq!(checksum_again, checksum);
}

#[test]
fn a_game_that_does_not_play_its_input_back_is_told_where_it_diverged() {
    let dir = folder_with(&[("greeter", "greeter.wasm")]);
    let scratch = mods_folder();
    let file = scratch.join("session.bwrec");
    let mut recorded = game(&dir, ModPlugin::new().with_recording(&file), true);
    play(&mut recorded, 30);
    drop(recorded);

    let mut replayed = game(&dir, ModPlugin::new().with_replay(&file), false);
    load_clean(&mut replayed);
    let diverged = frames_collecting::<ReplayDiverged>(&mut replayed, 30);
    assert_eq!(diverged.len(), 1, "reported once: {diverged:?}");
    let d = &diverged[0].0;
    // The player joined on frame 3; the mods hear of it on frame 4, where
    // the game's messages differ (the mods were given the recorded ones,
    // so they did the same), and the checksum after it shows the world
    // without the player.
    assert_eq!(d.frame, 4, "{d}");
    assert!(d.mods.is_empty(), "{d}");
    assert!(
        d.differences
            .iter()
            .any(|x| x.starts_with("the game sent the mods other messages")),
        "{d}"
    );
    assert!(
        d.differences
            .iter()
            .any(|x| x.starts_with("the world's checksum")),
        "{d}"
    );
    assert_eq!(
        replayed
            .world()
            .resource::<ReplayStatus>()
            .diverged
            .as_ref(),
        Some(d)
    );
}

#[test]
fn a_replay_with_other_grants_says_so_from_the_start() {
    let dir = folder_with(&[("greeter", "greeter.wasm")]);
    let scratch = mods_folder();
    let file = scratch.join("session.bwrec");
    let mut recorded = game(&dir, ModPlugin::new().with_recording(&file), true);
    play(&mut recorded, 3);
    drop(recorded);

    // The player of the replaying machine grants the greeter more.
    std::fs::write(
        dir.join(bevy_wasm_mods::GRANTS_FILE),
        "[greeter]\nmodify-any-entity = true\n",
    )
    .unwrap();
    let mut replayed = game(&dir, ModPlugin::new().with_replay(&file), true);
    play(&mut replayed, 3);
    let status = replayed.world().resource::<ReplayStatus>();
    assert!(
        status
            .mods_differ
            .iter()
            .any(|d| d.contains("other settings than the recording's")),
        "{status:?}"
    );
}

/// One frame, counted, with the greetings it brought.
fn step(app: &mut App, frame: &mut usize, greeted: &mut Vec<(String, u32)>) {
    app.update();
    *frame += 1;
    greeted.extend(greetings(&drain::<ModEvent>(app)));
}

/// Frames until a message `M` comes (the folder's change noticed and
/// landed), at most five minutes.
fn step_until<M: Message + Clone>(
    app: &mut App,
    frame: &mut usize,
    greeted: &mut Vec<(String, u32)>,
) {
    let started = std::time::Instant::now();
    drain::<M>(app);
    loop {
        step(app, frame, greeted);
        if !drain::<M>(app).is_empty() {
            return;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(300));
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// Frames on to 600, a player joining at 300 (the game's own input, sent
/// again in a replay).
fn on_to_600(app: &mut App, frame: &mut usize, greeted: &mut Vec<(String, u32)>) {
    while *frame < 600 {
        if *frame == 300 {
            app.world_mut().write_message(PlayerJoined {
                name: "late".into(),
                level: 1,
            });
        }
        step(app, frame, greeted);
    }
}

#[test]
fn a_session_with_mods_updated_and_added_live_replays_frame_for_frame() {
    let mods = [("mover", "mover.wasm"), ("greeter", "greeter.wasm")];
    let dir = folder_with(&mods);
    let scratch = mods_folder();
    let file = scratch.join("session.bwrec");

    // 600 frames recorded while the player updates the greeter and drops
    // in a second mover; someone joins after the update.
    let mut app = game(&dir, ModPlugin::new().with_recording(&file), true);
    load_clean(&mut app);
    let (mut frame, mut greeted) = (0, Vec::new());
    for _ in 0..50 {
        step(&mut app, &mut frame, &mut greeted);
    }
    put(&dir, "greeter.wasm", &greeter_next());
    step_until::<bevy_wasm_mods::ModUpdated>(&mut app, &mut frame, &mut greeted);
    put(&dir, "mover2.wasm", &mod_bytes("mover"));
    step_until::<bevy_wasm_mods::ModLoaded>(&mut app, &mut frame, &mut greeted);
    assert!(frame < 300, "the changes took {frame} frames");
    on_to_600(&mut app, &mut frame, &mut greeted);
    assert!(
        greeted
            .iter()
            .any(|(text, _)| text == "Welcome back, late!"),
        "{greeted:?}"
    );
    let checksum = moddable_checksum(app.world_mut());
    drop(app);

    let recording = Recording::read(&file).unwrap();
    let changed: Vec<(usize, &str)> = recording
        .frames
        .iter()
        .enumerate()
        .flat_map(|(n, f)| f.files.iter().map(move |x| (n, x.id.as_str())))
        .collect();
    assert_eq!(
        changed.iter().map(|(_, id)| *id).collect::<Vec<_>>(),
        ["greeter", "mover2"],
        "{changed:?}"
    );

    // Replayed in the folder as it was at the start: the recording brings
    // the new files in, each at the frame it landed in the recorded run.
    // The game sends what it sent then (its own part of the replay).
    let original = folder_with(&mods);
    let mut replayed = game(&original, ModPlugin::new().with_replay(&file), true);
    load_clean(&mut replayed);
    let (mut frame, mut greeted_again) = (0, Vec::new());
    on_to_600(&mut replayed, &mut frame, &mut greeted_again);
    let checksum_again = moddable_checksum(replayed.world_mut());
    let status = replayed.world().resource::<ReplayStatus>();
    assert_eq!(status.diverged, None);
    assert!(status.finished, "{status:?}");
    assert_eq!(greeted_again, greeted);
    assert_eq!(checksum_again, checksum);
    let m = info(&replayed, "greeter");
    assert_eq!(m.version, "0.2.0");
    assert_eq!(info(&replayed, "mover2").status, ModStatus::Running);
}
