//! What the game lets mods see: component types and messages, marked with
//! one call on the `App` each.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};

use bevy::ecs::component::{ComponentId, Mutable};
use bevy::ecs::message::{MessageCursor, Messages};
use bevy::prelude::*;
use bevy::reflect::{GetTypeRegistration, TypeRegistry, Typed};

use crate::codec::bulk::BulkOps;
use crate::codec::column::{ColumnCodec, Packer};
use crate::codec::{packed, value};
use crate::protocol::{Layout, Scalar, WireEvent};

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
    /// Spawns a reserved entity with a value of this type and the marks a
    /// mod's entity carries, in one move into its table.
    pub spawn_at: fn(&mut World, Entity, Box<dyn Reflect>, SpawnMarks) -> Result<(), String>,
    pub remove: fn(&mut World, Entity),
}

/// What every entity a mod spawns carries: its id, its owner and its
/// spawn tick.
pub(crate) type SpawnMarks = (
    crate::ids::ModId,
    crate::ownership::SpawnedByMod,
    crate::ownership::SpawnTick,
);

/// One component type the game exposed.
pub(crate) struct ExposedComponent {
    pub name: String,
    pub type_path: &'static str,
    pub access: ModAccess,
    pub id: ComponentId,
    pub ops: ComponentOps,
    /// How its columns are read and written (see [`crate::codec::column`]).
    pub codec: ColumnCodec,
}

impl ExposedComponent {
    /// What its column codec works with.
    pub(crate) fn column(&self) -> crate::codec::column::ColumnOf<'_> {
        crate::codec::column::ColumnOf {
            name: &self.name,
            codec: &self.codec,
            get: self.ops.get,
            has: self.ops.has,
            write_packed: self.ops.write_packed,
            insert: self.ops.insert,
        }
    }
}

/// One game message type mods may subscribe to.
pub(crate) struct ExposedMessage {
    /// Its short type name: what mods subscribe to, and may not emit.
    pub name: String,
    pub collect: fn(&mut World, &TypeRegistry, &mut Vec<WireEvent>),
}

/// Everything the game exposed to mods; filled by [`ModdingAppExt`].
#[derive(Resource, Default)]
pub(crate) struct Exposed {
    pub components: Vec<ExposedComponent>,
    pub by_name: BTreeMap<String, usize>,
    pub messages: Vec<ExposedMessage>,
    /// Owners of mod-defined types, as mods start.
    pub mod_types: NameOwners,
    /// Owners of event names mods declared, as mods start.
    pub mod_events: NameOwners,
}

/// What a game exposes to mods, by name: for tools and panels that tell a
/// modder what a mod may use (see [`exposed_names`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExposedNames {
    /// Each component type's short name and what mods may do with it.
    pub components: Vec<(String, ModAccess)>,
    /// The game's message names, which mods may subscribe to.
    pub messages: Vec<String>,
}

/// The component types and messages the game exposed to mods (empty
/// before [`ModPlugin`](crate::ModPlugin) is added).
pub fn exposed_names(world: &World) -> ExposedNames {
    world
        .get_resource::<Exposed>()
        .map_or_else(ExposedNames::default, |e| ExposedNames {
            components: e
                .components
                .iter()
                .map(|c| (c.name.clone(), c.access))
                .collect(),
            messages: e.messages.iter().map(|m| m.name.clone()).collect(),
        })
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
                .map(|c| (c.name.clone(), (c.access, c.codec.layout().cloned())))
                .collect(),
            messages: self.messages.iter().map(|m| m.name.clone()).collect(),
            mod_types: self.mod_types.clone(),
            mod_events: self.mod_events.clone(),
        })
    }

    /// Whether `name` is one of the game's messages (which mods may read,
    /// and never emit).
    pub(crate) fn is_message(&self, name: &str) -> bool {
        self.messages.iter().any(|m| m.name == name)
    }
}

/// The exposed component types as the workers see them (name, access and
/// packed layout), the game's message names, and which mod owns each
/// mod-defined type and event name.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    pub components: BTreeMap<String, (ModAccess, Option<Layout>)>,
    pub messages: BTreeSet<String>,
    pub mod_types: NameOwners,
    pub mod_events: NameOwners,
}

