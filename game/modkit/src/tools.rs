//! The guest build tools, installed on first use, and the build and test
//! of each language.
//!
//! Versions are the ones `mods/tools.env` pins for the example mods. The
//! Python and JavaScript tools go into a folder of modkit's own
//! (`MODKIT_TOOLS`, default `<cache dir>/bevy-wasm-mods/tools`) laid out as
//! the repository's `target/` is: `python/venv`, `python/site`,
//! `js/node_modules`.

use std::path::{Path, PathBuf};
use std::process::Command;

use bevy_wasm_mods::package::{PackageManifest, read_package};

use crate::project::{Lang, PACKAGE_MANIFEST, Project};

/// The pinned versions, as the build scripts read them.
const PINNED: &str = include_str!("../../../mods/tools.env");

fn pinned(key: &str) -> &'static str {
    PINNED
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(str::trim)
        .unwrap_or_else(|| panic!("mods/tools.env pins {key}"))
}

/// Where the Python and JavaScript tools are installed.
fn tools_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("MODKIT_TOOLS") {
        return Ok(PathBuf::from(dir));
    }
    dirs::cache_dir()
        .map(|d| d.join("bevy-wasm-mods").join("tools"))
        .ok_or_else(|| "no cache folder on this machine: set MODKIT_TOOLS to a folder".into())
}

