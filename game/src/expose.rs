//! What the game lets mods see: component types and messages, marked with
//! one call on the `App` each.

use std::collections::BTreeMap;
use std::sync::Arc;

use bevy::ecs::component::{ComponentId, Mutable};
use bevy::ecs::message::{MessageCursor, Messages};
use bevy::ecs::query::{QueryBuilder, QueryState};
use bevy::prelude::*;
use bevy::reflect::{GetTypeRegistration, TypeRegistry, Typed};

use crate::codec::{packed, value};
use crate::wire::{Scalar, WireEvent};

/// What mods may do with an exposed component type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ModAccess {
    /// Mods may read the component but not insert, change or remove it.
    Read,
    /// Mods may read, insert, change and remove the component.
    ReadWrite,
}

/// Typed operations on one exposed component type, instantiated once per type
/// at registration so the per-frame path does no registry look-ups.
#[derive(Clone, Copy)]
pub(crate) struct ComponentOps {
    pub get: for<'w> fn(&'w World, Entity) -> Option<&'w dyn PartialReflect>,
    pub has: fn(&World, Entity) -> bool,
    pub write_packed: fn(&mut World, Entity, &[Scalar], &[u8]) -> bool,
    pub from_reflect: fn(&dyn PartialReflect) -> Option<Box<dyn Reflect>>,
    pub insert: fn(&mut World, Entity, Box<dyn Reflect>) -> bool,
    pub remove: fn(&mut World, Entity),
}

/// The serde path for a packed type: whole columns at a few nanoseconds a
/// field, where reflection takes tens.
#[derive(Clone, Copy)]
pub(crate) struct SerdeOps {
    /// Appends the rows' values as packed records.
    pub encode_rows: fn(&World, &[Entity], &[Scalar], &mut Vec<u8>) -> Result<(), String>,
    /// Overwrites the rows' values from packed records.
    pub write_rows: fn(&mut World, &[Entity], &[Scalar], &[&str], &[u8]) -> Result<(), String>,
    /// Typed query states for one of a mod's queries (filtered by all its
    /// component ids), so a whole column is read or written by iterating
    /// tables rather than looking each entity up.
    pub column_states: fn(&mut World, &[ComponentId]) -> ColumnStates,
    /// Like `encode_rows` through the typed state; false (and nothing
    /// written) when the state's rows are not `entities` in order.
    pub encode_column: fn(&mut ColumnStates, &World, &[Entity], &[Scalar], &mut Vec<u8>) -> bool,
    /// Like `write_rows` through the typed state; `Ok(false)` (and nothing
    /// written) when the state's rows are not `entities` in order.
    pub write_column: fn(
        &mut ColumnStates,
        &mut World,
        &[Entity],
        &[Scalar],
        &[&str],
        &[u8],
    ) -> Result<bool, String>,
}

/// The typed query states of one column (see [`SerdeOps::column_states`]).
pub(crate) struct ColumnStates {
    read: Box<dyn std::any::Any + Send + Sync>,
    write: Box<dyn std::any::Any + Send + Sync>,
}

/// Whether a type's serde path was checked against reflection yet.
pub(crate) const SERDE_UNCHECKED: u8 = 0;
pub(crate) const SERDE_AGREES: u8 = 1;
pub(crate) const SERDE_DISAGREES: u8 = 2;

/// One component type the game exposed.
pub(crate) struct ExposedComponent {
    pub name: String,
    pub type_path: &'static str,
    pub access: ModAccess,
    pub id: ComponentId,
    /// The packed layout, when the type has one.
    pub layout: Option<Vec<(String, Scalar)>>,
    /// `layout`'s scalars alone, for the hot loops.
    pub kinds: Vec<Scalar>,
    /// The layout's field paths, for checking a mod's field order.
    pub paths: Vec<String>,
    pub ops: ComponentOps,
    /// The serde path, when the game asked for it.
    pub serde: Option<SerdeOps>,
    /// Whether the serde path writes what reflection writes (checked on the
    /// first value seen; a type whose serde attributes reorder or rename
    /// fields falls back to reflection).
    pub serde_state: std::sync::atomic::AtomicU8,
}

