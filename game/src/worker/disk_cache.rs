//! Compiled mods kept on disk, so a mod whose file did not change starts
//! without compiling again (a Python mod takes seconds to compile, and
//! milliseconds to load from here).
//!
//! Compiled code is native code: loading it skips every check WebAssembly
//! validation makes, so a file here is trusted as much as the game's own
//! binary. That is why the folder must be the player's own: created
//! readable and writable by its owner alone, refused when anyone else owns
//! it or may write to it, and never the mods folder or inside it (strangers'
//! files land there; mods themselves get no file system at all). Each entry
//! carries a SHA-256 digest of its contents, checked before use, so a torn
//! write or a damaged disk costs a recompile, never a crash. The digest
//! trails the code, so the file from its start is what wasmtime serialized
//! and wasmtime maps it rather than reading it into memory: the pages of
//! code and data a mod never touches stay on disk, and the page cache holds
//! the ones it does (a Python mod's interpreter is 34 MB of compiled code,
//! of which an idle mod touches a few). An entry's name
//! is a digest of the engine's configuration and the mod file's bytes: a
//! changed file, another wasmtime version or other settings never find a
//! stale entry. Least recently used entries go first when the folder grows
//! past its size limit.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// What follows the compiled code in every entry: the format's name and
/// version, then the SHA-256 of the code.
const MAGIC: &[u8; 8] = b"BWMCODE2";
/// The length of what follows the code.
const TRAILER: usize = MAGIC.len() + 32;
/// Entries are named `<key>.cwasm`.
const EXTENSION: &str = "cwasm";

/// The SHA-256 digest of some bytes.
pub(crate) type Digest32 = [u8; 32];

/// The digest of `bytes`.
pub(crate) fn digest(bytes: &[u8]) -> Digest32 {
    Sha256::digest(bytes).into()
}

/// The folder of compiled mods for one engine.
pub(crate) struct DiskCache {
    dir: PathBuf,
    /// The digest of the engine's configuration, part of every key.
    engine: Digest32,
    /// The size the folder is kept under.
    max_bytes: u64,
}

/// Feeds what an engine hashes about its configuration into SHA-256, so
/// the digest is the same in every run of the same build.
struct ShaHasher(Sha256);

impl std::hash::Hasher for ShaHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(&self) -> u64 {
        0
    }
}

impl DiskCache {
    /// Opens the folder `dir`, creating it for the player alone; refuses a
    /// folder someone else could write to, and the mods folder.
    pub(crate) fn open(
        dir: &Path,
        mods_dir: &Path,
        engine: &Engine,
        max_bytes: u64,
    ) -> Result<Self, String> {
        let shown = crate::text::escape(&dir.display().to_string()).into_owned();
        let mods = std::fs::canonicalize(mods_dir).ok();
        let near_mods = |real: &Path| {
            if mods
                .as_ref()
                .is_some_and(|m| real.starts_with(m) || m.starts_with(real))
            {
                return Err(format!(
                    "{shown} is the mods folder, in it or around it: compiled code must \
                     live where mod files from strangers never land"
                ));
            }
            Ok(())
        };
        // Checked before anything is created, and again once it exists.
        near_mods(&resolved(dir))?;
        create_private(dir).map_err(|e| format!("cannot create {shown}: {e}"))?;
        let real = std::fs::canonicalize(dir).map_err(|e| format!("cannot open {shown}: {e}"))?;
        near_mods(&real)?;
        let meta =
            std::fs::symlink_metadata(dir).map_err(|e| format!("cannot open {shown}: {e}"))?;
        private(&meta).map_err(|why| format!("{shown} {why}"))?;
        let mut hasher = ShaHasher(Sha256::new());
        std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut hasher);
        Ok(Self {
            dir: dir.to_path_buf(),
            engine: hasher.0.finalize().into(),
            max_bytes,
        })
    }

    /// Where the code compiled from the file with digest `file` is kept.
    fn entry(&self, file: &Digest32) -> PathBuf {
        let mut key = Sha256::new();
        // Entries of the format before this one (digest first) are never
        // looked up again; they go as the least recently used.
        key.update(b"bevy-wasm-mods compiled component, digest last\0");
        key.update(self.engine);
        key.update(file);
        self.dir
            .join(format!("{}.{EXTENSION}", hex(&key.finalize())))
    }

    /// The compiled code for the file with digest `file`, when an intact
    /// entry holds it. A damaged or foreign entry is removed and reported;
    /// the caller then compiles.
    pub(crate) fn load(&self, engine: &Engine, file: &Digest32) -> Option<Component> {
        let path = self.entry(file);
        match check_entry(&path, self.max_bytes) {
            Ok(true) => {}
            Ok(false) => return None,
            Err(why) => {
                tracing::warn!(
                    "compiled-mods cache: {} refused and removed ({why}); compiling instead",
                    path.display()
                );
                let _ = std::fs::remove_file(&path);
                return None;
            }
        }
        match map(engine, &path) {
            Ok(component) => {
                // Marks it recently used, for the size limit.
                let _ = std::fs::File::options()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_modified(SystemTime::now()));
                Some(component)
            }
            Err(e) => {
                tracing::warn!(
                    "compiled-mods cache: {} does not fit this engine ({e}); compiling instead",
                    path.display()
                );
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Keeps `component`, compiled from the file with digest `file`; then
    /// trims the folder to its size limit. Failing to write costs the next
    /// start a compile, nothing more: it is logged, not returned.
    pub(crate) fn store(&self, component: &Component, file: &Digest32) {
        let path = self.entry(file);
        let stored = component
            .serialize()
            .map_err(|e| format!("{e}"))
            .and_then(|code| write_entry(&self.dir, &path, &code).map_err(|e| e.to_string()));
        match stored {
            Ok(()) => self.trim(),
            Err(why) => tracing::warn!(
                "compiled-mods cache: cannot keep {} ({why})",
                path.display()
            ),
        }
    }

    /// Removes the least recently used entries while the folder is over
    /// its size limit.
    fn trim(&self) {
        let Ok(read) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut entries: Vec<(SystemTime, u64, PathBuf)> = read
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == EXTENSION))
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                Some((meta.modified().ok()?, meta.len(), e.path()))
            })
            .collect();
        let mut total: u64 = entries.iter().map(|e| e.1).sum();
        entries.sort();
        for (_, len, path) in entries {
            if total <= self.max_bytes {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
    }
}

