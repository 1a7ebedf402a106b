//! Every cost a mod causes is its own and bounded: main-thread work on its
//! commands, the world state it keeps, the events it sends, the input it
//! makes other mods reject, and the names it sends under. Each attacker
//! runs beside well-behaved mods whose results must not change.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_wasm_mods::prelude::*;
use bevy_wasm_mods::{FaultKind, ModLimits, testing};
use demo_game::{PlayerJoined, Position};
use mod_tests::*;

/// A config for the hostile test mod; `None`s are left out.
#[derive(serde::Serialize, Default, Clone)]
struct Hostile {
    attack: &'static str,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<u64>,
    once: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    per_tick: Option<u32>,
    garble: bool,
    claim: bool,
    share: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<String>,
}

impl Hostile {
    fn new(attack: &'static str, name: &str) -> Self {
        Self {
            attack,
            name: name.into(),
            ..Self::default()
        }
    }

    fn chatter(name: &str, per_tick: u32) -> Self {
        Self {
            per_tick: Some(per_tick),
            ..Self::new("chatter", name)
        }
    }

    fn config(&self) -> Vec<u8> {
        rmp_serde::to_vec_named(self).unwrap()
    }
}

/// The positions of the entities a mod owns, sorted.
fn positions_of(app: &mut App, owner: &str) -> Vec<(f32, f32)> {
    let world = app.world_mut();
    let mut out: Vec<(f32, f32)> = world
        .query::<(&Position, &SpawnedByMod)>()
        .iter(world)
        .filter(|(_, s)| &*s.0 == owner)
        .map(|(p, _)| (p.x, p.y))
        .collect();
    out.sort_by(|a, b| a.partial_cmp(b).unwrap());
    out
}

#[test]
fn a_mod_whose_commands_hog_the_main_thread_faults_and_the_movers_do_not_notice() {
    let dir = folder_with(&[
        ("mover", "a-mover.wasm"),
        ("mover", "b-mover.wasm"),
        ("hostile", "c-hog.wasm"),
    ]);
    let hog = Hostile {
        once: true,
        ..Hostile::new("hog-main-thread", "hog")
    };
    let mut app = app_with(
        ModPlugin::new()
            .with_mods_dir(&dir)
            .with_limits(relaxed_limits())
            .with_worker_threads(2)
            .with_config("a-mover", mover_config(5, false, "mover-a"))
            .with_config("b-mover", mover_config(7, true, "mover-b"))
            .with_config("c-hog", hog.config()),
    );
    load_clean(&mut app);
    frames(&mut app, 40);

    let hog = info(&app, "c-hog");
    let fault = hog.last_error.clone().expect("the hog faulted");
    assert_eq!(fault.kind, FaultKind::OverBudget, "{fault}");
    assert!(fault.message.contains("of the main thread"), "{fault}");
    // Staging stopped at the budget: nothing of the tick reached the world
    // (only its keeper at (3, 3), spawned in an earlier tick: the mod saves
    // no state, so it restarts afresh with its entities).
    assert_eq!(positions_of(&mut app, "c-hog"), [(3.0, 3.0)]);
    for (id, count) in [("a-mover", 5), ("b-mover", 7)] {
        let mover = info(&app, id);
        assert_eq!(mover.faults, 0, "{mover:?}");
        assert!(mover.cost.main_thread > Duration::ZERO, "{mover:?}");
        assert!(
            mover.cost.main_thread < Duration::from_millis(16),
            "{mover:?}"
        );
        assert_mover_exact(app.world_mut(), id, count, mover.ticks);
    }
}