impl ExposedComponent {
    /// The serde path, if the game asked for it and it agrees with
    /// reflection on the first value seen.
    pub(crate) fn serde_ops(&self, world: &World, sample: Option<Entity>) -> Option<SerdeOps> {
        use std::sync::atomic::Ordering;
        let ops = self.serde?;
        match self.serde_state.load(Ordering::Relaxed) {
            SERDE_AGREES => return Some(ops),
            SERDE_DISAGREES => return None,
            _ => {}
        }
        let e = sample?;
        let mut by_serde = Vec::new();
        let mut by_reflection = Vec::new();
        let agrees = (ops.encode_rows)(world, &[e], &self.kinds, &mut by_serde).is_ok()
            && (self.ops.get)(world, e)
                .is_some_and(|v| packed::encode(v, &self.kinds, &mut by_reflection))
            && by_serde == by_reflection;
        if !agrees {
            tracing::warn!(
                component = %self.name,
                "the type's serde impls do not write its fields as reflection sees them; \
                 using reflection for it"
            );
        }
        let state = if agrees {
            SERDE_AGREES
        } else {
            SERDE_DISAGREES
        };
        self.serde_state.store(state, Ordering::Relaxed);
        agrees.then_some(ops)
    }
}

/// One game message type mods may subscribe to.
pub(crate) struct ExposedMessage {
    pub collect: fn(&mut World, &TypeRegistry, &mut Vec<WireEvent>),
}

/// Everything the game exposed to mods; filled by [`ModdingAppExt`].
#[derive(Resource, Default)]
pub(crate) struct Exposed {
    pub components: Vec<ExposedComponent>,
    pub by_name: BTreeMap<String, usize>,
    pub messages: Vec<ExposedMessage>,
}

impl Exposed {
    pub(crate) fn component(&self, name: &str) -> Option<&ExposedComponent> {
        self.by_name.get(name).map(|i| &self.components[*i])
    }

    /// What workers need to know of the exposed types.
    pub(crate) fn catalog(&self) -> Arc<Catalog> {
        Arc::new(Catalog {
            components: self
                .components
                .iter()
                .map(|c| (c.name.clone(), (c.access, c.layout.clone())))
                .collect(),
        })
    }
}

/// The exposed component types as the workers see them: name, access and
/// packed layout.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    pub components: BTreeMap<String, (ModAccess, Option<Vec<(String, Scalar)>>)>,
}

/// Components a mod defined itself (types the game does not know), kept on
/// the entity as MessagePack by name. Mods read them back through queries.
#[derive(Component, Clone, Debug, Default, PartialEq, Eq)]
pub struct ModData {
    /// Values by component name, each one MessagePack value.
    pub values: BTreeMap<String, Vec<u8>>,
}

/// A cursor over a game message type, so each message reaches mods once.
#[derive(Resource)]
struct ModMessageCursor<M: Message>(MessageCursor<M>);

/// What a component type needs to be exposed to mods: a mutable component
/// with reflection, registered for it. Every `#[derive(Component, Reflect)]`
/// type qualifies.
pub trait ModdableComponent:
    Component<Mutability = Mutable> + Reflect + FromReflect + Typed + GetTypeRegistration
{
}

impl<T> ModdableComponent for T where
    T: Component<Mutability = Mutable> + Reflect + FromReflect + Typed + GetTypeRegistration
{
}

/// Marks component types and messages as visible to mods.
pub trait ModdingAppExt {
    /// Lets mods read (and, with [`ModAccess::ReadWrite`], change) components
    /// of type `T`. Mods name the type by its short type path
    /// (`T::short_type_path()`, e.g. `Position`). The value crosses to mods by
    /// reflection: no glue code per type.
    ///
    /// # Panics
    /// When another exposed type has the same short name.
    fn add_moddable_component<T>(&mut self, access: ModAccess) -> &mut Self
    where
        T: ModdableComponent;

    /// Like [`add_moddable_component`](Self::add_moddable_component), and
    /// moves `T` through the batch path with its own serde impls instead of
    /// reflection: several times faster for the components mods touch in
    /// bulk (positions, velocities). Mods see exactly the same bytes; a type
    /// whose serde attributes reorder or rename its fields is detected on
    /// first use and falls back to reflection.
    fn add_moddable_component_with_serde<T>(&mut self, access: ModAccess) -> &mut Self
    where
        T: ModdableComponent + serde::Serialize + serde::de::DeserializeOwned;

