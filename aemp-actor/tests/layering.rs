//! The kernel's layering, checked from its sources: no module imports another that imports it
//! back, neither between the top-level modules (`port`, `link`, `global`, `node`, ...) nor
//! between files. `docs/architecture.md` draws the layers this keeps.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

/// Every source file of the crate, as its module path (`lib.rs` is `[]`).
fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(src).unwrap().with_extension("");
                let mut m: Module = rel
                    .iter()
                    .map(|c| c.to_string_lossy().into_owned())
                    .collect();
                if m.last().is_some_and(|l| l == "mod") || m == ["lib"] {
                    m.pop();
                }
                out.insert(m, path);
            }
        }
    }
    out
}

/// The paths a file names (`crate::a::b`, `super::c`, and the items of `use x::{...}`),
/// outside its test module.
fn paths(text: &str) -> Vec<String> {
    let text = text.split("#[cfg(test)]").next().unwrap_or(text);
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        let start = ["crate::", "super::", "self::"]
            .iter()
            .find(|p| rest.starts_with(p.as_bytes()))
            .filter(|_| i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'));
        let Some(_) = start else {
            i += 1;
            continue;
        };
        let mut j = i;
        while j < bytes.len()
            && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_' || bytes[j] == b':')
        {
            j += 1;
        }
        let base = text[i..j].trim_end_matches(':').to_owned();
        if j < bytes.len() && bytes[j] == b'{' {
            let end = bytes[j..]
                .iter()
                .position(|&b| b == b'}')
                .map_or(bytes.len(), |e| j + e);
            for item in text[j + 1..end].split(',') {
                let item = item.split_whitespace().next().unwrap_or("");
                if !item.is_empty() && item != "self" {
                    out.push(format!("{base}::{item}"));
                }
            }
            i = end;
        } else {
            i = j;
        }
        out.push(base);
    }
    out
}

/// The module a path names from module `cur`: the longest prefix that is a module.
fn resolve(cur: &Module, path: &str, mods: &BTreeMap<Module, PathBuf>) -> Option<Module> {
    let mut parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
    let mut base: Module = match parts.first() {
        Some(&"crate") => Vec::new(),
        Some(&"self") => cur.clone(),
        Some(&"super") => cur.clone(),
        _ => return None,
    };
    if parts[0] == "crate" || parts[0] == "self" {
        parts.remove(0);
    }
    while parts.first() == Some(&"super") {
        base.pop();
        parts.remove(0);
    }
    let mut best = None;
    for n in 0..=parts.len() {
        let mut m = base.clone();
        m.extend(parts[..n].iter().map(|s| s.to_string()));
        if mods.contains_key(&m) {
            best = Some(m);
        }
    }
    best
}

/// The strongly connected groups of more than one node (Tarjan).
fn cycles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct T<'a> {
        g: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<Module, usize>,
        low: BTreeMap<Module, usize>,
        stack: Vec<Module>,
        on: BTreeSet<Module>,
        out: Vec<Vec<Module>>,
    }
    fn visit(t: &mut T, v: &Module) {
        let n = t.index.len();
        t.index.insert(v.clone(), n);
        t.low.insert(v.clone(), n);
        t.stack.push(v.clone());
        t.on.insert(v.clone());
        for w in t.g.get(v).cloned().unwrap_or_default() {
            if !t.index.contains_key(&w) {
                visit(t, &w);
                let lw = t.low[&w];
                let lv = t.low[v];
                t.low.insert(v.clone(), lv.min(lw));
            } else if t.on.contains(&w) {
                let iw = t.index[&w];
                let lv = t.low[v];
                t.low.insert(v.clone(), lv.min(iw));
            }
        }
        if t.low[v] == t.index[v] {
            let mut group = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(&w);
                let done = w == *v;
                group.push(w);
                if done {
                    break;
                }
            }
            if group.len() > 1 {
                t.out.push(group);
            }
        }
    }
    let mut t = T {
        g: graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
}

/// Items the crate root re-exports (`pub use port_id::PortId;`), by name: their module.
fn reexports(lib: &str, mods: &BTreeMap<Module, PathBuf>) -> BTreeMap<String, Module> {
    let mut out = BTreeMap::new();
    for stmt in lib.split(';') {
        let Some(rest) = stmt.trim().strip_prefix("pub use ") else {
            continue;
        };
        let (base, items) = match rest.split_once("::{") {
            Some((base, items)) => (base.to_owned(), items.trim_end_matches('}').to_owned()),
            None => match rest.rsplit_once("::") {
                Some((base, item)) => (base.to_owned(), item.to_owned()),
                None => continue,
            },
        };
        if let Some(m) = resolve(&Vec::new(), &format!("crate::{base}"), mods) {
            for item in items.split(',') {
                let item = item.split_whitespace().last().unwrap_or("");
                if !item.is_empty() {
                    out.insert(item.to_owned(), m.clone());
                }
            }
        }
    }
    out
}

fn graph(top_level: bool) -> BTreeMap<Module, BTreeSet<Module>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mods = modules(&src);
    let root = reexports(&std::fs::read_to_string(src.join("lib.rs")).unwrap(), &mods);
    let mut g: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (cur, file) in &mods {
        let text = std::fs::read_to_string(file).unwrap();
        for p in paths(&text) {
            let Some(mut to) = resolve(cur, &p, &mods) else {
                continue;
            };
            if to.is_empty() {
                // `crate::Error` and the like: the module that holds what the root re-exports.
                let item = p.rsplit("::").next().unwrap_or("");
                match root.get(item) {
                    Some(m) => to = m.clone(),
                    None => continue,
                }
            }
            let (a, b) = if top_level {
                (
                    cur.iter().take(1).cloned().collect(),
                    to.iter().take(1).cloned().collect(),
                )
            } else {
                (cur.clone(), to.clone())
            };
            // A parent declaring or re-exporting its children is not an import.
            if a == b || b.starts_with(&a) {
                continue;
            }
            g.entry(a).or_default().insert(b);
        }
    }
    g
}

#[test]
fn no_import_circle_between_the_kernels_modules() {
    let found = cycles(&graph(true));
    assert!(found.is_empty(), "modules importing each other: {found:?}");
}

#[test]
fn no_import_circle_between_the_kernels_files() {
    let found = cycles(&graph(false));
    assert!(found.is_empty(), "files importing each other: {found:?}");
}

#[test]
fn the_checker_sees_a_circle() {
    let mut g = BTreeMap::new();
    let (a, b): (Module, Module) = (vec!["a".into()], vec!["b".into()]);
    g.insert(a.clone(), BTreeSet::from([b.clone()]));
    g.insert(b.clone(), BTreeSet::from([a.clone()]));
    assert_eq!(cycles(&g).len(), 1);
    assert!(paths("use crate::{port::Port, link};").contains(&"crate::link".to_owned()));
}
