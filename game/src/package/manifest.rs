//! `mod.toml`: what a package says of itself before any of its code runs.

use std::collections::BTreeMap;

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

use crate::text::printable;

/// Longest `mod.toml` read.
pub const MAX_MANIFEST_BYTES: u64 = 64 << 10;
/// Most dependencies of all kinds together.
pub const MAX_DEPENDENCIES: usize = 64;
/// Most authors listed.
pub const MAX_AUTHORS: usize = 16;
/// Longest description, in bytes.
pub const MAX_DESCRIPTION: usize = 2048;
/// The component's path in a package when `mod.toml` names none.
pub const DEFAULT_COMPONENT: &str = "mod.wasm";

/// A package's `mod.toml`, checked.
///
/// ```toml
/// id = "storm"                # the mod's identity: ^[a-z][a-z0-9_-]{1,63}$
/// name = "Storm"              # shown to players
/// version = "1.2.0"           # semantic versioning
/// authors = ["Ada"]
/// description = "Weather for the arena."
/// contract = "0.2.0"          # the contract version the component is built for
/// component = "mod.wasm"      # its path in the package (this by default)
///
/// [dependencies]              # required, with semver ranges
/// weather = "^1.2"
///
/// [optional-dependencies]     # loaded first when present
/// music = ">=0.3"
///
/// [incompatible]              # refuses to run beside these versions
/// old-storm = "*"
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PackageManifest {
    /// The mod's identity.
    pub id: String,
    /// The name players see (a label: two mods may show the same one).
    pub name: String,
    /// The package's version.
    pub version: Version,
    /// Who made it.
    #[serde(default)]
    pub authors: Vec<String>,
    /// What it does, in a sentence or two.
    #[serde(default)]
    pub description: String,
    /// The contract version its component is built for.
    pub contract: String,
    /// The component's path in the package.
    #[serde(default = "default_component")]
    pub component: String,
    /// Mods that must run, in these versions, before this one starts.
    #[serde(default)]
    pub dependencies: BTreeMap<String, VersionReq>,
    /// Mods loaded before this one when they are present.
    #[serde(default)]
    pub optional_dependencies: BTreeMap<String, VersionReq>,
    /// Mods (in these versions) this one refuses to run beside.
    #[serde(default)]
    pub incompatible: BTreeMap<String, VersionReq>,
}

fn default_component() -> String {
    DEFAULT_COMPONENT.into()
}

impl PackageManifest {
    /// Reads and checks `mod.toml`'s text. The error names the field.
    pub fn parse(text: &str) -> Result<Self, String> {
        let manifest: Self = toml::from_str(text).map_err(|e| {
            // The line it is about names the field, whatever the message.
            let line = e.span().map(|span| {
                let at = text[..span.start.min(text.len())].matches('\n').count();
                let shown = text.lines().nth(at).unwrap_or("").trim();
                format!(" (line {}: {})", at + 1, crate::text::escape(shown))
            });
            format!(
                "{}{}",
                crate::text::escape(e.message()),
                line.unwrap_or_default()
            )
        })?;
        manifest.check()?;
        Ok(manifest)
    }