    /// Delivers messages of type `M` to mods subscribed to its short type
    /// name, as MessagePack made by reflection.
    fn add_moddable_message<M>(&mut self) -> &mut Self
    where
        M: Message + Reflect + Typed + GetTypeRegistration;
}

impl ModdingAppExt for App {
    fn add_moddable_component<T>(&mut self, access: ModAccess) -> &mut Self
    where
        T: ModdableComponent,
    {
        self.register_type::<T>();
        let world = self.world_mut();
        let id = world.register_component::<T>();
        let layout = packed::layout_of(T::type_info());
        let kinds = layout
            .as_ref()
            .map(|l| l.iter().map(|(_, k)| *k).collect())
            .unwrap_or_default();
        let layout_paths = layout
            .as_ref()
            .map(|l| l.iter().map(|(p, _)| p.clone()).collect())
            .unwrap_or_default();
        let name = T::short_type_path().to_string();
        let mut exposed = world.get_resource_or_init::<Exposed>();
        if let Some(other) = exposed.component(&name) {
            panic!(
                "cannot expose {} to mods as `{name}`: {} already has that name",
                T::type_path(),
                other.type_path
            );
        }
        let index = exposed.components.len();
        exposed.by_name.insert(name.clone(), index);
        exposed.components.push(ExposedComponent {
            name,
            type_path: T::type_path(),
            access,
            id,
            layout,
            paths: layout_paths,
            kinds,
            serde: None,
            serde_state: std::sync::atomic::AtomicU8::new(SERDE_UNCHECKED),
            ops: ComponentOps {
                get: get::<T>,
                has: has::<T>,
                write_packed: write_packed::<T>,
                from_reflect: from_reflect::<T>,
                insert: insert::<T>,
                remove: remove::<T>,
            },
        });
        self
    }

    fn add_moddable_component_with_serde<T>(&mut self, access: ModAccess) -> &mut Self
    where
        T: ModdableComponent + serde::Serialize + serde::de::DeserializeOwned,
    {
        self.add_moddable_component::<T>(access);
        let mut exposed = self.world_mut().resource_mut::<Exposed>();
        if let Some(c) = exposed.components.last_mut() {
            if c.layout.is_some() {
                c.serde = Some(SerdeOps {
                    encode_rows: encode_rows::<T>,
                    write_rows: write_rows::<T>,
                    column_states: column_states::<T>,
                    encode_column: encode_column::<T>,
                    write_column: write_column::<T>,
                });
            } else {
                tracing::warn!(
                    component = %c.name,
                    "not made only of named fields and numbers: it travels as MessagePack"
                );
            }
        }
        self
    }

    fn add_moddable_message<M>(&mut self) -> &mut Self
    where
        M: Message + Reflect + Typed + GetTypeRegistration,
    {
        self.add_message::<M>().register_type::<M>();
        let world = self.world_mut();
        let cursor = world.resource::<Messages<M>>().get_cursor();
        world.insert_resource(ModMessageCursor::<M>(cursor));
        world
            .get_resource_or_init::<Exposed>()
            .messages
            .push(ExposedMessage {
                collect: collect::<M>,
            });
        self
    }
}

fn encode_rows<T: Component + serde::Serialize>(
    world: &World,
    entities: &[Entity],
    kinds: &[Scalar],
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let start = out.len();
    mod_api_packed::write_all(
        entities.iter().filter_map(|e| world.get::<T>(*e)),
        kinds,
        out,
    )
    .map_err(|e| e.to_string())?;
    if out.len() - start != mod_api_packed::stride(kinds) * entities.len() {
        out.truncate(start);
        return Err("a row lacks the component".into());
    }
    Ok(())
}

fn write_rows<T: Component<Mutability = Mutable> + serde::de::DeserializeOwned>(
    world: &mut World,
    entities: &[Entity],
    kinds: &[Scalar],
    paths: &[&str],
    data: &[u8],
) -> Result<(), String> {
    let values: Vec<T> = mod_api_packed::read_all(data, kinds, paths).map_err(|e| e.to_string())?;
    for (e, value) in entities.iter().zip(values) {
        if let Some(mut c) = world.get_mut::<T>(*e) {
            *c = value;
        }
    }
    Ok(())
}

