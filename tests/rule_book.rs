//! One table of calls a mod could make, run against the game's host and
//! against `mod_api::testing::TestWorld`: each case must end the same way in
//! both, refused with the same words or accepted, so a mod's unit test that
//! passes in the test world fails for the same reasons in the game.
//!
//! Both worlds are set up alike: the game exposes `Position` read-write and
//! `Health` read-only and has a `PlayerJoined` message; a mod `rival`
//! defines the type `Badge` and emits the event `greeting` (`rival:Badge`,
//! `rival:greeting`); the mod under test, `probe`, queries `Position` and
//! `Note`, defines `Badge` and `Note` (its own, `probe:Badge` and
//! `probe:Note`), and owns one entity; the game owns another. The caps
//! are lowered so a few calls reach them. In the host, a tick's calls are
//! checked as the mod's worker checks them, then staged and applied as the
//! main thread does; in the test world the probe mod makes them raw.

use mod_api::__private::raw;
use mod_api::testing::Limits;

/// The caps both worlds keep in this test.
fn limits() -> Limits {
    Limits {
        events_per_tick: 3,
        commands_per_tick: 20,
        bytes_per_tick: 4096,
        value_depth: 8,
        state_bytes_per_mod: 2048,
        ..Limits::default()
    }
}

/// An entity a call names.
#[derive(Clone, Copy, Debug)]
enum Who {
    /// The probe's own entity.
    Mine,
    /// The game's entity, which the probe's queries give.
    Game,
    /// The game's entity that none of the probe's queries give.
    Hidden,
    /// An entity that does not exist.
    Missing,
}

/// One raw call.
#[derive(Clone, Debug)]
enum Call {
    Spawn(Vec<(String, Vec<u8>)>),
    Insert(Who, Vec<(String, Vec<u8>)>),
    Remove(Who, Vec<String>),
    Despawn(Who),
    Emit(String, Vec<u8>),
    /// Rows, then columns of MessagePack values (one per row).
    Write(Vec<Who>, Vec<(String, Vec<Vec<u8>>)>),
}

/// How a tick ends.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Applied,
    Refused(String),
    /// Refused in words that begin alike; the rest is each side's decoder
    /// of the value (the game's reflection, the test world's serde type).
    RefusedAs(String),
}

fn pos(x: f32, y: f32) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct P {
        x: f32,
        y: f32,
    }
    rmp_serde::to_vec_named(&P { x, y }).unwrap()
}

fn value(v: impl serde::Serialize) -> Vec<u8> {
    rmp_serde::to_vec_named(&v).unwrap()
}

fn one(name: &str, bytes: Vec<u8>) -> Vec<(String, Vec<u8>)> {
    vec![(name.to_string(), bytes)]
}

fn nested(depth: usize) -> Vec<u8> {
    let mut v = vec![0x91; depth];
    v.push(0x01);
    v
}

