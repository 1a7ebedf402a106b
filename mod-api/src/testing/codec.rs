//! How the test world checks, packs and unpacks values of the game's
//! types, through the mod's own type for each.

use mod_api_packed as packed;

use super::*;

/// How the world checks, packs and unpacks values of a game type.
#[derive(Clone)]
pub(super) struct GameType {
    pub(super) writable: bool,
    pub(super) check: fn(&[u8]) -> Result<(), String>,
    pub(super) packed: Option<PackedCodec>,
}

/// Values (MessagePack each) to packed records.
pub(super) type Pack = fn(&[&[u8]]) -> Result<Vec<u8>, String>;
/// Packed records of a layout, so many rows, to values.
pub(super) type Unpack = fn(&[u8], &[PackedField], usize) -> Result<Vec<Vec<u8>>, String>;

#[derive(Clone)]
pub(super) struct PackedCodec {
    pub(super) fields: Vec<PackedField>,
    pub(super) pack: Pack,
    pub(super) unpack: Unpack,
}

pub(super) fn check_as<T: Component>(bytes: &[u8]) -> Result<(), String> {
    rmp_serde::from_slice::<T>(bytes)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

pub(super) fn pack_as<T: Component>(values: &[&[u8]]) -> Result<Vec<u8>, String> {
    let (kinds, _) = T::LAYOUT.ok_or("no packed layout")?;
    let decoded = values
        .iter()
        .map(|v| rmp_serde::from_slice::<T>(v))
        .collect::<Result<Vec<T>, _>>()
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    T::write_records(&decoded, kinds, &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

pub(super) fn unpack_as<T: Component>(
    data: &[u8],
    fields: &[PackedField],
    rows: usize,
) -> Result<Vec<Vec<u8>>, String> {
    let layout = packed::Layout::new(
        fields
            .iter()
            .map(|f| (f.path.clone(), scalar_from_wit(f.kind)))
            .collect(),
    );
    if data.len() != layout.stride() * rows {
        return Err(format!(
            "{} bytes of packed records for {rows} rows of {} bytes",
            data.len(),
            layout.stride()
        ));
    }
    let values: Vec<T> =
        packed::read_all(data, layout.kinds(), &layout.paths()).map_err(|e| e.to_string())?;
    values
        .iter()
        .map(|v| crate::component::encode(v).map_err(|e| e.to_string()))
        .collect()
}
