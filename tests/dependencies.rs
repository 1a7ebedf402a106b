//! Dependencies between mod packages, as players install them in any
//! order and while the game runs: a mod waits for what it needs, says
//! what, starts when it comes, pauses with its state kept when it goes,
//! and every mod ticks in one order, dependencies first, then by id.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bevy::prelude::*;
use bevy_wasm_mods::ModData;
use bevy_wasm_mods::prelude::*;
use mod_tests::*;

const WAIT: Duration = Duration::from_secs(60);

/// The three contract fixtures have distinct names and types, so three
/// packages can run side by side: by the fixture's feature, its tag.
const TAG: [(&str, &str); 3] = [
    ("v0-1-0", "0.1.0"),
    ("v0-1-0-claims", "0.1.0+claims"),
    ("v0-1-1", "0.1.1"),
];

fn contract_of(feature: &str) -> &'static str {
    if feature == "v0-1-1" {
        "0.1.1"
    } else {
        "0.1.0"
    }
}

/// A package folder of id `id` at `version`, made of the fixture
/// `feature`, with `tables` appended to its `mod.toml`.
fn package(dir: &Path, id: &str, version: &str, feature: &str, tables: &str) -> PathBuf {
    let root = dir.join(id);
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("mod.toml"),
        format!(
            "id = \"{id}\"\nname = \"{id}\"\nversion = \"{version}\"\ncontract = \"{}\"\n{tables}",
            contract_of(feature)
        ),
    )
    .unwrap();
    std::fs::write(root.join("mod.wasm"), contract_fixture(feature)).unwrap();
    root
}

fn order(app: &App) -> Vec<String> {
    app.world()
        .resource::<ModRegistry>()
        .mods()
        .map(|m| m.id.clone())
        .collect()
}

/// The count on the fixture `id`'s entity.
fn count(app: &mut App, id: &str, feature: &str) -> Option<u64> {
    let tag = TAG.iter().find(|(f, _)| *f == feature).unwrap().1;
    let world = app.world_mut();
    world
        .query::<(&ModData, &SpawnedByMod)>()
        .iter(world)
        .find(|(_, owner)| &*owner.0 == id)
        .map(|(data, _)| {
            rmp_serde::from_slice(&data.values[&format!("{id}:Odometer {tag}")]).unwrap()
        })
}

#[test]
fn a_mod_waits_for_its_dependency_starts_when_it_comes_and_pauses_when_it_goes() {
    let dir = mods_folder();
    package(
        &dir,
        "storm",
        "1.0.0",
        "v0-1-0",
        "[dependencies]\nweather = \"^1.2\"\n",
    );
    let mut app = watched(&dir);
    load_clean(&mut app);
    frames(&mut app, 5);
    let storm = info(&app, "storm");
    assert_eq!(storm.status, ModStatus::Waiting, "{storm:?}");
    assert_eq!(storm.waiting_for, ["weather ^1.2 (not installed)"]);
    assert_eq!(storm.ticks, 0, "a waiting mod is not ticked");

    // The dependency arrives while the game runs.
    let weather = package(&dir, "weather", "1.4.0", "v0-1-1", "");
    until::<ModLoaded>(&mut app, WAIT, |_, seen| {
        seen.iter().any(|l| l.id == "weather")
    });
    frames(&mut app, 5);
    let storm = info(&app, "storm");
    assert_eq!(
        (storm.status, storm.waiting_for.len()),
        (ModStatus::Running, 0),
        "{storm:?}"
    );
    assert!(storm.ticks >= 4, "{storm:?}");
    assert_eq!(order(&app), ["weather", "storm"], "its dependency first");

    // It goes: the dependent pauses where it was, its state kept.
    std::fs::remove_dir_all(&weather).unwrap();
    until::<ModUnloaded>(&mut app, WAIT, |_, seen| !seen.is_empty());
    frames(&mut app, 1);
    let paused = info(&app, "storm");
    assert_eq!(paused.status, ModStatus::Waiting);
    assert_eq!(paused.waiting_for, ["weather ^1.2 (not installed)"]);
    let counted = count(&mut app, "storm", "v0-1-0");
    frames(&mut app, 5);
    assert_eq!(info(&app, "storm").ticks, paused.ticks, "paused");
    assert_eq!(count(&mut app, "storm", "v0-1-0"), counted);

    // Back again: it goes on from where it stopped.
    package(&dir, "weather", "1.4.0", "v0-1-1", "");
    until::<ModLoaded>(&mut app, WAIT, |_, seen| {
        seen.iter().any(|l| l.id == "weather")
    });
    frames(&mut app, 5);
    let storm = info(&app, "storm");
    assert_eq!(storm.status, ModStatus::Running);
    assert_eq!(
        count(&mut app, "storm", "v0-1-0"),
        Some(storm.ticks - 1),
        "the count went on"
    );
}

