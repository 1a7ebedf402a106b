//! Mods built against every released version of the contract run on this
//! game beside mods built against the current one; a mod built for a
//! version the game does not serve is refused, naming both.

use bevy::prelude::*;
use bevy_wasm_mods::prelude::*;
use bevy_wasm_mods::{ModData, SERVED_CONTRACTS, WIT_VERSION};
use demo_game::Position;
use mod_tests::*;

/// Each released contract's fixture: its feature, the file it is put in
/// (its id) and the version the game should say it was built for.
const RELEASED: [(&str, &str, &str); 4] = [
    ("v0-1-0", "first", "0.1.0"),
    ("v0-1-0-claims", "claims", "0.1.0"),
    ("v0-1-1", "patch", "0.1.1"),
    ("v0-2-0", "minor", "0.2.0"),
];
/// The tag each fixture puts in its names, in the same order.
const TAGS: [&str; 4] = ["0.1.0", "0.1.0+claims", "0.1.1", "0.2.0"];

/// The fixture `id`'s entity: where it is and what its counter says.
fn fixture_entity(world: &mut World, id: &str, tag: &str) -> Vec<(Position, u64)> {
    world
        .query::<(&Position, &ModData, &SpawnedByMod)>()
        .iter(world)
        .filter(|(_, _, owner)| &*owner.0 == id)
        .map(|(p, data, _)| {
            // Its own type, under its id, whatever version it was built for.
            let count =
                rmp_serde::from_slice(&data.values[&format!("{id}:Odometer {tag}")]).unwrap();
            (*p, count)
        })
        .collect()
}

#[test]
fn mods_built_for_every_released_contract_run_beside_current_ones() {
    let dir = folder_with(&[("mover", "mover.wasm")]);
    for (feature, id, _) in RELEASED {
        std::fs::write(dir.join(format!("{id}.wasm")), contract_fixture(feature)).unwrap();
    }
    let mut app = app(&dir);
    load_clean(&mut app);
    let events = frames_collecting::<ModEvent>(&mut app, 12);

    let mover = info(&app, "mover");
    assert_eq!(
        mover.contract, WIT_VERSION,
        "the mover is built against wit/"
    );
    assert_mover_exact(app.world_mut(), "mover", 10, mover.ticks);
    for ((feature, id, contract), tag) in RELEASED.iter().zip(TAGS) {
        let fixture = info(&app, id);
        assert_eq!(fixture.status, ModStatus::Running, "{feature}: {fixture:?}");
        assert_eq!(fixture.contract, *contract, "{feature}");
        assert_eq!(fixture.name, format!("Fixture {tag}"));
        assert!(fixture.ticks >= 12, "{feature} ticked {}", fixture.ticks);
        // Spawned in its first tick, moved one unit right in each later
        // one, its counter read back and written each time.
        let last = fixture.ticks - 1;
        assert_eq!(
            fixture_entity(app.world_mut(), id, tag),
            vec![(
                Position {
                    x: last as f32,
                    y: -50.0
                },
                last
            )],
            "{feature}'s entity after {} ticks",
            fixture.ticks
        );
        // And it told everyone each step.
        let pings: Vec<u64> = events
            .iter()
            .filter(|e| e.source == *id && e.name == format!("{id}:ping {tag}"))
            .map(|e| e.decode().unwrap())
            .collect();
        let want: Vec<u64> = (last + 1 - pings.len() as u64..=last).collect();
        assert!(pings.len() >= 11, "{feature} pinged {pings:?}");
        assert_eq!(pings, want, "{feature}'s pings, one a tick, in order");
        // What it heard by the short name `ping 0.2.0`: built for 0.1, the
        // 0.2.0 fixture's pings, as 0.1 promised (any mod's event of that
        // name); built for 0.2, nothing, for the name is its own.
        let heard: Vec<u64> = events
            .iter()
            .filter(|e| e.source == *id && e.name == format!("{id}:heard {tag}"))
            .map(|e| e.decode().unwrap())
            .collect();
        let last_heard = *heard.last().expect("it says what it heard");
        if *contract == WIT_VERSION {
            assert_eq!(
                last_heard, 0,
                "{feature} heard another mod's event by its own name"
            );
        } else {
            assert!(last_heard >= 8, "{feature} heard only {heard:?}");
        }
    }
}

#[test]
fn a_mod_for_a_contract_the_game_does_not_serve_is_refused_naming_both_versions() {
    let dir = folder_with(&[("mover", "mover.wasm")]);
    std::fs::write(dir.join("future.wasm"), contract_fixture("unserved")).unwrap();
    let mut app = app(&dir);
    let failed = load(&mut app);
    let refusals: Vec<&ModFailed> = failed.iter().filter(|f| f.id == "future").collect();
    assert_eq!(refusals.len(), 1, "{failed:#?}");
    let message = &refusals[0].fault.message;
    let served = SERVED_CONTRACTS.join(", ");
    assert!(
        message.contains("built for bevy-wasm:mods@9.0.0")
            && message.contains(&format!("(it serves {served})"))
            && message.contains("update the game"),
        "{message}"
    );
    assert!(served.contains("0.1.0") && served.contains(WIT_VERSION));
    // Nothing else is disturbed.
    frames(&mut app, 5);
    let mover = info(&app, "mover");
    assert_eq!(mover.status, ModStatus::Running);
    assert_mover_exact(app.world_mut(), "mover", 10, mover.ticks);
}
