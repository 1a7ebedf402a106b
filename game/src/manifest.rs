//! What a mod says of itself when it starts.

use serde::{Deserialize, Serialize};

/// The manifest a mod returned from `init`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModManifest {
    /// The mod's display name (the mod is known by its file's stem).
    pub name: String,
    /// The mod's version.
    pub version: String,
    /// Event names delivered to the mod.
    pub subscribes: Vec<String>,
    /// The mod's queries: each a list of component type names.
    pub queries: Vec<Vec<String>>,
    /// Component types the mod defines itself.
    pub defines: Vec<String>,
    /// Event names the mod sends and claims.
    #[serde(default)]
    pub emits: Vec<String>,
    /// Names among `defines` and `emits` other mods may write and emit.
    #[serde(default)]
    pub shares: Vec<String>,
    /// The contract version the mod was built for, as its component says
    /// (not part of what `init` returns).
    #[serde(default)]
    pub contract: String,
    /// The package's `mod.toml`, when the mod came as a package (not part
    /// of what `init` returns).
    #[serde(default)]
    pub package: Option<crate::package::PackageManifest>,
}

impl ModManifest {
    /// Checks what `init` returned before the host relies on it, by the
    /// rules the test world keeps too ([`mod_rules::manifest::check`]):
    /// names are printable text of bounded length, the version is semantic
    /// versioning, and the lists are bounded.
    pub fn check(&self) -> Result<(), String> {
        mod_rules::manifest::check(self.as_rules())
    }

    /// The manifest as the shared rules read it.
    pub(crate) fn as_rules(&self) -> mod_rules::manifest::ManifestRef<'_> {
        mod_rules::manifest::ManifestRef {
            name: &self.name,
            version: &self.version,
            subscribes: &self.subscribes,
            queries: &self.queries,
            defines: &self.defines,
            emits: &self.emits,
            shares: &self.shares,
        }
    }
}
