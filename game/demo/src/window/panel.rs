//! The mod panel (a row per mod, with its state, costs and last error,
//! and buttons to turn it off and on or reload it) and the notices of
//! changes in mods' lives.

use std::collections::BTreeMap;

use bevy::prelude::*;

use bevy_wasm_mods::prelude::*;
use bevy_wasm_mods::{ModInfo, SetModEnabled};

use super::*;

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
pub(super) struct PanelRows(BTreeMap<String, (Entity, Entity, Entity)>);

/// Recent changes in mods' lives, shown for a few seconds.
#[derive(Resource, Default)]
pub(super) struct Notices(Vec<(f32, String)>);

/// A line on screen for a few seconds when a mod comes, changes, faults
/// or goes, and when the game is saved or loaded.
pub(super) fn notices(
    time: Res<Time>,
    mut list: ResMut<Notices>,
    mut lives: MessageReader<ModLifecycle>,
    mut saved: MessageReader<bevy_wasm_mods::save::GameSaved>,
    mut loaded: MessageReader<bevy_wasm_mods::save::GameLoaded>,
    mut text: Query<&mut Text, With<NoticeText>>,
) {
    let now = time.elapsed_secs();
    let saves = saved
        .read()
        .map(|s| ("saved", &s.result))
        .chain(loaded.read().map(|l| ("loaded", &l.result)));
    for (what, result) in saves {
        let line = match result {
            Ok(r) if r.problems.is_empty() => format!("game {what}: frame {}", r.frame),
            Ok(r) => format!("game {what}: frame {}; {}", r.frame, r.problems.join("; ")),
            Err(e) => format!("game not {what}: {e}"),
        };
        list.0.push((now, shown_long(&line)));
    }
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
pub(super) fn micros(d: std::time::Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0} us")
    } else {
        format!("{:.1} ms", us / 1000.0)
    }
}

/// One line of at most 90 characters.
pub(super) fn shown_long(text: &str) -> String {
    let line: String = text.chars().filter(|c| !c.is_control()).take(90).collect();
    if text.chars().count() > 90 {
        format!("{line}...")
    } else {
        line
    }
}

/// The panel's rows, one per mod, as the registry has them this frame.
pub(super) fn panel(
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
        let text = row_text(m);
        let toggle = if m.enabled { "Turn off" } else { "Turn on" };
        match rows.0.get(&m.id) {
            Some(&(_, text_entity, toggle_entity)) => {
                for (entity, want) in [(text_entity, text.as_str()), (toggle_entity, toggle)] {
                    if let Ok(mut t) = texts.get_mut(entity)
                        && t.0 != want
                    {
                        t.0 = want.to_string();
                    }
                }
            }
            None => {
                let row = spawn_row(&mut commands, root, &m.id, text, toggle);
                rows.0.insert(m.id.clone(), row);
            }
        }
    }
}

/// A mod's lines in the panel: name, version, status, faults, time per
/// tick, entities, the contract it was built for when it is not the
/// current one, and its last error whole.
fn row_text(m: &ModInfo) -> String {
    let c = &m.cost;
    // A display name is a label two mods may share: the id tells them apart.
    let name = if m.name == m.id {
        shown(&m.name)
    } else {
        format!("{} ({})", shown(&m.name), shown(&m.id))
    };
    let mut text = format!(
        "{} {}  [{:?}]\nfaults {} | tick {} | {} entities",
        name,
        shown(&m.version),
        m.status,
        m.faults,
        micros(c.guest_time_avg),
        c.entities
    );
    if !m.contract.is_empty() && m.contract != bevy_wasm_mods::WIT_VERSION {
        text.push_str(&format!(" | built for contract {}", m.contract));
    }
    if let Some(p) = &m.package {
        let deps = crate::dependencies(p);
        if !deps.is_empty() {
            text.push_str(&format!("\ndepends on {}", shown_long(&deps)));
        }
    }
    if !m.waiting_for.is_empty() {
        text.push_str(&format!(
            "\nwaits for {}",
            shown_long(&m.waiting_for.join("; "))
        ));
    }
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
    text
}

/// A new row under `root`: the mod's lines on the left, its buttons on
/// the right. Returns the row, its text and its switch's label.
fn spawn_row(
    commands: &mut Commands,
    root: Entity,
    id: &str,
    text: String,
    toggle: &str,
) -> (Entity, Entity, Entity) {
    let button = |action: PanelAction| {
        (
            Button,
            PanelButton {
                id: id.to_string(),
                action,
            },
            Node {
                padding: UiRect::axes(px(8), px(2)),
                ..default()
            },
            BackgroundColor(Color::srgb(0.2, 0.25, 0.35)),
        )
    };
    let label = |commands: &mut Commands, s: &str| {
        commands
            .spawn((Text::new(s), TextFont::from_font_size(12.0)))
            .id()
    };
    let text_entity = label(commands, &text);
    let toggle_entity = label(commands, toggle);
    let reload_entity = label(commands, "Reload");
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
    (row, text_entity, toggle_entity)
}

/// Panel buttons: turn a mod off or on, reload it from its file.
pub(super) fn panel_clicks(
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
