//! Converting component values between the ECS and the bytes mods see.

pub(crate) mod bulk;
pub(crate) mod column;
pub(crate) mod packed;
pub(crate) mod value;
