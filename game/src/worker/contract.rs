//! The contract versions this game serves, which one a mod was built for,
//! and the hooks of every version behind one type.
//!
//! `wit/` holds the current contract and `wit/versions/` every version
//! released, as it was released. A mod names the version it was built for
//! in its imports and exports (`bevy-wasm:mods/hooks@0.1.0`).
//!
//! **Imports.** Every function a mod of any served version can import has
//! kept its signature, so the current implementations serve them all. The
//! 0.1 names are bound beside the current ones ([`super::v0_1`]) and
//! forward to them; wasmtime links an import of
//! `bevy-wasm:mods/entities@0.1.0` to the definition of `@0.1.1` (names of
//! the same 0.x minor are semver-compatible), and checks each function's
//! type as it links.
//!
//! **Meaning.** 0.2.0 gave names namespaces (see [`mod_rules::names`]):
//! the host reads a 0.1 mod's names by the rules it was built for
//! ([`namespaced`]).
//!
//! **Exports.** 0.1.0 shipped in two shapes: first with a manifest of five
//! fields, then, still named 0.1.0, with `emits` and `shares` added (a
//! breaking change that should have had a version of its own). The second
//! shape is what 0.1.1 extended and 0.2.0 kept; 0.1.x mods' hooks are bound
//! in [`super::v0_1`] with the current types. The first shape has bindings
//! of its own ([`first`]) and an adapter that reads its manifest as one
//! that emits and shares nothing. Which bindings a mod gets is decided by
//! its version and its exports' types, which wasmtime checks.
//!
//! A version the game does not serve is refused at load, naming the
//! version the mod was built for and the ones served. A future version
//! that breaks mods gets its own bindings here, beside these.

use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::{Component, InstancePre};

use super::bindings::{self, types};
use super::state::HostState;
use crate::package::PackageManifest;

/// The package every mod imports from.
pub const PACKAGE: &str = "bevy-wasm:mods";
/// The contract version of `wit/`, the one new mods are built against.
pub const CURRENT: &str = "0.2.0";
/// Every contract version this game serves, oldest first.
pub const SERVED: &[&str] = &["0.1.0", "0.1.1", "0.2.0"];

/// Bindings generated from the first shape of 0.1.0, for its hooks; its
/// imports reach [`super::v0_1`]'s.
#[allow(dead_code, missing_docs)]
mod first {
    wasmtime::component::bindgen!({
        path: "../wit/versions/0.1.0",
        world: "game-mod",
    });
}
use first::bevy_wasm::mods::types as first_types;

/// The contract version a mod was built for, read from its component:
/// the version of the hooks it exports. Every name of this game's package
/// it imports or exports must carry a version this game serves.
pub(crate) fn built_for(
    engine: &wasmtime::Engine,
    component: &Component,
) -> Result<&'static str, String> {
    let ty = component.component_type();
    let prefix = format!("{PACKAGE}/");
    let mut exports: Vec<String> = Vec::new();
    let mut hooks = None;
    let names = ty
        .imports(engine)
        .map(|(n, _)| n.to_string())
        .chain(ty.exports(engine).map(|(n, _)| {
            exports.push(n.to_string());
            n.to_string()
        }))
        .collect::<Vec<_>>();
    for name in &names {
        let Some(rest) = name.strip_prefix(&prefix) else {
            continue;
        };
        let (interface, version) = rest.split_once('@').unwrap_or((rest, ""));
        let served = served(version).ok_or_else(|| unserved(version))?;
        if interface == "hooks" && exports.contains(name) {
            hooks = Some(served);
        }
    }
    hooks.ok_or_else(|| {
        format!(
            "does not implement the `{PACKAGE}/game-mod` world: it exports no \
             `{PACKAGE}/hooks` (its exports: {})",
            if exports.is_empty() {
                "none".into()
            } else {
                crate::text::escape(&exports.join(", ")).into_owned()
            }
        )
    })
}

