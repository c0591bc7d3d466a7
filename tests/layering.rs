//! The architecture as a test: imports in `src/` point down the layers
//! (docs/dev/architecture.md), never up, no modules import each other in a
//! circle, and the domain does no I/O.
//!
//! It reads the source as text, so it also sees paths written in full
//! (`crate::paging::trigger(…)`) and not only `use` lines. Comments are
//! skipped: a doc link to a higher layer is not a dependency.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::path::{Path, PathBuf};

/// Module path prefix → layer, lowest first. The longest matching prefix
/// wins, so `chat::outbound` (the outbox worker) sits below the chat
/// adapters around it.
const LAYERS: &[(&str, u8)] = &[
    ("domain", 1),
    ("clock", 1),
    ("lifecycle", 1),
    ("telemetry", 1),
    ("config", 2),
    ("store", 3),
    ("metrics", 3),
    ("lease", 3),
    ("proxy", 3),
    ("commands", 4),
    ("queue", 5),
    ("webhook", 5),
    ("scheduler", 5),
    ("http", 5),
    ("paging", 5),
    ("automation", 5),
    ("chat::outbound", 5),
    ("chat::in_flight", 5),
    ("chat", 6),
    ("app", 7),
    ("connect", 7),
];

/// What the pure domain may not name: database, runtime, network, files.
const NOT_IN_DOMAIN: &[&str] = &[
    "sqlx::", "tokio::", "hyper", "std::fs", "std::net", "reqwest",
];

fn layer_of(module: &str) -> Option<(&'static str, u8)> {
    LAYERS
        .iter()
        .filter(|(prefix, _)| module == *prefix || module.starts_with(&format!("{prefix}::")))
        .max_by_key(|(prefix, _)| prefix.len())
        .copied()
}

/// `src/chat/slack/mod.rs` → `chat::slack`.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.join("::")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without comments and without its `#[cfg(test)] mod
/// tests` block (tests may reach anywhere).
fn code_lines(text: &str) -> Vec<(usize, &str)> {
    let end = text.find("#[cfg(test)]\nmod tests").unwrap_or(text.len());
    text[..end]
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
        .map(|(n, line)| (n + 1, line))
        .collect()
}

/// Every `crate::a::b` path named on `line`, as `a::b` (or `a`).
fn crate_paths(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        let path: String = after
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).take(2).collect();
        if !segments.is_empty() {
            out.push(segments.join("::"));
        }
        rest = after;
    }
    out
}

/// Every `super::a::b` path named on `line` in module `module`, as a path
/// from the crate root.
fn super_paths(line: &str, module: &str) -> Vec<String> {
    // `a/x.rs` and `a/x/mod.rs` are both module `a::x`; `super` is `a`.
    let mut parent: Vec<&str> = module.split("::").collect();
    parent.pop();
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("super::") {
        let before = &rest[..at];
        let after = &rest[at + "super::".len()..];
        rest = after;
        // `super::super` chains are rare and point further up: skipped.
        if before.ends_with("super::") || after.starts_with("super::") {
            continue;
        }
        // `super::{a, b::c}` names several.
        let names: Vec<String> = match after.strip_prefix('{') {
            Some(group) => group
                .split('}')
                .next()
                .unwrap_or("")
                .split(',')
                .map(|name| name.trim().to_string())
                .collect(),
            None => vec![after.to_string()],
        };
        for name in names {
            let path: String = name
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            if let Some(first) = path.split("::").find(|s| !s.is_empty()) {
                let mut full = parent.clone();
                full.push(first);
                out.push(full.join("::"));
            }
        }
    }
    out
}

/// The longest known module that `path` names (`commands::execute::incident`
/// for `commands::execute::incident::no_such`).
fn known_module(path: &str, modules: &std::collections::BTreeSet<String>) -> Option<String> {
    let mut parts: Vec<&str> = path.split("::").collect();
    while !parts.is_empty() {
        let candidate = parts.join("::");
        if modules.contains(&candidate) {
            return Some(candidate);
        }
        parts.pop();
    }
    None
}