/// The main thread answers the shared rule book's questions about names
/// from what the game exposed.
impl mod_rules::access::Names for Exposed {
    fn game_component(&self, name: &str) -> Option<bool> {
        self.by_name
            .get(name)
            .map(|i| self.components[*i].access == ModAccess::ReadWrite)
    }

    fn is_game_message(&self, name: &str) -> bool {
        self.is_message(name)
    }

    fn game_shares(&self, name: &str) -> bool {
        self.mod_types.game_shares(name)
    }

    fn type_owner(&self, name: &str) -> Option<(String, bool)> {
        self.mod_types.mod_owner(name)
    }

    fn event_owner(&self, name: &str) -> Option<(String, bool)> {
        self.mod_events.mod_owner(name)
    }
}

/// The catalog answers the shared rule book's questions about names.
impl mod_rules::access::Names for Catalog {
    fn game_component(&self, name: &str) -> Option<bool> {
        self.components
            .get(name)
            .map(|(access, _)| *access == ModAccess::ReadWrite)
    }

    fn is_game_message(&self, name: &str) -> bool {
        self.messages.contains(name)
    }

    fn game_shares(&self, name: &str) -> bool {
        self.mod_types.game_shares(name)
    }

    fn type_owner(&self, name: &str) -> Option<(String, bool)> {
        self.mod_types.mod_owner(name)
    }

    fn event_owner(&self, name: &str) -> Option<(String, bool)> {
        self.mod_events.mod_owner(name)
    }
}

/// Which mod declared each mod-defined name (a component type, or an event
/// name), by full name (`storm:Weather`, see [`mod_rules::names`]): a mod
/// declares names only in its own namespace, so none can take another's.
/// The names the game opens to every mod (`with_shared_name`) are plain
/// and the game's. Only the owner writes or emits a name, unless it shares
/// it; any mod may read it. Shared by the main thread and the workers.
#[derive(Clone, Debug, Default)]
pub(crate) struct NameOwners(Arc<RwLock<BTreeMap<String, Claim>>>);

#[derive(Clone, Debug)]
struct Claim {
    owner: Arc<str>,
    shared: bool,
}

impl NameOwners {
    /// Records that mod `id` (the game, for its shared names) declared
    /// `name`, and whether it shares it.
    pub(crate) fn claim(&self, name: &str, id: &Arc<str>, shared: bool) {
        let mut owners = self.0.write().unwrap_or_else(|e| e.into_inner());
        owners.insert(
            name.to_string(),
            Claim {
                owner: id.clone(),
                shared,
            },
        );
    }

    /// Forgets every name mod `id` declared (it was removed, or declares
    /// anew).
    pub(crate) fn release(&self, id: &str) {
        let mut owners = self.0.write().unwrap_or_else(|e| e.into_inner());
        owners.retain(|_, c| *c.owner != *id);
    }

    /// The mod that declared `name`, if any did (the game's id, empty, for
    /// the game's shared names).
    pub(crate) fn owner(&self, name: &str) -> Option<Arc<str>> {
        let owners = self.0.read().unwrap_or_else(|e| e.into_inner());
        owners.get(name).map(|c| c.owner.clone())
    }

    /// The mod that declared `name` and whether it shares it; `None` for
    /// the game's names and names no running mod declared.
    fn mod_owner(&self, name: &str) -> Option<(String, bool)> {
        let owners = self.0.read().unwrap_or_else(|e| e.into_inner());
        owners
            .get(name)
            .filter(|c| !c.owner.is_empty())
            .map(|c| (c.owner.to_string(), c.shared))
    }

    /// Whether `name` is one the game opened to every mod.
    fn game_shares(&self, name: &str) -> bool {
        let owners = self.0.read().unwrap_or_else(|e| e.into_inner());
        owners.get(name).is_some_and(|c| c.owner.is_empty())
    }
}

/// Components a mod defined itself (types the game does not know), kept on
/// the entity as MessagePack by name. Mods read them back through queries.
#[derive(Component, Clone, Debug, Default, PartialEq, Eq)]
#[require(crate::ModId)]
pub struct ModData {
    /// Values by component name, each one MessagePack value.
    pub values: BTreeMap<String, Vec<u8>>,
}