fn column_states<T: Component<Mutability = Mutable>>(
    world: &mut World,
    ids: &[ComponentId],
) -> ColumnStates {
    let mut read = QueryBuilder::<(Entity, &'static T)>::new(world);
    for id in ids {
        read.with_id(*id);
    }
    let read = read.build();
    let mut write = QueryBuilder::<(Entity, &'static mut T)>::new(world);
    for id in ids {
        write.with_id(*id);
    }
    ColumnStates {
        read: Box::new(read),
        write: Box::new(write.build()),
    }
}

fn encode_column<T: Component + serde::Serialize>(
    states: &mut ColumnStates,
    world: &World,
    entities: &[Entity],
    kinds: &[Scalar],
    out: &mut Vec<u8>,
) -> bool {
    let Some(state) = states
        .read
        .downcast_mut::<QueryState<(Entity, &'static T)>>()
    else {
        return false;
    };
    let start = out.len();
    let (mut same, mut rows) = (true, 0);
    let values = state.iter(world).zip(entities).map(|((e, v), want)| {
        same &= e == *want;
        rows += 1;
        v
    });
    let written = mod_api_packed::write_all(values, kinds, out).is_ok();
    if !(written && same && rows == entities.len()) {
        out.truncate(start);
        return false;
    }
    true
}

fn write_column<T: Component<Mutability = Mutable> + serde::de::DeserializeOwned>(
    states: &mut ColumnStates,
    world: &mut World,
    entities: &[Entity],
    kinds: &[Scalar],
    paths: &[&str],
    data: &[u8],
) -> Result<bool, String> {
    let Some(state) = states
        .write
        .downcast_mut::<QueryState<(Entity, &'static mut T)>>()
    else {
        return Ok(false);
    };
    // Check the order read-only first, so a mismatch writes nothing.
    let mut rows = state.iter(world).map(|(e, _)| e);
    if !entities.iter().all(|want| rows.next() == Some(*want)) {
        return Ok(false);
    }
    let mut rows = state.iter_mut(world);
    mod_api_packed::read_each(data, kinds, paths, |value: T| {
        if let Some((_, mut c)) = rows.next() {
            *c = value;
        }
    })
    .map_err(|e| e.to_string())?;
    Ok(true)
}

fn get<T: Component + Reflect>(world: &World, entity: Entity) -> Option<&dyn PartialReflect> {
    world.get::<T>(entity).map(|c| c.as_partial_reflect())
}

fn has<T: Component>(world: &World, entity: Entity) -> bool {
    world.get::<T>(entity).is_some()
}

fn write_packed<T: Component<Mutability = Mutable> + Reflect>(
    world: &mut World,
    entity: Entity,
    kinds: &[Scalar],
    record: &[u8],
) -> bool {
    match world.get_mut::<T>(entity) {
        Some(mut c) => packed::decode_into(c.as_partial_reflect_mut(), kinds, record),
        None => false,
    }
}

fn from_reflect<T: Reflect + FromReflect>(value: &dyn PartialReflect) -> Option<Box<dyn Reflect>> {
    T::from_reflect(value).map(|v| Box::new(v) as Box<dyn Reflect>)
}

fn insert<T: Component + Reflect>(
    world: &mut World,
    entity: Entity,
    value: Box<dyn Reflect>,
) -> bool {
    match (value.downcast::<T>(), world.get_entity_mut(entity)) {
        (Ok(v), Ok(mut e)) => {
            e.insert(*v);
            true
        }
        _ => false,
    }
}

fn remove<T: Component>(world: &mut World, entity: Entity) {
    if let Ok(mut e) = world.get_entity_mut(entity) {
        e.remove::<T>();
    }
}

fn collect<M: Message + Reflect + Typed>(
    world: &mut World,
    registry: &TypeRegistry,
    out: &mut Vec<WireEvent>,
) {
    world.resource_scope(|world, mut cursor: Mut<ModMessageCursor<M>>| {
        let messages = world.resource::<Messages<M>>();
        for message in cursor.0.read(messages) {
            let mut payload = Vec::new();
            match value::to_msgpack(message.as_partial_reflect(), registry, &mut payload) {
                Ok(()) => out.push(WireEvent {
                    name: M::short_type_path().to_string(),
                    source: None,
                    payload: payload.into(),
                }),
                Err(e) => tracing::error!(
                    message = M::type_path(),
                    "cannot encode a message for mods: {e}"
                ),
            }
        }
    });
}
