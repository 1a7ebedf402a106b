//! What a mod's manifest (returned from `init`) may say.

use crate::access::Names;
use crate::caps::{MAX_MANIFEST_LIST, MAX_QUERIES, MAX_QUERY_NAMES};
use crate::text::{MAX_NAME, printable};

/// A manifest as the rules read it, borrowed from either side's own type.
#[derive(Clone, Copy, Debug)]
pub struct ManifestRef<'a> {
    /// The mod's display name.
    pub name: &'a str,
    /// The mod's version.
    pub version: &'a str,
    /// Event names delivered to the mod.
    pub subscribes: &'a [String],
    /// The mod's queries: each a list of component type names.
    pub queries: &'a [Vec<String>],
    /// Component types the mod defines.
    pub defines: &'a [String],
    /// Event names the mod claims.
    pub emits: &'a [String],
    /// Names among `defines` and `emits` other mods may use too.
    pub shares: &'a [String],
}

/// Checks a manifest before anything relies on it: names are printable
/// text of bounded length, the version is semantic versioning, the lists
/// are bounded, and a shared name is one the mod defines or emits.
pub fn check(m: ManifestRef<'_>) -> Result<(), String> {
    printable(m.name).map_err(|e| format!("the manifest's name {e}"))?;
    if m.version.len() > MAX_NAME {
        return Err(format!(
            "the manifest's version is longer than {MAX_NAME} bytes"
        ));
    }
    semver::Version::parse(m.version).map_err(|e| {
        format!(
            "the manifest's version {:?} is not semantic versioning (like 1.2.0): {e}",
            m.version
        )
    })?;
    if m.queries.len() > MAX_QUERIES
        || [m.subscribes, m.defines, m.emits, m.shares]
            .iter()
            .any(|list| list.len() > MAX_MANIFEST_LIST)
    {
        return Err("the manifest lists too many queries, subscriptions, types or events".into());
    }
    for q in m.queries {
        if q.is_empty() || q.len() > MAX_QUERY_NAMES {
            return Err(format!(
                "query {q:?} must name 1 to {MAX_QUERY_NAMES} component types"
            ));
        }
        for name in q {
            printable(name).map_err(|e| format!("component name {name:?} in a query {e}"))?;
        }
    }
    for name in m
        .defines
        .iter()
        .chain(m.subscribes)
        .chain(m.emits)
        .chain(m.shares)
    {
        printable(name).map_err(|e| format!("name {name:?} {e}"))?;
    }
    if let Some(name) = m
        .shares
        .iter()
        .find(|n| !m.defines.contains(n) && !m.emits.contains(n))
    {
        return Err(format!(
            "the manifest shares {name:?}, which it neither defines nor emits"
        ));
    }
    Ok(())
}

/// Checks the names a manifest of mod `me` declares and uses (see
/// [`crate::names`]): it declares (`defines`, `emits`) only its own names,
/// and a full name it uses has a namespace and a short name.
pub fn check_namespaces(me: &str, m: ManifestRef<'_>) -> Result<(), String> {
    for name in m.defines.iter().chain(m.emits) {
        crate::names::check_declared(me, name)?;
    }
    for name in m.subscribes.iter().chain(m.queries.iter().flatten()) {
        crate::names::check_used(name)?;
    }
    Ok(())
}

/// A manifest's lists of names, to be resolved in place.
pub struct NameLists<'a> {
    /// Event names delivered to the mod.
    pub subscribes: &'a mut [String],
    /// The mod's queries.
    pub queries: &'a mut [Vec<String>],
    /// Component types the mod defines.
    pub defines: &'a mut [String],
    /// Event names the mod declares.
    pub emits: &'a mut [String],
    /// Names among `defines` and `emits` others may use too.
    pub shares: &'a mut [String],
}

/// Turns every name of mod `me`'s manifest into its full name (see
/// [`crate::names::resolve`]). For a mod built for a contract before
/// names had namespaces (`legacy`), a plain event name it subscribes to
/// that is neither the game's nor one it emits itself stands for any mod's
/// event of that short name (`*:greeting`), as it did then.
pub fn resolve_names(names: &impl Names, me: &str, legacy: bool, lists: NameLists<'_>) {
    use crate::names::{ANY_MOD, Kind, full, is_game_name, resolve_owned};
    let take = |kind, name: &mut String| {
        *name = resolve_owned(names, me, kind, std::mem::take(name));
    };
    for name in lists.shares.iter_mut() {
        let kind = if lists.defines.contains(name) {
            Kind::Type
        } else {
            Kind::Event
        };
        take(kind, name);
    }
    for name in lists.subscribes.iter_mut() {
        let plain = !name.contains(crate::names::SEPARATOR);
        if legacy && plain && !lists.emits.contains(name) && !is_game_name(names, Kind::Event, name)
        {
            *name = full(ANY_MOD, name);
        } else {
            take(Kind::Event, name);
        }
    }
    for name in lists.emits.iter_mut() {
        take(Kind::Event, name);
    }
    for name in lists
        .defines
        .iter_mut()
        .chain(lists.queries.iter_mut().flatten())
    {
        take(Kind::Type, name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Owned {
        name: String,
        version: String,
        queries: Vec<Vec<String>>,
        defines: Vec<String>,
    }

    impl Owned {
        fn check(&self) -> Result<(), String> {
            check(ManifestRef {
                name: &self.name,
                version: &self.version,
                subscribes: &[],
                queries: &self.queries,
                defines: &self.defines,
                emits: &[],
                shares: &[],
            })
        }
    }

    fn manifest(name: &str, version: &str) -> Owned {
        Owned {
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
