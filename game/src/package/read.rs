//! Reading a mod from the mods folder: a lone `.wasm`, or a package (a
//! folder or a `.zip`) checked whole against its bounds before any of it
//! is used. Nothing is ever written: a package's files are read into
//! memory, so no path in it can reach outside it.

use std::collections::BTreeMap;
use std::io::{BufReader, Read};
use std::path::Path;

use super::manifest::{MAX_DEPTH, MAX_MANIFEST_BYTES, PackageManifest, check_path, id_from_name};

/// The most a package's files may unpack to, against what they take in
/// the archive: far above what real files reach (text, at most 20 to 1),
/// far below a zip bomb's (a thousand to one and up).
pub const MAX_RATIO: u64 = 100;

/// Files this small are not held to [`MAX_RATIO`]: a short run of zeros
/// compresses past it honestly, and cannot add up to much.
const RATIO_FREE_BYTES: u64 = 64 << 10;

/// What a package may hold, checked before anything in it is read.
#[derive(Clone, Copy, Debug)]
pub struct PackageBounds {
    /// All its files together, unpacked.
    pub bytes: u64,
    /// How many files (and folders) it holds.
    pub files: usize,
    /// The component's size.
    pub component_bytes: u64,
}

/// A mod as read from the mods folder.
#[derive(Debug, Default)]
pub struct Package {
    /// Its `mod.toml` (`None` for a lone `.wasm`).
    pub manifest: Option<PackageManifest>,
    /// The component's bytes.
    pub component: Vec<u8>,
    /// Its `assets/` files, by path under `assets/`.
    pub assets: BTreeMap<String, Vec<u8>>,
}

/// One file of a package, before it is read.
struct Entry {
    path: String,
    size: u64,
    /// Where to read it: an index in the archive, or a file on disk.
    at: At,
}

enum At {
    Zip(usize),
    Disk(std::path::PathBuf),
}

/// Reads a package (a folder, or a `.zip`) at `path`; the error says which
/// bound it broke or what is missing, in words a player can act on.
pub fn read_package(path: &Path, bounds: PackageBounds) -> Result<Package, String> {
    let link = std::fs::symlink_metadata(path).map_err(|e| format!("cannot read it: {e}"))?;
    if link.file_type().is_symlink() {
        return Err("a package may not be a symbolic link".into());
    }
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("its name is not UTF-8")?;
    let (named_id, named_version) = id_from_name(name);
    let mut zip = None;
    let entries = if link.is_dir() {
        list_folder(path, bounds)?
    } else {
        let (archive, entries) = list_zip(path, bounds)?;
        zip = Some(archive);
        entries
    };
    let mut read = |entry: &Entry, max: u64| -> Result<Vec<u8>, String> {
        if entry.size > max {
            return Err(format!(
                "`{}` is {} bytes, over its {max}-byte limit",
                entry.path, entry.size
            ));
        }
        match (&entry.at, zip.as_mut()) {
            (At::Zip(i), Some(zip)) => read_zip_entry(zip, *i, entry),
            (At::Disk(file), _) => read_disk_file(file, entry),
            (At::Zip(_), None) => Err("not an archive".into()),
        }
    };
    let find = |path: &str| entries.iter().find(|e| e.path == path);
    let toml = find("mod.toml").ok_or("it holds no `mod.toml` at its top")?;
    let text = read(toml, MAX_MANIFEST_BYTES)?;
    let text = String::from_utf8(text).map_err(|_| "`mod.toml` is not UTF-8 text")?;
    let manifest = PackageManifest::parse(&text).map_err(|e| format!("`mod.toml`: {e}"))?;
    if manifest.id != named_id {
        return Err(format!(
            "`mod.toml` says its id is {:?}, but the package is named {:?}: name it after \
             its id (`{id}`, `{id}.zip`, or with `_<version>` after the id)",
            manifest.id,
            crate::text::escape(name),
            id = manifest.id
        ));
    }
    if let Some(v) = named_version.filter(|v| *v != manifest.version) {
        return Err(format!(
            "the package's name says version {v}, but `mod.toml` says {}",
            manifest.version
        ));
    }
    let component = find(&manifest.component).ok_or_else(|| {
        format!(
            "it holds no `{}`, the component `mod.toml` names",
            manifest.component
        )
    })?;
    let component = read(component, bounds.component_bytes)?;
    let mut assets = BTreeMap::new();
    for entry in entries.iter().filter(|e| e.path.starts_with("assets/")) {
        if entry.path.ends_with('/') {
            continue;
        }
        let bytes = read(entry, bounds.bytes)?;
        assets.insert(entry.path["assets/".len()..].to_string(), bytes);
    }
    Ok(Package {
        manifest: Some(manifest),
        component,
        assets,
    })
}

