//! Drawing: each entity with a `Position` as a tinted shape, and the
//! labels of those with a `Nameplate`.

use bevy::asset::RenderAssetUsages;
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};

use bevy_wasm_mods::SpawnedByMod;

use crate::arena::drawn_size;
use crate::{Look, Nameplate, Position};

/// Generated shape images, white on transparent, tinted by each sprite.
#[derive(Resource)]
pub(super) struct Shapes {
    pub(super) circle: Handle<Image>,
    pub(super) ring: Handle<Image>,
    pub(super) triangle: Handle<Image>,
}

/// Marks an entity the game draws.
#[derive(Component)]
pub(super) struct Drawn;

/// The text entity showing an entity's `Nameplate`.
#[derive(Component)]
pub(super) struct LabelText(Entity);

pub(super) const SHAPE_SIZE: u32 = 64;

/// A white shape on transparent: `inside(x, y)` with both in -1..1.
pub(super) fn shape_image(inside: impl Fn(f32, f32) -> bool) -> Image {
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

/// Draws every entity with a `Position` from now on.
pub(super) fn attach_visuals(
    mut commands: Commands,
    new: Query<Entity, (With<Position>, Without<Drawn>)>,
) {
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
pub(super) fn owner_color(owner: &str) -> Color {
    let hash = bevy_wasm_mods::fnv1a(owner.as_bytes());
    Color::hsl((hash % 360) as f32, 0.75, 0.6)
}

/// A `Look`'s colour, or `None` when it names none the game knows.
pub(super) fn parse_color(s: &str) -> Option<Color> {
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
pub(super) fn draw(
    shapes: Res<Shapes>,
    sprites: Res<bevy_wasm_mods::ModImages>,
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
        let sprite_image = look
            .and_then(|l| crate::sprite_name(l, owner.map(|o| &*o.0)))
            .and_then(|name| sprites.get(&name));
        let image = match (sprite_image, look.map(|l| l.shape.as_str())) {
            (Some(sprite), _) => sprite.clone(),
            (None, Some("circle")) => shapes.circle.clone(),
            (None, Some("ring")) => shapes.ring.clone(),
            (None, Some("triangle")) => shapes.triangle.clone(),
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

pub(super) fn finite(x: f32) -> f32 {
    if x.is_finite() {
        x.clamp(-1e6, 1e6)
    } else {
        0.0
    }
}

/// A mod's text as shown on screen: one line, printable, at most 48
/// characters.
pub(super) fn shown(text: &str) -> String {
    let mut out: String = text.chars().filter(|c| !c.is_control()).take(48).collect();
    if text.chars().count() > 48 {
        out.push_str("...");
    }
    out
}

/// A text over each entity with a `Nameplate`.
#[allow(clippy::type_complexity)]
pub(super) fn labels(
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
