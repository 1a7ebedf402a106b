//! The demo game in a window: everything with a `Position` drawn, labels,
//! the score, notices when mods come, change or fault, and the mod panel
//! (Tab or F1) to turn mods off and on and reload them. Only built with
//! the `window` feature.

use std::collections::BTreeMap;
use std::path::PathBuf;

use bevy::asset::RenderAssetUsages;
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured, save_to_disk};
use bevy::window::WindowResolution;
use bevy::winit::WinitSettings;

use bevy_wasm_mods::prelude::*;
use bevy_wasm_mods::{SetModEnabled, SpawnedByMod};

use crate::arena::{ARENA, ArenaPlugin, Score, Steering, drawn_size};
use crate::{DemoPlugin, KeyPressed, Look, Nameplate, Position};

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
    .add_plugins(PanelPlugin)
    .add_systems(Startup, setup)
    .add_systems(
        Update,
        (
            crate::greet_players,
            crate::print_lifecycle,
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

/// Generated shape images, white on transparent, tinted by each sprite.
#[derive(Resource)]
struct Shapes {
    circle: Handle<Image>,
    ring: Handle<Image>,
    triangle: Handle<Image>,
}

/// Marks an entity the game draws.
#[derive(Component)]
struct Drawn;

/// The text entity showing an entity's `Nameplate`.
#[derive(Component)]
struct LabelText(Entity);

#[derive(Component)]
struct ScoreText;

/// The text that shows notices.
#[derive(Component)]
pub struct NoticeText;

/// The mod panel's node: its rows are made under it.
#[derive(Component)]
pub struct PanelRoot;

/// A panel button: what it does to which mod.
#[derive(Component, Clone, Debug)]
pub struct PanelButton {
    /// The mod's id.
    pub id: String,
    /// What pressing it does.
    pub action: PanelAction,
}

/// What a panel button does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PanelAction {
    /// Turns the mod off, or on again.
    Toggle,
    /// Reloads the mod from its file.
    Reload,
}

/// The mod panel's rows and buttons, kept to the registry every frame,
/// under the entity with [`PanelRoot`] (which [`spawn_panel`] makes), and
/// the notices of changes in mods' lives (in the text [`spawn_notices`]
/// makes).
pub struct PanelPlugin;

impl Plugin for PanelPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<PanelRows>()
            .init_resource::<Notices>()
            .add_systems(Update, ((panel_clicks, panel).chain(), notices));
    }
}

/// The notices' text, at the bottom left of the window.
pub fn spawn_notices(commands: &mut Commands) -> Entity {
    commands
        .spawn((
            NoticeText,
            Text::new(""),
            TextFont::from_font_size(14.0),
            TextColor(Color::srgb(1.0, 0.85, 0.4)),
            Node {
                position_type: PositionType::Absolute,
                left: px(8),
                bottom: px(6),
                ..default()
            },
        ))
        .id()
}

/// The mod panel, empty, on the right of the window.
pub fn spawn_panel(commands: &mut Commands, open: bool) -> Entity {
    commands
        .spawn((
            PanelRoot,
            Node {
                position_type: PositionType::Absolute,
                right: px(6),
                top: px(30),
                width: px(400),
                max_height: px(560),
                overflow: Overflow::clip_y(),
                flex_direction: FlexDirection::Column,
                row_gap: px(5),
                padding: UiRect::all(px(8)),
                ..default()
            },
            BackgroundColor(Color::srgba(0.0, 0.0, 0.0, 0.78)),
            if open {
                Visibility::Inherited
            } else {
                Visibility::Hidden
            },
            children![(
                Text::new("Mods  (Tab: close)"),
                TextFont::from_font_size(16.0),
            )],
        ))
        .id()
}

/// The panel's row for each mod: the row, its text and its switch's label.
#[derive(Resource, Default)]
struct PanelRows(BTreeMap<String, (Entity, Entity, Entity)>);

/// Recent changes in mods' lives, shown for a few seconds.
#[derive(Resource, Default)]
struct Notices(Vec<(f32, String)>);

const SHAPE_SIZE: u32 = 64;

/// A white shape on transparent: `inside(x, y)` with both in -1..1.
fn shape_image(inside: impl Fn(f32, f32) -> bool) -> Image {
    let mut data = Vec::with_capacity((SHAPE_SIZE * SHAPE_SIZE * 4) as usize);
    for row in 0..SHAPE_SIZE {
        for col in 0..SHAPE_SIZE {
            let x = (col as f32 + 0.5) / SHAPE_SIZE as f32 * 2.0 - 1.0;
            let y = 1.0 - (row as f32 + 0.5) / SHAPE_SIZE as f32 * 2.0;
            let a = if inside(x, y) { 255 } else { 0 };
            data.extend_from_slice(&[255, 255, 255, a]);
        }
    }
    Image::new(
        Extent3d {
            width: SHAPE_SIZE,
            height: SHAPE_SIZE,
            depth_or_array_layers: 1,
        },
        TextureDimension::D2,
        data,
        TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::RENDER_WORLD,
    )
}

