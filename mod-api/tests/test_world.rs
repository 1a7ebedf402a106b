//! The native test world keeps the game's rules: each test is a small mod
//! run against it, and what a modder would see.

use mod_api::prelude::*;
use mod_api::testing::{FaultKind, Limits, TestWorld};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
struct Position {
    x: f32,
    y: f32,
}
component!(Position { x: f32, y: f32 });

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
struct Velocity {
    x: f32,
    y: f32,
}
// No field list: batches carry it as MessagePack.
component!(Velocity);

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Health(u32);
component!(Health);

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Note {
    text: String,
    tags: Vec<String>,
}
component!(Note);

fn world<M: Mod + Default>() -> TestWorld<M> {
    TestWorld::<M>::with_id("test-mod", "0.1.0")
        .expose::<Position>()
        .expose::<Velocity>()
        .expose_read_only::<Health>()
}

/// Spawns one entity on its first tick, then moves every entity it may.
#[derive(Default)]
struct Mover;
impl Mod for Mover {
    fn manifest(&self, m: Manifest) -> Manifest {
        m.query::<(Position, Velocity)>()
    }
    fn tick(&mut self, tick: &Tick) -> Result<()> {
        if tick.frame == 0 {
            spawn(&(Position { x: 0.0, y: 0.0 }, Velocity { x: 1.0, y: 2.0 }))?;
        }
        update_batch::<(Position, Velocity), _>(|_, (p, v)| Position {
            x: p.x + v.x,
            y: p.y + v.y,
        })
    }
}

#[test]
fn a_mod_moves_its_own_entities_and_leaves_others_alone() {
    let mut w = world::<Mover>();
    let rock = w.spawn(&(Position { x: 5.0, y: 5.0 }, Velocity { x: 1.0, y: 1.0 }));
    let rival = w.spawn_as(
        "rival",
        &(Position { x: 9.0, y: 9.0 }, Velocity { x: 1.0, y: 1.0 }),
    );
    w.run(4).unwrap();
    let mine = w.entities_owned_by_mod();
    assert_eq!(mine.len(), 1);
    assert_eq!(w.owner(mine[0]), Some("test-mod"));
    // Spawned during tick 0 (not in that tick's query), moved by ticks 1-3.
    assert_eq!(
        w.get::<Position>(mine[0]),
        Some(Position { x: 3.0, y: 6.0 })
    );
    assert_eq!(w.get::<Position>(rock), Some(Position { x: 5.0, y: 5.0 }));
    assert_eq!(w.get::<Position>(rival), Some(Position { x: 9.0, y: 9.0 }));
}

#[test]
fn a_grant_lets_a_mod_move_every_entity() {
    let mut w = world::<Mover>().grant_modify_any_entity();
    let rock = w.spawn(&(Position { x: 5.0, y: 5.0 }, Velocity { x: 1.0, y: 1.0 }));
    w.run(2).unwrap();
    assert_eq!(w.get::<Position>(rock), Some(Position { x: 7.0, y: 7.0 }));
}

/// Spawns two entities, then writes what the game refuses.
#[derive(Default)]
struct Trespasser;
impl Mod for Trespasser {
    fn manifest(&self, m: Manifest) -> Manifest {
        m.query::<(Position, Health)>()
    }
    fn tick(&mut self, _: &Tick) -> Result<()> {
        let first = spawn(&Position { x: 1.0, y: 1.0 })?;
        spawn(&Position { x: 2.0, y: 2.0 })?;
        emit("spawned", &2)?;
        insert(first, &Health(10))
    }
}

#[test]
fn a_refused_write_refuses_the_whole_tick() {
    let mut w = world::<Trespasser>();
    let fault = w.tick().unwrap_err();
    // The mod returned the error; the host had refused the tick already.
    assert_eq!(fault.kind, FaultKind::Refused);
    assert!(fault.message.contains("Health"), "{fault}");
    assert!(
        w.entities_with::<Position>().is_empty(),
        "nothing is half-applied"
    );
    assert!(w.emitted().is_empty());
}

/// Tries to change the game's entity, and swallows the error.
#[derive(Default)]
struct Sneak;
impl Mod for Sneak {
    fn manifest(&self, m: Manifest) -> Manifest {
        m.query::<Position>()
    }
    fn tick(&mut self, _: &Tick) -> Result<()> {
        spawn(&Position { x: 1.0, y: 1.0 })?;
        for (e, _) in read_batch::<Position>()? {
            let refused = insert(e, &Position { x: 0.0, y: 0.0 });
            assert!(matches!(refused, Err(Error::NotOwner(x)) if x == e));
        }
        Ok(())
    }
}

