//! Packages read from folders and archives, and hostile ones refused whole.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use zip::write::SimpleFileOptions;

use super::*;

const TOML: &str = "id = \"storm\"\nname = \"Storm\"\nversion = \"1.2.0\"\ncontract = \"0.1.1\"\n";
const COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0component bytes";

const BOUNDS: PackageBounds = PackageBounds {
    bytes: 1 << 20,
    files: 64,
    component_bytes: 1 << 16,
};

/// A folder with the package's files in it, by path.
fn folder(root: &Path, name: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let dir = root.join(name);
    for (path, bytes) in files {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, bytes).unwrap();
    }
    dir
}

/// An archive of the files, deflated, by path.
fn archive(root: &Path, name: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let path = root.join(name);
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    for (name, bytes) in files {
        zip.start_file(*name, SimpleFileOptions::default()).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
    path
}

fn good() -> Vec<(&'static str, &'static [u8])> {
    vec![
        ("mod.toml", TOML.as_bytes()),
        ("mod.wasm", COMPONENT),
        ("assets/ship.png", b"png bytes"),
        ("assets/sounds/boom.ogg", b"ogg bytes"),
        ("README.md", b"# Storm"),
    ]
}

fn check_good(package: Package) {
    let manifest = package.manifest.expect("a manifest");
    assert_eq!(manifest.id, "storm");
    assert_eq!(package.component, COMPONENT);
    let assets: Vec<(&str, &[u8])> = package
        .assets
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_slice()))
        .collect();
    assert_eq!(
        assets,
        vec![
            ("ship.png", &b"png bytes"[..]),
            ("sounds/boom.ogg", &b"ogg bytes"[..])
        ]
    );
}

#[test]
fn a_package_reads_from_a_folder_and_from_an_archive() {
    let root = tempfile::tempdir().unwrap();
    check_good(read_package(&folder(root.path(), "storm", &good()), BOUNDS).unwrap());
    check_good(read_package(&archive(root.path(), "storm.zip", &good()), BOUNDS).unwrap());
    check_good(read_package(&archive(root.path(), "storm_1.2.0.zip", &good()), BOUNDS).unwrap());
}

/// Reads the package as a folder and as an archive; both must be refused
/// with words containing `why`.
fn refused_both_ways(files: &[(&str, &[u8])], why: &str) {
    let root = tempfile::tempdir().unwrap();
    for path in [
        folder(root.path(), "storm", files),
        archive(root.path(), "storm.zip", files),
    ] {
        let e = read_package(&path, BOUNDS).unwrap_err();
        assert!(e.contains(why), "{}: {e}", path.display());
    }
}

#[test]
fn a_package_missing_a_part_or_misnamed_is_refused_by_what_is_wrong() {
    refused_both_ways(&[("mod.wasm", COMPONENT)], "no `mod.toml`");
    refused_both_ways(&[("mod.toml", TOML.as_bytes())], "no `mod.wasm`");
    let other = TOML.replace("\"storm\"", "\"breeze\"");
    refused_both_ways(
        &[("mod.toml", other.as_bytes()), ("mod.wasm", COMPONENT)],
        "says its id is \"breeze\"",
    );
    refused_both_ways(
        &[("mod.toml", b"id = \"storm\"\n"), ("mod.wasm", COMPONENT)],
        "`mod.toml`: missing field",
    );
    let root = tempfile::tempdir().unwrap();
    let e = read_package(&archive(root.path(), "storm_2.0.0.zip", &good()), BOUNDS).unwrap_err();
    assert!(
        e.contains("says version 2.0.0, but `mod.toml` says 1.2.0"),
        "{e}"
    );
}

/// Bytes that do not compress, as real assets and code mostly do not.
fn noise(n: usize) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn packages_past_their_bounds_are_refused_whole() {
    let big = noise(2 << 20);
    let mut files = good();
    files.push(("assets/big.bin", &big));
    refused_both_ways(&files, "1048576");

    let names: Vec<String> = (0..70).map(|i| format!("assets/{i}.txt")).collect();
    let mut files = good();
    files.extend(names.iter().map(|n| (n.as_str(), &b"x"[..])));
    refused_both_ways(&files, "64");

    let huge_component = noise(70_000);
    let mut files = good();
    files[1] = ("mod.wasm", &huge_component);
    refused_both_ways(&files, "over its 65536-byte limit");
}

