//! `modkit` as a modder uses it: a project in each language from its
//! template, tested, built and checked in the real host; a mod that faults
//! fails the check with its traceback; bad input gets a clear error.
//!
//! The Python and JavaScript tools are the repository's own (`target/`,
//! where `mods/build.sh` installs them, or modkit on first use).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn modkit(dir: &Path, args: &[&str]) -> Output {
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    Command::new(env!("CARGO_BIN_EXE_modkit"))
        .current_dir(dir)
        .env("MODKIT_TOOLS", tools)
        .args(args)
        .output()
        .expect("modkit runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs modkit and insists it succeeds; returns its output.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = modkit(dir, args);
    let all = text(&out);
    assert!(out.status.success(), "modkit {args:?} failed:\n{all}");
    all
}

/// One test at a time: a check runs the mod under the game's own limits
/// (50 ms a call), which a Python interpreter's start can pass on a
/// machine busy with the other tests' builds.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// A scratch folder, removed at the end (pass or fail).
struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new(name: &str) -> Self {
        Scratch(
            tempfile::Builder::new()
                .prefix(&format!("modkit-test-{name}-"))
                .tempdir()
                .unwrap(),
        )
    }
}

/// New, test, build and check a project from a template; returns its
/// folder and built file.
fn make(scratch: &Scratch, name: &str, lang: &str) -> (PathBuf, PathBuf) {
    ok(scratch.0.path(), &["new", name, "--lang", lang]);
    let dir = scratch.0.path().join(name);
    ok(&dir, &["test"]);
    let built = ok(&dir, &["build"]);
    assert!(
        built.contains(&format!("built build/{name}.wasm"))
            && built.contains(&format!("and build/{name}.zip, its package")),
        "{built}"
    );
    assert!(dir.join("build").join(format!("{name}.zip")).is_file());
    let wasm = dir.join("build").join(format!("{name}.wasm"));
    let checked = ok(&dir, &["check", &format!("build/{name}.wasm")]);
    assert!(
        checked.contains(&format!("manifest: {name} 0.1.0")),
        "{checked}"
    );
    assert!(
        checked.contains("queries:    (Position, Velocity)"),
        "{checked}"
    );
    assert!(checked.contains("time per tick: median"), "{checked}");
    assert!(checked.contains("3 entities"), "{checked}");
    assert!(checked.contains(&format!("clean: {name} ran")), "{checked}");
    // What the template's mod logs reaches the console under its id.
    assert!(checked.contains("spawned three entities"), "{checked}");
    (dir, wasm)
}

#[test]
fn a_rust_mod_from_the_template_tests_builds_checks_and_runs() {
    let _turn = turn();
    let scratch = Scratch::new("rust");
    let (dir, rust) = make(&scratch, "hello-rs", "rust");
    // Beside a bundled example, in the demo game.
    let mover = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/mods/mover.wasm");
    if mover.exists() {
        // Its package, with an asset and a dependency on the mover: it
        // waits without it, and runs beside it.
        // An image, and one that is not.
        std::fs::write(dir.join("assets/hello.txt"), "hello").unwrap();
        let storm = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../mods/storm/assets/storm.png");
        std::fs::copy(storm, dir.join("assets/icon.png")).unwrap();
        std::fs::write(dir.join("assets/broken.png"), "not a picture").unwrap();
        let manifest = dir.join("mod.toml");
        let toml = std::fs::read_to_string(&manifest).unwrap();
        std::fs::write(&manifest, format!("{toml}mover = \"^0.1\"\n")).unwrap();
        let built = ok(&dir, &["build"]);
        assert!(built.contains("its package with 4 asset(s)"), "{built}");
        let out = modkit(&dir, &["check", "build/hello-rs.zip", "--frames", "30"]);
        let all = text(&out);
        assert!(!out.status.success(), "{all}");
        assert!(all.contains("package: hello-rs 0.1.0"), "{all}");
        assert!(all.contains("icon.png (32x32 image)"), "{all}");
        assert!(
            all.contains("problem: asset left out: assets/broken.png: not a PNG"),
            "{all}"
        );
        std::fs::remove_file(dir.join("assets/broken.png")).unwrap();
        ok(&dir, &["build"]);
        assert!(all.contains("depends on mover ^0.1"), "{all}");
        assert!(
            all.contains("waits for mover ^0.1 (not installed)"),
            "{all}"
        );
        let others = scratch.0.path().join("others");
        std::fs::create_dir(&others).unwrap();
        std::fs::copy(&mover, others.join("mover.wasm")).unwrap();
        let checked = ok(
            &dir,
            &[
                "check",
                "build/hello-rs.zip",
                "--frames",
                "30",
                "--mods",
                others.to_str().unwrap(),
            ],
        );
        assert!(checked.contains("clean: hello-rs ran"), "{checked}");

        let ran = ok(
            scratch.0.path(),
            &[
                "run",
                rust.to_str().unwrap(),
                mover.to_str().unwrap(),
                "--frames",
                "60",
            ],
        );
        assert!(ran.contains("hello-rs 0.1.0 [Running]"), "{ran}");
        assert!(ran.contains("mover 0.1.0 [Running]"), "{ran}");
        // Its 3, the mover's 10, and the game's ship and six asteroids.
        assert!(ran.contains("entities with a Position: 20"), "{ran}");
    }
}