/// The served version `version` names: the same version, build metadata
/// (`+...`) aside.
pub(crate) fn served(version: &str) -> Option<&'static str> {
    let wanted = semver::Version::parse(version).ok()?;
    SERVED.iter().copied().find(|s| {
        semver::Version::parse(s).is_ok_and(|s| {
            (s.major, s.minor, s.patch, &s.pre)
                == (wanted.major, wanted.minor, wanted.patch, &wanted.pre)
        })
    })
}

/// Why a mod built for `version` cannot run here, and what to do.
pub(crate) fn unserved(version: &str) -> String {
    let served = SERVED.join(", ");
    if version.is_empty() {
        return format!(
            "built for {PACKAGE} without a contract version, which this game does not \
             serve (it serves {served}): rebuild the mod against one of them"
        );
    }
    let mut version = crate::text::escape(version).into_owned();
    crate::text::cut(&mut version, 64);
    let newest = SERVED.last().and_then(|s| semver::Version::parse(s).ok());
    let advice = match (semver::Version::parse(&version), newest) {
        (Ok(v), Some(newest)) if v > newest => {
            "it is newer than this game: update the game, or use a build of the mod \
             for a version it serves"
        }
        (Ok(_), _) => "rebuild the mod against one of them (`wit/` holds the newest)",
        (Err(_), _) => "its version is not semantic versioning; rebuild it against one of them",
    };
    format!(
        "built for {PACKAGE}@{version}, a contract version this game does not serve \
         (it serves {served}): {advice}"
    )
}

/// Whether a mod built for contract `version` names its own types and
/// events in its own namespace (0.2.0 and later; see
/// [`mod_rules::names`]).
pub(crate) fn namespaced(version: &str) -> bool {
    semver::Version::parse(version).is_ok_and(|v| (v.major, v.minor) >= (0, 2))
}

/// A mod linked and ready to instantiate, with the bindings of the
/// contract it was built for.
#[derive(Clone)]
pub(crate) struct ModPre {
    /// The contract version the mod was built for.
    pub contract: &'static str,
    /// Its package's `mod.toml`, when it came as a package.
    pub package: Option<Arc<PackageManifest>>,
    /// Its package's `assets/`, made ready for the game.
    pub assets: Arc<crate::package::ReadyAssets>,
    /// The SHA-256 of its component.
    pub digest: [u8; 32],
    kind: PreKind,
}

#[derive(Clone)]
enum PreKind {
    Current(bindings::GameModPre<HostState>),
    V0_1(super::v0_1::GameModPre<HostState>),
    First(first::GameModPre<HostState>),
}

/// The manifest's fields in the current contract, in order.
const MANIFEST: [&str; 7] = [
    "name",
    "version",
    "subscribes",
    "queries",
    "defines",
    "emits",
    "shares",
];
/// The manifest's fields in the first shape of 0.1.0.
const FIRST_MANIFEST: [&str; 5] = ["name", "version", "subscribes", "queries", "defines"];

/// The field names of the manifest the mod's `init` returns, read from
/// its component's type (`None` when its hooks have no such function).
fn manifest_fields(engine: &wasmtime::Engine, component: &Component) -> Option<Vec<String>> {
    use wasmtime::component::Type;
    use wasmtime::component::types::ComponentItem;
    let ty = component.component_type();
    let hooks = format!("{PACKAGE}/hooks@");
    let (_, hooks) = ty.exports(engine).find(|(n, _)| n.starts_with(&hooks))?;
    let ComponentItem::ComponentInstance(hooks) = hooks.ty else {
        return None;
    };
    let ComponentItem::ComponentFunc(init) = hooks.get_export(engine, "init")?.ty else {
        return None;
    };
    let Type::Result(result) = init.results().next()? else {
        return None;
    };
    let Type::Record(manifest) = result.ok()? else {
        return None;
    };
    Some(manifest.fields().map(|f| f.name.to_string()).collect())
}