/// Every file of a package folder, by its path inside, with its size;
/// refused whole when it breaks a bound or holds a link or a device.
fn list_folder(root: &Path, bounds: PackageBounds) -> Result<Vec<Entry>, String> {
    let mut entries = Vec::new();
    let mut total = 0u64;
    let mut pending = vec![(root.to_path_buf(), String::new(), 0usize)];
    while let Some((dir, prefix, depth)) = pending.pop() {
        let listing =
            std::fs::read_dir(&dir).map_err(|e| format!("cannot list {prefix:?}: {e}"))?;
        for item in listing {
            let item = item.map_err(|e| format!("cannot list {prefix:?}: {e}"))?;
            let name = item.file_name();
            let name = name
                .to_str()
                .ok_or_else(|| format!("a name in {prefix:?} is not UTF-8"))?;
            let path = format!("{prefix}{name}");
            check_path(&path)?;
            let meta = std::fs::symlink_metadata(item.path())
                .map_err(|e| format!("cannot read `{path}`: {e}"))?;
            entries.push(Entry {
                path: path.clone(),
                size: meta.len(),
                at: At::Disk(item.path()),
            });
            if entries.len() > bounds.files {
                return Err(format!("it holds more than {} files", bounds.files));
            }
            if meta.file_type().is_symlink() {
                return Err(format!("`{path}` is a symbolic link; a package holds none"));
            } else if meta.is_dir() {
                if depth + 1 >= MAX_DEPTH {
                    return Err(format!(
                        "`{path}` is nested deeper than {MAX_DEPTH} folders"
                    ));
                }
                entries.last_mut().expect("just pushed").path.push('/');
                pending.push((item.path(), format!("{path}/"), depth + 1));
            } else if meta.is_file() {
                total += meta.len();
                if total > bounds.bytes {
                    return Err(format!(
                        "its files add up to more than {} bytes",
                        bounds.bytes
                    ));
                }
            } else {
                return Err(format!("`{path}` is a device, pipe or socket"));
            }
        }
    }
    Ok(entries)
}

type Archive = zip::ZipArchive<BufReader<std::fs::File>>;

/// Every entry of a package archive, by its path inside, with its size;
/// refused whole, from the archive's directory alone (before anything is
/// unpacked), when it breaks a bound or holds a link or an odd path.
fn list_zip(path: &Path, bounds: PackageBounds) -> Result<(Archive, Vec<Entry>), String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open it: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read it: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > bounds.bytes {
        return Err(format!(
            "the archive is over the {}-byte limit",
            bounds.bytes
        ));
    }
    let mut zip = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| format!("not a readable zip archive: {e}"))?;
    if zip.len() > bounds.files {
        return Err(format!(
            "the archive holds {} entries, over the limit of {}",
            zip.len(),
            bounds.files
        ));
    }
    let mut entries = Vec::with_capacity(zip.len());
    let mut total = 0u64;
    let mut names = std::collections::HashSet::new();
    for i in 0..zip.len() {
        let entry = zip
            .by_index_raw(i)
            .map_err(|e| format!("entry {i} cannot be read: {e}"))?;
        let name = entry
            .name()
            .map_err(|e| format!("entry {i} has no readable name: {e}"))?
            .into_owned();
        let bare = name.strip_suffix('/').unwrap_or(&name);
        check_path(bare)?;
        if entry.is_symlink() {
            return Err(format!("`{bare}` is a symbolic link; a package holds none"));
        }
        if entry.encrypted() {
            return Err(format!("`{bare}` is encrypted"));
        }
        if !names.insert(bare.to_lowercase()) {
            return Err(format!("`{bare}` is in the archive twice"));
        }
        let (size, packed) = (entry.size(), entry.compressed_size());
        total = total.saturating_add(size);
        if total > bounds.bytes {
            return Err(format!(
                "its entries unpack to more than {} bytes",
                bounds.bytes
            ));
        }
        if size > RATIO_FREE_BYTES && size > packed.saturating_mul(MAX_RATIO) {
            return Err(format!(
                "`{bare}` unpacks to {size} bytes from {packed}, past the {MAX_RATIO} to 1 \
                 a real file reaches"
            ));
        }
        entries.push(Entry {
            path: name.clone(),
            size,
            at: At::Zip(i),
        });
    }
    Ok((zip, entries))
}

/// Unpacks one entry into memory, never past the size the archive's
/// directory declared for it (a forged size is refused, not trusted).
fn read_zip_entry(zip: &mut Archive, index: usize, entry: &Entry) -> Result<Vec<u8>, String> {
    let mut file = zip
        .by_index(index)
        .map_err(|e| format!("`{}` cannot be unpacked: {e}", entry.path))?;
    let mut bytes = Vec::with_capacity(entry.size.min(16 << 20) as usize);
    (&mut file)
        .take(entry.size + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("`{}` cannot be unpacked: {e}", entry.path))?;
    if bytes.len() as u64 != entry.size {
        return Err(format!(
            "`{}` unpacks to another size than the archive declares",
            entry.path
        ));
    }
    Ok(bytes)
}

/// Reads one file of a package folder, refusing one that changed kind or
/// grew since it was listed.
fn read_disk_file(file: &Path, entry: &Entry) -> Result<Vec<u8>, String> {
    let io = |e: std::io::Error| format!("cannot read `{}`: {e}", entry.path);
    let link = std::fs::symlink_metadata(file).map_err(io)?;
    if !link.is_file() {
        return Err(format!("`{}` is no longer a regular file", entry.path));
    }
    let mut bytes = Vec::with_capacity(entry.size as usize);
    std::fs::File::open(file)
        .map_err(io)?
        .take(entry.size + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > entry.size {
        return Err(format!("`{}` grew while it was read", entry.path));
    }
    Ok(bytes)
}