    /// Checks what serde cannot: the id's form, printable text, bounded
    /// lists, dependencies on other mods only, a path inside the package.
    pub fn check(&self) -> Result<(), String> {
        check_id(&self.id).map_err(|e| format!("`id`: {e}"))?;
        printable(&self.name).map_err(|e| format!("`name` {e}"))?;
        if self.authors.len() > MAX_AUTHORS {
            return Err(format!("`authors`: more than {MAX_AUTHORS}"));
        }
        for author in &self.authors {
            printable(author).map_err(|e| format!("`authors`: {author:?} {e}"))?;
        }
        if self.description.len() > MAX_DESCRIPTION {
            return Err(format!(
                "`description`: longer than {MAX_DESCRIPTION} bytes"
            ));
        }
        if let Some(c) = self
            .description
            .chars()
            .find(|c| *c != '\n' && crate::text::invisible(*c))
        {
            return Err(format!(
                "`description` holds {c:?} (U+{:04X}), which is not shown as itself",
                c as u32
            ));
        }
        Version::parse(&self.contract).map_err(|e| {
            format!(
                "`contract`: {:?} is not a version (like 0.1.1): {e}",
                self.contract
            )
        })?;
        check_path(&self.component).map_err(|e| format!("`component`: {e}"))?;
        if !self.component.ends_with(".wasm") {
            return Err(format!(
                "`component`: {:?} is not a `.wasm` file",
                self.component
            ));
        }
        let all = [
            ("dependencies", &self.dependencies),
            ("optional-dependencies", &self.optional_dependencies),
            ("incompatible", &self.incompatible),
        ];
        if all.iter().map(|(_, deps)| deps.len()).sum::<usize>() > MAX_DEPENDENCIES {
            return Err(format!("more than {MAX_DEPENDENCIES} dependencies"));
        }
        let mut seen = BTreeMap::new();
        for (table, deps) in all {
            for id in deps.keys() {
                check_id(id).map_err(|e| format!("`{table}`: {id:?}: {e}"))?;
                if *id == self.id {
                    return Err(format!("`{table}` names the mod itself"));
                }
                if let Some(other) = seen.insert(id.clone(), table) {
                    return Err(format!("{id:?} is in both `{other}` and `{table}`"));
                }
            }
        }
        Ok(())
    }
}

/// Checks a mod id: `^[a-z][a-z0-9_-]{1,63}$`, the form modders know from
/// other games' ids (it is safe in a file name, a URL and a log line).
pub fn check_id(id: &str) -> Result<(), String> {
    let mut chars = id.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok =
        chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !(2..=64).contains(&id.len()) || !first_ok || !rest_ok {
        return Err(format!(
            "{:?} is not a mod id: 2 to 64 characters, lowercase letters, digits, `_` and \
             `-`, starting with a letter",
            crate::text::escape(id)
        ));
    }
    Ok(())
}

/// Longest path inside a package, in bytes.
pub const MAX_PATH: usize = 255;
/// Deepest folder nesting inside a package.
pub const MAX_DEPTH: usize = 16;

/// Checks a path inside a package: relative, `/`-separated, no `.` or `..`
/// part, no empty part, printable, with no character Windows or a zip tool
/// would read as a drive, a separator or an escape.
pub fn check_path(path: &str) -> Result<(), String> {
    let shown = || crate::text::escape(path).into_owned();
    if path.is_empty() || path.len() > MAX_PATH {
        return Err(format!("{:?} must be 1 to {MAX_PATH} bytes long", shown()));
    }
    if let Some(c) = path.chars().find(|c| {
        crate::text::invisible(*c) || matches!(c, '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|')
    }) {
        return Err(format!(
            "{:?} holds {c:?}, which a path in a package may not",
            shown()
        ));
    }
    let parts: Vec<&str> = path.split('/').collect();
    if parts.len() > MAX_DEPTH {
        return Err(format!(
            "{:?} is nested deeper than {MAX_DEPTH} folders",
            shown()
        ));
    }
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == "..")
    {
        return Err(format!(
            "{:?} is not a plain path inside the package (no leading `/`, `.`, `..` or `//`)",
            shown()
        ));
    }
    Ok(())
}