/// Maps the compiled code of the entry at `path`, whose digest was checked,
/// from a folder only the player can write to, made by this build's engine;
/// wasmtime itself refuses code from another version or configuration.
/// The digest after the code is left outside what wasmtime reads: its
/// format locates every part by offset from the start.
#[allow(unsafe_code)]
fn map(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: `Component::deserialize_file` requires a file made by
    // `Component::serialize` that nobody untrusted could change, now or
    // while it is mapped. This one was written by `DiskCache::store` into
    // a folder that belongs to the player alone (checked when it was
    // opened, and the entry's own owner and mode were checked by
    // `check_entry`), and its SHA-256 matched the digest written with it.
    // Entries are only ever replaced whole, by a rename (`write_entry`),
    // which leaves a mapped file as it was; nothing writes into one.
    unsafe { Component::deserialize_file(engine, path) }
}

/// Checks the entry at `path`: a private regular file within the size
/// limit whose code matches the digest after it. `false` when there is no
/// entry.
fn check_entry(path: &Path, max: u64) -> Result<bool, String> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e.to_string()),
    };
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    private(&meta)?;
    if meta.len() > max {
        return Err(format!("{} bytes, over the cache's size limit", meta.len()));
    }
    let Some(code) = meta.len().checked_sub(TRAILER as u64) else {
        return Err("not an entry of this cache".into());
    };
    // Read in pieces, not whole: the code is tens of megabytes, and the
    // mapping made afterwards reads it from the page cache.
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut hasher = Sha256::new();
    let mut piece = vec![0u8; 1 << 16];
    let mut left = code;
    while left > 0 {
        let want = piece.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = file.read(&mut piece[..want]).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("it ends before its length".into());
        }
        hasher.update(&piece[..n]);
        left -= n as u64;
    }
    let mut trailer = [0u8; TRAILER];
    file.read_exact(&mut trailer).map_err(|e| e.to_string())?;
    if &trailer[..MAGIC.len()] != MAGIC {
        return Err("not an entry of this cache".into());
    }
    if trailer[MAGIC.len()..] != hasher.finalize()[..] {
        return Err("its contents do not match their digest".into());
    }
    Ok(true)
}