impl ModPre {
    /// Picks the bindings whose hooks match the mod's exports, by the
    /// manifest its `init` returns: the current ones, or, for 0.1.0, those
    /// of its first shape. A manifest of neither shape is refused here,
    /// naming its fields, rather than when the mod is started.
    pub(crate) fn new(
        engine: &wasmtime::Engine,
        pre: InstancePre<HostState>,
        contract: &'static str,
    ) -> Result<Self, String> {
        let fields = manifest_fields(engine, pre.component()).unwrap_or_default();
        let kind = if fields == MANIFEST && namespaced(contract) {
            PreKind::Current(bindings::GameModPre::new(pre).map_err(|e| first_line(&e))?)
        } else if fields == MANIFEST {
            PreKind::V0_1(super::v0_1::GameModPre::new(pre).map_err(|e| first_line(&e))?)
        } else if contract == "0.1.0" && fields == FIRST_MANIFEST {
            PreKind::First(first::GameModPre::new(pre).map_err(|e| first_line(&e))?)
        } else {
            let expected = if contract == "0.1.0" {
                format!("{FIRST_MANIFEST:?} or {MANIFEST:?}")
            } else {
                format!("{MANIFEST:?}")
            };
            return Err(crate::text::escape(&format!(
                "its hooks do not match {PACKAGE}@{contract}: its `init` returns a manifest of \
                 the fields {fields:?}, where that version's has {expected}"
            ))
            .into_owned());
        };
        Ok(Self {
            contract,
            package: None,
            assets: Arc::default(),
            digest: [0; 32],
            kind,
        })
    }

    /// Instantiates the mod in `store` (running its start functions).
    pub(crate) fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Hooks> {
        Ok(match &self.kind {
            PreKind::Current(pre) => Hooks::Current(pre.instantiate(store)?),
            PreKind::V0_1(pre) => Hooks::V0_1(pre.instantiate(store)?),
            PreKind::First(pre) => Hooks::First(pre.instantiate(store)?),
        })
    }
}

/// A live instance's hooks, in the current contract's types.
pub(crate) enum Hooks {
    Current(bindings::GameMod),
    V0_1(super::v0_1::GameMod),
    First(first::GameMod),
}

/// What a hook returns: a trap or timeout outside, the mod's error inside.
type Returned<T> = wasmtime::Result<Result<T, types::ModError>>;

impl Hooks {
    pub(crate) fn init(
        &self,
        store: &mut Store<HostState>,
        config: &[u8],
    ) -> Returned<types::Manifest> {
        match self {
            Hooks::Current(b) => b.bevy_wasm_mods_hooks().call_init(store, config),
            Hooks::V0_1(b) => b.bevy_wasm_mods_hooks().call_init(store, config),
            Hooks::First(b) => Ok(b
                .bevy_wasm_mods_hooks()
                .call_init(store, config)?
                .map(|m| types::Manifest {
                    name: m.name,
                    version: m.version,
                    subscribes: m.subscribes,
                    queries: m
                        .queries
                        .into_iter()
                        .map(|q| types::QuerySpec {
                            components: q.components,
                        })
                        .collect(),
                    defines: m.defines,
                    emits: Vec::new(),
                    shares: Vec::new(),
                })
                .map_err(error)),
        }
    }

    pub(crate) fn on_tick(&self, store: &mut Store<HostState>, tick: types::Tick) -> Returned<()> {
        match self {
            Hooks::Current(b) => b.bevy_wasm_mods_hooks().call_on_tick(store, tick),
            Hooks::V0_1(b) => b.bevy_wasm_mods_hooks().call_on_tick(store, tick),
            Hooks::First(b) => {
                let tick = first_types::Tick {
                    frame: tick.frame,
                    delta_seconds: tick.delta_seconds,
                };
                Ok(b.bevy_wasm_mods_hooks()
                    .call_on_tick(store, tick)?
                    .map_err(error))
            }
        }
    }

    pub(crate) fn on_event(
        &self,
        store: &mut Store<HostState>,
        events: &[types::Event],
    ) -> Returned<()> {
        match self {
            Hooks::Current(b) => b.bevy_wasm_mods_hooks().call_on_event(store, events),
            Hooks::V0_1(b) => b.bevy_wasm_mods_hooks().call_on_event(store, events),
            Hooks::First(b) => {
                let events: Vec<first_types::Event> = events
                    .iter()
                    .map(|e| first_types::Event {
                        name: e.name.clone(),
                        source: e.source.clone(),
                        payload: e.payload.clone(),
                    })
                    .collect();
                Ok(b.bevy_wasm_mods_hooks()
                    .call_on_event(store, &events)?
                    .map_err(error))
            }
        }
    }

