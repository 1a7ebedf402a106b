//! Component and message values to and from MessagePack by reflection.
//!
//! Structs are written as maps keyed by field name, so a mod in any language
//! can read them without knowing the field order, and a value with a field
//! missing or misspelt is refused rather than misread.

use bevy::reflect::serde::{TypedReflectDeserializer, TypedReflectSerializer};
use bevy::reflect::{PartialReflect, TypeRegistration, TypeRegistry};
use serde::Serialize;
use serde::de::DeserializeSeed;

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
    let mut track = serde_path_to_error::Track::new();
    let value = TypedReflectDeserializer::new(registration, registry)
        .deserialize(serde_path_to_error::Deserializer::new(&mut de, &mut track))
        .map_err(|e| explain(&e, &track.path(), registration, registry))?;
    if de.position() as usize != bytes.len() {
        return Err("trailing bytes after the value".into());
    }
    Ok(value)
}

/// A decoding error in words a modder can act on: where in the value (a
/// field path such as `pos.x` or `tags[3]`), what type the game expects
/// there, and what the mod sent.
fn explain(
    e: &rmp_serde::decode::Error,
    path: &serde_path_to_error::Path,
    registration: &TypeRegistration,
    registry: &TypeRegistry,
) -> String {
    let expected = || expected_at(path, registration, registry);
    let text = e.to_string();
    // A value of the wrong kind reaches here as rmp's words for the marker
    // it met (through reflection's type-erased deserializers).
    let what = match text.strip_prefix("wrong msgpack marker ") {
        Some(marker) => {
            let expected = expected().map_or_else(String::new, |t| format!("expected {t}, "));
            format!("{expected}got {}", sent(marker))
        }
        None => match (text.split_once(", expected reflected "), expected()) {
            (Some((what, _)), Some(t)) => format!("{what}, expected {t}"),
            _ => text,
        },
    };
    match path.iter().next() {
        None => what,
        Some(_) => format!("field `{path}`: {what}"),
    }
}

/// The kind of value a MessagePack marker starts, in words, from the
/// marker's name as rmp writes it (`FixStr(1)`, `F64`).
fn sent(marker: &str) -> String {
    let name = marker.split('(').next().unwrap_or_default();
    let kind = match name {
        "FixPos" | "FixNeg" | "U8" | "U16" | "U32" | "U64" | "I8" | "I16" | "I32" | "I64" => {
            "an integer"
        }
        "F32" | "F64" => "a float",
        "FixStr" | "Str8" | "Str16" | "Str32" => "a string",
        "FixArray" | "Array16" | "Array32" => "an array",
        "FixMap" | "Map16" | "Map32" => "a map",
        "Bin8" | "Bin16" | "Bin32" => "bytes (bin)",
        "True" | "False" => "a boolean",
        "Null" => "nil",
        "Reserved" => "a reserved marker (0xc1)",
        _ if name.contains("Ext") => "an extension",
        _ => return format!("MessagePack marker {}", crate::text::escape(marker)),
    };
    kind.to_string()
}

/// How a type is written in MessagePack, for a message: its name, and for
/// compound types their shape.
fn shape(info: &bevy::reflect::TypeInfo) -> String {
    use bevy::reflect::TypeInfo;
    let name = info.type_path_table().short_path();
    match info {
        TypeInfo::Struct(_) => format!("{name} (a map keyed by field name)"),
        TypeInfo::TupleStruct(_) | TypeInfo::Tuple(_) => format!("{name} (an array)"),
        TypeInfo::List(_) | TypeInfo::Array(_) | TypeInfo::Set(_) => format!("{name} (an array)"),
        TypeInfo::Map(_) => format!("{name} (a map)"),
        TypeInfo::Enum(_) => format!("{name} (a variant name, or a map of one variant)"),
        _ => name.to_string(),
    }
}

/// Why a decoded value does not fit its type: the first field a struct
/// lacks, by its path. `None` when that is not the reason.
pub(crate) fn missing_field(
    value: &dyn PartialReflect,
    registration: &TypeRegistration,
    registry: &TypeRegistry,
) -> Option<String> {
    fn walk(
        value: &dyn PartialReflect,
        info: &bevy::reflect::TypeInfo,
        registry: &TypeRegistry,
        path: &str,
    ) -> Option<String> {
        let (bevy::reflect::TypeInfo::Struct(s), bevy::reflect::ReflectRef::Struct(v)) =
            (info, value.reflect_ref())
        else {
            return None;
        };
        for field in s.iter() {
            let here = if path.is_empty() {
                field.name().to_string()
            } else {
                format!("{path}.{}", field.name())
            };
            let Some(inner) = v.field(field.name()) else {
                let ty = registry.get_type_info(field.type_id()).map_or_else(
                    || field.type_path().to_string(),
                    |i| i.type_path_table().short_path().to_string(),
                );
                return Some(format!("field `{here}` ({ty}) is missing"));
            };
            if let Some(inner_info) = registry.get_type_info(field.type_id())
                && let Some(why) = walk(inner, inner_info, registry, &here)
            {
                return Some(why);
            }
        }
        None
    }
    walk(value, registration.type_info(), registry, "")
}