#[test]
fn wrong_versions_cycles_and_incompatible_mods_wait_saying_why() {
    let dir = folder_with(&[("mover", "mover.wasm")]);
    package(
        &dir,
        "storm",
        "1.0.0",
        "v0-1-0",
        "[dependencies]\nweather = \">=2\"\n",
    );
    package(
        &dir,
        "weather",
        "1.4.0",
        "v0-1-1",
        "[incompatible]\nmover = \"<1\"\n",
    );
    package(
        &dir,
        "alpha",
        "1.0.0",
        "v0-1-0-claims",
        "[dependencies]\nalpha-two = \"*\"\n",
    );
    let mut app = app(&dir);
    load_clean(&mut app);
    frames(&mut app, 3);
    assert_eq!(
        info(&app, "storm").waiting_for,
        ["weather >=2 (1.4.0 is installed)"]
    );
    assert_eq!(
        info(&app, "weather").waiting_for,
        ["mover 0.1.0 to go: this mod is incompatible with mover <1"]
    );
    assert_eq!(
        info(&app, "alpha").waiting_for,
        ["alpha-two * (not installed)"]
    );
    for id in ["storm", "weather", "alpha"] {
        let m = info(&app, id);
        assert_eq!((m.status, m.ticks), (ModStatus::Waiting, 0), "{id}");
    }
    let mover = info(&app, "mover");
    assert_eq!(mover.status, ModStatus::Running);
    assert_mover_exact(app.world_mut(), "mover", 10, mover.ticks);
}

#[test]
fn a_dependency_cycle_waits_whole() {
    let dir = mods_folder();
    package(
        &dir,
        "alpha",
        "1.0.0",
        "v0-1-0",
        "[dependencies]\nbeta = \"*\"\n",
    );
    package(
        &dir,
        "beta",
        "1.0.0",
        "v0-1-1",
        "[dependencies]\nalpha = \"*\"\n",
    );
    package(
        &dir,
        "gamma",
        "1.0.0",
        "v0-1-0-claims",
        "[optional-dependencies]\nbeta = \"*\"\n",
    );
    let mut app = app(&dir);
    load_clean(&mut app);
    frames(&mut app, 3);
    for id in ["alpha", "beta"] {
        assert_eq!(
            info(&app, id).waiting_for,
            ["a way out of the dependency cycle alpha → beta → alpha"],
            "{id}"
        );
    }
    // An optional dependency orders, never holds back.
    let gamma = info(&app, "gamma");
    assert_eq!(gamma.status, ModStatus::Running, "{gamma:?}");
    assert_eq!(order(&app), ["alpha", "beta", "gamma"]);
}

#[test]
fn the_order_is_dependencies_first_then_ids_run_after_run() {
    let dir = folder_with(&[("mover", "mover.wasm"), ("greeter", "greeter.wasm")]);
    package(
        &dir,
        "aardvark",
        "1.0.0",
        "v0-1-0",
        "[dependencies]\nzebra = \"^1\"\nmover = \"*\"\n",
    );
    package(
        &dir,
        "zebra",
        "1.0.0",
        "v0-1-1",
        "[optional-dependencies]\ngreeter = \"*\"\n",
    );
    let mut orders = Vec::new();
    for _ in 0..2 {
        let mut app = app(&dir);
        load_clean(&mut app);
        frames(&mut app, 3);
        for id in ["aardvark", "zebra", "mover", "greeter"] {
            assert_eq!(info(&app, id).status, ModStatus::Running, "{id}");
        }
        orders.push(order(&app));
    }
    assert_eq!(orders[0], ["greeter", "mover", "zebra", "aardvark"]);
    assert_eq!(orders[0], orders[1]);
}
