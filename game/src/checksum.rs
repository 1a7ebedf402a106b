//! A checksum of everything mods can see, to compare two runs.

use bevy::prelude::*;

use crate::codec::value;
use crate::expose::{Exposed, ModData};

/// FNV-1a over the moddable state: for every entity with an exposed
/// component or mod-defined data (in the order of the ids mods know them
/// by, [`ModId`](crate::ModId)), its id and each component's name and
/// MessagePack value. Two runs that end in the same world give the same
/// number, whatever `Entity` values the entities have in each process (a
/// window's own entities, a game loaded from a save).
pub fn moddable_checksum(world: &mut World) -> u64 {
    let registry = world.resource::<AppTypeRegistry>().clone();
    let registry = registry.read();
    let Some(exposed) = world.get_resource::<Exposed>() else {
        return FNV_OFFSET;
    };
    let mut entities: Vec<(u64, Entity)> = world
        .iter_entities()
        .map(|e| e.id())
        .filter(|e| {
            world.get::<ModData>(*e).is_some()
                || exposed.components.iter().any(|c| (c.ops.has)(world, *e))
        })
        .map(|e| (crate::ids::id_of(world, e), e))
        .collect();
    entities.sort_by_key(|(id, e)| (*id, e.to_bits()));
    let mut hash = Fnv(FNV_OFFSET);
    let mut buf = Vec::new();
    for (id, e) in entities {
        hash.write(&id.to_le_bytes());
        for c in &exposed.components {
            if let Some(v) = (c.ops.get)(world, e) {
                buf.clear();
                if value::to_msgpack(v, &registry, &mut buf).is_ok() {
                    hash.write(c.name.as_bytes());
                    hash.write(&buf);
                }
            }
        }
        if let Some(data) = world.get::<ModData>(e) {
            for (name, bytes) in &data.values {
                hash.write(name.as_bytes());
                hash.write(bytes);
            }
        }
    }
    hash.0
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// 64-bit FNV-1a of `bytes`: a small, stable hash (the same on every
/// machine and in every run), for checksums and for choosing a colour or a
/// slot by name. Not for anything an attacker could aim at.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = Fnv(FNV_OFFSET);
    hash.write(bytes);
    hash.0
}

struct Fnv(u64);

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ *b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fnv1a;

    #[test]
    fn fnv1a_is_the_standard_64_bit_hash() {
        // Published FNV-1a test vectors.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