#[test]
fn a_python_mod_from_the_template_and_its_fault() {
    let _turn = turn();
    let scratch = Scratch::new("python");
    let (dir, _) = make(&scratch, "hello-py", "python");
    // A bug: the check fails, and says where.
    let app = dir.join("app.py");
    let code = std::fs::read_to_string(&app).unwrap().replace(
        "        dt = tick.delta_seconds\n",
        "        if tick.frame == 5:\n            {}[\"missing-key\"]\n        dt = tick.delta_seconds\n",
    );
    std::fs::write(&app, code).unwrap();
    ok(&dir, &["build"]);
    let out = modkit(&dir, &["check", "build/hello-py.wasm"]);
    let all = text(&out);
    assert!(!out.status.success(), "{all}");
    assert!(all.contains("KeyError: 'missing-key'"), "{all}");
    assert!(all.contains("app.py\", line"), "{all}");
    assert!(all.contains("did not run clean"), "{all}");
}

#[test]
fn a_javascript_mod_from_the_template() {
    let _turn = turn();
    let scratch = Scratch::new("js");
    make(&scratch, "hello-js", "js");
}

#[test]
fn mistakes_get_errors_that_say_what_to_do() {
    let _turn = turn();
    let scratch = Scratch::new("mistakes");
    let out = modkit(scratch.0.path(), &["new", "My_Mod", "--lang", "rust"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("lowercase letters"), "{}", text(&out));

    ok(scratch.0.path(), &["new", "taken", "--lang", "js"]);
    let out = modkit(scratch.0.path(), &["new", "taken", "--lang", "python"]);
    assert!(text(&out).contains("already exists"), "{}", text(&out));

    let out = modkit(scratch.0.path(), &["build"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("modkit new NAME"), "{}", text(&out));

    let out = modkit(scratch.0.path(), &["check", "notes.txt"]);
    assert!(
        text(&out).contains("notes.txt: no such file"),
        "{}",
        text(&out)
    );
    std::fs::write(scratch.0.path().join("notes.txt"), "hi").unwrap();
    let out = modkit(scratch.0.path(), &["check", "notes.txt"]);
    assert!(
        text(&out).contains("a mod is a `.wasm` file, a package folder or a `.zip` package"),
        "{}",
        text(&out)
    );

    let out = modkit(scratch.0.path(), &["check", "nothing.wasm"]);
    assert!(
        text(&out).contains("nothing.wasm: no such file"),
        "{}",
        text(&out)
    );

    // Not a component: the game refuses it, and the check says so.
    let junk = scratch.0.path().join("junk.wasm");
    std::fs::write(&junk, b"\0asm but not really").unwrap();
    let out = modkit(scratch.0.path(), &["check", "junk.wasm"]);
    let all = text(&out);
    assert!(!out.status.success(), "{all}");
    assert!(all.contains("problem:"), "{all}");
}
