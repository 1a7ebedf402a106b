//! What a mod says of itself when it starts.

use serde::{Deserialize, Serialize};

/// The manifest a mod returned from `init`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModManifest {
    /// The mod's name.
    pub name: String,
    /// The mod's version.
    pub version: String,
    /// Event names delivered to the mod.
    pub subscribes: Vec<String>,
    /// The mod's queries: each a list of component type names.
    pub queries: Vec<Vec<String>>,
    /// Component types the mod defines itself.
    pub defines: Vec<String>,
}

impl ModManifest {
    /// Checks what `init` returned before the host relies on it: printable
    /// names of bounded length, and bounded lists.
    pub fn check(&self) -> Result<(), String> {
        let m = self;
        let ok_name = |s: &str| !s.is_empty() && s.len() <= 128 && !s.chars().any(char::is_control);
        if !ok_name(&m.name) {
            return Err("the manifest's name must be 1 to 128 printable characters".into());
        }
        if m.version.len() > 64 {
            return Err("the manifest's version is longer than 64 bytes".into());
        }
        if m.queries.len() > 64 || m.subscribes.len() > 256 || m.defines.len() > 256 {
            return Err("the manifest lists too many queries, subscriptions or types".into());
        }
        for q in &m.queries {
            if q.is_empty() || q.len() > 16 || !q.iter().all(|c| ok_name(c)) {
                return Err(format!("query {q:?} must name 1 to 16 component types"));
            }
        }
        Ok(())
    }
}
