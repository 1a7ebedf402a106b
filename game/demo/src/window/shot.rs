//! Screenshots for the tests: where each drawn entity is, printed, then
//! the picture, then quit.

use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured, save_to_disk};

use bevy_wasm_mods::SpawnedByMod;
use bevy_wasm_mods::prelude::*;

use super::*;
use crate::arena::drawn_size;
use crate::{Look, Position};

/// Set once the screenshot asked for is saved.
#[derive(Resource, Default)]
pub(super) struct ShotSaved(Option<u64>);

/// When a screenshot is asked for: counts frames once the mods are loaded,
/// prints where each drawn entity is on screen, takes the screenshot, and
/// quits two frames after it is saved.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub(super) fn screenshot_when_due(
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
