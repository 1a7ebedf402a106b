//! What the game lets mods see: component types and messages, marked with
//! one call on the `App` each.

use std::collections::BTreeMap;
use std::sync::Arc;

use bevy::ecs::component::{ComponentId, Mutable};
use bevy::ecs::message::{MessageCursor, Messages};
use bevy::prelude::*;
use bevy::reflect::{GetTypeRegistration, TypeRegistry, Typed};

use crate::bulk::BulkOps;
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

/// Whether a type's bulk codec was checked against reflection yet.
pub(crate) const BULK_UNCHECKED: u8 = 0;
pub(crate) const BULK_AGREES: u8 = 1;
pub(crate) const BULK_DISAGREES: u8 = 2;

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
    /// The fast codec for whole columns, when the game asked for one.
    pub bulk: Option<BulkOps>,
    /// Whether the bulk codec writes what reflection writes (checked on the
    /// first value seen; a type whose serde attributes reorder or rename
    /// fields falls back to reflection).
    pub bulk_state: std::sync::atomic::AtomicU8,
}

impl ExposedComponent {
    /// The bulk codec, if the game asked for one and it agrees with
    /// reflection on the first value seen.
    pub(crate) fn bulk_ops(&self, world: &World, sample: Option<Entity>) -> Option<BulkOps> {
        use std::sync::atomic::Ordering;
        let ops = self.bulk?;
        match self.bulk_state.load(Ordering::Relaxed) {
            BULK_AGREES => return Some(ops),
            BULK_DISAGREES => return None,
            _ if !ops.needs_check => return Some(ops),
            _ => {}
        }
        // A sample without the component (gone since the snapshot) proves
        // nothing either way.
        let e = sample.filter(|e| (self.ops.has)(world, *e))?;
        let mut by_codec = Vec::new();
        let mut by_reflection = Vec::new();
        let agrees = (ops.encode_rows)(world, &[e], &self.kinds, &mut by_codec).is_ok()
            && (self.ops.get)(world, e)
                .is_some_and(|v| packed::encode(v, &self.kinds, &mut by_reflection))
            && by_codec == by_reflection;
        if !agrees {
            tracing::warn!(
                component = %self.name,
                "the type's serde impls do not write its fields as reflection sees them; \
                 using reflection for it"
            );
        }
        let state = if agrees { BULK_AGREES } else { BULK_DISAGREES };
        self.bulk_state.store(state, Ordering::Relaxed);
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

    /// Like [`add_moddable_component`](Self::add_moddable_component), and
    /// moves `T` through the batch path as its bytes in memory, the fastest
    /// way there is, for a `#[repr(C)]` struct of numbers that derives
    /// `bytemuck::Pod`. Mods see exactly the same bytes; when `T`'s bytes are
    /// not its fields in order (checked here, once), it goes by reflection.
    fn add_moddable_component_pod<T>(&mut self, access: ModAccess) -> &mut Self
    where
        T: ModdableComponent + bytemuck::Pod;

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
            bulk: None,
            bulk_state: std::sync::atomic::AtomicU8::new(BULK_UNCHECKED),
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
        set_bulk(self, |_| Some(BulkOps::serde::<T>()), "its serde impls");
        self
    }

    fn add_moddable_component_pod<T>(&mut self, access: ModAccess) -> &mut Self
    where
        T: ModdableComponent + bytemuck::Pod,
    {
        self.add_moddable_component::<T>(access);
        set_bulk(self, BulkOps::plain::<T>, "its bytes as they are");
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

/// Gives the last exposed type a bulk codec, when it is packed and `make`
/// offers one; otherwise says why it goes by reflection.
fn set_bulk(app: &mut App, make: impl FnOnce(&[Scalar]) -> Option<BulkOps>, codec: &str) {
    let mut exposed = app.world_mut().resource_mut::<Exposed>();
    let Some(c) = exposed.components.last_mut() else {
        return;
    };
    if c.layout.is_none() {
        tracing::warn!(
            component = %c.name,
            "not made only of named fields and numbers: it travels as MessagePack"
        );
        return;
    }
    c.bulk = make(&c.kinds);
    if c.bulk.is_none() {
        tracing::warn!(
            component = %c.name,
            "cannot move the type by {codec}: its bytes are not its fields in order; \
             using reflection for it"
        );
    }
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