/// Writes an entry whole under a temporary name, then renames it into
/// place: a reader sees the old entry, the new one, or none.
fn write_entry(dir: &Path, path: &Path, code: &[u8]) -> std::io::Result<()> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let temp = dir.join(format!(
        ".writing-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = new_private_file(&temp)?;
        file.write_all(code)?;
        file.write_all(MAGIC)?;
        file.write_all(&digest(code))?;
        drop(file);
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// `path` with its links resolved as far as it exists.
fn resolved(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(existing) {
            return rest.iter().rev().fold(real, |p, part| p.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

#[cfg(unix)]
fn create_private(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

#[cfg(not(unix))]
fn create_private(dir: &Path) -> std::io::Result<()> {
    // On Windows the per-user local application data folder is the
    // player's by its access control list, and a folder inherits it.
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn new_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::File::options()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn new_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::options()
        .write(true)
        .create_new(true)
        .open(path)
}

/// Whether a folder or entry belongs to the player alone: owned by this
/// process's user, and nobody else may write to it.
#[cfg(unix)]
fn private(meta: &std::fs::Metadata) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    if meta.file_type().is_symlink() {
        return Err("is a symbolic link".into());
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(format!(
            "belongs to user {}, not to this player ({me})",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "may be written by others (mode {:o}); allow only its owner to write (chmod go-w)",
            meta.mode() & 0o777
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn private(meta: &std::fs::Metadata) -> Result<(), String> {
    if meta.file_type().is_symlink() {
        return Err("is a symbolic link".into());
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The cache folder a game uses unless told otherwise: the player's cache
/// folder (`$XDG_CACHE_HOME` or `~/.cache` on Linux, `~/Library/Caches` on
/// macOS, the local application data folder on Windows), in
/// `bevy-wasm-mods/compiled`.
pub fn default_folder() -> Option<PathBuf> {
    dirs::cache_dir().map(|d| d.join("bevy-wasm-mods").join("compiled"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        Engine::default()
    }

    /// A path not yet made, in a temporary folder removed when the guard
    /// returned beside it drops.
    fn scratch(name: &str) -> (tempfile::TempDir, PathBuf) {
        let root = tempfile::Builder::new()
            .prefix("bevy-wasm-mods-test-cache-")
            .tempdir()
            .unwrap();
        let path = root.path().join(name);
        (root, path)
    }

    /// The smallest component there is.
    const EMPTY: &[u8] = b"\0asm\x0d\0\x01\0";

    #[test]
    fn an_entry_round_trips_and_a_damaged_one_is_dropped() {
        let engine = engine();
        let (_dir_root, dir) = scratch("round");
        let (_mods_root, mods) = scratch("round-mods");
        let cache = DiskCache::open(&dir, &mods, &engine, 1 << 30).unwrap();
        let component = Component::new(&engine, EMPTY).unwrap();
        let key = digest(EMPTY);
        assert!(cache.load(&engine, &key).is_none(), "nothing stored yet");
        cache.store(&component, &key);
        assert!(cache.load(&engine, &key).is_some());
        assert!(cache.load(&engine, &digest(b"other")).is_none());

        // One flipped bit in the code: refused by its digest and removed.
        let path = cache.entry(&key);
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = (bytes.len() - TRAILER) / 2;
        bytes[middle] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert!(cache.load(&engine, &key).is_none());
        assert!(!path.exists());
    }

    /// A loaded entry's code is mapped from its file, not read into the
    /// process's memory: pages a mod never runs stay on disk.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_loaded_entry_is_mapped_from_its_file() {
        let engine = engine();
        let (_dir_root, dir) = scratch("mapped");
        let (_mods_root, mods) = scratch("mapped-mods");
        let cache = DiskCache::open(&dir, &mods, &engine, 1 << 30).unwrap();
        let key = digest(EMPTY);
        cache.store(&Component::new(&engine, EMPTY).unwrap(), &key);
        let loaded = cache.load(&engine, &key).unwrap();
        let entry = std::fs::canonicalize(cache.entry(&key)).unwrap();
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        assert!(
            maps.lines().any(|l| l.ends_with(&*entry.to_string_lossy())),
            "{} is not mapped",
            entry.display()
        );
        drop(loaded);
    }

    #[test]
    fn another_engine_configuration_finds_nothing() {
        let (_dir_root, dir) = scratch("engines");
        let (_mods_root, mods) = scratch("engines-mods");
        let plain = engine();
        let cache = DiskCache::open(&dir, &mods, &plain, 1 << 30).unwrap();
        cache.store(&Component::new(&plain, EMPTY).unwrap(), &digest(EMPTY));
        let mut config = wasmtime::Config::new();
        config.consume_fuel(true);
        let fuel = Engine::new(&config).unwrap();
        let other = DiskCache::open(&dir, &mods, &fuel, 1 << 30).unwrap();
        assert!(other.load(&fuel, &digest(EMPTY)).is_none());
        assert!(cache.load(&plain, &digest(EMPTY)).is_some());
    }

    #[test]
    fn the_mods_folder_is_never_the_cache() {
        let (_mods_root, mods) = scratch("mods-as-cache");
        std::fs::create_dir_all(&mods).unwrap();
        let why = DiskCache::open(&mods, &mods, &engine(), 1 << 30)
            .err()
            .unwrap();
        assert!(why.contains("mods folder"), "{why}");
        let inside = mods.join("cache");
        assert!(DiskCache::open(&inside, &mods, &engine(), 1 << 30).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_folder_others_may_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir_root, dir) = scratch("open-to-all");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let (_x_root, x) = scratch("x");
        let why = DiskCache::open(&dir, &x, &engine(), 1 << 30).err().unwrap();
        assert!(why.contains("written by others"), "{why}");
    }

    #[test]
    fn the_least_recently_used_go_first() {
        let engine = engine();
        let (_dir_root, dir) = scratch("trim");
        let (_mods_root, mods) = scratch("trim-mods");
        let cache = DiskCache::open(&dir, &mods, &engine, 1 << 30).unwrap();
        let component = Component::new(&engine, EMPTY).unwrap();
        cache.store(&component, &digest(b"a"));
        let size = std::fs::metadata(cache.entry(&digest(b"a"))).unwrap().len();
        let old = SystemTime::now() - std::time::Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(cache.entry(&digest(b"a")))
            .unwrap()
            .set_modified(old)
            .unwrap();
        let small = DiskCache {
            max_bytes: size + size / 2,
            ..cache
        };
        small.store(&component, &digest(b"b"));
        assert!(!small.entry(&digest(b"a")).exists(), "the older one went");
        assert!(small.entry(&digest(b"b")).exists());
    }
}
