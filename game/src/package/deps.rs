//! Dependencies between mods: which mods may run, why the others wait, and
//! the order they all go in (dependencies first, then by id), decided
//! from the mods present alone, so the same mods give the same answer in
//! every run, whatever order they loaded in.

use std::collections::{BTreeMap, BTreeSet};

use semver::{Version, VersionReq};

use super::PackageManifest;

/// What the resolver knows of one mod.
#[derive(Clone, Copy, Debug)]
pub struct Node<'a> {
    /// The mod's id.
    pub id: &'a str,
    /// Its version, once known (its package's, or its manifest's for a
    /// lone file); a mod without one satisfies no dependency yet.
    pub version: Option<&'a Version>,
    /// Whether it can serve as a dependency now: loaded, and neither
    /// failed for good nor quarantined.
    pub present: bool,
    /// Its package's `mod.toml`, for its own dependencies.
    pub package: Option<&'a PackageManifest>,
}

/// Which mods wait and why, and the order of all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resolution {
    /// Every mod's id: dependencies (required and optional, where
    /// present) before the mods that need them, ties by id.
    pub order: Vec<String>,
    /// The mods that may not run yet, each with what it waits for, in
    /// words a player can act on.
    pub waiting: BTreeMap<String, Vec<String>>,
}

/// Decides who runs, who waits, and in which order.
pub fn resolve(mods: &[Node<'_>]) -> Resolution {
    let by_id: BTreeMap<&str, &Node<'_>> = mods.iter().map(|m| (m.id, m)).collect();
    let present = |id: &str| by_id.get(id).filter(|m| m.present && m.version.is_some());

    // What each mod lacks by itself.
    let mut waiting: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in mods {
        let Some(package) = m.package else { continue };
        let mut why = Vec::new();
        for (dep, range) in &package.dependencies {
            match present(dep) {
                None => why.push(format!("{dep} {} (not installed)", shown(range))),
                Some(found) => {
                    let version = found.version.expect("present mods have one");
                    if !range.matches(version) {
                        why.push(format!("{dep} {} ({version} is installed)", shown(range)));
                    }
                }
            }
        }
        for (other, range) in &package.incompatible {
            if let Some(found) = present(other) {
                let version = found.version.expect("present mods have one");
                if range.matches(version) {
                    why.push(format!(
                        "{other} {version} to go: this mod is incompatible with {other} {}",
                        shown(range)
                    ));
                }
            }
        }
        if !why.is_empty() {
            waiting.insert(m.id.to_string(), why);
        }
    }

    // Cycles of required dependencies: every mod in one waits.
    for cycle in cycles(mods) {
        let path = cycle.join(" → ");
        for id in &cycle {
            waiting.entry(id.clone()).or_default().push(format!(
                "a way out of the dependency cycle {path} → {}",
                cycle[0]
            ));
        }
    }

    // A mod whose dependency waits waits too, until nothing changes.
    loop {
        let mut more = Vec::new();
        for m in mods {
            for dep in required(m) {
                if waiting.contains_key(dep.as_str()) && !waiting.contains_key(m.id) {
                    more.push((m.id.to_string(), format!("{dep}, which waits")));
                }
            }
        }
        if more.is_empty() {
            break;
        }
        for (id, why) in more {
            waiting.entry(id).or_default().push(why);
        }
    }

    Resolution {
        order: order(mods, &by_id),
        waiting,
    }
}

/// The ids of a mod's required dependencies.
fn required<'a>(m: &Node<'a>) -> impl Iterator<Item = &'a String> + use<'a> {
    m.package.into_iter().flat_map(|p| p.dependencies.keys())
}

/// A range as a player reads it (`*` for any version).
fn shown(range: &VersionReq) -> String {
    range.to_string()
}

