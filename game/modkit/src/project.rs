//! Mod projects: made from the templates, found by their `modkit.toml`.

use std::path::{Path, PathBuf};

/// The languages a mod project can be written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Rust, against `mod-api`.
    Rust,
    /// Python, with componentize-py and the `bevy_mods` package.
    Python,
    /// JavaScript, with componentize-js and `bevy-mods.js`.
    Js,
}

impl Lang {
    fn as_str(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
        }
    }
}

/// A mod project on disk.
pub struct Project {
    /// Its folder.
    pub dir: PathBuf,
    /// The mod's name: its file is `build/NAME.wasm`.
    pub name: String,
    /// Its language.
    pub lang: Lang,
}

impl Project {
    /// Where `modkit build` puts the mod.
    pub fn wasm(&self) -> PathBuf {
        self.dir.join("build").join(format!("{}.wasm", self.name))
    }
}

/// The file that marks a folder as a mod project.
const MARKER: &str = "modkit.toml";

#[derive(serde::Deserialize)]
struct Marker {
    name: String,
    lang: Lang,
}

/// The project in `dir` (default: the current folder).
pub fn open(dir: Option<PathBuf>) -> Result<Project, String> {
    let dir = dir.unwrap_or_else(|| PathBuf::from("."));
    let marker = dir.join(MARKER);
    let text = std::fs::read_to_string(&marker).map_err(|e| {
        format!(
            "{} is not a mod project ({}: {e}); make one with `modkit new NAME --lang rust|python|js`",
            dir.display(),
            marker.display()
        )
    })?;
    let m: Marker = toml::from_str(&text).map_err(|e| format!("{}: {e}", marker.display()))?;
    check_name(&m.name).map_err(|e| format!("{}: {e}", marker.display()))?;
    Ok(Project {
        dir,
        name: m.name,
        lang: m.lang,
    })
}

/// A mod's name becomes its file's name, its crate's or package's name
/// and its id in the game: kept to what all of them accept.
fn check_name(name: &str) -> Result<(), String> {
    let ok = (2..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} cannot name a mod: use 2 to 64 lowercase letters, digits and `-`, \
             starting with a letter (like `my-mod`)"
        ))
    }
}

/// One file of a template: its path in the project and its text, with
/// `{{name}}` and `{{mod_api}}` to fill in.
type Template = &'static [(&'static str, &'static str)];

macro_rules! template {
    ($lang:literal: $($path:literal),+ $(,)?) => {
        &[$(($path, include_str!(concat!("../templates/", $lang, "/", $path)))),+]
    };
}

const RUST: Template = template!("rust": "Cargo.toml", "src/lib.rs", "README.md", ".gitignore");
const PYTHON: Template =
    template!("python": "app.py", "logic.py", "test_logic.py", "README.md", ".gitignore");
const JS: Template = template!("js": "mod.js", "logic.js", "logic.test.js", "package.json", "README.md", ".gitignore");

/// The game's WIT package, which Python and JavaScript builds read.
const WIT: Template = &[
    (
        "wit/entities.wit",
        include_str!("../../../wit/entities.wit"),
    ),
    ("wit/events.wit", include_str!("../../../wit/events.wit")),
    ("wit/hooks.wit", include_str!("../../../wit/hooks.wit")),
    ("wit/log.wit", include_str!("../../../wit/log.wit")),
    ("wit/types.wit", include_str!("../../../wit/types.wit")),
    ("wit/world.wit", include_str!("../../../wit/world.wit")),
];

/// The guest libraries, copied into each project so it builds on its own.
const PYTHON_LIB: Template = &[
    (
        "bevy_mods/__init__.py",
        include_str!("../../../mod-api/python/bevy_mods/__init__.py"),
    ),
    (
        "bevy_mods/_msgpack.py",
        include_str!("../../../mod-api/python/bevy_mods/_msgpack.py"),
    ),
];
const JS_LIB: Template = &[
    (
        "bevy-mods.js",
        include_str!("../../../mod-api/js/bevy-mods.js"),
    ),
    ("msgpack.js", include_str!("../../../mod-api/js/msgpack.js")),
];

/// The `mod-api` of the checkout modkit was built from.
fn default_mod_api() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../mod-api")
}