/// Runs a command to its end, its output on the console.
fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let status = cmd.status().map_err(|e| {
        format!(
            "{what}: cannot run `{}`: {e}",
            cmd.get_program().to_string_lossy()
        )
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

/// A command's standard output, or `None` when it cannot run or fails.
fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Makes sure the `wasm32-wasip2` target is installed.
fn rust_target() -> Result<(), String> {
    let installed = output(Command::new("rustup").args(["target", "list", "--installed"])).ok_or(
        "rustup was not found: Rust mods are built with rustup's toolchains (https://rustup.rs)",
    )?;
    if !installed.lines().any(|l| l.trim() == "wasm32-wasip2") {
        eprintln!("modkit: installing the wasm32-wasip2 target (once)");
        run(
            Command::new("rustup").args(["target", "add", "wasm32-wasip2"]),
            "installing the wasm32-wasip2 target",
        )?;
    }
    Ok(())
}

/// componentize-py in a virtual environment, msgpack as pure Python
/// beside it; returns the tool.
fn python_tools() -> Result<(PathBuf, PathBuf), String> {
    let py = tools_dir()?.join("python");
    let venv = py.join("venv");
    let tool = venv.join("bin").join("componentize-py");
    let want = pinned("COMPONENTIZE_PY");
    let have = output(Command::new(&tool).arg("--version"));
    if have.as_deref().map(str::trim) != Some(&format!("componentize-py {want}")) {
        eprintln!(
            "modkit: installing componentize-py {want} into {} (once)",
            venv.display()
        );
        output(Command::new("python3").arg("--version"))
            .ok_or("python3 was not found: install Python 3 to build Python mods")?;
        run(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "making a Python virtual environment (on Debian and Ubuntu it needs python3-venv)",
        )?;
        run(
            Command::new(venv.join("bin").join("pip"))
                .args(["install", "--quiet", "--disable-pip-version-check"])
                .arg(format!("componentize-py=={want}")),
            "installing componentize-py",
        )?;
    }
    let site = py.join("site");
    let msgpack = pinned("MSGPACK");
    if !site
        .join(format!("msgpack-{msgpack}.dist-info"))
        .join("METADATA")
        .is_file()
    {
        eprintln!(
            "modkit: installing msgpack {msgpack} (pure Python) into {} (once)",
            site.display()
        );
        let _ = std::fs::remove_dir_all(&site);
        run(
            Command::new(venv.join("bin").join("pip"))
                .env("MSGPACK_PUREPYTHON", "1")
                .args([
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-binary",
                    "msgpack",
                    "--target",
                ])
                .arg(&site)
                .arg(format!("msgpack=={msgpack}")),
            "installing msgpack",
        )?;
    }
    Ok((tool, site))
}

/// componentize-js from npm; returns its command-line script.
fn js_tools() -> Result<PathBuf, String> {
    let js = tools_dir()?.join("js");
    let package = js.join("node_modules/@bytecodealliance/componentize-js");
    let want = pinned("COMPONENTIZE_JS");
    let have = std::fs::read_to_string(package.join("package.json")).unwrap_or_default();
    if !have.contains(&format!("\"version\": \"{want}\"")) {
        eprintln!(
            "modkit: installing componentize-js {want} into {} (once)",
            js.display()
        );
        output(Command::new("npm").arg("--version"))
            .ok_or("npm was not found: install Node.js (with npm) to build JavaScript mods")?;
        std::fs::create_dir_all(&js).map_err(|e| format!("{}: {e}", js.display()))?;
        let manifest = js.join("package.json");
        if !manifest.exists() {
            std::fs::write(&manifest, "{\"private\": true}\n")
                .map_err(|e| format!("{}: {e}", manifest.display()))?;
        }
        run(
            Command::new("npm")
                .current_dir(&js)
                .args(["install", "--silent", "--no-audit", "--no-fund"])
                .arg(format!("@bytecodealliance/componentize-js@{want}")),
            "installing componentize-js",
        )?;
    }
    Ok(package.join("src/cli.js"))
}

/// Builds the project into `build/NAME.wasm`; returns its path.
pub fn build(p: &Project) -> Result<PathBuf, String> {
    let out = p.wasm();
    let build_dir = out.parent().expect("build/NAME.wasm");
    std::fs::create_dir_all(build_dir).map_err(|e| format!("{}: {e}", build_dir.display()))?;
    // Written whole under another name first: a game watching a mods
    // folder never sees half a file.
    let part = out.with_extension("wasm.part");
    match p.lang {
        Lang::Rust => {
            rust_target()?;
            run(
                Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
                    .current_dir(&p.dir)
                    .args([
                        "build",
                        "--release",
                        "--target",
                        "wasm32-wasip2",
                        "--target-dir",
                        "target",
                    ]),
                "cargo build",
            )?;
            let built = p
                .dir
                .join("target/wasm32-wasip2/release")
                .join(format!("{}.wasm", p.name.replace('-', "_")));
            std::fs::copy(&built, &part).map_err(|e| format!("{}: {e}", built.display()))?;
        }
        Lang::Python => {
            let (tool, site) = python_tools()?;
            let dir = absolute(&p.dir)?;
            run(
                Command::new(tool)
                    .arg("-d")
                    .arg(dir.join("wit"))
                    .args(["-w", "game-mod", "componentize", "app", "-p"])
                    .arg(&dir)
                    .arg("-p")
                    .arg(&site)
                    .arg("-o")
                    .arg(absolute(&part)?),
                "componentize-py",
            )?;
        }
        Lang::Js => {
            let cli = js_tools()?;
            let dir = absolute(&p.dir)?;
            run(
                Command::new("node")
                    .arg(cli)
                    .arg("--wit")
                    .arg(dir.join("wit"))
                    .args(["--world-name", "game-mod"])
                    // The game gives mods no network: leave out the HTTP
                    // imports it would refuse.
                    .args(["-d", "http", "fetch-event", "-o"])
                    .arg(absolute(&part)?)
                    .arg(dir.join("mod.js")),
                "componentize-js",
            )?;
        }
    }
    std::fs::rename(&part, &out).map_err(|e| format!("{}: {e}", out.display()))?;
    let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    let shown = out.strip_prefix(".").unwrap_or(&out).display();
    match pack(p, &out)? {
        Some((package, assets)) => {
            let package = package.strip_prefix(".").unwrap_or(&package).display();
            println!(
                "built {shown} ({:.1} MB) and {package}, its package with {assets} asset(s); \
                 try: modkit check {package}",
                size as f64 / 1e6
            );
        }
        None => println!(
            "built {shown} ({:.1} MB); try: modkit check {shown} (add a {PACKAGE_MANIFEST} \
             to make a package with assets)",
            size as f64 / 1e6
        ),
    }
    Ok(out)
}

/// Packs `build/NAME.zip` when the project has a `mod.toml`: the manifest,
/// the component where it says (`mod.wasm`), and the project's `assets/`;
/// then reads it back as the game would, so a package the game would
/// refuse fails the build. Returns it and how many assets it holds.
fn pack(p: &Project, component: &Path) -> Result<Option<(PathBuf, usize)>, String> {
    use std::io::Write;
    let manifest_path = p.dir.join(PACKAGE_MANIFEST);
    if !manifest_path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&manifest_path).map_err(|e| at(&manifest_path, e))?;
    let manifest = PackageManifest::parse(&text).map_err(|e| at(&manifest_path, e))?;
    if manifest.id != p.name {
        return Err(at(
            &manifest_path,
            format!(
                "its id {:?} is not the project's name {:?}",
                manifest.id, p.name
            ),
        ));
    }
    let mut files = vec![(PACKAGE_MANIFEST.to_string(), manifest_path.clone())];
    files.push((manifest.component.clone(), component.to_path_buf()));
    let assets = assets_of(&p.dir.join("assets"))?;
    let count = assets.len();
    files.extend(assets);
    let out = p.dir.join("build").join(format!("{}.zip", p.name));
    let part = out.with_extension("zip.part");
    let file = std::fs::File::create(&part).map_err(|e| at(&part, e))?;
    let mut zip = zip::ZipWriter::new(file);
    for (name, from) in &files {
        let bytes = std::fs::read(from).map_err(|e| at(from, e))?;
        zip.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .and_then(|()| zip.write_all(&bytes).map_err(Into::into))
            .map_err(|e| at(&part, e))?;
    }
    zip.finish().map_err(|e| at(&part, e))?;
    std::fs::rename(&part, &out).map_err(|e| at(&out, e))?;
    read_package(&out, bevy_wasm_mods::ModLimits::default().package())
        .map_err(|e| at(&out, format!("the game would refuse this package: {e}")))?;
    Ok(Some((out, count)))
}

/// An error about the file at `path`.
fn at(path: &Path, e: impl std::fmt::Display) -> String {
    format!("{}: {e}", path.display())
}

/// The files under a project's `assets/`, as `assets/...` paths in the
/// package, sorted; links are refused, as the game refuses them.
fn assets_of(root: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(listing) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in listing.filter_map(|e| e.ok()) {
            let path = entry.path();
            let kind = entry
                .file_type()
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if kind.is_symlink() {
                return Err(format!(
                    "{}: a symbolic link; a package holds none",
                    path.display()
                ));
            } else if kind.is_dir() {
                pending.push(path);
            } else {
                let inside = path.strip_prefix(root).expect("under assets/");
                let name = inside
                    .iter()
                    .map(|part| part.to_str().ok_or(()))
                    .collect::<Result<Vec<_>, ()>>()
                    .map_err(|()| format!("{}: its name is not UTF-8", path.display()))?
                    .join("/");
                found.push((format!("assets/{name}"), path));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Runs the project's tests natively.
pub fn test(p: &Project) -> Result<(), String> {
    match p.lang {
        Lang::Rust => run(
            Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
                .current_dir(&p.dir)
                .arg("test"),
            "cargo test",
        ),
        Lang::Python => {
            // The project's own test_*.py modules (discovery would import
            // the guest library, which only loads inside the game).
            let mut modules: Vec<String> = std::fs::read_dir(&p.dir)
                .map_err(|e| format!("{}: {e}", p.dir.display()))?
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with("test_") && n.ends_with(".py"))
                .map(|n| n.trim_end_matches(".py").to_string())
                .collect();
            modules.sort();
            if modules.is_empty() {
                return Err(format!("{}: no test_*.py files", p.dir.display()));
            }
            run(
                Command::new("python3")
                    .current_dir(&p.dir)
                    .args(["-m", "unittest"])
                    .args(&modules),
                "python3 -m unittest",
            )
        }
        Lang::Js => run(
            Command::new("node").current_dir(&p.dir).arg("--test"),
            "node --test",
        ),
    }
}

fn absolute(path: &Path) -> Result<PathBuf, String> {
    std::path::absolute(path).map_err(|e| format!("{}: {e}", path.display()))
}