/// Dependencies first (required ones, and optional ones that are there),
/// ties by id; mods in a cycle follow in id order where the cycle is.
fn order(mods: &[Node<'_>], by_id: &BTreeMap<&str, &Node<'_>>) -> Vec<String> {
    let mut needs: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for m in mods {
        let edges = needs.entry(m.id).or_default();
        if let Some(p) = m.package {
            for dep in p.dependencies.keys().chain(p.optional_dependencies.keys()) {
                if by_id.contains_key(dep.as_str()) {
                    edges.insert(dep.as_str());
                }
            }
        }
    }
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut out = Vec::with_capacity(mods.len());
    while out.len() < needs.len() {
        // The first id, in order, whose dependencies are all placed; when
        // a cycle leaves none, the first id still to place.
        let next = needs
            .iter()
            .find(|(id, edges)| !done.contains(*id) && edges.iter().all(|d| done.contains(d)))
            .or_else(|| needs.iter().find(|(id, _)| !done.contains(*id)))
            .map(|(id, _)| *id)
            .expect("a mod is left to place");
        done.insert(next);
        out.push(next.to_string());
    }
    out
}

/// The cycles of required dependencies among the mods, each as the ids
/// along it from its smallest, found once.
fn cycles(mods: &[Node<'_>]) -> Vec<Vec<String>> {
    let ids: BTreeSet<&str> = mods.iter().map(|m| m.id).collect();
    let edges: BTreeMap<&str, Vec<&str>> = mods
        .iter()
        .map(|m| {
            let to = required(m)
                .map(String::as_str)
                .filter(|d| ids.contains(d))
                .collect();
            (m.id, to)
        })
        .collect();
    let mut found: Vec<Vec<String>> = Vec::new();
    let mut in_cycle: BTreeSet<&str> = BTreeSet::new();
    for start in &ids {
        if in_cycle.contains(start) {
            continue;
        }
        // A path back to `start`, by a depth-first search over the
        // required edges (ids in order, so the same cycle every time).
        let mut stack = vec![(*start, 0usize)];
        let mut on_path = vec![*start];
        let mut seen = BTreeSet::from([*start]);
        while let Some((node, next)) = stack.pop() {
            let out = &edges[node];
            if next < out.len() {
                stack.push((node, next + 1));
                let to = out[next];
                if to == *start {
                    let cycle: Vec<String> = on_path.iter().map(|s| s.to_string()).collect();
                    in_cycle.extend(on_path.iter().copied());
                    found.push(cycle);
                    break;
                }
                if seen.insert(to) {
                    stack.push((to, 0));
                    on_path.push(to);
                }
            } else {
                on_path.pop();
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(
        id: &str,
        deps: &[(&str, &str)],
        optional: &[(&str, &str)],
        incompatible: &[(&str, &str)],
    ) -> PackageManifest {
        let table = |list: &[(&str, &str)]| {
            list.iter()
                .map(|(id, range)| (id.to_string(), VersionReq::parse(range).unwrap()))
                .collect()
        };
        PackageManifest {
            id: id.into(),
            name: id.into(),
            version: Version::new(1, 0, 0),
            authors: vec![],
            description: String::new(),
            contract: "0.1.1".into(),
            component: "mod.wasm".into(),
            dependencies: table(deps),
            optional_dependencies: table(optional),
            incompatible: table(incompatible),
        }
    }

    fn resolve_all(mods: &[(&str, &str, Option<&PackageManifest>)]) -> Resolution {
        let versions: Vec<Version> = mods.iter().map(|m| Version::parse(m.1).unwrap()).collect();
        let nodes: Vec<Node<'_>> = mods
            .iter()
            .zip(&versions)
            .map(|((id, _, package), version)| Node {
                id,
                version: Some(version),
                present: true,
                package: *package,
            })
            .collect();
        resolve(&nodes)
    }

    #[test]
    fn dependencies_go_first_then_ids() {
        let storm = package("storm", &[("weather", "^1")], &[("music", "*")], &[]);
        let weather = package("weather", &[("core", ">=0.2")], &[], &[]);
        let r = resolve_all(&[
            ("storm", "1.0.0", Some(&storm)),
            ("music", "0.3.0", None),
            ("weather", "1.4.0", Some(&weather)),
            ("core", "0.2.1", None),
            ("alpha", "1.0.0", None),
        ]);
        assert!(r.waiting.is_empty(), "{:?}", r.waiting);
        assert_eq!(r.order, ["alpha", "core", "music", "weather", "storm"]);
    }

    #[test]
    fn the_order_is_the_same_whatever_order_the_mods_come_in() {
        let storm = package("storm", &[("weather", "^1")], &[], &[]);
        let weather = package("weather", &[], &[], &[]);
        let a = resolve_all(&[
            ("storm", "1.0.0", Some(&storm)),
            ("weather", "1.0.0", Some(&weather)),
            ("zed", "1.0.0", None),
        ]);
        let b = resolve_all(&[
            ("zed", "1.0.0", None),
            ("weather", "1.0.0", Some(&weather)),
            ("storm", "1.0.0", Some(&storm)),
        ]);
        assert_eq!(a, b);
    }

    #[test]
    fn a_missing_or_wrong_dependency_is_named_with_its_range() {
        let storm = package("storm", &[("weather", "^2"), ("rain", ">=1.0")], &[], &[]);
        let r = resolve_all(&[("storm", "1.0.0", Some(&storm)), ("weather", "1.4.0", None)]);
        assert_eq!(
            r.waiting["storm"],
            [
                "rain >=1.0 (not installed)",
                "weather ^2 (1.4.0 is installed)"
            ]
        );
    }

    #[test]
    fn an_optional_dependency_orders_but_never_waits() {
        let storm = package("storm", &[], &[("music", "^9")], &[]);
        let r = resolve_all(&[("storm", "1.0.0", Some(&storm)), ("music", "0.1.0", None)]);
        assert!(r.waiting.is_empty());
        assert_eq!(r.order, ["music", "storm"]);
        let r = resolve_all(&[("storm", "1.0.0", Some(&storm))]);
        assert!(r.waiting.is_empty());
    }

    #[test]
    fn an_incompatible_mod_present_keeps_the_declarer_waiting() {
        let storm = package("storm", &[], &[], &[("old-storm", "<2")]);
        let r = resolve_all(&[
            ("storm", "1.0.0", Some(&storm)),
            ("old-storm", "1.5.0", None),
        ]);
        assert_eq!(
            r.waiting["storm"],
            ["old-storm 1.5.0 to go: this mod is incompatible with old-storm <2"]
        );
        assert!(!r.waiting.contains_key("old-storm"));
        let r = resolve_all(&[
            ("storm", "1.0.0", Some(&storm)),
            ("old-storm", "2.0.0", None),
        ]);
        assert!(r.waiting.is_empty());
    }

    #[test]
    fn a_cycle_waits_whole_and_its_dependents_too() {
        let a = package("a-mod", &[("b-mod", "*")], &[], &[]);
        let b = package("b-mod", &[("c-mod", "*")], &[], &[]);
        let c = package("c-mod", &[("a-mod", "*")], &[], &[]);
        let user = package("user", &[("b-mod", "*")], &[], &[]);
        let r = resolve_all(&[
            ("a-mod", "1.0.0", Some(&a)),
            ("b-mod", "1.0.0", Some(&b)),
            ("c-mod", "1.0.0", Some(&c)),
            ("user", "1.0.0", Some(&user)),
            ("free", "1.0.0", None),
        ]);
        for id in ["a-mod", "b-mod", "c-mod"] {
            assert_eq!(
                r.waiting[id],
                ["a way out of the dependency cycle a-mod → b-mod → c-mod → a-mod"],
                "{id}"
            );
        }
        assert_eq!(r.waiting["user"], ["b-mod, which waits"]);
        assert!(!r.waiting.contains_key("free"));
        assert_eq!(r.order.len(), 5);
        assert_eq!(r.order[0], "free");
    }

    #[test]
    fn a_dependency_not_yet_loaded_or_gone_keeps_its_dependents_waiting() {
        let storm = package("storm", &[("weather", "*")], &[], &[]);
        let weather_version = Version::new(1, 0, 0);
        let storm_version = Version::new(1, 0, 0);
        let nodes = [
            Node {
                id: "storm",
                version: Some(&storm_version),
                present: true,
                package: Some(&storm),
            },
            Node {
                id: "weather",
                version: Some(&weather_version),
                present: false,
                package: None,
            },
        ];
        let r = resolve(&nodes);
        assert_eq!(r.waiting["storm"], ["weather * (not installed)"]);
        assert_eq!(r.order, ["weather", "storm"]);
    }
}
