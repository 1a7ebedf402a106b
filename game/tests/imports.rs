//! The files of `game/src` import each other one way: a test that reads
//! their `use crate::…`, `use super::…` and inline `crate::…` / `super::…`
//! paths, draws the graph of which file uses which, and looks for cycles.
//!
//! A knot (files that reach each other through their imports) makes every
//! change to one of them a change to all, and it only grows: the test
//! fails on any, naming the files and what each uses of the others.
//!
//! Read as a reader of the code would: a directory module's re-export
//! (`pub(crate) use load::start_mods;` in `systems/mod.rs`) is not a use,
//! and a path through it (`super::start_mods` from a sibling) leads to the
//! file that defines the item. Unit tests (`#[cfg(test)]` to the end of a
//! file) are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One file of the crate: its module path, the modules declared in it
/// and the `use` trees and inline paths it holds.
struct File {
    /// Module path (`crate` for lib.rs, `systems::load`, `systems`).
    module: String,
    /// Whether it is a directory module (`mod.rs`) or the crate root.
    is_dir: bool,
    source: String,
}

fn read_files(root: &Path) -> Vec<File> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(root).unwrap().with_extension("");
            let parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let (module, is_dir) = match parts.as_slice() {
                [only] if only == "lib" => ("crate".to_string(), true),
                [dirs @ .., last] if last == "mod" => (dirs.join("::"), true),
                all => (all.join("::"), false),
            };
            let mut source = std::fs::read_to_string(&path).unwrap();
            if let Some(at) = source.find("#[cfg(test)]") {
                source.truncate(at);
            }
            out.push(File {
                module,
                is_dir,
                source: strip_comments(&source),
            });
        }
    }
    out
}