/// The table: a name, the calls of one tick, and how the tick ends. `{mine}`,
/// `{game}`, `{hidden}` and `{missing}` in the expected words stand for the
/// entities' ids in each world.
fn cases() -> Vec<(&'static str, Vec<Call>, Outcome)> {
    use Call::*;
    use Outcome::*;
    let refused = |s: &str| Refused(s.to_string());
    vec![
        (
            "a game type exposed read-write",
            vec![Spawn(one("Position", pos(1.0, 2.0)))],
            Applied,
        ),
        (
            "the mod's own type",
            vec![Insert(Who::Mine, one("Note", value("hello")))],
            Applied,
        ),
        (
            "a read-only game type",
            vec![Spawn(one("Health", value(5u32)))],
            refused("component `Health` is read-only"),
        ),
        (
            "a type no one exposed or defined",
            vec![Spawn(one("Nope", value(1)))],
            refused("unknown component `probe:Nope`"),
        ),
        (
            "another mod's type",
            vec![Spawn(one("rival:Badge", value("mine now")))],
            refused("denied: component `rival:Badge` is mod `rival`'s; only it writes it"),
        ),
        (
            "its own type of the name another mod's has",
            vec![Spawn(one("Badge", value("mine")))],
            Applied,
        ),
        (
            "its own type by its full name",
            vec![Insert(Who::Mine, one("probe:Note", value("hello")))],
            Applied,
        ),
        (
            "a type in the namespace of a mod that is not running",
            vec![Spawn(one("absent:Thing", value(1)))],
            refused("unknown component `absent:Thing`"),
        ),
        (
            "bytes that are not MessagePack",
            vec![Spawn(one("Note", vec![0xc1]))],
            refused("invalid value: probe:Note: "),
        ),
        (
            "a value nested deeper than the cap",
            vec![Spawn(one("Note", nested(12)))],
            refused("invalid value: probe:Note: "),
        ),
        (
            "bytes after the value",
            vec![Spawn(one("Note", vec![0x01, 0x02]))],
            refused("invalid value: probe:Note: trailing bytes after the value"),
        ),
        (
            "more components than one call carries",
            vec![Spawn(
                (0..257).map(|_| ("Note".to_string(), value(0))).collect(),
            )],
            refused("invalid value: 257 components in one call; at most 256"),
        ),
        (
            "a change to the game's entity",
            vec![Insert(Who::Game, one("Position", pos(0.0, 0.0)))],
            refused("entity {game} belongs to someone else"),
        ),
        (
            "despawning the game's entity",
            vec![Despawn(Who::Game)],
            refused("entity {game} belongs to someone else"),
        ),
        (
            "a change to the game's entity outside the mod's queries",
            vec![Insert(Who::Hidden, one("Position", pos(0.0, 0.0)))],
            refused("entity {hidden} belongs to someone else"),
        ),
        (
            "a change to an entity that does not exist",
            vec![Insert(Who::Missing, one("Note", value(1)))],
            refused("no entity {missing}"),
        ),
        (
            "despawning an entity that does not exist",
            vec![Despawn(Who::Missing)],
            refused("no entity {missing}"),
        ),
        (
            "a value that does not fit the game's type",
            vec![Spawn(one("Position", value(("not", "a", "position"))))],
            RefusedAs("invalid value: Position: ".into()),
        ),
        (
            "one component twice in one call",
            vec![Spawn(vec![
                ("Note".into(), value(1)),
                ("Note".into(), value(2)),
            ])],
            refused("invalid value: component `probe:Note` given twice in one call"),
        ),
        (
            "a batch row despawned earlier in the tick",
            vec![
                Despawn(Who::Mine),
                Write(
                    vec![Who::Mine],
                    vec![("Position".into(), vec![pos(0.0, 0.0)])],
                ),
            ],
            refused("no entity {mine}"),
        ),
        (
            "a change to an entity despawned this tick",
            vec![
                Despawn(Who::Mine),
                Insert(Who::Mine, one("Position", pos(0.0, 0.0))),
            ],
            refused("no entity {mine}"),
        ),
        (
            "removing a read-only type",
            vec![Remove(Who::Mine, vec!["Health".into()])],
            refused("component `Health` is read-only"),
        ),
        (
            "removing more names than one call takes",
            vec![Remove(Who::Mine, vec!["Note".into(); 257])],
            refused("invalid value: 257 names in one call; at most 256"),
        ),
        (
            "a name longer than any type name",
            vec![Remove(Who::Mine, vec!["N".repeat(129)])],
            refused("unknown component `a name longer than 128 bytes`"),
        ),
        (
            "emitting the game's message",
            vec![Emit("PlayerJoined".into(), value(1))],
            refused("denied: `PlayerJoined` is the game's message; mods cannot send it"),
        ),
        (
            "emitting another mod's event",
            vec![Emit("rival:greeting".into(), value(1))],
            refused("denied: event `rival:greeting` is mod `rival`'s; only it emits it"),
        ),
        (
            "emitting its own event of the name another mod's has",
            vec![Emit("greeting".into(), value(1))],
            Applied,
        ),
        (
            "emitting in the namespace of a mod that is not running",
            vec![Emit("absent:ping".into(), value(1))],
            refused("denied: event `absent:ping` is mod `absent`'s; only it emits it"),
        ),
        (
            "an event without a name",
            vec![Emit(String::new(), value(1))],
            refused("invalid value: event names are 1 to 256 bytes long"),
        ),
        (
            "an event name too long",
            vec![Emit("e".repeat(257), value(1))],
            refused("invalid value: event names are 1 to 256 bytes long"),
        ),
        (
            "an event payload that is not MessagePack",
            vec![Emit("ping".into(), vec![0x92, 0x01])],
            refused("invalid value: probe:ping: "),
        ),
        (
            "events up to the cap",
            vec![Emit("ping".into(), value(1)); 3],
            Applied,
        ),
        (
            "one event more than the cap",
            vec![Emit("ping".into(), value(1)); 4],
            refused("limit exceeded: more than 3 events in one tick"),
        ),
        (
            "one command more than the cap",
            vec![Insert(Who::Mine, one("Note", value(1))); 21],
            refused("limit exceeded: more than 20 commands in one tick"),
        ),
        (
            "more bytes than the cap",
            vec![Insert(Who::Mine, one("Note", value("x".repeat(5000))))],
            refused("limit exceeded: more than 4096 bytes of commands in one tick"),
        ),
        (
            "more spawns than ids reserved: the rest wait, the tick stands",
            vec![Spawn(one("Position", pos(0.0, 0.0))); 17],
            Applied,
        ),
        (
            "more state than the mod may keep",
            vec![
                Insert(Who::Mine, one("Note", value("x".repeat(1500)))),
                Spawn(one("Note", value("y".repeat(1500)))),
            ],
            refused("limit exceeded: the mod's entities would hold"),
        ),
        (
            "a batch of the mod's own rows",
            vec![Write(
                vec![Who::Mine],
                vec![("Position".into(), vec![pos(3.0, 4.0)])],
            )],
            Applied,
        ),
        (
            "a batch with a row of the game's entity",
            vec![Write(
                vec![Who::Game],
                vec![("Position".into(), vec![pos(3.0, 4.0)])],
            )],
            refused("entity {game} belongs to someone else"),
        ),
        (
            "a batch of a mod-defined type",
            vec![Write(
                vec![Who::Mine],
                vec![("Note".into(), vec![value(1)])],
            )],
            refused("invalid value: `probe:Note` is defined by a mod; write it with `insert`"),
        ),
        (
            "a batch with more columns than a query names",
            vec![Write(
                vec![Who::Mine],
                (0..17)
                    .map(|_| ("Position".to_string(), vec![pos(0.0, 0.0)]))
                    .collect(),
            )],
            refused("invalid value: 17 columns in one batch; at most 16"),
        ),
        (
            "a batch column with a value too few",
            vec![Write(vec![Who::Mine], vec![("Position".into(), vec![])])],
            refused("invalid value: column `Position`: 0 values for 1 rows"),
        ),
        (
            "a batch row the mod's queries did not give",
            vec![Write(
                vec![Who::Missing],
                vec![("Position".into(), vec![pos(0.0, 0.0)])],
            )],
            refused(
                "invalid value: batch row {missing}: not an entity the mod's queries gave \
                 with `Position` this tick",
            ),
        ),
    ]
}