/// A cycle in `edges` (module → modules it names), if there is one.
fn find_cycle(
    edges: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = std::collections::BTreeSet::new();
    for node in edges.keys() {
        if let Some(cycle) = visit(node, edges, &mut Vec::new(), &mut done) {
            return Some(cycle);
        }
    }
    None
}

#[test]
fn no_two_modules_import_each_other_in_a_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: std::collections::BTreeSet<String> =
        files.iter().map(|f| module_of(&src, f)).collect();
    let mut edges = std::collections::BTreeMap::new();
    for file in &files {
        let module = module_of(&src, file);
        if module == "lib" || module == "main" || module.starts_with("bin") {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        let mut named = std::collections::BTreeSet::new();
        for (_, line) in code_lines(&text) {
            let paths = crate_paths(line)
                .into_iter()
                .chain(super_paths(line, &module));
            for path in paths {
                // A module naming its own ancestors (`super::Engine` from a
                // child of `execute`) is how Rust children reach their
                // parent, not a circle between siblings.
                if let Some(target) = known_module(&path, &modules) {
                    if target != module && !module.starts_with(&format!("{target}::")) {
                        named.insert(target);
                    }
                }
            }
        }
        edges.insert(module, named);
    }
    assert_eq!(
        find_cycle(&edges),
        None,
        "modules that import each other in a circle"
    );
}

#[test]
fn imports_point_down_the_layers_and_the_domain_does_no_io() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        // The binaries and the crate root sit above every layer.
        if module == "lib" || module == "main" || module.starts_with("bin") {
            continue;
        }
        let Some((_, from)) = layer_of(&module) else {
            wrong.push(format!(
                "{}: module `{module}` has no layer; add it to LAYERS and docs/dev/architecture.md",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (number, line) in code_lines(&text) {
            for target in crate_paths(line) {
                if let Some((_, to)) = layer_of(&target) {
                    if to > from {
                        wrong.push(format!(
                            "{}:{number}: `{module}` (layer {from}) imports `{target}` (layer {to})",
                            file.display()
                        ));
                    }
                }
            }
            if module.starts_with("domain") {
                for name in NOT_IN_DOMAIN {
                    if line.contains(name) {
                        wrong.push(format!(
                            "{}:{number}: the domain names `{name}`; I/O belongs in store/ or above",
                            file.display()
                        ));
                    }
                }
            }
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

#[test]
fn the_checker_sees_a_circle_between_siblings() {
    let modules: std::collections::BTreeSet<String> = ["a::x", "a::y", "a"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(super_paths("use super::y::f;", "a::x"), ["a::y"]);
    assert_eq!(super_paths("use super::Engine;", "a::x"), ["a::Engine"]);
    assert_eq!(
        super_paths("use super::{y, z::f};", "a::x"),
        ["a::y", "a::z"]
    );
    assert_eq!(known_module("a::y::f", &modules).as_deref(), Some("a::y"));
    let mut edges = std::collections::BTreeMap::new();
    edges.insert(
        "a::x".to_string(),
        ["a::y".to_string()].into_iter().collect(),
    );
    edges.insert(
        "a::y".to_string(),
        ["a::x".to_string()].into_iter().collect(),
    );
    assert!(find_cycle(&edges).is_some());
    edges.insert("a::y".to_string(), std::collections::BTreeSet::new());
    assert_eq!(find_cycle(&edges), None);
}

#[test]
fn the_checker_sees_an_upward_import() {
    assert_eq!(
        crate_paths("use crate::paging::{trigger, follow};"),
        ["paging"]
    );
    assert_eq!(
        crate_paths("crate::chat::outbound::Deliver"),
        ["chat::outbound"]
    );
    assert_eq!(layer_of("chat::outbound"), Some(("chat::outbound", 5)));
    assert_eq!(layer_of("chat::slack::events"), Some(("chat", 6)));
    assert!(layer_of("paging").unwrap().1 > layer_of("commands::execute").unwrap().1);
    assert_eq!(
        code_lines("// crate::app::App\nuse crate::store;"),
        [(2, "use crate::store;")]
    );
}
