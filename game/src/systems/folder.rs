//! The mods folder: which entries are mods (lone `.wasm` files, package
//! folders and `.zip` packages), a mod's id from its path, and the watch
//! that tells which of them changed.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use crossbeam_channel::Receiver;
use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};

pub(crate) use crate::package::id_of;

/// Whether the entry `name` of the mods folder is a mod: a `.wasm` or a
/// `.zip`, whatever it turns out to be (reading refuses anything but a
/// regular file or a well-formed package, by name, rather than skipping
/// it unseen), or a folder not hidden (a package).
fn is_mod(dir: &Path, name: &Path) -> bool {
    let ext = name.extension();
    if ext.is_some_and(|x| x == "wasm" || x == "zip") {
        return true;
    }
    !name.to_string_lossy().starts_with('.')
        && std::fs::symlink_metadata(dir.join(name)).is_ok_and(|m| m.is_dir())
}

/// The mods in `dir`, each with every path that claims its id (more than
/// one is a conflict the player must settle), sorted by id: the load
/// order before dependencies.
pub(crate) fn find_mods(dir: &Path) -> Vec<(String, Vec<PathBuf>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        tracing::warn!("no mods folder at {}", dir.display());
        return Vec::new();
    };
    let mut by_id: std::collections::BTreeMap<String, Vec<PathBuf>> = Default::default();
    for entry in entries.filter_map(|e| e.ok()) {
        let name = PathBuf::from(entry.file_name());
        if is_mod(dir, &name) {
            by_id.entry(id_of(&name)).or_default().push(entry.path());
        }
    }
    by_id
        .into_iter()
        .map(|(id, mut paths)| {
            paths.sort();
            (id, paths)
        })
        .collect()
}

/// The paths in `dir` that claim the id `id`, sorted.
pub(crate) fn claimants(dir: &Path, id: &str) -> Vec<PathBuf> {
    find_mods(dir)
        .into_iter()
        .find(|(found, _)| found == id)
        .map(|(_, paths)| paths)
        .unwrap_or_default()
}

/// Why none of several paths claiming one id loads.
pub(crate) fn conflict(id: &str, paths: &[PathBuf]) -> String {
    let names: Vec<String> = paths
        .iter()
        .filter_map(|p| p.file_name())
        .map(|n| crate::text::escape(&n.to_string_lossy()).into_owned())
        .collect();
    format!(
        "{} mods in the folder have the id {:?} ({}): remove all but one",
        paths.len(),
        crate::text::escape(id),
        names.join(", ")
    )
}

/// How long a file must stay unchanged before it is read: a file being
/// copied or written is never loaded half way.
const SETTLE: Duration = Duration::from_millis(250);

/// Changed paths the watch holds for the main thread; past this, the whole
/// folder is looked at again.
const HELD_PATHS: usize = 1024;

/// The watch on the mods folder.
pub(crate) struct FolderWatch {
    _debouncer: Debouncer<RecommendedWatcher>,
    changed: Receiver<PathBuf>,
    /// More paths changed than were held: look at every file.
    overflowed: Arc<AtomicBool>,
    /// Each file's size and time of change as last seen: reading a file is
    /// an event too, and must not count as a change.
    seen: HashMap<OsString, Signature>,
    /// The folder's canonical path, as the watcher may report paths.
    canonical: Option<PathBuf>,
}

/// What tells one version of a file from another without reading it.
type Signature = Option<(u64, Option<SystemTime>)>;

/// Most entries of a package folder looked at for its signature: a folder
/// past the bound is refused when it is read anyway.
const SIGNED_ENTRIES: usize = 8192;

/// A file's size and time of change; for a package folder, a digest of
/// every entry's path, size and time of change.
fn signature(path: &Path) -> Signature {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.is_dir() {
        return Some((meta.len(), meta.modified().ok()));
    }
    let mut listing = Vec::new();
    let mut pending = vec![path.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).ok()?.filter_map(|e| e.ok()) {
            if listing.len() >= SIGNED_ENTRIES {
                break;
            }
            let meta = entry.metadata().ok();
            if meta.as_ref().is_some_and(|m| m.is_dir()) {
                pending.push(entry.path());
            }
            let changed = meta
                .as_ref()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok());
            listing.push((entry.path(), meta.map(|m| m.len()), changed));
        }
    }
    listing.sort();
    Some((crate::fnv1a(format!("{listing:?}").as_bytes()), None))
}

impl FolderWatch {
    /// Watches `dir` and its package folders.
    pub(crate) fn start(dir: &Path) -> Result<Self, String> {
        let (tx, changed) = crossbeam_channel::bounded(HELD_PATHS);
        let overflowed = Arc::new(AtomicBool::new(false));
        let flag = overflowed.clone();
        let mut debouncer =
            new_debouncer(SETTLE, move |result: DebounceEventResult| match result {
                Ok(events) => {
                    for event in events {
                        if tx.try_send(event.path).is_err() {
                            flag.store(true, Ordering::Relaxed);
                        }
                    }
                }
                Err(e) => tracing::warn!("watching the mods folder: {e}"),
            })
            .map_err(|e| e.to_string())?;
        debouncer
            .watcher()
            .watch(dir, RecursiveMode::Recursive)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let seen = find_mods(dir)
            .iter()
            .flat_map(|(_, paths)| paths)
            .filter_map(|f| Some((f.file_name()?.to_os_string(), signature(f))))
            .collect();
        Ok(Self {
            canonical: dir.canonicalize().ok(),
            _debouncer: debouncer,
            changed,
            overflowed,
            seen,
        })
    }

    /// The names of the mods folder's entries that changed (appeared,
    /// went, or differ in size or time, or, for a package folder, in any
    /// file inside) since the last call, each once, sorted.
    pub(crate) fn changed(&mut self, dir: &Path) -> Vec<OsString> {
        // A change deep in a package folder is a change of the package.
        let canonical = self.canonical.clone();
        let top = |p: PathBuf| -> Option<OsString> {
            let inside = p
                .strip_prefix(dir)
                .ok()
                .or_else(|| p.strip_prefix(canonical.as_ref()?).ok());
            match inside {
                Some(inside) => inside.iter().next().map(|n| n.to_os_string()),
                None => p.file_name().map(|n| n.to_os_string()),
            }
        };
        let mut names: Vec<OsString> = self.changed.try_iter().filter_map(top).collect();
        if self.overflowed.swap(false, Ordering::Relaxed) {
            names.extend(
                find_mods(dir)
                    .iter()
                    .flat_map(|(_, paths)| paths)
                    .filter_map(|p| p.file_name().map(|n| n.to_os_string())),
            );
            names.extend(self.seen.keys().cloned());
        }
        // A mod, or what was one (a package folder that went).
        names.retain(|n| is_mod(dir, Path::new(n)) || self.seen.contains_key(n));
        names.sort();
        names.dedup();
        names.retain(|n| {
            let now = signature(&dir.join(n));
            let before = self.seen.insert(n.clone(), now);
            before.flatten() != now
        });
        names
    }
}