/// The game's side.
mod host {
    use super::{Call, Outcome, Who, limits, pos, value};
    use bevy::prelude::*;
    use bevy_wasm_mods::prelude::*;
    use bevy_wasm_mods::protocol::{Column, Command, Encoding, EntityList, WireComponent};
    use bevy_wasm_mods::testing::ModUnderTest;
    use bevy_wasm_mods::{ModManifest, ModSettings};

    #[derive(Component, Reflect, Default)]
    #[reflect(Component)]
    pub struct Position {
        x: f32,
        y: f32,
    }

    #[derive(Component, Reflect, Default)]
    #[reflect(Component)]
    pub struct Health {
        hp: u32,
    }

    #[derive(Message, Reflect, Clone)]
    pub struct PlayerJoined {
        name: String,
    }

    /// Runs one tick of `calls` as the game would; the entities' ids.
    pub fn run(calls: &[Call]) -> (Outcome, [u64; 4]) {
        let mut app = App::new();
        app.add_plugins(ModPlugin::new())
            .add_moddable_component::<Position>(ModAccess::ReadWrite)
            .add_moddable_component::<Health>(ModAccess::Read)
            .add_moddable_message::<PlayerJoined>();
        let rules = limits();
        {
            let mut settings = app.world_mut().resource_mut::<ModSettings>();
            let l = &mut settings.limits;
            l.events_per_tick = rules.events_per_tick;
            l.commands_per_tick = rules.commands_per_tick;
            l.bytes_per_tick = rules.bytes_per_tick;
            l.value_depth = rules.value_depth;
            l.state_bytes_per_mod = rules.state_bytes_per_mod;
        }
        let world = app.world_mut();
        // Ids of four digits, told apart from the small numbers refusals
        // quote (ids are given in order from 1).
        for _ in 0..5000 {
            let e = world.spawn(Health { hp: 0 }).id();
            world.despawn(e);
        }
        let game = world
            .spawn((Position { x: 9.0, y: 9.0 }, Health { hp: 3 }))
            .id();
        let hidden = world.spawn(Health { hp: 1 }).id();
        ModUnderTest::new(
            world,
            ModManifest {
                name: "rival".into(),
                version: "1.0.0".into(),
                defines: vec!["Badge".into()],
                emits: vec!["greeting".into()],
                ..Default::default()
            },
            [],
        );
        let reserved: Vec<Entity> = (0..1 + 16)
            .map(|_| world.entity_allocator().alloc())
            .collect();
        let mut probe = ModUnderTest::new(
            world,
            ModManifest {
                name: "probe".into(),
                version: "1.0.0".into(),
                queries: vec![vec!["Position".into()], vec!["Note".into()]],
                defines: vec!["Badge".into(), "Note".into()],
                ..Default::default()
            },
            reserved,
        );
        // The probe's own entity, from a tick before.
        let mine = probe.reserved()[0];
        let spawn = Command::Spawn {
            entity: mine,
            components: vec![
                wire("Position", pos(1.0, 1.0)),
                wire("probe:Note", value("first")),
            ],
        };
        probe.apply(world, vec![spawn]).expect("the first tick");
        // The ids the mod knows them by; the missing one was never given.
        let id_of = |e: Entity| world.get::<ModId>(e).unwrap().get();
        let ids = [mine, id_of(game), u64::MAX - 7, id_of(hidden)];
        let id = |who: &Who| match who {
            Who::Mine => ids[0],
            Who::Game => ids[1],
            Who::Missing => ids[2],
            Who::Hidden => ids[3],
        };
        let commands: Vec<Command> = calls
            .iter()
            .map(|call| match call {
                Call::Spawn(c) => Command::Spawn {
                    entity: 0,
                    components: c.iter().map(|(n, v)| wire(n, v.clone())).collect(),
                },
                Call::Insert(who, c) => Command::Insert {
                    entity: id(who),
                    components: c.iter().map(|(n, v)| wire(n, v.clone())).collect(),
                },
                Call::Remove(who, names) => Command::Remove {
                    entity: id(who),
                    names: names.clone(),
                },
                Call::Despawn(who) => Command::Despawn { entity: id(who) },
                Call::Emit(name, payload) => Command::Emit {
                    name: name.clone(),
                    payload: payload.clone().into(),
                },
                Call::Write(rows, columns) => Command::WriteBatch {
                    entities: EntityList(rows.iter().map(id).collect()),
                    columns: columns
                        .iter()
                        .map(|(name, values)| {
                            let mut offsets = Vec::new();
                            let mut data = Vec::new();
                            for v in values {
                                offsets.push(data.len() as u32);
                                data.extend_from_slice(v);
                            }
                            Column {
                                name: name.clone(),
                                encoding: Encoding::MsgPack,
                                data: data.into(),
                                offsets,
                            }
                        })
                        .collect(),
                },
            })
            .collect();
        let queries = probe.snapshot(world);
        let outcome = match probe.check_as_worker(world, queries, commands) {
            Err(why) => Outcome::Refused(why),
            Ok(checked) => match probe.apply(world, checked) {
                Ok(()) => Outcome::Applied,
                Err(fault) => Outcome::Refused(fault.message),
            },
        };
        (outcome, ids)
    }

