//! The mods folder: which files are mods, a mod's id from its file, and
//! the watch that tells which of them changed.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use crossbeam_channel::Receiver;
use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};

/// A mod's id: its file's stem.
pub(crate) fn stem_of(file: &std::path::Path) -> String {
    file.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The `.wasm` files in `dir`, sorted by name: the load order.
pub(crate) fn find_mods(dir: &std::path::Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        tracing::warn!("no mods folder at {}", dir.display());
        return Vec::new();
    };
    // Every `.wasm` entry, whatever it is: reading refuses anything but a
    // regular file in the folder, by name, rather than skipping it unseen.
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    files.sort();
    files
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
}

/// What tells one version of a file from another without reading it.
type Signature = Option<(u64, Option<SystemTime>)>;

fn signature(file: &Path) -> Signature {
    let meta = std::fs::symlink_metadata(file).ok()?;
    Some((meta.len(), meta.modified().ok()))
}

impl FolderWatch {
    /// Watches `dir` (not its sub-folders).
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
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let seen = find_mods(dir)
            .iter()
            .filter_map(|f| Some((f.file_name()?.to_os_string(), signature(f))))
            .collect();
        Ok(Self {
            _debouncer: debouncer,
            changed,
            overflowed,
            seen,
        })
    }

    /// The names of the `.wasm` files that changed (appeared, went, or
    /// differ in size or time) since the last call, each once, sorted.
    pub(crate) fn changed(&mut self, dir: &Path) -> Vec<OsString> {
        let mut names: Vec<OsString> = self
            .changed
            .try_iter()
            .filter_map(|p| p.file_name().map(|n| n.to_os_string()))
            .collect();
        if self.overflowed.swap(false, Ordering::Relaxed) {
            names.extend(
                find_mods(dir)
                    .iter()
                    .filter_map(|p| p.file_name().map(|n| n.to_os_string())),
            );
        }
        names.retain(|n| Path::new(n).extension().is_some_and(|x| x == "wasm"));
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
