//! The same world from the same inputs, as a game developer checks it with
//! the headless demo and every example mod (Rust, Python and JavaScript):
//! the checksum after 300 frames is the same run after run, whether the
//! mods were compiled for the run or taken from the compile cache, and
//! whatever the number of worker threads; a game saved at frame 300 and
//! loaded in a new process ends at 600 where a run straight through does.
//!
//! Needs the example mods in `assets/mods` (`bash mods/build.sh`).

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What one headless run printed: its checksum, and its summary.
struct Run {
    checksum: String,
    out: String,
}

fn run(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_demo-game"))
        .current_dir(repo())
        .args(["--headless", "--frames", "300", "--mods", "assets/mods"])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "demo {args:?}: {}\n{text}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let checksum = text
        .lines()
        .find_map(|l| l.strip_prefix("checksum: "))
        .unwrap_or_else(|| panic!("no checksum printed:\n{text}"))
        .to_string();
    // Every example mod ran the whole time: none faulted, none waits.
    let running = text.lines().filter(|l| l.contains("[Running]")).count();
    assert_eq!(running, 10, "demo {args:?}: ten mods running\n{text}");
    for trouble in ["faulted:", "quarantined:", "recovered:"] {
        assert!(!text.contains(trouble), "demo {args:?}:\n{text}");
    }
    Run {
        checksum,
        out: text,
    }
}

#[test]
fn the_demo_gives_the_same_world_cold_and_cached_on_any_number_of_workers() {
    let scratch = tempfile::tempdir().unwrap();
    let cache = scratch.path().join("compiled");
    let cache = cache.to_str().unwrap();
    let runs = [
        // Cold: every mod compiled for this run.
        vec!["--compile-cache", cache],
        // From the cache that run filled.
        vec!["--compile-cache", cache],
        // Cold again, with nothing kept.
        vec!["--no-compile-cache"],
        vec!["--compile-cache", cache, "--workers", "1"],
        vec!["--compile-cache", cache, "--workers", "2"],
        vec!["--compile-cache", cache, "--workers", "8"],
    ];
    let first = run(&runs[0]);
    for args in &runs[1..] {
        let again = run(args);
        assert_eq!(
            again.checksum, first.checksum,
            "demo {args:?} gave another world:\n{}\nthe first run:\n{}",
            again.out, first.out
        );
    }
}

/// Runs the demo headless with `args` in the repository; its exit code and
/// what it printed.
fn demo(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_demo-game"))
        .current_dir(repo())
        .arg("--headless")
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let code = out.status.code().unwrap_or(-1);
    (
        code,
        format!("{text}\n{}", String::from_utf8_lossy(&out.stderr)),
    )
}

fn checksum(out: &str) -> &str {
    out.lines()
        .find_map(|l| l.strip_prefix("checksum: "))
        .unwrap_or_else(|| panic!("no checksum printed:\n{out}"))
}

/// A copy of the example mods (files and package folders) in `dir`.
fn copy_examples(dir: &Path) {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
    copy(&repo().join("assets/mods"), dir);
}

#[test]
fn a_recorded_run_replays_frame_for_frame_in_other_processes() {
    let scratch = tempfile::tempdir().unwrap();
    let mods = scratch.path().join("mods");
    copy_examples(&mods);
    let cache = scratch.path().join("compiled");
    let file = scratch.path().join("session.bwrec");
    let (mods, cache, file) = (
        mods.to_str().unwrap(),
        cache.to_str().unwrap(),
        file.to_str().unwrap(),
    );
    let common = ["--mods", mods, "--compile-cache", cache];
    let (code, recorded) = demo(&[&common[..], &["--frames", "300", "--record", file]].concat());
    assert_eq!(code, 0, "{recorded}");

    // Two processes fed the recording, on different numbers of workers:
    // each frame matches it, and the world ends the same.
    for workers in ["1", "4"] {
        let (code, replayed) =
            demo(&[&common[..], &["--replay", file, "--workers", workers]].concat());
        assert_eq!(code, 0, "{replayed}");
        assert!(
            replayed.contains("replay: 301 frames, each the same as the recording"),
            "{replayed}"
        );
        assert!(replayed.contains("frames: 300"), "{replayed}");
        assert_eq!(checksum(&replayed), checksum(&recorded), "{replayed}");
    }
}