#[test]
fn ignoring_a_refusal_does_not_save_the_tick() {
    let mut w = world::<Sneak>();
    let rock = w.spawn(&Position { x: 5.0, y: 5.0 });
    let fault = w.tick().unwrap_err();
    assert_eq!(fault.kind, FaultKind::Refused);
    assert!(fault.message.contains("belongs to someone else"), "{fault}");
    assert_eq!(w.entities_with::<Position>(), vec![rock]);
}

/// Spawns as many as it can every tick.
#[derive(Default)]
struct Swarm {
    refused: Vec<u32>,
}
impl Mod for Swarm {
    fn tick(&mut self, _: &Tick) -> Result<()> {
        let mut refused = 0;
        for i in 0..100 {
            match spawn(&Position {
                x: i as f32,
                y: 0.0,
            }) {
                Ok(_) => {}
                Err(Error::LimitExceeded(_)) => refused += 1,
                Err(e) => return Err(e),
            }
        }
        self.refused.push(refused);
        Ok(())
    }
}

#[test]
fn spawns_are_capped_as_the_game_reserves_ids() {
    let mut w = world::<Swarm>().limits(Limits {
        entities_per_mod: 150,
        ..Limits::default()
    });
    w.run(5).unwrap();
    // 16 ids on the first tick, then twice what the last tick spawned, up
    // to the 150 the mod may own; the refusals never refuse the tick.
    assert_eq!(w.the_mod().refused, vec![84, 68, 36, 62, 100]);
    assert_eq!(w.entities_owned_by_mod().len(), 150);
}

#[derive(Deserialize, Serialize, Debug, PartialEq)]
struct Ping {
    n: u32,
    path: Vec<Vec<String>>,
}

/// Answers each `ping` with a `pong` carrying the same nested payload.
/// Its `ping` is its own (`test-mod:ping`), which it lets others send.
#[derive(Default)]
struct Echo {
    heard: Vec<(Option<String>, u32)>,
}
impl Mod for Echo {
    fn manifest(&self, m: Manifest) -> Manifest {
        m.subscribe("ping")
            .subscribe("PlayerJoined")
            .emits("pong")
            .emits("ping")
            .share("ping")
    }
    fn event(&mut self, event: &Event) -> Result<()> {
        if event.name != "ping" && event.name != "PlayerJoined" {
            return Ok(());
        }
        let ping: Ping = event.decode()?;
        self.heard.push((event.source.clone(), ping.n));
        emit("pong", &ping)?;
        // Its own `ping` is never delivered back to it.
        emit("ping", &Ping { n: 0, path: vec![] })
    }
}

#[test]
fn events_arrive_next_tick_game_first_and_never_from_oneself() {
    let mut w = world::<Echo>();
    let nested = vec![vec!["a".to_string(), "b".to_string()], vec![]];
    w.send_from(
        "other",
        "test-mod:ping",
        &Ping {
            n: 2,
            path: nested.clone(),
        },
    );
    w.send("PlayerJoined", &Ping { n: 1, path: vec![] });
    w.send_from("other", "unheard", &0);
    // Another mod's `ping` is its own, not this one's.
    w.send_from("other", "ping", &Ping { n: 3, path: vec![] });
    w.run(3).unwrap();
    assert_eq!(
        w.the_mod().heard,
        vec![(None, 1), (Some("other".to_string()), 2)]
    );
    let pongs: Vec<Ping> = w.emitted_as("pong");
    assert_eq!(pongs[1], Ping { n: 2, path: nested });
    assert_eq!(w.emitted().iter().filter(|e| e.frame == 0).count(), 4);
    assert_eq!(w.emitted()[0].name, "test-mod:pong");
}

/// Emits names it may not.
#[derive(Default)]
struct Impostor {
    name: String,
}
impl Mod for Impostor {
    fn init(&mut self, config: &[u8]) -> Result<()> {
        self.name = rmp_serde::from_slice(config).map_err(|e| Error::msg(e.to_string()))?;
        Ok(())
    }
    fn tick(&mut self, _: &Tick) -> Result<()> {
        emit(&self.name, &1)
    }
}