fn setup(mut commands: Commands, mut images: ResMut<Assets<Image>>, options: Res<WindowOptions>) {
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

/// Draws every entity with a `Position` from now on.
fn attach_visuals(mut commands: Commands, new: Query<Entity, (With<Position>, Without<Drawn>)>) {
    for e in &new {
        commands.entity(e).insert((
            Drawn,
            Sprite::default(),
            Transform::default(),
            Visibility::default(),
        ));
    }
}

/// A mod's colour when its entity has no `Look`: the same for every entity
/// of one mod, different between mods.
fn owner_color(owner: &str) -> Color {
    let hash = bevy_wasm_mods::fnv1a(owner.as_bytes());
    Color::hsl((hash % 360) as f32, 0.75, 0.6)
}

/// A `Look`'s colour, or `None` when it names none the game knows.
fn parse_color(s: &str) -> Option<Color> {
    if let Some(hex) = s.strip_prefix('#') {
        return Srgba::hex(hex).ok().map(Color::from);
    }
    Some(match s {
        "white" => Color::WHITE,
        "red" => Color::srgb(0.95, 0.25, 0.25),
        "green" => Color::srgb(0.3, 0.85, 0.35),
        "blue" => Color::srgb(0.3, 0.45, 1.0),
        "yellow" => Color::srgb(1.0, 0.9, 0.25),
        "orange" => Color::srgb(1.0, 0.6, 0.15),
        "purple" => Color::srgb(0.7, 0.35, 0.95),
        "cyan" => Color::srgb(0.3, 0.9, 0.95),
        "grey" | "gray" => Color::srgb(0.55, 0.55, 0.6),
        _ => return None,
    })
}

/// Where and how each entity is drawn, from its `Position` and `Look`.
#[allow(clippy::type_complexity)]
fn draw(
    shapes: Res<Shapes>,
    mut drawn: Query<
        (
            &Position,
            Option<&Look>,
            Option<&SpawnedByMod>,
            &mut Sprite,
            &mut Transform,
        ),
        With<Drawn>,
    >,
) {
    for (p, look, owner, mut sprite, mut transform) in &mut drawn {
        let size = drawn_size(look);
        let color = look
            .and_then(|l| parse_color(&l.color))
            .or_else(|| owner.map(|o| owner_color(&o.0)))
            .unwrap_or(Color::WHITE);
        let image = match look.map(|l| l.shape.as_str()) {
            Some("circle") => shapes.circle.clone(),
            Some("ring") => shapes.ring.clone(),
            Some("triangle") => shapes.triangle.clone(),
            _ => Handle::default(),
        };
        if sprite.image != image {
            sprite.image = image;
        }
        sprite.color = color;
        sprite.custom_size = Some(Vec2::splat(size));
        // Finite positions only; the game's entities above mods'.
        let (x, y) = (finite(p.x), finite(p.y));
        let z = if owner.is_some() { 1.0 } else { 2.0 };
        transform.translation = Vec3::new(x, y, z);
    }
}

fn finite(x: f32) -> f32 {
    if x.is_finite() {
        x.clamp(-1e6, 1e6)
    } else {
        0.0
    }
}

/// A mod's text as shown on screen: one line, printable, at most 48
/// characters.
fn shown(text: &str) -> String {
    let mut out: String = text.chars().filter(|c| !c.is_control()).take(48).collect();
    if text.chars().count() > 48 {
        out.push_str("...");
    }
    out
}

/// A text over each entity with a `Nameplate`.
#[allow(clippy::type_complexity)]
fn labels(
    mut commands: Commands,
    plates: Query<(Entity, &Nameplate, Option<&Look>, Option<&LabelText>), With<Drawn>>,
    mut texts: Query<(&mut Text2d, &mut Transform)>,
    orphans: Query<(Entity, &LabelText), Without<Nameplate>>,
) {
    for (e, plate, look, label) in &plates {
        let offset = Vec3::new(0.0, drawn_size(look) / 2.0 + 10.0, 1.0);
        match label.and_then(|l| texts.get_mut(l.0).ok()) {
            Some((mut text, mut at)) => {
                let want = shown(&plate.text);
                if text.0 != want {
                    text.0 = want;
                }
                at.translation = offset;
            }
            None => {
                let text = commands
                    .spawn((
                        Text2d::new(shown(&plate.text)),
                        TextFont::from_font_size(13.0),
                        Transform::from_translation(offset),
                        ChildOf(e),
                    ))
                    .id();
                commands.entity(e).insert(LabelText(text));
            }
        }
    }
    // A nameplate removed: its text goes.
    for (e, label) in &orphans {
        commands.entity(label.0).despawn();
        commands.entity(e).remove::<LabelText>();
    }
}

/// The arrow keys steer the ship; every key pressed is a `KeyPressed` for
/// mods; Tab or F1 opens and closes the panel.
fn keys(
    input: Res<ButtonInput<KeyCode>>,
    mut steering: ResMut<Steering>,
    mut pressed: MessageWriter<KeyPressed>,
    mut panel: Query<&mut Visibility, With<PanelRoot>>,
) {
    let axis =
        |neg: KeyCode, pos: KeyCode| (input.pressed(pos) as i32 - input.pressed(neg) as i32) as f32;
    let dir = Vec2::new(
        axis(KeyCode::ArrowLeft, KeyCode::ArrowRight),
        axis(KeyCode::ArrowDown, KeyCode::ArrowUp),
    );
    if dir != Vec2::ZERO || matches!(*steering, Steering::Player(_)) {
        *steering = Steering::Player(dir);
    }
    for key in input.get_just_pressed() {
        pressed.write(KeyPressed {
            key: format!("{key:?}"),
        });
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

fn score_text(
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

/// A line on screen for a few seconds when a mod comes, changes, faults
/// or goes.
fn notices(
    time: Res<Time>,
    mut list: ResMut<Notices>,
    mut lives: MessageReader<ModLifecycle>,
    mut text: Query<&mut Text, With<NoticeText>>,
) {
    let now = time.elapsed_secs();
    for life in lives.read() {
        let line = match life {
            ModLifecycle::Loaded(m) => format!("mod loaded: {} {}", m.name, m.version),
            ModLifecycle::Updated(m) => {
                format!("mod updated, state kept: {} {}", m.name, m.version)
            }
            ModLifecycle::Failed(m) => format!("mod faulted: {}: {}", m.name, m.fault.message),
            ModLifecycle::Recovered(m) => format!("mod recovered: {}", m.name),
            ModLifecycle::Quarantined(m) => {
                format!("mod stopped for faulting too often: {}", m.name)
            }
            ModLifecycle::Unloaded(m) => format!("mod removed: {}", m.name),
            ModLifecycle::UpdateRefused(_) => continue,
        };
        list.0.push((now, shown_long(&line)));
    }
    list.0.retain(|(at, _)| now - at < 5.0);
    let keep = list.0.len().saturating_sub(4);
    list.0.drain(..keep);
    let want: Vec<&str> = list.0.iter().map(|(_, l)| l.as_str()).collect();
    let want = want.join("\n");
    for mut t in &mut text {
        if t.0 != want {
            t.0 = want.clone();
        }
    }
}

/// A duration in the default font's characters (it has no `µ`).
fn micros(d: std::time::Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0} us")
    } else {
        format!("{:.1} ms", us / 1000.0)
    }
}

/// One line of at most 90 characters.
fn shown_long(text: &str) -> String {
    let line: String = text.chars().filter(|c| !c.is_control()).take(90).collect();
    if text.chars().count() > 90 {
        format!("{line}...")
    } else {
        line
    }
}

/// The panel's rows, one per mod, as the registry has them this frame.
fn panel(
    mut commands: Commands,
    registry: Res<ModRegistry>,
    mut rows: ResMut<PanelRows>,
    root: Query<Entity, With<PanelRoot>>,
    mut texts: Query<&mut Text>,
) {
    let Ok(root) = root.single() else { return };
    let ids: Vec<String> = registry.mods().map(|m| m.id.clone()).collect();
    // Mods gone: their rows go.
    let gone: Vec<String> = rows
        .0
        .keys()
        .filter(|id| !ids.contains(id))
        .cloned()
        .collect();
    for id in gone {
        if let Some((row, _, _)) = rows.0.remove(&id) {
            commands.entity(row).despawn();
        }
    }
    for m in registry.mods() {
        let c = &m.cost;
        let mut text = format!(
            "{} {}  [{:?}]\nfaults {} | tick {} | {} entities",
            shown(&m.name),
            shown(&m.version),
            m.status,
            m.faults,
            micros(c.guest_time_avg),
            c.entities
        );
        if let Some(f) = &m.last_error {
            // The whole message, wrapped by the panel's width.
            let message: String = f
                .to_string()
                .replace("\\n", "\n")
                .chars()
                .filter(|c| *c == '\n' || !c.is_control())
                .take(1200)
                .collect();
            text.push_str(&format!("\nlast error: {message}"));
        }
        let toggle = if m.enabled { "Turn off" } else { "Turn on" };
        match rows.0.get(&m.id) {
            Some(&(_, text_entity, toggle_entity)) => {
                if let Ok(mut t) = texts.get_mut(text_entity)
                    && t.0 != text
                {
                    t.0 = text;
                }
                if let Ok(mut t) = texts.get_mut(toggle_entity)
                    && t.0 != toggle
                {
                    t.0 = toggle.to_string();
                }
            }
            None => {
                let button = |action: PanelAction| {
                    (
                        Button,
                        PanelButton {
                            id: m.id.clone(),
                            action,
                        },
                        Node {
                            padding: UiRect::axes(px(8), px(2)),
                            ..default()
                        },
                        BackgroundColor(Color::srgb(0.2, 0.25, 0.35)),
                    )
                };
                let text_entity = commands
                    .spawn((Text::new(text), TextFont::from_font_size(12.0)))
                    .id();
                let toggle_entity = commands
                    .spawn((Text::new(toggle), TextFont::from_font_size(12.0)))
                    .id();
                let reload_entity = commands
                    .spawn((Text::new("Reload"), TextFont::from_font_size(12.0)))
                    .id();
                let toggle_button = commands.spawn(button(PanelAction::Toggle)).id();
                let reload_button = commands.spawn(button(PanelAction::Reload)).id();
                commands
                    .entity(toggle_entity)
                    .insert(ChildOf(toggle_button));
                commands
                    .entity(reload_entity)
                    .insert(ChildOf(reload_button));
                let buttons = commands
                    .spawn(Node {
                        flex_direction: FlexDirection::Column,
                        row_gap: px(2),
                        flex_shrink: 0.0,
                        ..default()
                    })
                    .add_children(&[toggle_button, reload_button])
                    .id();
                // The mod's lines on the left, its buttons on the right.
                let row = commands
                    .spawn((
                        Node {
                            justify_content: JustifyContent::SpaceBetween,
                            align_items: AlignItems::Center,
                            column_gap: px(6),
                            ..default()
                        },
                        ChildOf(root),
                    ))
                    .add_children(&[text_entity, buttons])
                    .id();
                rows.0
                    .insert(m.id.clone(), (row, text_entity, toggle_entity));
            }
        }
    }
}

/// Panel buttons: turn a mod off or on, reload it from its file.
fn panel_clicks(
    buttons: Query<(&Interaction, &PanelButton), Changed<Interaction>>,
    registry: Res<ModRegistry>,
    mut enable: MessageWriter<SetModEnabled>,
    mut reload: MessageWriter<ReloadMod>,
) {
    for (interaction, button) in &buttons {
        if *interaction != Interaction::Pressed {
            continue;
        }
        match button.action {
            PanelAction::Toggle => {
                let on = registry.get(&button.id).is_some_and(|m| m.enabled);
                enable.write(SetModEnabled {
                    id: button.id.clone(),
                    enabled: !on,
                });
            }
            PanelAction::Reload => {
                reload.write(ReloadMod {
                    id: button.id.clone(),
                });
            }
        }
    }
}

/// Set once the screenshot asked for is saved.
#[derive(Resource, Default)]
struct ShotSaved(Option<u64>);

/// When a screenshot is asked for: counts frames once the mods are loaded,
/// prints where each drawn entity is on screen, takes the screenshot, and
/// quits two frames after it is saved.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn screenshot_when_due(
    mut commands: Commands,
    options: Res<WindowOptions>,
    registry: Res<ModRegistry>,
    mut frames: Local<u64>,
    saved: Option<Res<ShotSaved>>,
    camera: Query<(&Camera, &GlobalTransform)>,
    drawn: Query<(&Position, Option<&Look>, Option<&SpawnedByMod>), With<Drawn>>,
    mut exit: MessageWriter<AppExit>,
) {
    let Some(path) = &options.screenshot else {
        return;
    };
    if registry.is_loading() {
        return;
    }
    *frames += 1;
    // Render pipelines compile in the background: the first frames are
    // blank.
    let due = options.screenshot_after.max(30);
    if *frames == due {
        let Ok((camera, at)) = camera.single() else {
            return;
        };
        for (p, look, owner) in &drawn {
            if let Ok(screen) = camera.world_to_viewport(at, Vec3::new(p.x, p.y, 0.0)) {
                println!(
                    "drawn {} {:.1} {:.1} {:.1}",
                    owner.map_or("game", |o| &o.0),
                    screen.x,
                    screen.y,
                    drawn_size(look)
                );
            }
        }
        commands.init_resource::<ShotSaved>();
        let shown = path.display().to_string();
        commands
            .spawn(Screenshot::primary_window())
            .observe(save_to_disk(path.clone()))
            .observe(
                move |_: On<ScreenshotCaptured>, mut saved: ResMut<ShotSaved>| {
                    println!("screenshot: {shown}");
                    saved.0 = Some(0);
                },
            );
    }
    if let Some(saved) = saved
        && let Some(_) = saved.0
        && *frames > due + 2
    {
        exit.write(AppExit::Success);
    }
}
