//! A package's `assets/`, made ready for the game off the main thread:
//! PNG images decoded to RGBA, within caps per mod, every other file kept
//! as its bytes. A file that breaks a cap or does not decode is left out
//! and said, by path, against the mod; nothing of it panics the game.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::Arc;

/// The caps on what a mod's assets may become in the game.
#[derive(Clone, Copy, Debug)]
pub struct AssetBounds {
    /// Bytes all of a mod's assets may take once decoded (an image's RGBA
    /// pixels, any other file's bytes).
    pub bytes: u64,
    /// Pixels an image may have on its longer side.
    pub image_side: u32,
}

/// An image decoded from a mod's PNG: 8-bit RGBA, rows top to bottom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModImage {
    /// Pixels across.
    pub width: u32,
    /// Pixels down.
    pub height: u32,
    /// `width * height` pixels of red, green, blue and alpha.
    pub rgba: Vec<u8>,
}

/// One file of a mod's `assets/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModAsset {
    /// A `.png`, decoded.
    Image(Arc<ModImage>),
    /// Any other file, as it is.
    Bytes(Arc<[u8]>),
}

impl ModAsset {
    /// The bytes it takes in the game.
    pub fn size(&self) -> u64 {
        match self {
            ModAsset::Image(image) => image.rgba.len() as u64,
            ModAsset::Bytes(bytes) => bytes.len() as u64,
        }
    }
}

/// A mod's assets made ready: by path under `assets/` (`ship.png`), and
/// what was left out and why.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadyAssets {
    /// The files, by path under `assets/`.
    pub files: BTreeMap<String, ModAsset>,
    /// One line per file left out: its path and why.
    pub problems: Vec<String>,
}

/// Decodes the images among `files` (paths under `assets/`) and keeps the
/// rest, in path order, within `bounds`.
pub fn prepare_assets(files: &BTreeMap<String, Vec<u8>>, bounds: AssetBounds) -> ReadyAssets {
    let mut ready = ReadyAssets::default();
    let mut total = 0u64;
    for (path, bytes) in files {
        let shown = crate::text::escape(path);
        let asset = if is_png(path) {
            match decode_png(bytes, bounds.image_side) {
                Ok(image) => ModAsset::Image(Arc::new(image)),
                Err(why) => {
                    ready.problems.push(format!("assets/{shown}: {why}"));
                    continue;
                }
            }
        } else {
            ModAsset::Bytes(bytes.as_slice().into())
        };
        if total + asset.size() > bounds.bytes {
            ready.problems.push(format!(
                "assets/{shown}: left out: the mod's assets would take more than {} bytes \
                 in the game",
                bounds.bytes
            ));
            continue;
        }
        total += asset.size();
        ready.files.insert(path.clone(), asset);
    }
    ready
}

fn is_png(path: &str) -> bool {
    path.rsplit_once('.')
        .is_some_and(|(_, ext)| ext.eq_ignore_ascii_case("png"))
}

/// Decodes a PNG to RGBA, refusing it from its header, before any pixel
/// is unpacked, when a side is longer than `max_side`.
pub fn decode_png(bytes: &[u8], max_side: u32) -> Result<ModImage, String> {
    use png::{BitDepth, ColorType, Transformations};
    let bad = |e: png::DecodingError| format!("not a PNG this game can read: {e}");
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    let (width, height) = {
        let info = decoder.read_header_info().map_err(bad)?;
        (info.width, info.height)
    };
    if width == 0 || height == 0 || width > max_side || height > max_side {
        return Err(format!(
            "an image of {width}x{height} pixels; at most {max_side} on a side"
        ));
    }
    // RGBA (or gray and alpha) of 8 bits, whatever it was stored as.
    decoder.set_transformations(Transformations::normalize_to_color8() | Transformations::ALPHA);
    let pixels = width as usize * height as usize;
    decoder.set_limits(png::Limits {
        bytes: pixels * 4 + (1 << 20),
    });
    let mut reader = decoder.read_info().map_err(bad)?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| "an image too big to unpack".to_string())?;
    let mut out = vec![0; size];
    let frame = reader.next_frame(&mut out).map_err(bad)?;
    out.truncate(frame.buffer_size());
    let rgba = match (frame.color_type, frame.bit_depth) {
        (ColorType::Rgba, BitDepth::Eight) => out,
        (ColorType::GrayscaleAlpha, BitDepth::Eight) => out
            .chunks_exact(2)
            .flat_map(|ga| [ga[0], ga[0], ga[0], ga[1]])
            .collect(),
        (ColorType::Rgb, BitDepth::Eight) => out
            .chunks_exact(3)
            .flat_map(|rgb| [rgb[0], rgb[1], rgb[2], 255])
            .collect(),
        (ColorType::Grayscale, BitDepth::Eight) => {
            out.iter().flat_map(|g| [*g, *g, *g, 255]).collect()
        }
        (color, depth) => {
            return Err(format!(
                "pixels of {color:?} at {depth:?} bits, not decoded"
            ));
        }
    };
    if rgba.len() != pixels * 4 {
        return Err("its pixels do not fill the image".into());
    }
    Ok(ModImage {
        width,
        height,
        rgba,
    })
}