#[test]
fn the_world_state_a_mod_keeps_is_capped_and_counted_as_its_own() {
    const CAP: u64 = 4 << 20;
    let dir = folder_with(&[("mover", "a-mover.wasm"), ("hostile", "b-hoarder.wasm")]);
    let mut app = app_with(
        ModPlugin::new()
            .with_mods_dir(&dir)
            .with_limits(ModLimits {
                state_bytes_per_mod: CAP,
                ..relaxed_limits()
            })
            .with_config("a-mover", mover_config(5, false, "mover"))
            .with_config("b-hoarder", Hostile::new("hoard-bytes", "hoarder").config()),
    );
    load_clean(&mut app);
    // A megabyte a tick from its third: three fit, the fourth does not;
    // restarted, it tries again and is refused again.
    for _ in 0..200 {
        app.update();
        let held = testing::state_bytes_owned(app.world(), "b-hoarder");
        assert!(held <= CAP, "the hoarder holds {held} bytes");
    }
    let hoarder = info(&app, "b-hoarder");
    assert!(hoarder.faults >= 2, "{hoarder:?}");
    let fault = hoarder.last_error.clone().unwrap();
    assert_eq!(fault.kind, FaultKind::InvalidOutput, "{fault}");
    assert!(fault.message.contains("at most 4194304"), "{fault}");
    let held = testing::state_bytes_owned(app.world(), "b-hoarder");
    assert!(held > 3 << 20, "three megabyte values are kept: {held}");
    assert_eq!(hoarder.cost.state_bytes, held);

    let mover = info(&app, "a-mover");
    assert_eq!(mover.faults, 0, "{mover:?}");
    assert_mover_exact(app.world_mut(), "a-mover", 5, mover.ticks);
    // The mover's values count too, a few bytes each.
    let movers = testing::state_bytes_owned(app.world(), "a-mover");
    assert!((5 * 2 * 8..5 * 2 * 64).contains(&movers), "{movers}");
    assert_eq!(mover.cost.state_bytes, movers);

    // Despawning frees what the entities held.
    let world = app.world_mut();
    let hoarded: Vec<Entity> = world
        .query::<(Entity, &SpawnedByMod)>()
        .iter(world)
        .filter(|(_, s)| &*s.0 == "b-hoarder")
        .map(|(e, _)| e)
        .collect();
    for e in hoarded {
        world.despawn(e);
    }
    assert_eq!(testing::state_bytes_owned(app.world(), "b-hoarder"), 0);
}

#[test]
fn other_mods_cannot_inflate_a_mods_query_results_until_it_is_skipped() {
    // Three hoarders keep about 3 MiB of values each; a reader's query
    // takes them all, over the 8 MiB message limit.
    let dir = folder_with(&[
        ("hostile", "a-hoarder.wasm"),
        ("hostile", "b-hoarder.wasm"),
        ("hostile", "c-hoarder.wasm"),
        ("hostile", "d-reader.wasm"),
    ]);
    let mut plugin = ModPlugin::new()
        .with_mods_dir(&dir)
        .with_limits(ModLimits {
            bytes_per_tick: 8 << 20,
            state_bytes_per_mod: 4 << 20,
            ..relaxed_limits()
        })
        .with_config("d-reader", Hostile::new("read-blobs", "reader").config())
        // Every hoarder keeps `Blob`s, which the game opens to all.
        .with_shared_name("Blob");
    for id in ["a-hoarder", "b-hoarder", "c-hoarder"] {
        plugin = plugin.with_config(id, Hostile::new("hoard-bytes", id).config());
    }
    let mut app = app_with(plugin);
    load_clean(&mut app);
    let events = frames_collecting::<ModEvent>(&mut app, 20);

    let reader = info(&app, "d-reader");
    assert_eq!(reader.faults, 0, "{reader:?}");
    assert_eq!(reader.cost.skipped_ticks, 0, "{reader:?}");
    assert!(reader.cost.inputs_cut > 0, "{reader:?}");
    assert!(
        reader.ticks >= 20,
        "the reader ticked every frame: {reader:?}"
    );
    // It saw the blobs of two hoarders at the end: six of nine.
    let seen: Vec<usize> = events
        .iter()
        .filter(|e| e.name == "d-reader:blobs")
        .map(|e| e.decode().unwrap())
        .collect();
    assert_eq!(seen.last(), Some(&6), "{seen:?}");
    assert!(seen.iter().all(|n| *n <= 7), "{seen:?}");
}

/// The last `heard` report of the listener: `chat` events by sender.
fn heard(events: &[ModEvent]) -> BTreeMap<String, u64> {
    events
        .iter()
        .rfind(|e| e.name == "z-listener:heard" && e.source == "z-listener")
        .expect("the listener reports")
        .decode()
        .unwrap()
}