#[test]
fn a_zip_bomb_is_refused_from_its_directory_before_unpacking() {
    // 900 KiB of zeros deflate to about 1 KiB: nearly a thousand to one.
    let zeros = vec![0u8; 900 << 10];
    let mut files = good();
    files.push(("assets/zeros.bin", &zeros));
    let root = tempfile::tempdir().unwrap();
    let e = read_package(&archive(root.path(), "storm.zip", &files), BOUNDS).unwrap_err();
    assert!(
        e.contains("`assets/zeros.bin` unpacks to 921600 bytes from"),
        "{e}"
    );
}

#[test]
fn paths_that_leave_the_package_are_refused() {
    for bad in [
        "../evil.txt",
        "/etc/evil",
        "assets/../../evil",
        "a\\..\\evil",
        "C:/evil",
    ] {
        let mut files = good();
        files.push((bad, b"x"));
        let root = tempfile::tempdir().unwrap();
        let e = read_package(&archive(root.path(), "storm.zip", &files), BOUNDS).unwrap_err();
        assert!(
            e.contains("not a plain path") || e.contains("holds"),
            "{bad}: {e}"
        );
    }
}

#[test]
fn links_are_refused_in_archives_and_folders() {
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join("storm.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    for (name, bytes) in good() {
        zip.start_file(name, SimpleFileOptions::default()).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.add_symlink("assets/passwd", "/etc/passwd", SimpleFileOptions::default())
        .unwrap();
    zip.finish().unwrap();
    let e = read_package(&path, BOUNDS).unwrap_err();
    assert!(e.contains("`assets/passwd` is a symbolic link"), "{e}");

    #[cfg(unix)]
    {
        let dir = folder(root.path(), "storm", &good());
        std::os::unix::fs::symlink("/etc/passwd", dir.join("assets/passwd")).unwrap();
        let e = read_package(&dir, BOUNDS).unwrap_err();
        assert!(e.contains("`assets/passwd` is a symbolic link"), "{e}");
        let linked = root.path().join("linked");
        std::os::unix::fs::symlink(&dir, &linked).unwrap();
        let e = read_package(&linked, BOUNDS).unwrap_err();
        assert!(e.contains("may not be a symbolic link"), "{e}");
    }
}

#[test]
fn a_forged_size_is_refused_not_trusted() {
    let root = tempfile::tempdir().unwrap();
    let text = vec![b'a'; 4096];
    let mut files = good();
    files.push(("assets/text.txt", &text));
    let path = archive(root.path(), "storm.zip", &files);
    // Declare 10 bytes for the last entry in the central directory (its
    // uncompressed size field), while its data unpacks to 4096.
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes
        .windows(4)
        .rposition(|w| w == [0x50, 0x4b, 0x01, 0x02])
        .expect("a central directory header");
    bytes[last + 24..last + 28].copy_from_slice(&10u32.to_le_bytes());
    std::fs::write(&path, bytes).unwrap();
    let e = read_package(&path, BOUNDS).unwrap_err();
    assert!(e.contains("assets/text.txt"), "{e}");
}

#[test]
fn an_archive_of_many_entries_is_refused_before_any_is_read() {
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join("storm.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    for i in 0..100_000 {
        zip.start_file(
            format!("{i}"),
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored),
        )
        .unwrap();
    }
    zip.finish().unwrap();
    let e = read_package(
        &path,
        PackageBounds {
            bytes: 64 << 20,
            ..BOUNDS
        },
    )
    .unwrap_err();
    assert!(
        e.contains("holds 100000 entries, over the limit of 64"),
        "{e}"
    );
}

#[test]
fn what_is_not_an_archive_is_refused_by_name() {
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join("storm.zip");
    std::fs::write(&path, b"not a zip").unwrap();
    let e = read_package(&path, BOUNDS).unwrap_err();
    assert!(e.contains("not a readable zip archive"), "{e}");
}

