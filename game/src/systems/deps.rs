//! Dependencies on the main thread: once a frame's loads, updates and
//! unloads are in, which mods wait for others and the order all of them
//! tick in (dependencies first, then by id). A mod that waits keeps its
//! instance, its state and its entities, and is not ticked; it goes on
//! from where it stopped once what it waits for is there.

use std::sync::Arc;

use semver::Version;

use super::{ModEntry, ModRegistry};
use crate::package::PackageManifest;
use crate::package::deps::{Node, resolve};
use crate::registry::ModStatus;

/// What the last resolution was made from, one row per mod in registry
/// order: resolving again is needed only when a row changes.
#[derive(Default)]
pub(crate) struct DepsSeen(Vec<Row>);

#[derive(PartialEq)]
struct Row {
    owner: Arc<str>,
    present: bool,
    version: String,
    package: Option<PackageManifest>,
}

/// Whether the mod can serve as a dependency now: loaded, and neither
/// failed for good nor quarantined (one restarting after a fault is
/// still there).
fn present(entry: &ModEntry) -> bool {
    matches!(
        entry.life.info().status,
        ModStatus::Running | ModStatus::Disabled | ModStatus::Waiting | ModStatus::Recovering
    )
}

fn unchanged(row: &Row, entry: &ModEntry) -> bool {
    let info = entry.life.info();
    row.owner == entry.slot.owner
        && row.present == present(entry)
        && row.version == info.version
        && row.package == info.package
}

/// Resolves the mods' dependencies again when a mod came, went, started,
/// stopped or changed version: sets what each mod waits for and puts the
/// registry in load order.
pub(crate) fn settle(registry: &mut ModRegistry, seen: &mut DepsSeen) {
    let same = seen.0.len() == registry.entries.len()
        && seen
            .0
            .iter()
            .zip(&registry.entries)
            .all(|(r, e)| unchanged(r, e));
    if same {
        return;
    }
    let versions: Vec<Option<Version>> = registry
        .entries
        .iter()
        .map(|e| {
            let info = e.life.info();
            match &info.package {
                Some(p) => Some(p.version.clone()),
                None => Version::parse(&info.version).ok(),
            }
        })
        .collect();
    let nodes: Vec<Node<'_>> = registry
        .entries
        .iter()
        .zip(&versions)
        .map(|(e, version)| Node {
            id: &e.slot.owner,
            version: version.as_ref(),
            present: present(e),
            package: e.life.info().package.as_ref(),
        })
        .collect();
    let resolution = resolve(&nodes);
    drop(nodes);
    for entry in &mut registry.entries {
        let waits = resolution
            .waiting
            .get(&*entry.slot.owner)
            .cloned()
            .unwrap_or_default();
        if waits != entry.life.info().waiting_for {
            if waits.is_empty() {
                tracing::info!(
                    mod_id = &*entry.slot.owner,
                    "what it waited for is here: it runs"
                );
            } else {
                tracing::warn!(
                    mod_id = &*entry.slot.owner,
                    "waits for {}",
                    crate::text::escape(&waits.join("; "))
                );
            }
        }
        entry.life.set_waiting(waits);
    }
    let rank: std::collections::HashMap<&str, usize> = resolution
        .order
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    registry
        .entries
        .sort_by_key(|e| rank.get(&*e.slot.owner).copied().unwrap_or(usize::MAX));
    seen.0 = registry
        .entries
        .iter()
        .map(|e| {
            let info = e.life.info();
            Row {
                owner: e.slot.owner.clone(),
                present: present(e),
                version: info.version.clone(),
                package: info.package.clone(),
            }
        })
        .collect();
}