#[test]
fn a_flood_of_events_costs_the_flooders_and_not_the_quiet_sender() {
    const FRAMES: usize = 30;
    let floods = ["b-flood", "c-flood", "d-flood", "e-flood", "f-flood"];
    let mut files: Vec<(&str, String)> = vec![
        ("hostile", "a-calm.wasm".into()),
        ("hostile", "z-listener.wasm".into()),
    ];
    files.extend(floods.iter().map(|f| ("hostile", format!("{f}.wasm"))));
    let files: Vec<(&str, &str)> = files.iter().map(|(c, f)| (*c, f.as_str())).collect();
    let dir = folder_with(&files);
    // Ten events a tick each: the listener's inbox holds forty.
    let mut plugin = ModPlugin::new()
        .with_mods_dir(&dir)
        .with_limits(ModLimits {
            events_per_tick: 10,
            ..relaxed_limits()
        })
        .with_worker_threads(2)
        // Everyone chats under the one name the game opens to all.
        .with_shared_name("chat")
        .with_config(
            "a-calm",
            Hostile {
                claim: true,
                share: true,
                ..Hostile::chatter("calm", 1)
            }
            .config(),
        )
        .with_config("z-listener", Hostile::new("listen", "listener").config());
    for f in floods {
        plugin = plugin.with_config(f, Hostile::chatter(f, 10).config());
    }
    let mut app = app_with(plugin);
    load_clean(&mut app);
    let events = frames_collecting::<ModEvent>(&mut app, FRAMES);

    let heard = heard(&events);
    let listener = info(&app, "z-listener");
    assert_eq!(listener.faults, 0, "{listener:?}");
    // Every tick but the last delivered what the others sent the tick
    // before: all of the calm sender's, 39 of the floods' 50.
    let delivered = listener.ticks - 1;
    assert_eq!(heard["a-calm"], delivered, "{heard:?}");
    let flooded: u64 = floods.iter().map(|f| heard[*f]).sum();
    assert_eq!(flooded, 39 * delivered, "{heard:?}");
    for f in floods {
        assert!(
            (7 * delivered..=8 * delivered).contains(&heard[f]),
            "{heard:?}"
        );
        assert_eq!(info(&app, f).faults, 0);
    }
    assert_eq!(listener.cost.events_dropped, 11 * delivered);
    assert_eq!(listener.cost.skipped_ticks, 0);
}

#[test]
fn input_a_mod_cannot_decode_is_reported_against_whoever_made_it() {
    let dir = folder_with(&[
        ("greeter", "a-greeter.wasm"),
        ("hostile", "b-garbler.wasm"),
        ("hostile", "c-chatter.wasm"),
        ("hostile", "z-listener.wasm"),
    ]);
    let garbler = Hostile {
        garble: true,
        ..Hostile::chatter("garbler", 1)
    };
    let mut app = app_with(
        ModPlugin::new()
            .with_mods_dir(&dir)
            .with_limits(relaxed_limits())
            // The listener hears everyone's `chat` and reads the greeter's
            // `Badge`: names the game opens to all.
            .with_shared_name("chat")
            .with_shared_name("Badge")
            .with_config("b-garbler", garbler.config())
            .with_config("c-chatter", Hostile::chatter("chatter", 1).config())
            .with_config("z-listener", Hostile::new("listen", "listener").config()),
    );
    load_clean(&mut app);
    // The greeter keeps a badge once a player joined; the listener reads
    // badges with a shape of its own.
    app.world_mut().write_message(PlayerJoined {
        name: "Ada".into(),
        level: 2,
    });
    let events = frames_collecting::<ModEvent>(&mut app, 10);

    let listener = info(&app, "z-listener");
    assert_eq!(
        (listener.status, listener.faults),
        (ModStatus::Running, 0),
        "{listener:?}"
    );
    // It went on past the garbled events: the good ones were counted.
    let heard = heard(&events);
    assert!(heard["c-chatter"] >= 8, "{heard:?}");
    assert!(!heard.contains_key("b-garbler"), "{heard:?}");

    let garbler = info(&app, "b-garbler");
    assert!(garbler.cost.rejected_by_others >= 8, "{garbler:?}");
    let report = garbler.cost.last_rejection.unwrap();
    assert!(
        report.contains("mod `z-listener` could not decode event `chat`"),
        "{report}"
    );
    let greeter = info(&app, "a-greeter");
    assert_eq!(greeter.faults, 0);
    let report = greeter.cost.last_rejection.expect("the badge was rejected");
    assert!(
        report
            .contains("mod `z-listener` could not decode the value of component `Badge` on entity"),
        "{report}"
    );
    assert_eq!(info(&app, "c-chatter").cost.rejected_by_others, 0);
}