/// A PNG of `width` x `height` pixels of one color, in `color` at 8 bits.
fn png_of(width: u32, height: u32, color: png::ColorType, pixel: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(color);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    let data: Vec<u8> = (0..width * height).flat_map(|_| pixel.to_vec()).collect();
    writer.write_image_data(&data).unwrap();
    writer.finish().unwrap();
    out
}

const ASSETS: AssetBounds = AssetBounds {
    bytes: 1 << 20,
    image_side: 256,
};

#[test]
fn images_of_every_color_type_decode_to_rgba() {
    for (color, pixel, rgba) in [
        (png::ColorType::Rgba, vec![10, 20, 30, 40], [10, 20, 30, 40]),
        (png::ColorType::Rgb, vec![10, 20, 30], [10, 20, 30, 255]),
        (png::ColorType::Grayscale, vec![7], [7, 7, 7, 255]),
        (png::ColorType::GrayscaleAlpha, vec![7, 9], [7, 7, 7, 9]),
    ] {
        let image = decode_png(&png_of(3, 2, color, &pixel), 256).unwrap();
        assert_eq!((image.width, image.height), (3, 2), "{color:?}");
        assert_eq!(image.rgba, rgba.repeat(6), "{color:?}");
    }
}

/// A PNG's signature and header chunk, claiming `width` x `height` RGBA
/// pixels, and nothing after: what an image bomb starts with.
fn header_only(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    let mut chunk = b"IHDR".to_vec();
    chunk.extend_from_slice(&ihdr);
    let crc = crc32(&chunk);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend_from_slice(&(ihdr.len() as u32).to_be_bytes());
    out.extend_from_slice(&chunk);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn an_image_too_big_is_refused_from_its_header_and_a_broken_one_by_name() {
    // 60,000 x 60,000 RGBA would be 14 GB: refused before any pixel.
    let why = decode_png(&header_only(60_000, 60_000), 4096).unwrap_err();
    assert!(
        why.contains("60000x60000") && why.contains("at most 4096"),
        "{why}"
    );
    assert!(decode_png(&header_only(0, 5), 4096).is_err());
    let good = png_of(4, 4, png::ColorType::Rgba, &[1, 2, 3, 4]);
    for broken in [&good[..good.len() / 2], b"not a png at all".as_slice(), &[]] {
        let why = decode_png(broken, 4096).unwrap_err();
        assert!(!why.is_empty());
    }
}

#[test]
fn assets_are_decoded_kept_or_left_out_by_path_within_the_cap() {
    let ship = png_of(8, 8, png::ColorType::Rgba, &[1, 2, 3, 4]);
    let big = png_of(300, 1, png::ColorType::Rgba, &[0, 0, 0, 0]);
    let files: BTreeMap<String, Vec<u8>> = [
        ("ship.png", ship.clone()),
        ("SHOUT.PNG", ship),
        ("big.png", big),
        ("broken.png", b"\x89PNG nope".to_vec()),
        ("sounds/boom.ogg", b"ogg bytes".to_vec()),
        ("z-filler.bin", vec![0; 300]),
    ]
    .into_iter()
    .map(|(p, b)| (p.to_string(), b))
    .collect();
    // Room for two 8x8 images and the sound, not the filler.
    let ready = prepare_assets(
        &files,
        AssetBounds {
            bytes: 2 * 8 * 8 * 4 + 9 + 100,
            image_side: 256,
        },
    );
    let kept: Vec<&str> = ready.files.keys().map(String::as_str).collect();
    assert_eq!(kept, ["SHOUT.PNG", "ship.png", "sounds/boom.ogg"]);
    match &ready.files["ship.png"] {
        ModAsset::Image(image) => assert_eq!((image.width, image.height), (8, 8)),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        ready.files["sounds/boom.ogg"],
        ModAsset::Bytes(b"ogg bytes".as_slice().into())
    );
    let problems = ready.problems.join("\n");
    assert_eq!(ready.problems.len(), 3, "{problems}");
    assert!(problems.contains("assets/big.png: an image of 300x1 pixels; at most 256"));
    assert!(problems.contains("assets/broken.png: not a PNG"));
    assert!(problems.contains("assets/z-filler.bin: left out"));
    // Within generous caps, everything is kept.
    assert!(prepare_assets(&files, ASSETS).problems.len() == 2);
}