/// The id a package's file or folder name gives: `storm` for `storm`,
/// `storm.zip`, `storm_1.2.0` or `storm_1.2.0.zip`; with the version when
/// the name carries one (it must match `mod.toml`'s).
pub fn id_from_name(name: &str) -> (String, Option<Version>) {
    let stem = name.strip_suffix(".zip").unwrap_or(name);
    if let Some((id, version)) = stem.rsplit_once('_')
        && let Ok(version) = Version::parse(version)
        && check_id(id).is_ok()
    {
        return (id.to_string(), Some(version));
    }
    (stem.to_string(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
        id = "storm"
        name = "Storm"
        version = "1.2.0"
        authors = ["Ada", "Grace"]
        description = "Weather for the arena.\nWith rain."
        contract = "0.1.1"
        component = "bin/storm.wasm"

        [dependencies]
        weather = "^1.2"

        [optional-dependencies]
        music = ">=0.3, <0.5"

        [incompatible]
        old-storm = "*"
    "#;

    #[test]
    fn a_full_manifest_reads_with_every_field() {
        let m = PackageManifest::parse(FULL).unwrap();
        assert_eq!(m.id, "storm");
        assert_eq!(m.version, Version::new(1, 2, 0));
        assert_eq!(m.component, "bin/storm.wasm");
        assert!(m.dependencies["weather"].matches(&Version::new(1, 9, 0)));
        assert!(!m.dependencies["weather"].matches(&Version::new(2, 0, 0)));
        assert!(m.optional_dependencies["music"].matches(&Version::new(0, 4, 1)));
        assert!(m.incompatible["old-storm"].matches(&Version::new(0, 0, 1)));
    }

    #[test]
    fn a_small_manifest_takes_the_defaults() {
        let m = PackageManifest::parse(
            "id = \"tiny\"\nname = \"Tiny\"\nversion = \"0.1.0\"\ncontract = \"0.1.1\"\n",
        )
        .unwrap();
        assert_eq!(m.component, DEFAULT_COMPONENT);
        assert!(m.dependencies.is_empty() && m.authors.is_empty());
    }

    #[test]
    fn bad_manifests_are_refused_naming_the_field() {
        let with = |from: &str, to: &str| {
            let text = FULL.replace(from, to);
            assert_ne!(text, FULL, "{from}");
            PackageManifest::parse(&text).unwrap_err()
        };
        assert!(with("id = \"storm\"", "id = \"Storm\"").contains("`id`"));
        assert!(with("id = \"storm\"", "id = \"s\"").contains("not a mod id"));
        assert!(with("id = \"storm\"", "id = \"9lives\"").contains("not a mod id"));
        assert!(with("version = \"1.2.0\"", "version = \"one\"").contains("version"));
        assert!(with("contract = \"0.1.1\"", "contract = \"new\"").contains("`contract`"));
        assert!(with("name = \"Storm\"", "name = \"\\u200b\"").contains("`name`"));
        assert!(with("weather = \"^1.2\"", "weather = \"about one\"").contains("weather"));
        assert!(with("weather = \"^1.2\"", "storm = \"1\"").contains("the mod itself"));
        assert!(with("old-storm = \"*\"", "weather = \"*\"").contains("in both"));
        assert!(with("[incompatible]", "[incompatibel]").contains("incompatibel"));
        assert!(with("bin/storm.wasm", "../storm.wasm").contains("plain path"));
        assert!(with("bin/storm.wasm", "/abs/storm.wasm").contains("plain path"));
        assert!(with("bin/storm.wasm", "C:\\\\storm.wasm").contains("holds"));
        assert!(with("bin/storm.wasm", "bin/storm.txt").contains("not a `.wasm`"));
        assert!(with("Weather for", "\\u001b[2JWeather for").contains("`description`"));
    }

    #[test]
    fn ids_follow_the_known_form() {
        for good in ["storm", "my-mod", "mod_2", "ab", &"a".repeat(64)] {
            check_id(good).unwrap();
        }
        for bad in [
            "",
            "a",
            "Storm",
            "9a",
            "-a",
            "a.b",
            "a b",
            "ä",
            &"a".repeat(65),
        ] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_name_gives_the_id_and_maybe_the_version() {
        assert_eq!(id_from_name("storm"), ("storm".into(), None));
        assert_eq!(id_from_name("storm.zip"), ("storm".into(), None));
        assert_eq!(
            id_from_name("storm_1.2.0.zip"),
            ("storm".into(), Some(Version::new(1, 2, 0)))
        );
        assert_eq!(id_from_name("my_mod_2"), ("my_mod_2".into(), None));
        assert_eq!(
            id_from_name("my_mod_0.3.1"),
            ("my_mod".into(), Some(Version::new(0, 3, 1)))
        );
    }

    #[test]
    fn paths_stay_inside_the_package() {
        for good in ["mod.wasm", "assets/ship.png", "a/b/c.txt"] {
            check_path(good).unwrap();
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a\\b",
            "C:x",
            "a/\u{0}b",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
    }
}
