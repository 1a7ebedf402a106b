//! Mod packages (a folder or a `.zip` holding `mod.toml`, the component
//! and `assets/`) as players drop them into the mods folder: loaded beside
//! lone files, refused whole when hostile, swapped with their state kept
//! when any file in them changes, and never two mods under one id; their
//! assets reach the game decoded, and what cannot is said against them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bevy::prelude::*;
use bevy_wasm_mods::prelude::*;
use bevy_wasm_mods::{ModData, SpawnedByMod};
use demo_game::Position;
use mod_tests::*;
use zip::write::SimpleFileOptions;

const WAIT: Duration = Duration::from_secs(60);

fn manifest(id: &str, contract: &str, component: &str) -> String {
    format!(
        "id = \"{id}\"\nname = \"The {id}\"\nversion = \"1.0.0\"\nauthors = [\"Ada\"]\n\
         description = \"A test package.\"\ncontract = \"{contract}\"\ncomponent = \"{component}\"\n"
    )
}

fn folder_package(dir: &Path, name: &str, files: &[(&str, Vec<u8>)]) -> PathBuf {
    let root = dir.join(name);
    for (path, bytes) in files {
        let file = root.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, bytes).unwrap();
    }
    root
}

/// Writes the archive beside, then renames it in: a player's copy.
fn zip_package(dir: &Path, name: &str, files: &[(&str, Vec<u8>)]) -> PathBuf {
    let part = dir.join(format!(".{name}.part"));
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&part).unwrap());
    for (path, bytes) in files {
        zip.start_file(*path, SimpleFileOptions::default()).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
    let path = dir.join(name);
    std::fs::rename(part, &path).unwrap();
    path
}

/// The odometer package: the fixture built for 0.1.1.
fn odometer(readme: &str) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "mod.toml",
            manifest("odometer", "0.1.1", "mod.wasm").into_bytes(),
        ),
        ("mod.wasm", contract_fixture("v0-1-1")),
        ("assets/readme.txt", readme.as_bytes().to_vec()),
    ]
}

/// The fixture `id`'s entities: where each is and what its counter says.
fn counted(app: &mut App, id: &str, tag: &str) -> Vec<(Entity, f32, u64)> {
    let world = app.world_mut();
    world
        .query::<(Entity, &Position, &ModData, &SpawnedByMod)>()
        .iter(world)
        .filter(|(_, _, _, owner)| &*owner.0 == id)
        .map(|(e, p, data, _)| {
            let count =
                rmp_serde::from_slice(&data.values[&format!("{id}:Odometer {tag}")]).unwrap();
            (e, p.x, count)
        })
        .collect()
}

#[test]
fn packages_load_from_a_folder_and_from_an_archive_beside_a_lone_file() {
    let dir = folder_with(&[("mover", "mover.wasm")]);
    folder_package(&dir, "odometer", &odometer("hello"));
    zip_package(
        &dir,
        "first_1.0.0.zip",
        &[
            (
                "mod.toml",
                manifest("first", "0.1.0", "bin/first.wasm").into_bytes(),
            ),
            ("bin/first.wasm", contract_fixture("v0-1-0")),
            ("assets/icon.txt", b"an icon".to_vec()),
        ],
    );
    let mut app = app(&dir);
    load_clean(&mut app);
    frames(&mut app, 10);

    let order: Vec<String> = app
        .world()
        .resource::<ModRegistry>()
        .mods()
        .map(|m| m.id.clone())
        .collect();
    assert_eq!(order, ["first", "mover", "odometer"], "by id");
    for (id, tag, contract) in [("odometer", "0.1.1", "0.1.1"), ("first", "0.1.0", "0.1.0")] {
        let m = info(&app, id);
        assert_eq!(m.status, ModStatus::Running, "{m:?}");
        assert_eq!(m.contract, contract);
        let package = m.package.as_ref().expect("its mod.toml");
        assert_eq!(
            (
                package.id.as_str(),
                package.name.as_str(),
                package.version.to_string()
            ),
            (id, format!("The {id}").as_str(), "1.0.0".to_string())
        );
        assert_eq!(package.authors, ["Ada"]);
        let last = m.ticks - 1;
        let seen: Vec<(f32, u64)> = counted(&mut app, id, tag)
            .iter()
            .map(|c| (c.1, c.2))
            .collect();
        assert_eq!(seen, [(last as f32, last)], "{id} moved once a tick");
    }
    assert!(
        info(&app, "mover").package.is_none(),
        "a lone file has no mod.toml"
    );
    let mover = info(&app, "mover");
    assert_mover_exact(app.world_mut(), "mover", 10, mover.ticks);
}