#[test]
fn a_replay_with_a_mod_changed_names_it_at_the_first_frame_that_differs() {
    let scratch = tempfile::tempdir().unwrap();
    let mods = scratch.path().join("mods");
    copy_examples(&mods);
    let cache = scratch.path().join("compiled");
    let file = scratch.path().join("session.bwrec");
    let (mods_dir, cache, file) = (
        mods.to_str().unwrap(),
        cache.to_str().unwrap(),
        file.to_str().unwrap(),
    );
    let common = ["--mods", mods_dir, "--compile-cache", cache];
    let (code, recorded) = demo(&[&common[..], &["--frames", "200", "--record", file]].concat());
    assert_eq!(code, 0, "{recorded}");

    // The player's Python greeter is another build: it greets "Welcome
    // back" (version 0.2.0). The game sends the first player on the mods'
    // first frame; the greeter hears them on the next.
    std::fs::copy(
        repo().join("target/mods-py/next/greeter_py.wasm"),
        mods.join("greeter_py.wasm"),
    )
    .expect("the Python greeter's next version (bash mods/build.sh)");
    let (code, replayed) = demo(&[&common[..], &["--replay", file]].concat());
    assert_eq!(code, 3, "a diverging replay exits with 3:\n{replayed}");
    assert!(
        replayed.contains(
            "replay: mod `greeter_py` runs other code than the recording's (version 0.2.0, \
             recorded 0.1.0)"
        ),
        "{replayed}"
    );
    let report = replayed
        .lines()
        .find(|l| l.starts_with("replay: the replay diverged at frame "))
        .unwrap_or_else(|| panic!("no divergence reported:\n{replayed}"));
    assert!(
        report.starts_with("replay: the replay diverged at frame 1 (mods: greeter_py): mod `greeter_py` did other things"),
        "{report}"
    );
}

#[test]
fn a_game_saved_at_frame_300_and_loaded_in_a_new_process_ends_as_600_frames_straight() {
    let scratch = tempfile::tempdir().unwrap();
    let mods = scratch.path().join("mods");
    copy_examples(&mods);
    let cache = scratch.path().join("compiled");
    let file = scratch.path().join("saves/at-300.bwsave");
    let (mods, cache, file) = (
        mods.to_str().unwrap(),
        cache.to_str().unwrap(),
        file.to_str().unwrap(),
    );
    let common = ["--mods", mods, "--compile-cache", cache];
    let (code, straight) = demo(&[&common[..], &["--frames", "600"]].concat());
    assert_eq!(code, 0, "{straight}");

    let (code, saving) =
        demo(&[&common[..], &["--frames", "300", "--save-at", "300", file]].concat());
    assert_eq!(code, 0, "{saving}");
    let saved = saving
        .lines()
        .find(|l| l.starts_with("game saved: "))
        .unwrap_or_else(|| panic!("not saved:\n{saving}"));
    assert!(saved.contains(", frame 300, "), "{saved}");
    assert!(
        !saving.contains(&format!("game saved: {file}: ")),
        "{saving}"
    );

    // A new process goes on from the save: frames 301 to 600.
    let (code, loaded) = demo(&[&common[..], &["--load", file, "--frames", "300"]].concat());
    assert_eq!(code, 0, "{loaded}");
    let line = loaded
        .lines()
        .find(|l| l.starts_with("game loaded: "))
        .unwrap_or_else(|| panic!("not loaded:\n{loaded}"));
    assert!(line.contains(", frame 300, "), "{line}");
    assert!(
        !loaded.contains(&format!("game loaded: {file}: ")),
        "every mod restored:\n{loaded}"
    );
    let running = loaded.lines().filter(|l| l.contains("[Running]")).count();
    assert_eq!(running, 10, "{loaded}");
    assert_eq!(
        checksum(&loaded),
        checksum(&straight),
        "the loaded game ends where 600 frames straight do:\n{loaded}\nstraight:\n{straight}"
    );
}