#[test]
fn game_messages_and_claimed_names_cannot_be_emitted() {
    let mut w = world::<Impostor>().config(&"PlayerJoined");
    w.send("PlayerJoined", &0);
    let fault = w.tick().unwrap_err();
    assert!(matches!(fault.kind, FaultKind::Refused), "{fault}");
    assert!(fault.message.contains("the game's message"), "{fault}");

    let mut w = world::<Impostor>()
        .config(&"scorekeeper:score")
        .event_claimed_by("score", "scorekeeper", false);
    let fault = w.tick().unwrap_err();
    assert!(fault.message.contains("is mod `scorekeeper`'s"), "{fault}");
    // A namespace is its mod's even while that mod is not running.
    let mut w = world::<Impostor>().config(&"absent:score");
    assert!(w.tick().unwrap_err().message.contains("is mod `absent`'s"));

    let mut w = world::<Impostor>()
        .config(&"scorekeeper:score")
        .event_claimed_by("score", "scorekeeper", true);
    w.tick().unwrap();
    assert_eq!(w.emitted()[0].name, "scorekeeper:score");

    // Its own `score` is its own, whoever else has one.
    let mut w =
        world::<Impostor>()
            .config(&"score")
            .event_claimed_by("score", "scorekeeper", false);
    w.tick().unwrap();
    assert_eq!(w.emitted()[0].name, "test-mod:score");

    // A name the game opened to all stays plain.
    let mut w = world::<Impostor>().config(&"score").shared_name("score");
    w.tick().unwrap();
    assert_eq!(w.emitted()[0].name, "score");
}

#[test]
fn an_event_that_does_not_decode_blames_its_sender_and_the_mod_goes_on() {
    let mut w = world::<Echo>();
    w.send_raw(Some("broken"), "test-mod:ping", vec![0xc1]);
    w.send_from("fine", "test-mod:ping", &Ping { n: 7, path: vec![] });
    w.tick().unwrap();
    assert_eq!(w.rejects().len(), 1);
    assert_eq!(w.rejects()[0].culprit.as_deref(), Some("broken"));
    assert_eq!(w.rejects()[0].about, "event test-mod:ping");
    assert_eq!(w.the_mod().heard, vec![(Some("fine".to_string()), 7)]);
}

/// Spawns, logs, then panics.
#[derive(Default)]
struct Crasher;
impl Mod for Crasher {
    fn tick(&mut self, _: &Tick) -> Result<()> {
        spawn(&Position { x: 0.0, y: 0.0 })?;
        mod_api::log::warn("about to fall over");
        let empty: Vec<u32> = Vec::new();
        let _ = empty[3];
        Ok(())
    }
}

#[test]
fn a_panic_is_a_fault_that_changes_nothing_but_keeps_the_log() {
    let mut w = world::<Crasher>();
    let fault = w.tick().unwrap_err();
    assert_eq!(fault.kind, FaultKind::Panic);
    assert!(fault.message.contains("index out of bounds"), "{fault}");
    assert!(w.entities_with::<Position>().is_empty());
    assert_eq!(w.logs()[0].message, "about to fall over");
}

/// Reads what the game and it wrote.
#[derive(Default)]
struct Reader {
    seen: Vec<String>,
}
impl Mod for Reader {
    fn manifest(&self, m: Manifest) -> Manifest {
        m.query::<Position>().define::<Note>().query::<Note>()
    }
    fn tick(&mut self, tick: &Tick) -> Result<()> {
        let before = query::<Position>()?.len();
        let e = spawn(&Position { x: 1.0, y: 1.0 })?;
        // The tick's queries are as the tick began; its own changes show
        // through `get`.
        assert_eq!(query::<Position>()?.len(), before);
        assert_eq!(get::<Position>(e)?, Some(Position { x: 1.0, y: 1.0 }));
        insert(
            e,
            &Note {
                text: format!("tick {}", tick.frame),
                tags: vec!["x".into()],
            },
        )?;
        assert_eq!(get::<Health>(e), Err(Error::NotQueried("Health".into())));
        for (_, note) in read_batch::<Note>()? {
            self.seen.push(note.text);
        }
        Ok(())
    }
    fn save(&self) -> Result<Vec<u8>> {
        rmp_serde::to_vec(&self.seen).map_err(|e| Error::msg(e.to_string()))
    }
    fn restore(&mut self, state: &[u8]) -> Result<()> {
        self.seen = rmp_serde::from_slice(state).map_err(|e| Error::msg(e.to_string()))?;
        Ok(())
    }
}

#[test]
fn reads_see_the_tick_start_and_a_reload_keeps_state() {
    let mut w = world::<Reader>();
    w.run(3).unwrap();
    assert_eq!(w.the_mod().seen, vec!["tick 0", "tick 0", "tick 1"]);
    w.reload().unwrap();
    w.tick().unwrap();
    assert_eq!(w.the_mod().seen.len(), 3 + 3);
    assert_eq!(w.entities_with::<(Position, Note)>().len(), 4);
}