#[test]
fn hostile_packages_are_refused_whole_by_name_and_the_others_run() {
    let dir = folder_with(&[("mover", "mover.wasm")]);
    let good = |id: &str| {
        vec![
            ("mod.toml", manifest(id, "0.1.1", "mod.wasm").into_bytes()),
            ("mod.wasm", contract_fixture("v0-1-1")),
        ]
    };
    // 8 MiB of zeros, packed to a few kilobytes.
    let mut bomb = good("bomb");
    bomb.push(("assets/zeros.bin", vec![0; 8 << 20]));
    zip_package(&dir, "bomb.zip", &bomb);
    let mut escape = good("escape");
    escape.push(("../escaped.txt", b"out".to_vec()));
    zip_package(&dir, "escape.zip", &escape);
    let mut absolute = good("absolute");
    absolute.push(("/tmp/escaped.txt", b"out".to_vec()));
    zip_package(&dir, "absolute.zip", &absolute);
    let names: Vec<String> = (0..5000).map(|i| format!("assets/{i}")).collect();
    let mut many = good("many");
    many.extend(names.iter().map(|n| (n.as_str(), Vec::new())));
    zip_package(&dir, "many.zip", &many);
    let linked = folder_package(&dir, "linked", &good("linked"));
    std::os::unix::fs::symlink("/etc/passwd", linked.join("passwd")).unwrap();
    folder_package(&dir, "misnamed", &good("other"));
    std::fs::write(dir.join("garbage.zip"), b"not an archive").unwrap();

    let mut app = app(&dir);
    let failed = load(&mut app);
    let reason = |id: &str| -> String {
        let mine: Vec<&ModFailed> = failed.iter().filter(|f| f.id == id).collect();
        assert_eq!(mine.len(), 1, "{id}: {failed:#?}");
        mine[0].fault.message.clone()
    };
    assert!(reason("bomb").contains("`assets/zeros.bin` unpacks to 8388608 bytes from"));
    assert!(reason("escape").contains("not a plain path inside the package"));
    assert!(reason("absolute").contains("not a plain path inside the package"));
    assert!(reason("many").contains("over the limit of 4096"));
    assert!(reason("linked").contains("`passwd` is a symbolic link"));
    assert!(reason("misnamed").contains("says its id is \"other\""));
    assert!(reason("garbage").contains("not a readable zip archive"));
    for outside in [
        dir.join("../escaped.txt"),
        PathBuf::from("/tmp/escaped.txt"),
    ] {
        assert!(!outside.exists(), "{} was written", outside.display());
    }
    frames(&mut app, 5);
    let mover = info(&app, "mover");
    assert_eq!((mover.status, mover.faults), (ModStatus::Running, 0));
    assert_mover_exact(app.world_mut(), "mover", 10, mover.ticks);
}

#[test]
fn a_package_whose_mod_toml_names_another_contract_is_refused() {
    let dir = mods_folder();
    folder_package(
        &dir,
        "liar",
        &[
            (
                "mod.toml",
                manifest("liar", "0.1.0", "mod.wasm").into_bytes(),
            ),
            ("mod.wasm", contract_fixture("v0-1-1")),
        ],
    );
    let mut app = app(&dir);
    let failed = load(&mut app);
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert!(
        failed[0]
            .fault
            .message
            .contains("says its component is built for contract 0.1.0, but it is built for 0.1.1"),
        "{}",
        failed[0].fault.message
    );
}

#[test]
fn a_package_changed_while_running_is_swapped_with_its_state_kept() {
    let dir = mods_folder();
    let root = folder_package(&dir, "odometer", &odometer("first words"));
    zip_package(
        &dir,
        "first.zip",
        &[
            (
                "mod.toml",
                manifest("first", "0.1.0", "mod.wasm").into_bytes(),
            ),
            ("mod.wasm", contract_fixture("v0-1-0")),
        ],
    );
    let mut app = watched(&dir);
    load_clean(&mut app);
    frames(&mut app, 5);
    let before = counted(&mut app, "odometer", "0.1.1");

    // An asset changes deep in the folder: the package is one mod.
    std::fs::write(root.join("assets/readme.txt"), "second words").unwrap();
    let updated = until::<ModUpdated>(&mut app, WAIT, |_, seen| !seen.is_empty());
    assert_eq!(updated[0].id, "odometer");
    frames(&mut app, 3);
    let m = info(&app, "odometer");
    assert_eq!((m.status, m.faults), (ModStatus::Running, 0));
    let after = counted(&mut app, "odometer", "0.1.1");
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].0, before[0].0, "the same entity, its state kept");
    assert_eq!(after[0].2, m.ticks - 1, "the count went on");

    // A new archive replaces the old one.
    zip_package(
        &dir,
        "first.zip",
        &[
            (
                "mod.toml",
                manifest("first", "0.1.0", "mod.wasm").into_bytes(),
            ),
            ("mod.wasm", contract_fixture("v0-1-0")),
            ("assets/new.txt", b"new".to_vec()),
        ],
    );
    let updated = until::<ModUpdated>(&mut app, WAIT, |_, seen| !seen.is_empty());
    assert_eq!(updated[0].id, "first");
    assert_eq!(info(&app, "first").faults, 0);
}

