//! What a mod tells the game about itself.

use crate::component::{Component, ComponentSet};

/// A mod's name and version, the events it hears and the queries whose
/// results it reads each tick.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Manifest {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) subscribes: Vec<String>,
    pub(crate) queries: Vec<Vec<String>>,
    pub(crate) defines: Vec<String>,
    pub(crate) emits: Vec<String>,
    pub(crate) shares: Vec<String>,
}

impl Manifest {
    /// A manifest with a name and a version.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            ..Self::default()
        }
    }

    /// Renames the mod (a label players see; the game knows the mod by its id).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Delivers events named `name` to [`Mod::event`](crate::Mod::event): a
    /// game message's short type name (`PlayerJoined`), another mod's event
    /// by its full name (`greeter:greeting`: that mod's id, `:`, the name),
    /// a name the game opened to all, or one of the mod's own (which other
    /// mods may send when it shares it). Events arrive named as subscribed.
    pub fn subscribe(mut self, name: impl Into<String>) -> Self {
        self.subscribes.push(name.into());
        self
    }

    /// Reads query `Q` each tick: the entities with all of `Q`'s components.
    pub fn query<Q: ComponentSet>(mut self) -> Self {
        self.queries.push(Q::names());
        self
    }

    /// Declares a component type the mod defines itself; the game stores its
    /// values on entities for any mod to read, by its full name
    /// (`your-mod-id:Name`). Only this mod writes it, unless it
    /// [`share`](Self::share)s it.
    pub fn define<C: Component>(mut self) -> Self {
        self.defines.push(C::NAME.to_string());
        self
    }

    /// Declares an event the mod sends. Every event a mod emits by a plain
    /// name is its own (`your-mod-id:name`, what other mods subscribe to),
    /// declared or not; declaring one lets the mod [`share`](Self::share) it.
    pub fn emits(mut self, name: impl Into<String>) -> Self {
        self.emits.push(name.into());
        self
    }

    /// Lets other mods write the type or emit the event `name`, which this
    /// mod defines or emits. (They name it by its full name,
    /// `your-mod-id:name`, and do not declare it.)
    pub fn share(mut self, name: impl Into<String>) -> Self {
        self.shares.push(name.into());
        self
    }

    /// The mod's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}