/// The notary's `Note`, by its full name.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct NotarysNote {
    text: String,
    tags: Vec<String>,
}
component!(NotarysNote = "notary:Note");

/// Writes the notary's `Note`.
#[derive(Default)]
struct Forger;
impl Mod for Forger {
    fn tick(&mut self, _: &Tick) -> Result<()> {
        spawn(&NotarysNote {
            text: "forged".into(),
            tags: vec![],
        })?;
        Ok(())
    }
}

#[test]
fn a_type_is_its_mod_s_and_another_mod_writes_it_only_when_shared() {
    // Both define a `Note`: each has its own.
    let mut w = world::<Reader>().defined_by("Note", "notary", false);
    w.run(2).unwrap();
    assert_eq!(w.the_mod().seen, vec!["tick 0"]);
    let mut w = world::<Forger>().defined_by("Note", "notary", false);
    let fault = w.tick().unwrap_err();
    assert!(fault.message.contains("is mod `notary`'s"), "{fault}");
    let mut w = world::<Forger>().defined_by("Note", "notary", true);
    w.tick().unwrap();
    assert_eq!(w.entities_with::<NotarysNote>().len(), 1);
}

/// Emits a value nested deeper than the game allows.
#[derive(Default)]
struct Deep;
impl Mod for Deep {
    fn tick(&mut self, _: &Tick) -> Result<()> {
        let mut value = serde_json_like::Nest(vec![]);
        for _ in 0..70 {
            value = serde_json_like::Nest(vec![value]);
        }
        emit("deep", &value)
    }
}

mod serde_json_like {
    /// A list holding a list holding ...
    #[derive(serde::Serialize)]
    pub struct Nest(pub Vec<Nest>);
}

#[test]
fn values_nested_too_deep_are_refused() {
    let mut w = world::<Deep>();
    let fault = w.tick().unwrap_err();
    assert!(fault.message.contains("deep"), "{fault}");
}

#[derive(Default)]
struct BadVersion;
impl Mod for BadVersion {
    fn manifest(&self, m: Manifest) -> Manifest {
        Manifest::new(m.name(), "one")
    }
}

#[test]
fn a_manifest_the_game_refuses_is_refused_here() {
    let mut w = world::<BadVersion>();
    let fault = w.tick().unwrap_err();
    assert!(fault.message.contains("semantic versioning"), "{fault}");
}

/// Logs more than a tick may.
#[derive(Default)]
struct Chatty;
impl Mod for Chatty {
    fn tick(&mut self, _: &Tick) -> Result<()> {
        for i in 0..150 {
            mod_api::log::info(format!("line {i}\nwith a break"));
        }
        Ok(())
    }
}

#[test]
fn log_lines_are_kept_up_to_the_cap() {
    let mut w = world::<Chatty>();
    w.run(2).unwrap();
    assert_eq!(w.logs().len(), 200);
    assert_eq!(w.logs()[199].frame, 1);
}

/// Writes a field of the wrong type into a game component.
#[derive(Default)]
struct WrongShape;
impl Mod for WrongShape {
    fn tick(&mut self, _: &Tick) -> Result<()> {
        #[derive(Serialize, Deserialize)]
        struct Position {
            x: String,
        }
        impl mod_api::Component for Position {
            const NAME: &'static str = "Position";
        }
        spawn(&Position { x: "left".into() }).map(|_| ())
    }
}

#[test]
fn a_value_that_does_not_fit_the_game_type_is_refused() {
    let mut w = world::<WrongShape>();
    let fault = w.tick().unwrap_err();
    assert!(fault.message.contains("Position"), "{fault}");
    assert!(w.entities_with::<Position>().is_empty());
}

/// A badge, as the mod that defined the shared type writes it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Badge {
    title: String,
    level: u32,
}
component!(Badge = "badges:Badge");

/// Another mod's idea of a `Badge`: a bare number.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct OddBadge(u32);
impl mod_api::Component for OddBadge {
    const NAME: &'static str = "badges:Badge";
}

/// Reads every badge (alone, and beside positions) and `get`s each one.
#[derive(Default)]
struct BadgeReader {
    alone: Vec<u32>,
    with_position: Vec<u32>,
    got: Vec<Option<u32>>,
    finished: u32,
}
impl Mod for BadgeReader {
    fn manifest(&self, m: Manifest) -> Manifest {
        m.query::<Badge>().query::<(Position, Badge)>()
    }
    fn tick(&mut self, _: &Tick) -> Result<()> {
        for (_, b) in read_batch::<Badge>()? {
            self.alone.push(b.level);
        }
        for (_, (_, b)) in read_batch::<(Position, Badge)>()? {
            self.with_position.push(b.level);
        }
        for e in query::<Badge>()? {
            self.got.push(get::<Badge>(e)?.map(|b| b.level));
        }
        self.finished += 1;
        Ok(())
    }
}