#[test]
fn two_packages_with_one_id_wait_until_one_goes() {
    let dir = mods_folder();
    let folder = folder_package(&dir, "odometer", &odometer("a folder"));
    zip_package(&dir, "odometer_1.0.0.zip", &odometer("an archive"));
    let mut app = watched(&dir);
    let failed = load(&mut app);
    assert_eq!(failed.len(), 1, "{failed:#?}");
    let message = &failed[0].fault.message;
    assert!(
        message.contains("2 mods in the folder have the id \"odometer\"")
            && message.contains("odometer, odometer_1.0.0.zip")
            && message.contains("remove all but one"),
        "{message}"
    );

    // The player removes the folder: the archive loads.
    std::fs::remove_dir_all(&folder).unwrap();
    let loaded = until::<ModLoaded>(&mut app, WAIT, |_, seen| !seen.is_empty());
    assert_eq!(loaded[0].id, "odometer");
    let m = info(&app, "odometer");
    assert_eq!(m.file, dir.join("odometer_1.0.0.zip"));

    // A second copy while it runs: the running one goes on, told why.
    folder_package(&dir, "odometer", &odometer("again"));
    let refused = until::<ModUpdateRefused>(&mut app, WAIT, |_, seen| !seen.is_empty());
    assert!(refused[0].fault.message.contains("remove all but one"));
    let ticks = info(&app, "odometer").ticks;
    frames(&mut app, 3);
    let m = info(&app, "odometer");
    assert_eq!((m.status, m.ticks), (ModStatus::Running, ticks + 3));
}

/// A PNG of `width` x `height` RGBA pixels, each `pixel`.
fn png_image(width: u32, height: u32, pixel: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer
        .write_image_data(&pixel.repeat((width * height) as usize))
        .unwrap();
    writer.finish().unwrap();
    out
}

/// The CRC-32 a PNG chunk ends with.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The size and first pixel of image `name` in the game, if it is there.
fn image_in_game(app: &App, name: &str) -> Option<(u32, u32, Vec<u8>)> {
    let assets = app.world().resource::<bevy_wasm_mods::ModAssets>();
    let image = assets.image(name)?;
    Some((image.width, image.height, image.rgba[..4].to_vec()))
}