    pub(crate) fn save(&self, store: &mut Store<HostState>) -> Returned<Vec<u8>> {
        match self {
            Hooks::Current(b) => b.bevy_wasm_mods_hooks().call_save(store),
            Hooks::V0_1(b) => b.bevy_wasm_mods_hooks().call_save(store),
            Hooks::First(b) => Ok(b.bevy_wasm_mods_hooks().call_save(store)?.map_err(error)),
        }
    }

    pub(crate) fn restore(&self, store: &mut Store<HostState>, state: &[u8]) -> Returned<()> {
        match self {
            Hooks::Current(b) => b.bevy_wasm_mods_hooks().call_restore(store, state),
            Hooks::V0_1(b) => b.bevy_wasm_mods_hooks().call_restore(store, state),
            Hooks::First(b) => Ok(b
                .bevy_wasm_mods_hooks()
                .call_restore(store, state)?
                .map_err(error)),
        }
    }
}

fn first_line(e: &wasmtime::Error) -> String {
    let text = format!("{e:#}");
    crate::text::escape(text.lines().next().unwrap_or("")).into_owned()
}

/// A first-shape 0.1.0 error as the current contract's (the same cases).
fn error(e: first_types::ModError) -> types::ModError {
    use first_types::ModError as Old;
    use types::ModError as New;
    match e {
        Old::UnknownComponent(s) => New::UnknownComponent(s),
        Old::ReadOnly(s) => New::ReadOnly(s),
        Old::NotQueried(s) => New::NotQueried(s),
        Old::NoSuchEntity(e) => New::NoSuchEntity(e),
        Old::NotOwner(e) => New::NotOwner(e),
        Old::InvalidValue(s) => New::InvalidValue(s),
        Old::LimitExceeded(s) => New::LimitExceeded(s),
        Old::Denied(s) => New::Denied(s),
        Old::Failed(s) => New::Failed(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_versions_are_found_by_version_alone() {
        assert_eq!(served("0.1.0"), Some("0.1.0"));
        assert_eq!(served("0.1.1"), Some("0.1.1"));
        assert_eq!(served("0.2.0"), Some("0.2.0"));
        // Build metadata names the same version.
        assert_eq!(served("0.1.0+claims"), Some("0.1.0"));
        for refused in [
            "0.1.2",
            "0.2.1",
            "0.3.0",
            "1.0.0",
            "0.0.1",
            "0.1.1-rc.1",
            "",
            "x",
            "0.1",
        ] {
            assert_eq!(served(refused), None, "{refused}");
        }
    }

    #[test]
    fn a_refusal_names_both_versions_and_what_to_do() {
        let newer = unserved("0.9.0");
        assert!(
            newer.starts_with("built for bevy-wasm:mods@0.9.0, a contract version this game does not serve (it serves 0.1.0, 0.1.1, 0.2.0)")
                && newer.contains("update the game"),
            "{newer}"
        );
        assert!(unserved("0.0.3").contains("rebuild the mod"));
        assert!(unserved("").contains("without a contract version"));
        let garbled = unserved("\u{1b}[2Jnope");
        assert!(
            !garbled.contains('\u{1b}') && garbled.contains("not semantic versioning"),
            "{garbled}"
        );
    }

    #[test]
    fn the_newest_served_version_is_the_current_one() {
        assert_eq!(SERVED.last(), Some(&CURRENT));
        let mut sorted: Vec<_> = SERVED
            .iter()
            .map(|s| semver::Version::parse(s).unwrap())
            .collect();
        sorted.sort();
        let sorted: Vec<String> = sorted.iter().map(ToString::to_string).collect();
        assert_eq!(sorted, SERVED, "oldest first");
    }
}
