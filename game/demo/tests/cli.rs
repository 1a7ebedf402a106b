//! The demo binary's arguments, as a player types them.

use std::process::Command;

fn demo(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_demo-game"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_and_version_are_answered_on_stdout() {
    let (code, out, _) = demo(&["--help"]);
    assert_eq!(code, 0, "{out}");
    for option in [
        "--headless",
        "--frames",
        "--seconds",
        "--mods",
        "--screenshot",
        "--workers",
        "--record",
        "--replay",
    ] {
        assert!(out.contains(option), "{out}");
    }
    let (code, out, _) = demo(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("demo-game "), "{out}");
}

#[test]
fn arguments_that_do_not_go_together_are_refused_with_a_reason() {
    let (code, _, err) = demo(&["--headless", "--frames", "3", "--seconds", "2"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--frames") && err.contains("--seconds"),
        "{err}"
    );
    let (code, _, err) = demo(&["--headless", "--seconds", "soon"]);
    assert_eq!(code, 2);
    assert!(err.contains("not a number of seconds"), "{err}");
    let (code, _, err) = demo(&["--compile-cache", "x", "--no-compile-cache"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot be used with"), "{err}");
    let (code, _, err) = demo(&["--replay", "x", "--frames", "3"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--replay") && err.contains("--frames"),
        "{err}"
    );
    let (code, _, err) = demo(&["--workers", "0"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = demo(&["--headless", "--replay", "no-such-recording"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("cannot open recording no-such-recording"),
        "{err}"
    );
    let (code, _, err) = demo(&["--fast"]);
    assert_eq!(code, 2);
    assert!(err.contains("--fast"), "{err}");
}
