//! Why a call was refused, in the words a mod's fault and its log show.

use std::fmt;

/// A refused call. The same cases as the contract's `mod-error`, which
/// each side converts this into; [`Display`](fmt::Display) is what a
/// refused tick's fault says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No component type of that name is exposed or defined by the mod.
    UnknownComponent(String),
    /// The game exposes that component type read-only.
    ReadOnly(String),
    /// That component set is not one of the mod's queries.
    NotQueried(String),
    /// No such entity (or it was despawned this tick).
    NoSuchEntity(u64),
    /// The mod may not change an entity it did not spawn.
    NotOwner(u64),
    /// A value or a batch is malformed.
    InvalidValue(String),
    /// A cap was reached.
    LimitExceeded(String),
    /// Denied by the game, another mod's claim or the player's grants.
    Denied(String),
    /// Anything else.
    Failed(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::UnknownComponent(s) => write!(f, "unknown component `{s}`"),
            Refusal::ReadOnly(s) => write!(f, "component `{s}` is read-only"),
            Refusal::NotQueried(s) => write!(f, "component `{s}` is not in the mod's queries"),
            Refusal::NoSuchEntity(e) => write!(f, "no entity {e}"),
            Refusal::NotOwner(e) => write!(f, "entity {e} belongs to someone else"),
            Refusal::InvalidValue(s) => write!(f, "invalid value: {s}"),
            Refusal::LimitExceeded(s) => write!(f, "limit exceeded: {s}"),
            Refusal::Denied(s) => write!(f, "denied: {s}"),
            Refusal::Failed(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for Refusal {}

impl Refusal {
    /// What a refused tick's fault says: the refusal, escaped, since its
    /// text holds names the mod chose.
    pub fn describe(&self) -> String {
        crate::text::escape(&self.to_string()).into_owned()
    }

    /// Whether the refusal leaves the tick standing: only running out of
    /// a cap a mod is expected to meet in its stride (entity ids for this
    /// tick, entities it may own) is reported without refusing the tick.
    /// Every other refused call refuses the tick, since a tick in which a
    /// mod asked for something invalid or denied is not the tick it meant.
    pub fn keeps_tick(&self) -> bool {
        matches!(self, Refusal::LimitExceeded(_))
    }
}

/// The refusals each rule gives, so both sides say the same.
impl Refusal {
    /// More commands in one tick than the cap.
    pub fn too_many_commands(cap: usize) -> Self {
        Refusal::LimitExceeded(format!("more than {cap} commands in one tick"))
    }

    /// More bytes of commands in one tick than the cap.
    pub fn too_many_bytes(cap: usize) -> Self {
        Refusal::LimitExceeded(format!("more than {cap} bytes of commands in one tick"))
    }

    /// More events in one tick than the cap.
    pub fn too_many_events(cap: usize) -> Self {
        Refusal::LimitExceeded(format!("more than {cap} events in one tick"))
    }

    /// A write outside `on-tick` and `on-event`.
    pub fn closed() -> Self {
        Refusal::Denied("the world can only be changed from on-tick or on-event".into())
    }

    /// No reserved entity id left: the mod spawns the rest next tick.
    pub fn out_of_ids(at_entity_cap: bool) -> Self {
        Refusal::LimitExceeded(if at_entity_cap {
            "this mod owns as many entities as the game allows; despawn some first".into()
        } else {
            "no entity ids left for this tick; spawn the rest next tick \
             (the host reserves more for mods that spawn many)"
                .into()
        })
    }

    /// A tick that would leave the mod's entities holding more than the
    /// cap.
    pub fn too_much_state(kept: u64, cap: u64) -> Self {
        Refusal::LimitExceeded(format!(
            "the mod's entities would hold {kept} bytes of values; at most {cap}"
        ))
    }
}