/// The package's files every project starts with: its `mod.toml` and an
/// `assets/` folder that `modkit build` packs beside the component.
fn write_package_files(dir: &Path, name: &str) -> Result<(), String> {
    let manifest = format!(
        "# What the mod's package says of itself (docs/modding.md, \"Packages\").\n\
         id = \"{name}\"\n\
         name = \"{name}\"\n\
         version = \"0.1.0\"\n\
         authors = []\n\
         description = \"\"\n\
         # The contract version the component is built against.\n\
         contract = \"{}\"\n\
         \n\
         # Mods this one needs, with semver ranges (`weather = \"^1.2\"`).\n\
         [dependencies]\n",
        bevy_wasm_mods::WIT_VERSION
    );
    let assets = dir.join("assets");
    std::fs::create_dir_all(&assets).map_err(|e| format!("{}: {e}", assets.display()))?;
    for (path, text) in [
        (dir.join(PACKAGE_MANIFEST), manifest.as_str()),
        (
            assets.join("README.md"),
            "Files here ship in the mod's package (`modkit build` packs them), \
             under `assets/`.\n",
        ),
    ] {
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// A project's package manifest, packed with its build.
pub const PACKAGE_MANIFEST: &str = "mod.toml";

/// Makes a mod project.
pub fn new(
    name: &str,
    lang: Lang,
    dir: Option<PathBuf>,
    mod_api: Option<PathBuf>,
) -> Result<(), String> {
    check_name(name)?;
    let dir = dir.unwrap_or_else(|| PathBuf::from(name));
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .next()
            .is_some()
    {
        return Err(format!(
            "{} already exists and is not empty; choose another --dir",
            dir.display()
        ));
    }
    let mod_api = match lang {
        Lang::Rust => {
            let given = mod_api.is_some();
            let path = mod_api.unwrap_or_else(default_mod_api);
            let found = path.join("Cargo.toml").is_file();
            let path = path.canonicalize().ok().filter(|_| found).ok_or_else(|| {
                if given {
                    format!("{} is not the mod-api crate", path.display())
                } else {
                    format!(
                        "the mod-api crate modkit was built beside ({}) is gone; \
                         pass --mod-api PATH to a bevy-wasm-mods checkout's mod-api/",
                        path.display()
                    )
                }
            })?;
            // A TOML string: forward slashes, quotes escaped.
            path.display()
                .to_string()
                .replace('\\', "/")
                .replace('"', "\\\"")
        }
        _ => String::new(),
    };
    let files: Vec<Template> = match lang {
        Lang::Rust => vec![RUST],
        Lang::Python => vec![PYTHON, PYTHON_LIB, WIT],
        Lang::Js => vec![JS, JS_LIB, WIT],
    };
    for (path, text) in files.into_iter().flatten() {
        let to = dir.join(path);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        let text = text
            .replace("{{name}}", name)
            .replace("{{mod_api}}", &mod_api);
        std::fs::write(&to, text).map_err(|e| format!("{}: {e}", to.display()))?;
    }
    write_package_files(&dir, name)?;
    let marker = dir.join(MARKER);
    std::fs::write(
        &marker,
        format!(
            "# A mod project: `modkit build` reads this.\nname = \"{name}\"\nlang = \"{}\"\n",
            lang.as_str()
        ),
    )
    .map_err(|e| format!("{}: {e}", marker.display()))?;
    let shown = dir.display();
    println!("made {shown}: a {} mod named {name}", lang.as_str());
    println!("next:");
    println!("  cd {shown}");
    println!("  modkit test                      # its tests, natively");
    println!("  modkit build                     # makes build/{name}.wasm and build/{name}.zip");
    println!("  modkit check build/{name}.wasm   # runs it in the game, headless");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_what_every_tool_accepts() {
        for good in ["ab", "my-mod", "mod2", "x-1-y"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "", "a", "My", "1mod", "my_mod", "my mod", "-x", "x-", "../up", "é",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_name(&"a".repeat(65)).is_err());
    }

    #[test]
    fn every_wit_file_is_embedded() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| format!("wit/{}", e.unwrap().file_name().to_string_lossy()))
            .filter(|n| n.ends_with(".wit"))
            .collect();
        on_disk.sort();
        let embedded: Vec<String> = WIT.iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(embedded, on_disk);
    }
}