#[test]
fn a_value_that_does_not_decode_costs_only_itself_and_blames_its_writer() {
    let mut w = world::<BadgeReader>().defined_by("Badge", "badges", true);
    let badge = |level| Badge {
        title: "hero".into(),
        level,
    };
    let a = w.spawn_as("badges", &(Position { x: 0.0, y: 0.0 }, badge(1)));
    let odd = w.spawn_as("badges", &(Position { x: 1.0, y: 0.0 }, badge(2)));
    w.insert_as("sloppy", odd, &OddBadge(9));
    let c = w.spawn_as("badges", &(Position { x: 2.0, y: 0.0 }, badge(3)));
    w.tick().unwrap();

    // The tick ran to its end, with every other value.
    let m = w.the_mod();
    assert_eq!(m.finished, 1);
    assert_eq!(m.alone, vec![1, 3]);
    assert_eq!(m.with_position, vec![1, 3]);
    assert_eq!(m.got, vec![Some(1), None, Some(3)]);
    // Each read that met it reported it, against the mod that wrote it,
    // not the type's owner.
    let rejects = w.rejects();
    assert_eq!(rejects.len(), 3, "{rejects:?}");
    for r in rejects {
        assert_eq!(r.culprit.as_deref(), Some("sloppy"), "{r:?}");
        assert_eq!(
            r.about,
            format!("component badges:Badge of entity {}", odd.to_bits())
        );
    }
    let _ = (a, c);
}

#[test]
fn a_value_of_the_game_s_type_that_does_not_decode_blames_no_one() {
    /// Reads positions as a type that wants more fields than the game's.
    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    struct Position3 {
        x: f32,
        y: f32,
        z: f32,
    }
    impl mod_api::Component for Position3 {
        const NAME: &'static str = "Position";
    }
    #[derive(Default)]
    struct Reader {
        read: usize,
        finished: bool,
    }
    impl Mod for Reader {
        fn manifest(&self, m: Manifest) -> Manifest {
            m.query::<Position>()
        }
        fn tick(&mut self, _: &Tick) -> Result<()> {
            self.read = read_batch::<Position3>()?.len();
            self.finished = true;
            Ok(())
        }
    }
    let mut w = world::<Reader>();
    let e = w.spawn_as("other", &Position { x: 0.0, y: 0.0 });
    w.spawn(&Position { x: 1.0, y: 0.0 });
    w.tick().unwrap();
    assert!(w.the_mod().finished);
    assert_eq!(w.the_mod().read, 0);
    // One report for the column, whose every value is of another shape.
    assert_eq!(w.rejects().len(), 1, "{:?}", w.rejects());
    assert_eq!(w.rejects()[0].culprit, None);
    assert_eq!(
        w.rejects()[0].about,
        format!("component Position of entity {}", e.to_bits())
    );
}

#[test]
fn a_mod_can_report_only_values_it_was_given() {
    /// Blames the writer of a badge it never read, and its own value.
    #[derive(Default)]
    struct Liar {
        target: Option<Entity>,
    }
    impl Mod for Liar {
        fn manifest(&self, m: Manifest) -> Manifest {
            m.query::<Position>()
        }
        fn init(&mut self, config: &[u8]) -> Result<()> {
            self.target = Some(Entity::from_bits(rmp_serde::from_slice(config).unwrap()));
            Ok(())
        }
        fn tick(&mut self, _: &Tick) -> Result<()> {
            let target = self.target.unwrap();
            mod_api::reject_value(target, "badges:Badge", "not read, but blamed");
            let mine = spawn(&Position { x: 0.0, y: 0.0 })?;
            mod_api::reject_value(mine, "Position", "its own");
            Ok(())
        }
    }
    let mut w = TestWorld::<Liar>::with_id("liar", "0.1.0")
        .expose::<Position>()
        .defined_by("Badge", "badges", true);
    let e = w.spawn_as(
        "badges",
        &Badge {
            title: "hero".into(),
            level: 1,
        },
    );
    w = w.config(&e.to_bits());
    w.tick().unwrap();
    assert!(w.rejects().is_empty(), "{:?}", w.rejects());
}
