//! What a mod may do beyond the defaults, granted by the game in code or by
//! the player in `grants.toml` in the mods folder.
//!
//! By default a mod has no file system, network, environment or arguments,
//! and may change only entities it spawned. The grants file, which players
//! edit, names mods by their file name without `.wasm`:
//!
//! ```toml
//! [greeter]
//! read-dir = "greeter-data"   # a folder beside this file, read-only, seen by the mod as /data
//! modify-any-entity = true    # may change and despawn entities it did not spawn
//! memory-mib = 128            # its memory cap instead of the game's default
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The grants file's name, in the mods folder.
pub const GRANTS_FILE: &str = "grants.toml";

/// Where a granted folder appears inside the mod.
pub const GUEST_DATA_DIR: &str = "/data";

/// Largest memory cap a grant may set.
const MAX_MEMORY_MIB: usize = 4096;

/// What one mod is allowed beyond the defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModGrants {
    /// May despawn, change and remove components of entities it did not
    /// spawn: the game's and other mods'.
    pub modify_any_entity: bool,
    /// A folder the mod may read but not write, seen by the mod as `/data`.
    pub read_dir: Option<PathBuf>,
    /// The mod's linear memory cap in bytes, instead of
    /// [`ModLimits::memory_bytes`](crate::ModLimits::memory_bytes).
    pub memory_bytes: Option<usize>,
}

impl ModGrants {
    /// Grants that let the mod change any entity.
    pub fn modify_any_entity(mut self) -> Self {
        self.modify_any_entity = true;
        self
    }

    /// Grants read-only access to `dir`, seen by the mod as `/data`.
    pub fn read_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.read_dir = Some(dir.into());
        self
    }

    /// Sets the mod's memory cap.
    pub fn memory_bytes(mut self, bytes: usize) -> Self {
        self.memory_bytes = Some(bytes);
        self
    }

    /// These grants with `more` added: a flag set in either is set, a value
    /// in `more` wins.
    pub(crate) fn and(&self, more: &ModGrants) -> ModGrants {
        ModGrants {
            modify_any_entity: self.modify_any_entity || more.modify_any_entity,
            read_dir: more.read_dir.clone().or_else(|| self.read_dir.clone()),
            memory_bytes: more.memory_bytes.or(self.memory_bytes),
        }
    }
}

/// Grants in words that are the same on every machine: folders inside
/// `base` (the mods folder) by their path from it. For a recording's
/// header, which a replay on another machine compares.
pub(crate) fn describe(grants: &BTreeMap<String, ModGrants>, base: &Path) -> String {
    let mut out = String::new();
    for (name, g) in grants {
        let dir = g
            .read_dir
            .as_deref()
            .map(|d| d.strip_prefix(base).unwrap_or(d).display().to_string());
        out += &format!(
            "[{name}] modify-any-entity {} read-dir {dir:?} memory {:?}; ",
            g.modify_any_entity, g.memory_bytes
        );
    }
    out
}

/// One mod's entry in the grants file, as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Entry {
    #[serde(default)]
    modify_any_entity: bool,
    read_dir: Option<PathBuf>,
    memory_mib: Option<usize>,
}

/// Reads the grants file in `mods_dir`. No file means no grants. A file with
/// any mistake is refused whole, with a message naming it and the mistake,
/// so a typo never grants half of what the player meant.
pub(crate) fn read_grants_file(mods_dir: &Path) -> Result<BTreeMap<String, ModGrants>, String> {
    let path = mods_dir.join(GRANTS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(format!("{}: cannot read it: {e}", path.display())),
    };
    parse_grants(&text, mods_dir).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses grants; relative folders are taken from `base`.
fn parse_grants(text: &str, base: &Path) -> Result<BTreeMap<String, ModGrants>, String> {
    let entries: BTreeMap<String, Entry> =
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
    let mut grants = BTreeMap::new();
    for (name, entry) in entries {
        let read_dir = match entry.read_dir {
            Some(dir) => {
                let dir = base.join(dir);
                if !dir.is_dir() {
                    return Err(format!(
                        "[{name}] read-dir: {} is not a folder",
                        dir.display()
                    ));
                }
                Some(dir)
            }
            None => None,
        };
        let memory_bytes = match entry.memory_mib {
            Some(mib) if (1..=MAX_MEMORY_MIB).contains(&mib) => Some(mib << 20),
            Some(mib) => {
                return Err(format!(
                    "[{name}] memory-mib: {mib} is not between 1 and {MAX_MEMORY_MIB}"
                ));
            }
            None => None,
        };
        grants.insert(
            name,
            ModGrants {
                modify_any_entity: entry.modify_any_entity,
                read_dir,
                memory_bytes,
            },
        );
    }
    Ok(grants)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grants_file_is_read_per_mod() {
        let base = std::env::temp_dir();
        let grants = parse_grants(
            "[greeter]\nmodify-any-entity = true\nmemory-mib = 128\n\n[mover]\nread-dir = \".\"\n",
            &base,
        )
        .unwrap();
        assert_eq!(
            grants["greeter"],
            ModGrants::default()
                .modify_any_entity()
                .memory_bytes(128 << 20)
        );
        assert_eq!(grants["mover"].read_dir, Some(base.join(".")));
    }

    #[test]
    fn a_mistake_refuses_the_whole_file_and_says_where() {
        let base = std::env::temp_dir();
        let typo = parse_grants("[greeter]\nmodify-any-entitty = true\n", &base).unwrap_err();
        assert!(typo.contains("modify-any-entitty"), "{typo}");
        assert!(typo.contains("line 2"), "{typo}");
        let missing = parse_grants("[a]\nread-dir = \"no-such-folder\"\n", &base).unwrap_err();
        assert!(missing.contains("[a] read-dir"), "{missing}");
        let huge = parse_grants("[a]\nmemory-mib = 100000\n", &base).unwrap_err();
        assert!(huge.contains("memory-mib"), "{huge}");
        assert!(parse_grants("[a]\nmodify-any-entity = \"yes\"\n", &base).is_err());
    }

    #[test]
    fn game_and_player_grants_add_up() {
        let game = ModGrants::default().memory_bytes(1 << 20);
        let player = ModGrants::default().modify_any_entity();
        let both = game.and(&player);
        assert!(both.modify_any_entity);
        assert_eq!(both.memory_bytes, Some(1 << 20));
    }
}