impl ModData {
    /// Sets the mod-defined value `name` on an entity, adding the
    /// component when the entity has none.
    pub(crate) fn put(entity: &mut EntityWorldMut, name: String, msgpack: Vec<u8>) {
        match entity.get_mut::<ModData>() {
            Some(mut data) => {
                data.values.insert(name, msgpack);
            }
            None => {
                entity.insert(ModData {
                    values: [(name, msgpack)].into(),
                });
            }
        }
    }
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

    /// Saves the game's component `T` in saved games (see
    /// [`save`](crate::save)), on entities mods can see (those with a
    /// [`ModId`](crate::ModId)), beside their moddable components: a
    /// marker or state of the game's own that a loaded game needs back.
    fn add_saved_component<T>(&mut self) -> &mut Self
    where
        T: Component + crate::save::SavableType;

    /// Saves the game's resource `R` in saved games, and sets it back when
    /// one is loaded.
    fn add_saved_resource<R>(&mut self) -> &mut Self
    where
        R: Resource + crate::save::SavableType;
}

impl ModdingAppExt for App {
    fn add_moddable_component<T>(&mut self, access: ModAccess) -> &mut Self
    where
        T: ModdableComponent,
    {
        self.register_type::<T>();
        let world = self.world_mut();
        let id = world.register_component::<T>();
        // Every entity mods can see has the id they know it by.
        world.get_resource_or_init::<crate::ModIds>();
        if let Err(e) = world.try_register_required_components::<T, crate::ModId>() {
            panic!(
                "cannot expose {} to mods: expose it before any entity has it ({e})",
                T::type_path()
            );
        }
        let layout = packed::layout_of(T::type_info());
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
            codec: ColumnCodec::by_reflection(layout),
            ops: ComponentOps {
                get: get::<T>,
                has: has::<T>,
                write_packed: write_packed::<T>,
                from_reflect: from_reflect::<T>,
                insert: insert::<T>,
                spawn_at: spawn_at::<T>,
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
        use_packer(self, |_| {
            Some(Packer::Serde {
                ops: BulkOps::serde::<T>(),
                agrees: Default::default(),
            })
        });
        self
    }

    fn add_moddable_component_pod<T>(&mut self, access: ModAccess) -> &mut Self
    where
        T: ModdableComponent + bytemuck::Pod,
    {
        self.add_moddable_component::<T>(access);
        use_packer(self, |kinds| BulkOps::plain::<T>(kinds).map(Packer::Bytes));
        self
    }

    fn add_saved_component<T>(&mut self) -> &mut Self
    where
        T: Component + crate::save::SavableType,
    {
        self.register_type::<T>();
        let t = crate::save::component_type::<T>();
        let world = self.world_mut();
        let mut saved = world.get_resource_or_init::<crate::save::SavedTypes>();
        if !saved.components.iter().any(|c| c.name == t.name) {
            saved.components.push(t);
        }
        self
    }

    fn add_saved_resource<R>(&mut self) -> &mut Self
    where
        R: Resource + crate::save::SavableType,
    {
        self.register_type::<R>();
        let r = crate::save::resource_type::<R>();
        let world = self.world_mut();
        let mut saved = world.get_resource_or_init::<crate::save::SavedTypes>();
        if !saved.resources.iter().any(|c| c.name == r.name) {
            saved.resources.push(r);
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
                name: M::short_type_path().to_string(),
                collect: collect::<M>,
            });
        self
    }
}

/// Packs the last exposed type with what `make` offers; otherwise says
/// why it goes by reflection.
fn use_packer(app: &mut App, make: impl FnOnce(&[Scalar]) -> Option<Packer>) {
    let mut exposed = app.world_mut().resource_mut::<Exposed>();
    let Some(c) = exposed.components.last_mut() else {
        return;
    };
    if let Err(why) = c.codec.use_packer(make) {
        tracing::warn!(component = %c.name, "{why}");
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

fn spawn_at<T: Component + Reflect>(
    world: &mut World,
    entity: Entity,
    value: Box<dyn Reflect>,
    marks: SpawnMarks,
) -> Result<(), String> {
    let value = value
        .downcast::<T>()
        .map_err(|_| format!("a value that is not a `{}`", std::any::type_name::<T>()))?;
    world
        .spawn_at(entity, (*value, marks))
        .map(drop)
        .map_err(|e| format!("{e:?}"))
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