    fn wire(name: &str, value: Vec<u8>) -> WireComponent {
        WireComponent {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// The test world's side.
mod guest {
    use super::{Call, Outcome, Who, limits, raw};
    use mod_api::__private::bindings::bevy_wasm::mods::types::{
        Batch, Column as WitColumn, ColumnEncoding, Component as WitComponent,
    };
    use mod_api::prelude::*;
    use mod_api::testing::TestWorld;
    use serde::{Deserialize, Serialize};
    use std::cell::RefCell;

    #[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
    pub struct Position {
        x: f32,
        y: f32,
    }
    component!(Position { x: f32, y: f32 });

    #[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
    pub struct Health(u32);
    component!(Health);

    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    pub struct Badge(String);
    component!(Badge);

    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    pub struct Note(String);
    component!(Note);

    thread_local! {
        /// The calls the probe makes on its next tick, entities resolved.
        static CALLS: RefCell<Vec<Call>> = const { RefCell::new(Vec::new()) };
        static IDS: RefCell<[u64; 4]> = const { RefCell::new([0; 4]) };
    }

    #[derive(Default)]
    struct Probe;

    impl Mod for Probe {
        fn manifest(&self, manifest: Manifest) -> Manifest {
            manifest
                .query::<Position>()
                .query::<Note>()
                .define::<Badge>()
                .define::<Note>()
        }

        fn tick(&mut self, _: &Tick) -> Result<()> {
            let ids = IDS.with(|i| *i.borrow());
            let id = |who: &Who| match who {
                Who::Mine => ids[0],
                Who::Game => ids[1],
                Who::Missing => ids[2],
                Who::Hidden => ids[3],
            };
            let list = |c: &[(String, Vec<u8>)]| -> Vec<WitComponent> {
                c.iter()
                    .map(|(n, v)| WitComponent {
                        name: n.clone(),
                        value: v.clone(),
                    })
                    .collect()
            };
            // A mod may ignore an error and go on; the tick is refused
            // anyway.
            for call in CALLS.with(|c| std::mem::take(&mut *c.borrow_mut())) {
                let _ = match &call {
                    Call::Spawn(c) => raw::spawn(&list(c)).map(drop),
                    Call::Insert(who, c) => raw::insert(id(who), &list(c)),
                    Call::Remove(who, names) => raw::remove(id(who), names),
                    Call::Despawn(who) => raw::despawn(id(who)),
                    Call::Emit(name, payload) => raw::emit(name, payload),
                    Call::Write(rows, columns) => raw::write_batch(&Batch {
                        entities: rows.iter().map(id).collect(),
                        columns: columns
                            .iter()
                            .map(|(name, values)| {
                                // The array's header: at most 15 values here.
                                let mut data = vec![0x90 | values.len() as u8];
                                for v in values {
                                    data.extend_from_slice(v);
                                }
                                WitColumn {
                                    name: name.clone(),
                                    encoding: ColumnEncoding::Msgpack,
                                    data,
                                }
                            })
                            .collect(),
                    }),
                };
            }
            Ok(())
        }
    }

    /// Runs one tick of `calls` in the test world; the entities' ids.
    pub fn run(calls: &[Call]) -> (Outcome, [u64; 4]) {
        let mut world = TestWorld::<Probe>::with_id("probe", "1.0.0")
            .expose::<Position>()
            .expose_read_only::<Health>()
            .defined_by("Badge", "rival", false)
            .event_claimed_by("greeting", "rival", false)
            .limits(limits());
        // The game's message, known to the world once sent.
        world.send("PlayerJoined", &1);
        let game = world.spawn(&(Position { x: 9.0, y: 9.0 }, Health(3)));
        let mine = world.spawn_as(
            "probe",
            &(Position { x: 1.0, y: 1.0 }, Note("first".into())),
        );
        let hidden = world.spawn(&Health(1));
        let ids = [
            mine.to_bits(),
            game.to_bits(),
            u64::MAX - 7,
            hidden.to_bits(),
        ];
        IDS.with(|i| *i.borrow_mut() = ids);
        CALLS.with(|c| *c.borrow_mut() = calls.to_vec());
        let outcome = match world.tick() {
            Ok(()) => Outcome::Applied,
            Err(fault) => Outcome::Refused(fault.message),
        };
        (outcome, ids)
    }
}

/// The outcome with each entity's id written as its name.
fn named(outcome: Outcome, ids: [u64; 4]) -> Outcome {
    match outcome {
        Outcome::Applied | Outcome::RefusedAs(_) => outcome,
        Outcome::Refused(why) => {
            // Whole numbers only: an id may be a few digits, as part of
            // another number is not.
            let names = ["{mine}", "{game}", "{missing}", "{hidden}"];
            let mut out = String::new();
            let mut digits = String::new();
            let flush = |digits: &mut String, out: &mut String| {
                let named = digits
                    .parse::<u64>()
                    .ok()
                    .and_then(|n| ids.iter().position(|id| *id == n));
                match named {
                    Some(i) => out.push_str(names[i]),
                    None => out.push_str(digits),
                }
                digits.clear();
            };
            for c in why.chars() {
                if c.is_ascii_digit() {
                    digits.push(c);
                } else {
                    flush(&mut digits, &mut out);
                    out.push(c);
                }
            }
            flush(&mut digits, &mut out);
            Outcome::Refused(out)
        }
    }
}

#[test]
fn the_game_and_the_test_world_refuse_the_same_calls_with_the_same_words() {
    let mut differ = Vec::new();
    let mut unexpected = Vec::new();
    for (case, calls, expected) in cases() {
        let (in_game, ids) = host::run(&calls);
        let in_game = named(in_game, ids);
        let (in_test, ids) = guest::run(&calls);
        let in_test = named(in_test, ids);
        let alike = match (&expected, &in_game, &in_test) {
            (Outcome::RefusedAs(start), Outcome::Refused(a), Outcome::Refused(b)) => {
                a.starts_with(start.as_str()) && b.starts_with(start.as_str())
            }
            _ => in_game == in_test,
        };
        if !alike {
            differ.push(format!(
                "{case}:\n  game:       {in_game:?}\n  test world: {in_test:?}"
            ));
        }
        let as_expected = match (&expected, &in_game) {
            (Outcome::Applied, Outcome::Applied) => true,
            (Outcome::Refused(want) | Outcome::RefusedAs(want), Outcome::Refused(got)) => {
                got.starts_with(want.as_str())
            }
            _ => false,
        };
        if !as_expected {
            unexpected.push(format!(
                "{case}: expected {expected:?}, the game gave {in_game:?}"
            ));
        }
    }
    assert!(
        differ.is_empty() && unexpected.is_empty(),
        "{} of {} cases differ between the game and the test world:\n{}\n\n\
         {} end otherwise than the table says:\n{}",
        differ.len(),
        cases().len(),
        differ.join("\n"),
        unexpected.len(),
        unexpected.join("\n")
    );
}
