//! Errors a mod sees and returns.

use crate::__private::bindings::bevy_wasm::mods::types::ModError;
use crate::Entity;

/// Why a call failed.
#[derive(Clone, Debug, PartialEq)]
pub enum Error {
    /// No component type of that name is exposed by the game or declared by
    /// the mod.
    UnknownComponent(String),
    /// The game exposes that component read-only.
    ReadOnly(String),
    /// The component is not in any of the mod's queries.
    NotQueried(String),
    /// No such entity.
    NoSuchEntity(Entity),
    /// The mod may not change that entity.
    NotOwner(Entity),
    /// A value could not be encoded or decoded.
    InvalidValue(String),
    /// A per-tick cap was reached.
    LimitExceeded(String),
    /// The game or the player's grants denied the action.
    Denied(String),
    /// An input the mod was given (an event's payload, a value another mod
    /// or the game stored) does not decode into the mod's type. When a
    /// mod's `event` or `tick` returns it, `mod-api` reports the input to
    /// the host, which blames whoever made it, and the mod goes on.
    BadInput {
        /// Which input.
        input: BadInput,
        /// Why it did not decode.
        reason: String,
    },
    /// Any other failure, in words.
    Failed(String),
}

/// An input the mod could not decode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BadInput {
    /// The event at this index of the events being delivered.
    Event(u32),
    /// A value of this component type.
    Value(String),
}

/// Short for `Result<T, mod_api::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with a message, for a mod's own failures.
    pub fn msg(message: impl Into<String>) -> Self {
        Error::Failed(message.into())
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::UnknownComponent(s) => write!(f, "unknown component `{s}`"),
            Error::ReadOnly(s) => write!(f, "component `{s}` is read-only"),
            Error::NotQueried(s) => write!(f, "`{s}` is not in the mod's queries"),
            Error::NoSuchEntity(e) => write!(f, "no entity {e:?}"),
            Error::NotOwner(e) => write!(f, "entity {e:?} belongs to someone else"),
            Error::InvalidValue(s) => write!(f, "invalid value: {s}"),
            Error::LimitExceeded(s) => write!(f, "limit exceeded: {s}"),
            Error::Denied(s) => write!(f, "denied: {s}"),
            Error::BadInput { input, reason } => match input {
                BadInput::Event(i) => write!(f, "event {i} does not decode: {reason}"),
                BadInput::Value(name) => write!(f, "a `{name}` value does not decode: {reason}"),
            },
            Error::Failed(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for Error {}

impl From<ModError> for Error {
    fn from(e: ModError) -> Self {
        match e {
            ModError::UnknownComponent(s) => Error::UnknownComponent(s),
            ModError::ReadOnly(s) => Error::ReadOnly(s),
            ModError::NotQueried(s) => Error::NotQueried(s),
            ModError::NoSuchEntity(e) => Error::NoSuchEntity(Entity(e)),
            ModError::NotOwner(e) => Error::NotOwner(Entity(e)),
            ModError::InvalidValue(s) => Error::InvalidValue(s),
            ModError::LimitExceeded(s) => Error::LimitExceeded(s),
            ModError::Denied(s) => Error::Denied(s),
            ModError::Failed(s) => Error::Failed(s),
        }
    }
}

impl From<Error> for ModError {
    fn from(e: Error) -> Self {
        match e {
            Error::UnknownComponent(s) => ModError::UnknownComponent(s),
            Error::ReadOnly(s) => ModError::ReadOnly(s),
            Error::NotQueried(s) => ModError::NotQueried(s),
            Error::NoSuchEntity(e) => ModError::NoSuchEntity(e.0),
            Error::NotOwner(e) => ModError::NotOwner(e.0),
            Error::InvalidValue(s) => ModError::InvalidValue(s),
            Error::LimitExceeded(s) => ModError::LimitExceeded(s),
            Error::Denied(s) => ModError::Denied(s),
            Error::BadInput { reason, .. } => ModError::InvalidValue(reason),
            Error::Failed(s) => ModError::Failed(s),
        }
    }
}

impl From<rmp_serde::encode::Error> for Error {
    fn from(e: rmp_serde::encode::Error) -> Self {
        Error::InvalidValue(e.to_string())
    }
}

impl Error {
    /// A value of component `name` that does not decode.
    pub(crate) fn bad_value(name: &str, reason: impl std::fmt::Display) -> Self {
        Error::BadInput {
            input: BadInput::Value(name.to_string()),
            reason: reason.to_string(),
        }
    }
}

impl From<rmp_serde::decode::Error> for Error {
    fn from(e: rmp_serde::decode::Error) -> Self {
        Error::InvalidValue(e.to_string())
    }
}
