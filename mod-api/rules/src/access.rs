//! Who may write a component type and emit an event, and which names a
//! call may carry.

use crate::Refusal;
use crate::caps::{MAX_COMPONENTS, MAX_EVENT_NAME};
use crate::text::{MAX_NAME, escape};

/// What the game knows of names: its exposed component types and
/// messages, and which mod claimed each mod-defined type and event name.
/// The host answers from its catalog, the test world from its setup.
pub trait Names {
    /// Whether `name` is a component type the game exposes: `Some(true)`
    /// read-write, `Some(false)` read-only, `None` not the game's.
    fn game_component(&self, name: &str) -> Option<bool>;

    /// The mod other than `me` that defined component type `name` first
    /// and did not share it, if any.
    fn type_claimed_by(&self, name: &str, me: &str) -> Option<String>;

    /// Whether `name` is one of the game's own messages.
    fn is_game_message(&self, name: &str) -> bool;

    /// The mod other than `me` that claimed event `name` first and did not
    /// share it, if any.
    fn event_claimed_by(&self, name: &str, me: &str) -> Option<String>;
}

/// Whether mod `me`, which defined the types `defines` says, may write
/// component type `name`: a game type exposed read-write, or a type the mod
/// defines that no other mod claimed first.
pub fn may_write(
    names: &impl Names,
    me: &str,
    defines: impl Fn(&str) -> bool,
    name: &str,
) -> Result<(), Refusal> {
    match names.game_component(name) {
        Some(true) => Ok(()),
        Some(false) => Err(Refusal::ReadOnly(name.into())),
        None if defines(name) => match names.type_claimed_by(name, me) {
            Some(owner) => Err(Refusal::Denied(format!(
                "component `{name}` is defined by mod `{owner}`; only it writes it"
            ))),
            None => Ok(()),
        },
        None => Err(Refusal::UnknownComponent(name.into())),
    }
}

/// Whether mod `me` may emit event `name`: a name of 1 to
/// [`MAX_EVENT_NAME`] bytes that is not a game message and that no other
/// mod claimed first.
pub fn may_emit(names: &impl Names, me: &str, name: &str) -> Result<(), Refusal> {
    if name.is_empty() || name.len() > MAX_EVENT_NAME {
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
    if let Some(owner) = names.event_claimed_by(name, me) {
        return Err(Refusal::Denied(format!(
            "event `{}` belongs to mod `{owner}`; only it emits it",
            escape(name)
        )));
    }
    Ok(())
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
        fn type_claimed_by(&self, name: &str, me: &str) -> Option<String> {
            (name == "Badge" && me != "first").then(|| "first".into())
        }
        fn is_game_message(&self, name: &str) -> bool {
            name == "PlayerJoined"
        }
        fn event_claimed_by(&self, name: &str, me: &str) -> Option<String> {
            (name == "greeting" && me != "first").then(|| "first".into())
        }
    }

    #[test]
    fn a_type_is_written_when_the_game_opens_it_or_by_its_first_definer() {
        let defines_badge = |n: &str| n == "Badge";
        assert_eq!(may_write(&Game, "m", defines_badge, "Position"), Ok(()));
        assert_eq!(
            may_write(&Game, "m", defines_badge, "Health"),
            Err(Refusal::ReadOnly("Health".into()))
        );
        assert_eq!(may_write(&Game, "first", defines_badge, "Badge"), Ok(()));
        assert!(matches!(
            may_write(&Game, "second", defines_badge, "Badge"),
            Err(Refusal::Denied(_))
        ));
        assert_eq!(
            may_write(&Game, "m", |_| false, "Badge"),
            Err(Refusal::UnknownComponent("Badge".into()))
        );
    }

    #[test]
    fn events_are_open_but_for_the_game_s_messages_and_other_mods_claims() {
        assert_eq!(may_emit(&Game, "m", "ping"), Ok(()));
        assert!(may_emit(&Game, "m", "").is_err());
        assert!(may_emit(&Game, "m", &"e".repeat(MAX_EVENT_NAME + 1)).is_err());
        assert!(matches!(
            may_emit(&Game, "m", "PlayerJoined"),
            Err(Refusal::Denied(_))
        ));
        assert!(matches!(
            may_emit(&Game, "m", "greeting"),
            Err(Refusal::Denied(_))
        ));
        assert_eq!(may_emit(&Game, "first", "greeting"), Ok(()));
    }
}