#[test]
fn an_event_is_its_mod_s_and_others_send_it_only_when_shared() {
    // The greeter's `greeting` and `c-claimer`'s `chat` are theirs.
    let dir = folder_with(&[
        ("greeter", "a-greeter.wasm"),
        ("hostile", "b-thief.wasm"),
        ("hostile", "c-claimer.wasm"),
        ("hostile", "d-other.wasm"),
    ]);
    let claimer = Hostile {
        claim: true,
        ..Hostile::chatter("claimer", 1)
    };
    let other = Hostile {
        target: Some("c-claimer:chat".into()),
        ..Hostile::chatter("other", 1)
    };
    let thief = Hostile {
        target: Some("a-greeter:greeting".into()),
        ..Hostile::new("steal-event", "thief")
    };
    let mut app = app_with(
        ModPlugin::new()
            .with_mods_dir(&dir)
            .with_limits(relaxed_limits())
            .with_config("b-thief", thief.config())
            .with_config("c-claimer", claimer.config())
            .with_config("d-other", other.config()),
    );
    load(&mut app);
    app.world_mut().write_message(PlayerJoined {
        name: "Ada".into(),
        level: 2,
    });
    let events = frames_collecting::<ModEvent>(&mut app, 8);
    assert!(
        !events.iter().any(|e| e.name.ends_with(":escaped")),
        "{events:?}"
    );
    for (id, says) in [
        ("b-thief", "event `a-greeter:greeting` is mod `a-greeter`'s"),
        ("d-other", "event `c-claimer:chat` is mod `c-claimer`'s"),
    ] {
        let fault = info(&app, id).last_error.expect("refused");
        assert_eq!(fault.kind, FaultKind::InvalidOutput, "{fault}");
        assert!(fault.message.contains(says), "{id}: {fault}");
    }
    assert_eq!(info(&app, "a-greeter").faults, 0);
    assert_eq!(info(&app, "c-claimer").faults, 0);
    assert!(events.iter().any(|e| e.name == "a-greeter:greeting"));
    assert!(
        events
            .iter()
            .filter(|e| e.name.ends_with(":greeting") || e.name.ends_with(":chat"))
            .all(|e| e.name == "a-greeter:greeting" || e.name == "c-claimer:chat"),
        "only the greeter greets, only the claimer chats: {events:?}"
    );

    // Shared, the name is open to the other mod.
    let dir = folder_with(&[("hostile", "c-claimer.wasm"), ("hostile", "d-other.wasm")]);
    let sharer = Hostile {
        share: true,
        ..claimer.clone()
    };
    let mut app = app_with(
        ModPlugin::new()
            .with_mods_dir(&dir)
            .with_limits(relaxed_limits())
            .with_config("c-claimer", sharer.config())
            .with_config("d-other", other.config()),
    );
    load(&mut app);
    let events = frames_collecting::<ModEvent>(&mut app, 8);
    let d = info(&app, "d-other");
    assert_eq!(d.faults, 0, "{d:?}");
    assert!(
        events
            .iter()
            .any(|e| e.source == "d-other" && e.name == "c-claimer:chat")
    );

    // A name the game opens to all is nobody's: both send it, plain.
    let dir = folder_with(&[("hostile", "c-claimer.wasm"), ("hostile", "d-other.wasm")]);
    let mut app = app_with(
        ModPlugin::new()
            .with_mods_dir(&dir)
            .with_limits(relaxed_limits())
            .with_shared_name("chat")
            .with_config("c-claimer", claimer.config())
            .with_config("d-other", Hostile::chatter("other", 1).config()),
    );
    load(&mut app);
    let events = frames_collecting::<ModEvent>(&mut app, 8);
    for id in ["c-claimer", "d-other"] {
        let m = info(&app, id);
        assert_eq!(m.faults, 0, "{m:?}");
        assert!(events.iter().any(|e| e.source == id && e.name == "chat"));
    }
}

/// Everything well-behaved mods did, by mod: the mover's entities and
/// ticks, the greeter's badge.
fn results(app: &mut App) -> Vec<String> {
    let mut out = Vec::new();
    for (id, count) in [("a-mover", 5u32), ("b-mover", 7)] {
        let ticks = info(app, id).ticks;
        assert_mover_exact(app.world_mut(), id, count, ticks);
        out.push(format!("{id}: {ticks} ticks"));
    }
    let world = app.world_mut();
    let badges: Vec<Vec<u8>> = world
        .query::<(&ModData, &SpawnedByMod)>()
        .iter(world)
        .filter(|(_, s)| &*s.0 == "c-greeter")
        .filter_map(|(d, _)| d.values.get("c-greeter:Badge").cloned())
        .collect();
    out.push(format!("badges: {badges:?}"));
    out
}

