//! The fuzz harness (`tests/harness`) on real traffic, so CI checks what
//! the fuzzer builds on: recorded ticks of the example mods are applied the
//! same whether or not the worker's checks ran first; hostile commands are
//! refused by the worker and, on their own, by the main thread; the checked-in
//! seed corpus and thousands of mutations of it break none of the rules the
//! harness checks (it panics when one breaks).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use bevy_wasm_mods::prelude::*;
use demo_game::PlayerJoined;
use fuzz_harness::{self as fuzzing, Outcome};
use mod_tests::*;

/// Ticks of the three example mods, recorded in one real run.
fn recorded() -> &'static [Vec<u8>] {
    static CASES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    CASES.get_or_init(|| {
        let dir = folder_with(&[
            ("mover", "mover.wasm"),
            ("greeter", "greeter.wasm"),
            ("raw_spinner", "raw_spinner.wasm"),
        ]);
        let (tap, recording) = fuzzing::recorder();
        let mut app = app_with(
            ModPlugin::new()
                .with_mods_dir(&dir)
                .with_limits(relaxed_limits())
                .with_traffic_tap(tap),
        );
        load(&mut app);
        for frame in 0..8 {
            if frame % 3 == 0 {
                app.world_mut().write_message(PlayerJoined {
                    name: format!("player {frame}"),
                    level: frame + 2,
                });
            }
            app.update();
        }
        recording.take()
    })
}

fn by_mod() -> BTreeMap<String, Vec<&'static [u8]>> {
    let mut out: BTreeMap<String, Vec<&[u8]>> = BTreeMap::new();
    for case in recorded() {
        let name = fuzzing::case_mod_name(case).expect("a recorded case decodes");
        out.entry(name).or_default().push(case);
    }
    out
}

#[test]
fn recorded_ticks_are_applied_alike_with_and_without_the_worker_checks() {
    let by_mod = by_mod();
    assert_eq!(
        by_mod.keys().map(String::as_str).collect::<Vec<_>>(),
        ["greeter", "mover", "raw_spinner"]
    );
    for (name, cases) in &by_mod {
        assert!(cases.len() >= 6, "{name}: {} ticks recorded", cases.len());
        let mut commands = 0;
        for (i, case) in cases.iter().enumerate() {
            let report = fuzzing::check_case(case);
            let Outcome::Applied(n) = report.direct else {
                panic!("{name} tick {i}: {report:?}");
            };
            assert_eq!(report.via_worker, Outcome::Applied(n), "{name} tick {i}");
            commands += n;
        }
        assert!(commands >= cases.len(), "{name}: only {commands} commands");
    }
}

/// The mover's tick after its spawns: its query reads its own entities.
fn mover_case() -> &'static [u8] {
    by_mod()["mover"][2]
}

#[test]
fn hostile_commands_are_refused_by_the_worker_and_by_the_main_thread_each() {
    let variants = fuzzing::hostile_variants(mover_case());
    assert_eq!(variants.len(), 15);
    for (name, case) in &variants {
        let report = fuzzing::check_case(case);
        assert!(
            matches!(report.direct, Outcome::Refused(_)),
            "{name}: the main thread let it through: {:?}",
            report.direct
        );
        // Whether a value fits its type takes the game's type registry,
        // which only the main thread has; the worker checks the rest.
        let refused_by_worker = matches!(report.via_worker, Outcome::WorkerRefused(_));
        if *name == "wrong-type" {
            assert!(
                matches!(report.via_worker, Outcome::Refused(_)),
                "{name}: {:?}",
                report.via_worker
            );
        } else {
            assert!(
                refused_by_worker,
                "{name}: the worker let it through: {:?}",
                report.via_worker
            );
        }
    }
}

fn corpus_dir() -> PathBuf {
    root().join("fuzz/seeds/mod_output")
}

#[test]
fn checked_in_corpus_runs_clean() {
    let mut files = 0;
    for entry in std::fs::read_dir(corpus_dir()).expect("the seed corpus is checked in") {
        let path = entry.unwrap().path();
        fuzzing::check_case(&std::fs::read(&path).unwrap());
        files += 1;
    }
    assert!(
        files >= 20,
        "only {files} seeds in {}",
        corpus_dir().display()
    );
}

/// A small deterministic generator (xorshift), so a failure here replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Mutates the reply part of a case (after its context) the way a fuzzer
/// would: flipped bits, interesting bytes, cuts, repeats.
fn mutate(case: &[u8], rng: &mut Rng) -> Vec<u8> {
    let context = 4 + u32::from_le_bytes(case[..4].try_into().unwrap()) as usize;
    let mut out = case.to_vec();
    for _ in 0..1 + rng.below(4) {
        let reply_len = out.len() - context;
        if reply_len == 0 {
            break;
        }
        let at = context + rng.below(reply_len);
        match rng.below(6) {
            0 => out[at] ^= 1 << rng.below(8),
            1 => {
                out[at] =
                    [0x00, 0xff, 0x7f, 0x80, 0xc0, 0xc1, 0xdc, 0xdd, 0xde, 0xdf][rng.below(10)]
            }
            2 => out.truncate(at),
            3 => {
                out.remove(at);
            }
            4 => {
                let end = (at + 1 + rng.below(16)).min(out.len());
                let piece = out[at..end].to_vec();
                out.splice(at..at, piece);
            }
            _ => out.insert(at, rng.next() as u8),
        }
    }
    out
}

#[test]
fn mutated_ticks_never_break_the_rules() {
    let mut seeds: Vec<Vec<u8>> = recorded().to_vec();
    seeds.extend(
        fuzzing::hostile_variants(mover_case())
            .into_iter()
            .map(|(_, c)| c),
    );
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut applied, mut refused) = (0, 0);
    for _ in 0..10_000 {
        let seed = &seeds[rng.below(seeds.len())];
        let report = fuzzing::check_case(&mutate(seed, &mut rng));
        for outcome in [report.direct, report.via_worker] {
            match outcome {
                Outcome::Applied(_) => applied += 1,
                Outcome::Refused(_) | Outcome::WorkerRefused(_) => refused += 1,
                _ => {}
            }
        }
    }
    // Mutations reach staging, not only the decoder.
    assert!(
        applied > 100 && refused > 100,
        "applied {applied}, refused {refused}"
    );
}

/// Writes the recorded ticks and their hostile variants as the fuzzer's seed
/// corpus: `cargo test --release -p mod-tests --test fuzz_cases -- --ignored`.
#[test]
#[ignore = "writes the seed corpus into fuzz/seeds/mod_output"]
fn write_seed_corpus() {
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir).unwrap();
    for (name, cases) in by_mod() {
        for (i, case) in cases.iter().enumerate() {
            std::fs::write(dir.join(format!("{name}-tick-{i}")), case).unwrap();
        }
    }
    for (name, case) in fuzzing::hostile_variants(mover_case()) {
        std::fs::write(dir.join(format!("hostile-{name}")), case).unwrap();
    }
}