/// The source without `//` comments (doc comments name paths too).
fn strip_comments(source: &str) -> String {
    source
        .lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths a `use` tree names, braces expanded: `a::{b, c::{d, e}}`
/// gives `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    // One space between words (`e as f`), none around punctuation.
    let words: Vec<&str> = tree.split_whitespace().collect();
    let mut tree = String::new();
    for w in words {
        let glue = tree.ends_with(|c: char| c.is_alphanumeric() || c == '_')
            && w.starts_with(|c: char| c.is_alphanumeric() || c == '_');
        if glue {
            tree.push(' ');
        }
        tree.push_str(w);
    }
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap_or(&tree);
        return vec![path.trim().trim_end_matches("::").to_string()];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap()];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .flat_map(|p| {
            expand(p)
                .into_iter()
                .map(|rest| match rest.as_str() {
                    "self" => prefix.trim_end_matches("::").to_string(),
                    _ => format!("{prefix}{rest}"),
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `use` statements: (whether it is a re-export, the paths it names).
fn uses(source: &str) -> Vec<(bool, Vec<String>)> {
    let mut out = Vec::new();
    let mut rest = source;
    while let Some(at) = find_use(rest) {
        let statement = &rest[at..];
        let end = statement.find(';').unwrap_or(statement.len());
        let head = &statement[..statement.find("use ").unwrap()];
        let tree = &statement[statement.find("use ").unwrap() + 4..end];
        out.push((head.trim_start().starts_with("pub"), expand(tree)));
        rest = &statement[end..];
    }
    out
}

/// Where the next `use` statement (with its visibility) starts.
fn find_use(source: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = source[from..].find("use ") {
        let at = from + i;
        let line_start = source[..at].rfind('\n').map_or(0, |n| n + 1);
        let before = source[line_start..at].trim();
        if before.is_empty() || before == "pub" || before.starts_with("pub(") {
            return Some(
                line_start + source[line_start..].len() - source[line_start..].trim_start().len(),
            );
        }
        from = at + 4;
    }
    None
}

/// The source without its `use` statements.
fn without_uses(source: &str) -> String {
    let mut out = String::new();
    let mut rest = source;
    while let Some(at) = find_use(rest) {
        out.push_str(&rest[..at]);
        let end = rest[at..].find(';').map_or(rest.len(), |e| at + e + 1);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Inline paths starting with `crate::` or `super::` outside `use`.
fn inline_paths(source: &str) -> Vec<String> {
    let source = without_uses(source);
    let source = source.as_str();
    let mut out = Vec::new();
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(i) = source[from..].find(start) {
            let at = from + i;
            let boundary = at == 0
                || !source[..at]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
            let len = source[at..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(source.len() - at);
            if boundary {
                out.push(source[at..at + len].trim_end_matches("::").to_string());
            }
            from = at + len.max(1);
        }
    }
    out
}

struct Crate {
    files: BTreeMap<String, File>,
    /// For each directory module, the items it re-exports: name → the
    /// absolute path it re-exports.
    reexports: BTreeMap<String, BTreeMap<String, String>>,
}

impl Crate {
    fn new(files: Vec<File>) -> Self {
        let files: BTreeMap<String, File> =
            files.into_iter().map(|f| (f.module.clone(), f)).collect();
        let mut reexports = BTreeMap::new();
        for f in files.values().filter(|f| f.is_dir) {
            let mut items = BTreeMap::new();
            for (public, paths) in uses(&f.source) {
                if !public {
                    continue;
                }
                for p in paths {
                    let absolute = absolute(&f.module, true, &p, &files);
                    if let Some(name) = p.rsplit("::").next() {
                        items.insert(name.to_string(), absolute);
                    }
                }
            }
            reexports.insert(f.module.clone(), items);
        }
        Self { files, reexports }
    }

    /// The file a path leads to: the deepest module it names, followed
    /// through a directory module's re-export of the item.
    fn target(&self, path: &str) -> Option<String> {
        let parts: Vec<&str> = path.split("::").collect();
        for n in (1..=parts.len()).rev() {
            let module = parts[..n].join("::");
            if !self.files.contains_key(&module) {
                continue;
            }
            if let (Some(items), Some(item)) = (self.reexports.get(&module), parts.get(n)) {
                if let Some(to) = items.get(*item) {
                    if to != path {
                        return self.target(to);
                    }
                }
            }
            return Some(module);
        }
        None
    }

    /// Which file uses which.
    fn edges(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for f in self.files.values() {
            let mut paths = Vec::new();
            for (public, list) in uses(&f.source) {
                for p in list {
                    let absolute = absolute(&f.module, f.is_dir, &p, &self.files);
                    // A directory module re-exporting its own child's item.
                    let own_child = absolute.starts_with(&format!("{}::", f.module))
                        || (f.module == "crate" && absolute.starts_with("crate::"));
                    if public && f.is_dir && own_child {
                        continue;
                    }
                    paths.push(absolute);
                }
            }
            paths.extend(
                inline_paths(&f.source)
                    .iter()
                    .map(|p| absolute(&f.module, f.is_dir, p, &self.files)),
            );
            let set = edges.entry(f.module.clone()).or_default();
            for p in paths {
                if let Some(to) = self.target(&p) {
                    if to != f.module && to != "crate" {
                        set.insert(to);
                    }
                }
            }
        }
        edges
    }
}

/// `path` as written in module `module`, as a path from the crate root
/// without `crate::` (`systems::load::start_mods`).
fn absolute(module: &str, is_dir: bool, path: &str, files: &BTreeMap<String, File>) -> String {
    let here: Vec<&str> = if module == "crate" {
        Vec::new()
    } else {
        module.split("::").collect()
    };
    let mut parts: Vec<&str> = path.split("::").collect();
    let mut base: Vec<&str> = if parts[0] == "crate" {
        parts.remove(0);
        Vec::new()
    } else if parts[0] == "super" {
        // `super` of a file module is its directory; of a directory
        // module, the directory above.
        let mut base = here.clone();
        base.pop();
        parts.remove(0);
        let _ = is_dir;
        while parts.first() == Some(&"super") {
            base.pop();
            parts.remove(0);
        }
        base
    } else if parts[0] == "self" {
        parts.remove(0);
        here.clone()
    } else {
        // A child module named from its directory module (`load::…` in
        // `systems/mod.rs`), or an outside crate.
        let child = [here.as_slice(), &parts[..1]].concat().join("::");
        if is_dir && files.contains_key(&child) {
            here.clone()
        } else {
            return String::new();
        }
    };
    base.extend(parts);
    base.join("::")
}

/// Sets of files that reach each other (Tarjan's strongly connected
/// components with more than one file), each sorted.
fn knots(edges: &BTreeMap<String, BTreeSet<String>>) -> BTreeSet<Vec<String>> {
    struct Walk<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: BTreeSet<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.edges.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                loop {
                    let w = self.stack.pop().unwrap();
                    self.on_stack.remove(w);
                    component.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.insert(component);
                }
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: BTreeSet::new(),
    };
    for v in edges.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found
}

#[test]
fn the_files_of_the_plugin_import_each_other_one_way() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let krate = Crate::new(read_files(&root));
    let edges = krate.edges();
    let found = knots(&edges);
    let shown: Vec<String> = found
        .iter()
        .map(|knot| {
            let lines: Vec<String> = knot
                .iter()
                .map(|m| {
                    let uses: Vec<&String> = edges[m].iter().filter(|t| knot.contains(t)).collect();
                    format!("  {m} uses {uses:?}")
                })
                .collect();
            lines.join("\n")
        })
        .collect();
    assert!(
        shown.is_empty(),
        "files that import each other in a circle:\n{}",
        shown.join("\n\n")
    );
    // The reader sees the imports: the plugin's files do use each other.
    assert!(edges.values().map(BTreeSet::len).sum::<usize>() > 100);
    assert!(edges["systems::load"].contains("systems::loader"));
}

#[test]
fn the_reader_finds_what_a_file_uses() {
    assert_eq!(
        expand("a::{b, c::{d, e as f}, self}"),
        ["a::b", "a::c::d", "a::c::e", "a"]
    );
    let source = "use std::fmt;\npub(crate) use super::{x::Y, z};\nfn f() { crate::w::v(); }\n";
    assert_eq!(
        uses(source),
        [
            (false, vec!["std::fmt".to_string()]),
            (
                true,
                vec!["super::x::Y".to_string(), "super::z".to_string()]
            )
        ]
    );
    assert_eq!(inline_paths(source), ["crate::w::v"]);
    // The files a knot is found among.
    let edges: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(
        knots(&edges),
        BTreeSet::from([vec!["a".to_string(), "b".into(), "c".into()]])
    );
}