#[test]
fn attackers_beside_several_mods_on_shared_workers_in_real_time() {
    // Each attacker is stopped with its own fault; the movers and the
    // greeter, sharing two workers with them, keep their pace and results.
    // Each attack that works for a while (the hog's hundred thousand
    // calls, the flood's million events, the hoard, the allocations) can
    // also outlast its time limit when the machine is loaded before it
    // reaches its cap: stopped either way.
    let attackers: [(&str, &str, &[FaultKind]); 5] = [
        ("x-looper", "loop", &[FaultKind::Timeout]),
        (
            "x-hog",
            "hog-main-thread",
            &[FaultKind::OverBudget, FaultKind::Timeout],
        ),
        (
            "x-flood",
            "flood",
            &[FaultKind::InvalidOutput, FaultKind::Timeout],
        ),
        (
            "x-hoarder",
            "hoard-bytes",
            &[FaultKind::InvalidOutput, FaultKind::Timeout],
        ),
        (
            "x-allocator",
            "allocate",
            &[FaultKind::OutOfMemory, FaultKind::Timeout],
        ),
    ];
    let honest = [
        ("mover", "a-mover.wasm"),
        ("mover", "b-mover.wasm"),
        ("greeter", "c-greeter.wasm"),
    ];
    let run = |with_attackers: bool| {
        let mut files: Vec<(&str, String)> =
            honest.iter().map(|(c, f)| (*c, f.to_string())).collect();
        if with_attackers {
            files.extend(
                attackers
                    .iter()
                    .map(|(f, _, _)| ("hostile", format!("{f}.wasm"))),
            );
        }
        let files: Vec<(&str, &str)> = files.iter().map(|(c, f)| (*c, f.as_str())).collect();
        let dir = folder_with(&files);
        let mut plugin = ModPlugin::new()
            .with_mods_dir(&dir)
            .with_limits(ModLimits {
                hard_call_limit: Duration::from_millis(500),
                soft_call_budget: Duration::from_millis(500),
                state_bytes_per_mod: 4 << 20,
                ..ModLimits::default()
            })
            .with_worker_threads(2)
            .with_config("a-mover", mover_config(5, false, "mover-a"))
            .with_config("b-mover", mover_config(7, true, "mover-b"));
        for (id, attack, _) in attackers {
            plugin = plugin.with_config(id, Hostile::new(attack, id).config());
        }
        let mut app = app_in_real_time(plugin);
        load_clean(&mut app);
        let (stop, spinners) = busy_threads(2);
        let started = Instant::now();
        let mut slowest = Duration::ZERO;
        let mut frames_run = 0;
        let joined_at = 20;
        // Until every attacker faulted (or, alone, as many frames).
        while frames_run < 150
            || (with_attackers
                && attackers
                    .iter()
                    .any(|(id, _, _)| info(&app, id).faults == 0))
        {
            assert!(started.elapsed() < Duration::from_secs(90), "too slow");
            if frames_run == joined_at {
                app.world_mut().write_message(PlayerJoined {
                    name: "Ada".into(),
                    level: 3,
                });
            }
            let t = Instant::now();
            app.update();
            slowest = slowest.max(t.elapsed());
            frames_run += 1;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for s in spinners {
            s.join().unwrap();
        }
        (app, slowest, frames_run)
    };

    let (mut alone, _, _) = run(false);
    let (mut beside, slowest, frames_run) = run(true);
    for (id, _, kinds) in attackers {
        let attacker = info(&beside, id);
        let fault = attacker.last_error.clone().expect("faulted");
        assert!(kinds.contains(&fault.kind), "{id}: {fault}");
    }
    for id in ["a-mover", "b-mover", "c-greeter"] {
        let m = info(&beside, id);
        assert_eq!(m.faults, 0, "{m:?}");
        assert!(
            m.ticks + 15 >= frames_run as u64,
            "{id} ticked {} times in {frames_run} frames",
            m.ticks
        );
    }
    // Frames of a few ms on a loaded 2-core machine; a frame that waited
    // for the looper would take 500 ms, one that staged all the hog's
    // inserts about as long.
    assert!(
        slowest < Duration::from_millis(250),
        "a frame took {slowest:?}"
    );
    // The same results for the same ticks (each mover's own count).
    let (a, b) = (results(&mut alone), results(&mut beside));
    assert_eq!(a.last(), b.last(), "the greeter's badge");
}
