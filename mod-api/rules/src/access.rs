//! Who may write a component type and emit an event, and which names a
//! call may carry.

use crate::Refusal;
use crate::caps::{MAX_COMPONENTS, MAX_EVENT_NAME};
use crate::names::namespace;
use crate::text::{MAX_NAME, escape};

/// What the game knows of names: its exposed component types and
/// messages, the names it opened to every mod, and which running mod
/// defined each mod-defined type and event (by full name, see
/// [`crate::names`]). The host answers from its catalog, the test world
/// from its setup.
pub trait Names {
    /// Whether `name` is a component type the game exposes: `Some(true)`
    /// read-write, `Some(false)` read-only, `None` not the game's.
    fn game_component(&self, name: &str) -> Option<bool>;

    /// Whether `name` is one of the game's own messages.
    fn is_game_message(&self, name: &str) -> bool;

    /// Whether the game opened plain name `name` to every mod, as a type
    /// and as an event (`with_shared_name`).
    fn game_shares(&self, name: &str) -> bool;

    /// The mod that defines type `name` (a full name), and whether it
    /// shares it; `None` when no running mod does.
    fn type_owner(&self, name: &str) -> Option<(String, bool)>;

    /// The mod that declared event `name` (a full name) in its `emits`,
    /// and whether it shares it; `None` when no running mod did.
    fn event_owner(&self, name: &str) -> Option<(String, bool)>;
}

/// Whether mod `me`, which defines the types `defines` says (full names),
/// may write component type `name` (a full name): a game type exposed
/// read-write, a name the game opened to all, one of the mod's own types,
/// or another mod's type that mod shares.
pub fn may_write(
    names: &impl Names,
    me: &str,
    defines: impl Fn(&str) -> bool,
    name: &str,
) -> Result<(), Refusal> {
    match names.game_component(name) {
        Some(true) => return Ok(()),
        Some(false) => return Err(Refusal::ReadOnly(name.into())),
        None => {}
    }
    if names.game_shares(name) {
        return Ok(());
    }
    match names.type_owner(name) {
        Some((owner, shared)) if owner == me || shared => Ok(()),
        Some((owner, _)) => Err(Refusal::Denied(format!(
            "component `{}` is mod `{}`'s; only it writes it",
            escape(name),
            escape(&owner)
        ))),
        None if defines(name) && namespace(name) == Some(me) => Ok(()),
        None => Err(Refusal::UnknownComponent(name.into())),
    }
}

/// Whether mod `me` may emit event `name` (a full name): a short name of
/// 1 to [`MAX_EVENT_NAME`] bytes that is not a game message, in the mod's own
/// namespace, opened to all by the game, or another mod's it shares.
pub fn may_emit(names: &impl Names, me: &str, name: &str) -> Result<(), Refusal> {
    let short = crate::names::short(name);
    if short.is_empty() || short.len() > MAX_EVENT_NAME {
        return Err(Refusal::InvalidValue(format!(
            "event names are 1 to {MAX_EVENT_NAME} bytes long"
        )));
    }
    if names.is_game_message(name) {
        return Err(Refusal::Denied(format!(
            "`{}` is the game's message; mods cannot send it",
            escape(name)
        )));
    }
    if names.game_shares(name) {
        return Ok(());
    }
    let owner = match names.event_owner(name) {
        Some((_, true)) => return Ok(()),
        Some((owner, false)) => owner,
        None => match namespace(name) {
            Some(ns) => ns.to_string(),
            None => return Ok(()),
        },
    };
    if owner == me {
        return Ok(());
    }
    Err(Refusal::Denied(format!(
        "event `{}` is mod `{}`'s; only it emits it",
        escape(name),
        escape(&owner)
    )))
}

/// Refuses a list of more than `max` component names, or with a name
/// longer than any type name can be, before anything is looked up.
pub fn check_names(names: &[String], max: usize) -> Result<(), Refusal> {
    if names.len() > max {
        return Err(Refusal::InvalidValue(format!(
            "{} names in one call; at most {max}",
            names.len()
        )));
    }
    match names.iter().find(|n| n.len() > MAX_NAME) {
        Some(_) => Err(Refusal::UnknownComponent(format!(
            "a name longer than {MAX_NAME} bytes"
        ))),
        None => Ok(()),
    }
}

