//! Whose a name is: the game's plain names, and every mod's own names,
//! namespaced by its id.
//!
//! A mod names component types and events by their *short* name (`Weather`)
//! or their *full* name (`storm:Weather`, its owner's id, a colon, the short
//! name). The host and the test world keep full names only: what a mod
//! writes is [`resolve`]d the moment it crosses, so a name one mod defines
//! can never be another's, whatever either declares or whichever starts
//! first. The game's own names stay plain: the component types and messages
//! it exposes, and the names it opens to every mod (`with_shared_name`).
//!
//! A plain name a mod writes is the game's when the game knows it, and
//! otherwise the mod's own: `Weather` from mod `storm` is `storm:Weather`.
//! A name holding a colon is already full: `greeter:greeting` is mod
//! `greeter`'s `greeting`, from any mod. Resolving a full name gives it
//! back unchanged, so a name can be resolved again on the way.

use std::borrow::Cow;

use crate::access::Names;

/// What separates a namespace from the short name (`storm:Weather`).
pub const SEPARATOR: char = ':';

/// The namespace a legacy subscription names (`*:greeting`): any mod's
/// event of that short name. Mods built for contracts before 0.2 subscribe
/// by short name to events any mod sends.
pub const ANY_MOD: &str = "*";

/// What a name names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A component type.
    Type,
    /// An event.
    Event,
}

/// The namespace and short name of a full name (the namespace is all
/// before the last colon); `None` for a plain name.
pub fn split(name: &str) -> Option<(&str, &str)> {
    name.rsplit_once(SEPARATOR)
}

/// The namespace of a full name: the id of the mod it belongs to.
pub fn namespace(name: &str) -> Option<&str> {
    split(name).map(|(ns, _)| ns)
}

/// The short name: all after the last colon, or the whole plain name.
pub fn short(name: &str) -> &str {
    split(name).map_or(name, |(_, short)| short)
}

/// Mod `id`'s name `short`.
pub fn full(id: &str, short: &str) -> String {
    let mut name = String::with_capacity(id.len() + 1 + short.len());
    name.push_str(id);
    name.push(SEPARATOR);
    name.push_str(short);
    name
}

/// Whether plain name `name` is the game's: a type or message it exposes
/// (as `kind` says), or a name it opened to every mod.
pub fn is_game_name(names: &impl Names, kind: Kind, name: &str) -> bool {
    let exposed = match kind {
        Kind::Type => names.game_component(name).is_some(),
        Kind::Event => names.is_game_message(name),
    };
    exposed || names.game_shares(name)
}

/// The full name of `name` as mod `me` wrote it: unchanged when it is
/// full already or the game's, else `me`'s own.
pub fn resolve<'a>(names: &impl Names, me: &str, kind: Kind, name: &'a str) -> Cow<'a, str> {
    if name.contains(SEPARATOR) || is_game_name(names, kind, name) {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(full(me, name))
    }
}

/// Like [`resolve`], taking and giving an owned name (no copy when it is
/// already full or the game's).
pub fn resolve_owned(names: &impl Names, me: &str, kind: Kind, name: String) -> String {
    match resolve(names, me, kind, &name) {
        Cow::Borrowed(_) => name,
        Cow::Owned(full) => full,
    }
}

/// Checks a name a manifest declares as the mod's own (`defines`,
/// `emits`): plain, or full in the mod's own namespace. A mod declares
/// no names in another's namespace; it reads and writes a name another
/// shares without declaring it.
pub fn check_declared(me: &str, name: &str) -> Result<(), String> {
    check_used(name)?;
    match split(name) {
        None => Ok(()),
        Some((ns, _)) if ns == me => Ok(()),
        Some((ns, _)) => Err(format!(
            "declares {name:?}, a name of mod `{ns}`: a mod declares only its own names \
             (`Weather`, or `{me}:Weather`), and uses another mod's by their full name \
             without declaring them"
        )),
    }
}

/// Checks a full name a manifest uses (in `queries`, `subscribes`): a
/// namespace and a short name, neither empty.
pub fn check_used(name: &str) -> Result<(), String> {
    match split(name) {
        Some((ns, short)) if ns.is_empty() || short.is_empty() => Err(format!(
            "{name:?} is not a name: a full name is a mod's id, `:` and a short name \
             (`storm:Weather`)"
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Game;
    impl Names for Game {
        fn game_component(&self, name: &str) -> Option<bool> {
            (name == "Position").then_some(true)
        }
        fn is_game_message(&self, name: &str) -> bool {
            name == "PlayerJoined"
        }
        fn game_shares(&self, name: &str) -> bool {
            name == "Badge"
        }
        fn type_owner(&self, _: &str) -> Option<(String, bool)> {
            None
        }
        fn event_owner(&self, _: &str) -> Option<(String, bool)> {
            None
        }
    }

    #[test]
    fn a_plain_name_is_the_game_s_or_the_mod_s_own() {
        let t = |name| resolve(&Game, "storm", Kind::Type, name).into_owned();
        assert_eq!(t("Position"), "Position");
        assert_eq!(t("Badge"), "Badge");
        assert_eq!(t("Weather"), "storm:Weather");
        assert_eq!(t("storm:Weather"), "storm:Weather");
        assert_eq!(t("greeter:Badge"), "greeter:Badge");
        // A message's name is not a type's.
        assert_eq!(t("PlayerJoined"), "storm:PlayerJoined");
        let e = |name| resolve(&Game, "storm", Kind::Event, name).into_owned();
        assert_eq!(e("PlayerJoined"), "PlayerJoined");
        assert_eq!(e("gust"), "storm:gust");
        assert_eq!(e("greeter:greeting"), "greeter:greeting");
    }

    #[test]
    fn resolving_twice_changes_nothing() {
        for name in ["Position", "Badge", "Weather", "a:b", "x:y:z"] {
            let once = resolve(&Game, "m", Kind::Type, name).into_owned();
            assert_eq!(resolve(&Game, "m", Kind::Type, &once), once);
        }
    }

    #[test]
    fn the_namespace_is_all_before_the_last_colon() {
        assert_eq!(split("storm:Weather"), Some(("storm", "Weather")));
        assert_eq!(split("a:b:Weather"), Some(("a:b", "Weather")));
        assert_eq!(split("Weather"), None);
        assert_eq!(short("a:b:Weather"), "Weather");
        assert_eq!(full("storm", "Weather"), "storm:Weather");
    }

    #[test]
    fn a_mod_declares_only_its_own_names() {
        assert!(check_declared("storm", "Weather").is_ok());
        assert!(check_declared("storm", "storm:Weather").is_ok());
        assert!(check_declared("storm", "greeter:Badge").is_err());
        assert!(check_declared("storm", ":Badge").is_err());
        assert!(check_declared("storm", "storm:").is_err());
        assert!(check_used("greeter:Badge").is_ok());
        assert!(check_used("Badge").is_ok());
        assert!(check_used(":Badge").is_err());
        assert!(check_used("greeter:").is_err());
    }
}