#[test]
fn a_package_s_assets_reach_the_game_decoded_and_what_cannot_is_said_against_it() {
    let dir = mods_folder();
    let fixture = contract_fixture("v0-2-0");
    // A 60,000 x 60,000 image would take 14 GB: only its header is read.
    let mut bomb = png_image(1, 1, [0; 4]);
    bomb[16..24].copy_from_slice(&[0, 0, 0xea, 0x60, 0, 0, 0xea, 0x60]);
    let crc = crc32(&bomb[12..29]);
    bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    let root = folder_package(
        &dir,
        "painter",
        &[
            (
                "mod.toml",
                manifest("painter", "0.2.0", "mod.wasm").into_bytes(),
            ),
            ("mod.wasm", fixture.clone()),
            ("assets/ship.png", png_image(8, 4, [200, 10, 20, 255])),
            ("assets/broken.png", b"\x89PNG not really".to_vec()),
            ("assets/bomb.png", bomb),
            ("assets/notes.txt", b"three words here".to_vec()),
        ],
    );
    zip_package(
        &dir,
        "zipped.zip",
        &[
            (
                "mod.toml",
                manifest("zipped", "0.2.0", "mod.wasm").into_bytes(),
            ),
            ("mod.wasm", fixture),
            ("assets/icons/icon.png", png_image(2, 2, [1, 2, 3, 4])),
        ],
    );
    let mut app = watched(&dir);
    load_clean(&mut app);
    frames(&mut app, 3);

    assert_eq!(
        image_in_game(&app, "painter:ship.png"),
        Some((8, 4, vec![200, 10, 20, 255]))
    );
    assert_eq!(
        image_in_game(&app, "zipped:icons/icon.png"),
        Some((2, 2, vec![1, 2, 3, 4]))
    );
    {
        let assets = app.world().resource::<bevy_wasm_mods::ModAssets>();
        match assets.get("painter:notes.txt") {
            Some(bevy_wasm_mods::package::ModAsset::Bytes(b)) => {
                assert_eq!(&b[..], b"three words here")
            }
            other => panic!("{other:?}"),
        }
        // Names are the mod's: no other mod's path reaches them.
        assert!(assets.get("zipped:ship.png").is_none());
        assert!(assets.get("ship.png").is_none());
    }
    // The images that could not be are said against their mod, which runs.
    let painter = info(&app, "painter");
    assert_eq!((painter.status, painter.faults), (ModStatus::Running, 0));
    let problems = painter.asset_problems.join("\n");
    assert_eq!(painter.asset_problems.len(), 2, "{problems}");
    assert!(problems.contains("assets/bomb.png: an image of 60000x60000 pixels"));
    assert!(problems.contains("assets/broken.png: not a PNG"));
    assert!(info(&app, "zipped").asset_problems.is_empty());

    // A changed image swaps the mod, and the game sees the new one.
    let generation = app
        .world()
        .resource::<bevy_wasm_mods::ModAssets>()
        .generation();
    std::fs::write(
        root.join("assets/ship.png"),
        png_image(16, 16, [0, 0, 255, 255]),
    )
    .unwrap();
    let updated = until::<ModUpdated>(&mut app, WAIT, |_, seen| !seen.is_empty());
    assert_eq!(updated[0].id, "painter");
    assert_eq!(
        image_in_game(&app, "painter:ship.png"),
        Some((16, 16, vec![0, 0, 255, 255]))
    );
    assert!(
        app.world()
            .resource::<bevy_wasm_mods::ModAssets>()
            .generation()
            > generation
    );

    // A package removed takes its assets with it; the other's stay.
    std::fs::remove_dir_all(&root).unwrap();
    until::<ModUnloaded>(&mut app, WAIT, |_, seen| !seen.is_empty());
    assert_eq!(image_in_game(&app, "painter:ship.png"), None);
    assert!(image_in_game(&app, "zipped:icons/icon.png").is_some());
}

#[test]
fn a_package_with_a_picture_and_a_dependency_runs_when_both_are_dropped_in_either_order() {
    let painter = || {
        vec![
            (
                "mod.toml",
                format!(
                    "{}\n[dependencies]\ncanvas = \"^1.2\"\n",
                    manifest("painter", "0.2.0", "mod.wasm")
                )
                .into_bytes(),
            ),
            ("mod.wasm", contract_fixture("v0-2-0")),
            ("assets/painting.png", png_image(4, 4, [9, 8, 7, 255])),
        ]
    };
    let canvas = || {
        vec![
            (
                "mod.toml",
                manifest("canvas", "0.2.0", "mod.wasm")
                    .replace("version = \"1.0.0\"", "version = \"1.2.0\"")
                    .into_bytes(),
            ),
            ("mod.wasm", contract_fixture("v0-2-0")),
        ]
    };
    for painter_first in [true, false] {
        // A player drops the two archives into a running game, one after
        // the other.
        let dir = mods_folder();
        let mut app = watched(&dir);
        load_clean(&mut app);
        let (first, second) = if painter_first {
            (("painter.zip", painter()), ("canvas.zip", canvas()))
        } else {
            (("canvas.zip", canvas()), ("painter.zip", painter()))
        };
        zip_package(&dir, first.0, &first.1);
        until::<ModLoaded>(&mut app, WAIT, |_, seen| !seen.is_empty());
        frames(&mut app, 3);
        if painter_first {
            let waiting = info(&app, "painter");
            assert_eq!(waiting.status, ModStatus::Waiting, "{waiting:?}");
            assert_eq!(waiting.waiting_for, ["canvas ^1.2 (not installed)"]);
        }
        zip_package(&dir, second.0, &second.1);
        until::<ModLoaded>(&mut app, WAIT, |_, seen| !seen.is_empty());
        frames(&mut app, 5);
        for id in ["canvas", "painter"] {
            let m = info(&app, id);
            assert_eq!((m.status, m.faults), (ModStatus::Running, 0), "{m:?}");
            assert!(m.ticks >= 4, "{m:?}");
        }
        assert_eq!(
            image_in_game(&app, "painter:painting.png"),
            Some((4, 4, vec![9, 8, 7, 255])),
            "painter first: {painter_first}"
        );
    }
}