/// Refuses a `spawn` or `insert` of more than [`MAX_COMPONENTS`]
/// components, or that names one component twice.
pub fn check_component_list<'a>(
    names: impl ExactSizeIterator<Item = &'a str>,
) -> Result<(), Refusal> {
    let count = names.len();
    if count > MAX_COMPONENTS {
        return Err(Refusal::InvalidValue(format!(
            "{count} components in one call; at most {MAX_COMPONENTS}"
        )));
    }
    let mut seen = std::collections::HashSet::with_capacity(count);
    for name in names {
        if !seen.insert(name) {
            return Err(Refusal::InvalidValue(format!(
                "component `{}` given twice in one call",
                escape(name)
            )));
        }
    }
    Ok(())
}

/// Refuses a batch of more than `max` columns.
pub fn check_column_count(count: usize, max: usize) -> Result<(), Refusal> {
    if count > max {
        return Err(Refusal::InvalidValue(format!(
            "{count} columns in one batch; at most {max}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Game;
    impl Names for Game {
        fn game_component(&self, name: &str) -> Option<bool> {
            match name {
                "Position" => Some(true),
                "Health" => Some(false),
                _ => None,
            }
        }
        fn is_game_message(&self, name: &str) -> bool {
            name == "PlayerJoined"
        }
        fn game_shares(&self, name: &str) -> bool {
            name == "Badge"
        }
        fn type_owner(&self, name: &str) -> Option<(String, bool)> {
            match name {
                "storm:Weather" => Some(("storm".into(), false)),
                "storm:Cloud" => Some(("storm".into(), true)),
                _ => None,
            }
        }
        fn event_owner(&self, name: &str) -> Option<(String, bool)> {
            match name {
                "greeter:greeting" => Some(("greeter".into(), false)),
                "greeter:wave" => Some(("greeter".into(), true)),
                _ => None,
            }
        }
    }

    #[test]
    fn a_type_is_written_by_its_mod_or_when_opened() {
        let none = |_: &str| false;
        assert_eq!(may_write(&Game, "m", none, "Position"), Ok(()));
        assert_eq!(
            may_write(&Game, "m", none, "Health"),
            Err(Refusal::ReadOnly("Health".into()))
        );
        assert_eq!(may_write(&Game, "m", none, "Badge"), Ok(()));
        assert_eq!(may_write(&Game, "storm", none, "storm:Weather"), Ok(()));
        assert!(matches!(
            may_write(&Game, "m", none, "storm:Weather"),
            Err(Refusal::Denied(_))
        ));
        assert_eq!(may_write(&Game, "m", none, "storm:Cloud"), Ok(()));
        // Its own type before the game recorded it, only when declared.
        let defines_gust = |n: &str| n == "m:Gust" || n == "storm:Gust";
        assert_eq!(may_write(&Game, "m", defines_gust, "m:Gust"), Ok(()));
        assert_eq!(
            may_write(&Game, "m", none, "m:Gust"),
            Err(Refusal::UnknownComponent("m:Gust".into()))
        );
        // Declaring another's name gives nothing.
        assert_eq!(
            may_write(&Game, "m", defines_gust, "storm:Gust"),
            Err(Refusal::UnknownComponent("storm:Gust".into()))
        );
    }

    #[test]
    fn an_event_is_sent_by_its_mod_or_when_opened() {
        assert_eq!(may_emit(&Game, "m", "m:ping"), Ok(()));
        assert_eq!(may_emit(&Game, "m", "Badge"), Ok(()));
        assert!(may_emit(&Game, "m", "").is_err());
        assert!(may_emit(&Game, "m", &"e".repeat(MAX_EVENT_NAME + 1)).is_err());
        assert!(matches!(
            may_emit(&Game, "m", "PlayerJoined"),
            Err(Refusal::Denied(_))
        ));
        assert!(matches!(
            may_emit(&Game, "m", "greeter:greeting"),
            Err(Refusal::Denied(_))
        ));
        assert_eq!(may_emit(&Game, "greeter", "greeter:greeting"), Ok(()));
        assert_eq!(may_emit(&Game, "m", "greeter:wave"), Ok(()));
        // Another mod's namespace is its, running or not.
        assert!(matches!(
            may_emit(&Game, "m", "absent:ping"),
            Err(Refusal::Denied(_))
        ));
    }
}
