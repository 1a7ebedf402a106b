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
}

use crate::text::{MAX_NAME, printable};

impl ModManifest {
    /// Checks what `init` returned before the host relies on it: names are
    /// printable text of bounded length, the version is semantic
    /// versioning, and the lists are bounded.
    pub fn check(&self) -> Result<(), String> {
        printable(&self.name).map_err(|e| format!("the manifest's name {e}"))?;
        if self.version.len() > MAX_NAME {
            return Err(format!(
                "the manifest's version is longer than {MAX_NAME} bytes"
            ));
        }
        semver::Version::parse(&self.version).map_err(|e| {
            format!(
                "the manifest's version {:?} is not semantic versioning (like 1.2.0): {e}",
                self.version
            )
        })?;
        if self.queries.len() > 64
            || [&self.subscribes, &self.defines, &self.emits, &self.shares]
                .iter()
                .any(|list| list.len() > 256)
        {
            return Err(
                "the manifest lists too many queries, subscriptions, types or events".into(),
            );
        }
        for q in &self.queries {
            if q.is_empty() || q.len() > 16 {
                return Err(format!("query {q:?} must name 1 to 16 component types"));
            }
            for name in q {
                printable(name).map_err(|e| format!("component name {name:?} in a query {e}"))?;
            }
        }
        for name in self
            .defines
            .iter()
            .chain(&self.subscribes)
            .chain(&self.emits)
            .chain(&self.shares)
        {
            printable(name).map_err(|e| format!("name {name:?} {e}"))?;
        }
        if let Some(name) = self
            .shares
            .iter()
            .find(|n| !self.defines.contains(n) && !self.emits.contains(n))
        {
            return Err(format!(
                "the manifest shares {name:?}, which it neither defines nor emits"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(name: &str, version: &str) -> ModManifest {
        ModManifest {
            name: name.into(),
            version: version.into(),
            ..Default::default()
        }
    }

    #[test]
    fn names_are_printable_text() {
        assert!(manifest("Drift", "1.0.0").check().is_ok());
        assert!(
            manifest("Défilé 🚀 мод", "0.1.0-beta.2+build.5")
                .check()
                .is_ok()
        );
        for bad in [
            "",
            "   ",
            "two\nlines",
            "bell\u{7}",
            "esc\u{1b}[31mred",
            "zero\u{200b}width",
            "bidi\u{202e}txet",
            "bom\u{feff}",
            "soft\u{ad}hyphen",
            "tag\u{e0041}",
            "filler\u{3164}",
            &"x".repeat(129),
        ] {
            let refused = manifest(bad, "1.0.0").check();
            assert!(refused.is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn versions_are_semantic_versioning() {
        for bad in ["", "1", "1.0", "v1.0.0", "1.0.0.0", "latest", "1.0.0\n"] {
            assert!(manifest("m", bad).check().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn query_and_type_names_are_printable_too() {
        let mut m = manifest("m", "1.0.0");
        m.queries = vec![vec!["Position\u{202e}".into()]];
        assert!(m.check().is_err());
        let mut m = manifest("m", "1.0.0");
        m.defines = vec!["Score\n".into()];
        assert!(m.check().is_err());
    }
}
