//! The demo game in a window: everything with a `Position` drawn, labels,
//! the score, notices when mods come, change or fault, and the mod panel
//! (Tab or F1) to turn mods off and on and reload them. Only built with
//! the `window` feature.

mod draw;
mod panel;
mod shot;

use std::path::PathBuf;

use bevy::prelude::*;
use bevy::window::WindowResolution;
use bevy::winit::WinitSettings;

use bevy_wasm_mods::prelude::*;

use crate::arena::{ARENA, ArenaPlugin, PlayerInput, Score, Steering};
use crate::{DemoPlugin, KeyPressed};
use bevy_wasm_mods::replay::GameInput;

use draw::*;
pub use panel::*;
use shot::*;

/// How the windowed game runs.
#[derive(Resource, Clone, Debug, Default)]
pub struct WindowOptions {
    /// Save a screenshot here, then quit.
    pub screenshot: Option<PathBuf>,
    /// Frames to run once the mods are loaded before the screenshot (at
    /// least 30: render pipelines compile in the background first).
    pub screenshot_after: u64,
    /// Whether the mod panel is open at the start.
    pub panel_open: bool,
}

/// The arena's background.
pub const BACKGROUND: Color = Color::srgb(0.04, 0.05, 0.09);

/// The demo game in a window of the arena's size.
pub fn windowed_app(plugin: ModPlugin, options: WindowOptions) -> App {
    let mut app = App::new();
    let screenshot = options.screenshot.is_some();
    if screenshot {
        // Game time advances 1/60 s a frame however long a frame takes, so
        // what is on screen when the screenshot is taken is where the game
        // says it is, and the same run after run.
        app.insert_resource(bevy::time::TimeUpdateStrategy::ManualDuration(
            std::time::Duration::from_secs_f64(1.0 / 60.0),
        ));
    }
    app.add_plugins((
        DefaultPlugins
            .set(WindowPlugin {
                primary_window: Some(Window {
                    title: "bevy-wasm-mods demo".into(),
                    resolution: WindowResolution::new(ARENA.x as u32, ARENA.y as u32),
                    resizable: false,
                    ..default()
                }),
                ..default()
            })
            // The binary logs with its own subscriber.
            .disable::<bevy::log::LogPlugin>(),
        plugin,
        DemoPlugin,
        ArenaPlugin,
    ))
    // Under Xvfb the window never has focus, and an unfocused window is
    // slowed: a screenshot run goes at full speed.
    .insert_resource(if screenshot {
        WinitSettings::continuous()
    } else {
        WinitSettings::game()
    })
    .insert_resource(ClearColor(BACKGROUND))
    .insert_resource(options)
    .init_resource::<Quicksave>()
    .add_plugins(PanelPlugin)
    .add_systems(Startup, setup)
    .add_systems(
        Update,
        (
            crate::greet_players.run_if(bevy_wasm_mods::mods_ready),
            crate::print_lifecycle,
            report_replay,
            keys,
            score_text,
            screenshot_when_due,
        ),
    )
    .add_systems(
        PostUpdate,
        (attach_visuals, draw, labels)
            .chain()
            .before(bevy::transform::TransformSystems::Propagate),
    );
    app
}

#[derive(Component)]
pub(super) struct ScoreText;

pub(super) fn setup(
    mut commands: Commands,
    mut images: ResMut<Assets<Image>>,
    options: Res<WindowOptions>,
) {
    commands.spawn(Camera2d);
    commands.insert_resource(Shapes {
        circle: images.add(shape_image(|x, y| x * x + y * y <= 1.0)),
        ring: images.add(shape_image(|x, y| (0.55..=1.0).contains(&(x * x + y * y)))),
        // Pointing up: apex at the top, base at the bottom.
        triangle: images.add(shape_image(|x, y| y >= -1.0 && x.abs() <= (1.0 - y) / 2.0)),
    });
    commands.spawn((
        ScoreText,
        Text::new(""),
        TextFont::from_font_size(16.0),
        Node {
            position_type: PositionType::Absolute,
            left: px(8),
            top: px(6),
            ..default()
        },
    ));
    spawn_notices(&mut commands);
    spawn_panel(&mut commands, options.panel_open);
}

/// Where F5 saves the game and F9 loads it from.
#[derive(Resource, Clone, Debug)]
pub struct Quicksave(pub std::path::PathBuf);

impl Default for Quicksave {
    fn default() -> Self {
        Quicksave(crate::QUICKSAVE.into())
    }
}

/// The player's keys: the arrows steer the ship, Tab or F1 opens the
/// panel, F5 saves the game and F9 loads it; each key pressed is a
/// `KeyPressed` for mods.
pub fn keys(
    input: Res<ButtonInput<KeyCode>>,
    mut steering: ResMut<Steering>,
    mut pressed: MessageWriter<KeyPressed>,
    mut panel: Query<&mut Visibility, With<PanelRoot>>,
    mut log: ResMut<GameInput>,
    mut saves: MessageWriter<bevy_wasm_mods::save::SaveGame>,
    mut loads: MessageWriter<bevy_wasm_mods::save::LoadGame>,
    quicksave: Res<Quicksave>,
) {
    // A replay plays the recorded player (see `arena`); the panel is
    // still the player's to open.
    let playing = !log.replaying();
    let axis =
        |neg: KeyCode, pos: KeyCode| (input.pressed(pos) as i32 - input.pressed(neg) as i32) as f32;
    let dir = Vec2::new(
        axis(KeyCode::ArrowLeft, KeyCode::ArrowRight),
        axis(KeyCode::ArrowDown, KeyCode::ArrowUp),
    );
    if playing
        && (dir != Vec2::ZERO || matches!(*steering, Steering::Player(_)))
        && *steering != Steering::Player(dir)
    {
        *steering = Steering::Player(dir);
        PlayerInput::Steer(dir.x, dir.y).record(&mut log);
    }
    for key in input.get_just_pressed() {
        if playing {
            let key = format!("{key:?}");
            PlayerInput::Press(key.clone()).record(&mut log);
            pressed.write(KeyPressed { key });
        }
        match key {
            KeyCode::F5 => crate::save_to(&quicksave.0, &mut saves),
            KeyCode::F9 => {
                loads.write(bevy_wasm_mods::save::LoadGame {
                    path: quicksave.0.clone(),
                });
            }
            _ => {}
        }
        if matches!(key, KeyCode::Tab | KeyCode::F1) {
            for mut v in &mut panel {
                *v = match *v {
                    Visibility::Hidden => Visibility::Inherited,
                    _ => Visibility::Hidden,
                };
            }
        }
    }
}

pub(super) fn score_text(
    score: Res<Score>,
    registry: Res<ModRegistry>,
    mut text: Query<&mut Text, With<ScoreText>>,
) {
    let running = registry
        .mods()
        .filter(|m| m.status == ModStatus::Running)
        .count();
    let want = format!(
        "score {}   asteroids hit {}   mods running {running}/{}   (arrows: steer, Tab: mods)",
        score.points,
        score.hits,
        registry.mods().len()
    );
    for mut t in &mut text {
        if t.0 != want {
            t.0 = want.clone();
        }
    }
}

/// Says where a replay (`--replay`) went another way than its recording.
fn report_replay(mut diverged: MessageReader<bevy_wasm_mods::replay::ReplayDiverged>) {
    for d in diverged.read() {
        println!("replay: {}", bevy_wasm_mods::escape(&d.0.to_string()));
    }
}