/// The type the game expects at `path` inside the registered type, by its
/// short name (`f32`, `Vec<u32>`), when the path leads somewhere known.
fn expected_at(
    path: &serde_path_to_error::Path,
    registration: &TypeRegistration,
    registry: &TypeRegistry,
) -> Option<String> {
    use bevy::reflect::TypeInfo;
    use serde_path_to_error::Segment;
    let mut info = registration.type_info();
    for segment in path.iter() {
        let next = match (info, segment) {
            (TypeInfo::Struct(s), Segment::Map { key }) => s.field(key)?.type_id(),
            (TypeInfo::TupleStruct(s), Segment::Seq { index }) => s.field_at(*index)?.type_id(),
            (TypeInfo::Tuple(t), Segment::Seq { index }) => t.field_at(*index)?.type_id(),
            (TypeInfo::List(l), Segment::Seq { .. }) => l.item_ty().id(),
            (TypeInfo::Array(a), Segment::Seq { .. }) => a.item_ty().id(),
            (TypeInfo::Set(s), Segment::Seq { .. }) => s.value_ty().id(),
            (TypeInfo::Map(m), Segment::Map { .. }) => m.value_ty().id(),
            _ => return None,
        };
        info = registry.get_type_info(next)?;
    }
    Some(shape(info))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bevy::reflect::Reflect;

    #[derive(Reflect, Default, Debug, PartialEq)]
    struct Pos {
        x: f32,
        y: f32,
    }

    #[derive(Reflect, Default, Debug, PartialEq)]
    struct Body {
        pos: Pos,
        name: String,
        tags: Vec<u32>,
    }

    fn decode_body(value: &impl serde::Serialize) -> Result<Box<dyn PartialReflect>, String> {
        let mut registry = TypeRegistry::default();
        registry.register::<Body>();
        let bytes = rmp_serde::to_vec_named(value).unwrap();
        let registration = registry
            .get(std::any::TypeId::of::<Body>())
            .unwrap()
            .clone();
        from_msgpack(&bytes, &registration, &registry, 32)
    }

    #[test]
    fn a_value_that_does_not_decode_says_where_and_what_was_expected() {
        use std::collections::BTreeMap;
        #[derive(serde::Serialize)]
        struct BadPos {
            x: &'static str,
            y: f32,
        }
        #[derive(serde::Serialize)]
        struct BadBody {
            pos: BadPos,
            name: &'static str,
            tags: Vec<i64>,
        }
        let bad_x = BadBody {
            pos: BadPos { x: "a", y: 1.0 },
            name: "n",
            tags: vec![],
        };
        assert_eq!(
            decode_body(&bad_x).err().unwrap(),
            "field `pos.x`: expected f32, got a string"
        );
        #[derive(serde::Serialize)]
        struct BadTags {
            pos: BTreeMap<&'static str, f32>,
            name: &'static str,
            tags: Vec<i64>,
        }
        let bad_tag = BadTags {
            pos: BTreeMap::from([("x", 1.0), ("y", 2.0)]),
            name: "n",
            tags: vec![1, -5],
        };
        assert_eq!(
            decode_body(&bad_tag).err().unwrap(),
            "field `tags[1]`: invalid value: integer `-5`, expected u32"
        );
        assert_eq!(
            decode_body(&BTreeMap::from([("pos", 1)])).err().unwrap(),
            "field `pos`: invalid type: integer `1`, expected Pos (a map keyed by field name)"
        );
        assert_eq!(
            decode_body(&"just a string").err().unwrap(),
            "invalid type: string \"just a string\", expected Body (a map keyed by field name)"
        );

        // Any number that fits is taken for a numeric field.
        #[derive(serde::Serialize)]
        struct IntPos {
            pos: BTreeMap<&'static str, i64>,
            name: &'static str,
            tags: Vec<u8>,
        }
        let ints = IntPos {
            pos: BTreeMap::from([("x", 1), ("y", -2)]),
            name: "n",
            tags: vec![7],
        };
        assert!(decode_body(&ints).is_ok(), "{:?}", decode_body(&ints).err());

        // A field left out decodes, and is named when the value is made.
        let partial = decode_body(&BTreeMap::from([("name", "x")])).unwrap();
        let mut registry = TypeRegistry::default();
        registry.register::<Body>();
        let registration = registry.get(std::any::TypeId::of::<Body>()).unwrap();
        assert_eq!(
            missing_field(&*partial, registration, &registry).unwrap(),
            "field `pos` (Pos) is missing"
        );
    }

    #[derive(Reflect, Debug, PartialEq)]
    enum Shape {
        Circle,
        Rect { w: f32 },
    }

    #[test]
    fn enums_are_a_variant_name_or_a_map_of_one_variant() {
        use std::collections::BTreeMap;
        let mut registry = TypeRegistry::default();
        registry.register::<Shape>();
        let mut out = Vec::new();
        to_msgpack(&Shape::Circle, &registry, &mut out).unwrap();
        assert_eq!(rmp_serde::from_slice::<String>(&out).unwrap(), "Circle");
        out.clear();
        to_msgpack(&Shape::Rect { w: 2.0 }, &registry, &mut out).unwrap();
        let rect: BTreeMap<String, BTreeMap<String, f32>> = rmp_serde::from_slice(&out).unwrap();
        assert_eq!(rect["Rect"]["w"], 2.0);
    }
}
