//! The contract is released, never edited: `wit/` is the current version,
//! `wit/versions/` keeps every version released as it was, and the game
//! serves each of them. A change to `wit/` that is not a new version fails
//! here, before any mod built against the old text meets it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bevy_wasm_mods::{SERVED_CONTRACTS, WIT_PACKAGE, WIT_VERSION};

fn wit() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit")
}

/// A folder's `.wit` files without their comments and blank lines: what a
/// built mod depends on (documentation may be improved in place).
fn shape(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "wit") {
            let text = std::fs::read_to_string(&path).unwrap();
            let code: Vec<&str> = text
                .lines()
                .map(|l| l.split("//").next().unwrap().trim_end())
                .filter(|l| !l.trim().is_empty())
                .collect();
            files.insert(
                path.file_name().unwrap().to_string_lossy().into_owned(),
                code.join("\n"),
            );
        }
    }
    assert!(!files.is_empty(), "no .wit files in {}", dir.display());
    files
}

/// The version a folder's package line declares.
fn declared(dir: &Path) -> String {
    let world = std::fs::read_to_string(dir.join("world.wit")).unwrap();
    let line = world
        .lines()
        .find(|l| l.starts_with("package "))
        .expect("a package line");
    let name = line
        .trim_start_matches("package ")
        .trim_end_matches(';')
        .to_string();
    let (package, version) = name.split_once('@').expect("a versioned package");
    assert_eq!(package, WIT_PACKAGE);
    version.to_string()
}

/// The released versions kept, by folder name.
fn released() -> Vec<(String, PathBuf)> {
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(wit().join("versions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    found.sort();
    found
}

#[test]
fn the_current_contract_is_its_released_text() {
    let current = wit().join("versions").join(WIT_VERSION);
    assert_eq!(
        declared(&wit()),
        WIT_VERSION,
        "wit/ declares the current version"
    );
    assert_eq!(
        shape(&wit()),
        shape(&current),
        "wit/ differs from the released {WIT_VERSION} in wit/versions/{WIT_VERSION}: \
         a change to the contract is a new version (docs/modding.md says which number to \
         bump); keep the released one as it is and serve it"
    );
}

#[test]
fn every_released_version_is_kept_and_served() {
    let released = released();
    for (folder, dir) in &released {
        let version = declared(dir);
        // A folder is named by its version, with `+...` telling apart two
        // shapes released under the same number.
        assert_eq!(
            folder.split('+').next().unwrap(),
            version,
            "wit/versions/{folder} declares {version}"
        );
        assert!(
            SERVED_CONTRACTS.contains(&version.as_str()),
            "{version} was released and is no longer served"
        );
    }
    for served in SERVED_CONTRACTS {
        assert!(
            released.iter().any(|(folder, _)| folder == served),
            "{served} is served but its WIT is not kept in wit/versions/{served}"
        );
    }
}

#[test]
fn each_release_builds_a_fixture_that_the_tests_run() {
    // tests/contracts.rs runs one fixture mod per released folder, built
    // by a feature of tests/mods/contract named after the folder.
    let manifest =
        std::fs::read_to_string(wit().join("../tests/mods/contract/Cargo.toml")).unwrap();
    for (folder, _) in released() {
        let feature = format!("v{}", folder.replace(['.', '+'], "-"));
        assert!(
            manifest.contains(&format!("\n{feature} = []")),
            "tests/mods/contract has no feature {feature} for wit/versions/{folder}"
        );
    }
}
