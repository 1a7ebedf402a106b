//! Component and message values to and from MessagePack by reflection.
//!
//! Structs are written as maps keyed by field name, so a mod in any language
//! can read them without knowing the field order, and a value with a field
//! missing or misspelt is refused rather than misread.

use bevy::reflect::serde::{TypedReflectDeserializer, TypedReflectSerializer};
use bevy::reflect::{PartialReflect, TypeRegistration, TypeRegistry};
use serde::de::DeserializeSeed;
use serde::{Deserialize, Serialize};

/// Encodes a reflected value as MessagePack.
pub(crate) fn to_msgpack(
    value: &dyn PartialReflect,
    registry: &TypeRegistry,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let mut ser = rmp_serde::Serializer::new(out).with_struct_map();
    TypedReflectSerializer::new(value, registry)
        .serialize(&mut ser)
        .map_err(|e| e.to_string())
}

/// Decodes MessagePack into a dynamic value of the registered type, nesting
/// no deeper than `max_depth`; the whole input must be one value.
pub(crate) fn from_msgpack(
    bytes: &[u8],
    registration: &TypeRegistration,
    registry: &TypeRegistry,
    max_depth: usize,
) -> Result<Box<dyn PartialReflect>, String> {
    let mut de = rmp_serde::Deserializer::new(std::io::Cursor::new(bytes));
    de.set_max_depth(max_depth);
    let value = TypedReflectDeserializer::new(registration, registry)
        .deserialize(&mut de)
        .map_err(|e| e.to_string())?;
    if de.position() as usize != bytes.len() {
        return Err("trailing bytes after the value".into());
    }
    Ok(value)
}

/// Checks that `bytes` hold exactly one well-formed MessagePack value no
/// deeper than `max_depth`, without building it.
pub(crate) fn check_msgpack(bytes: &[u8], max_depth: usize) -> Result<(), String> {
    let mut de = rmp_serde::Deserializer::new(std::io::Cursor::new(bytes));
    de.set_max_depth(max_depth);
    serde::de::IgnoredAny::deserialize(&mut de).map_err(|e| e.to_string())?;
    if de.position() as usize != bytes.len() {
        return Err("trailing bytes after the value".into());
    }
    Ok(())
}
