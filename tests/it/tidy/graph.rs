//! The file-level import graph of `src/` and its cycles.

use std::collections::{BTreeMap, BTreeSet};

use super::scan::SourceFile;

/// `from → to` edges between files: a path in `from` that points into
/// `to`. A module root's edges to files inside its own module are left
/// out: the root declares them (`mod x;`) and re-exports from them, which
/// is the module tree, not an import.
pub(super) fn file_imports(files: &[SourceFile]) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        for named in &file.paths {
            if named.segments.first().map(String::as_str) != Some("crate") {
                continue;
            }
            let Some(target) = file_of(files, file.binary, &named.segments[1..]) else {
                continue;
            };
            let inside_own_module = target.module.starts_with(&file.module);
            if target.path != file.path && !inside_own_module {
                edges
                    .entry(file.path.clone())
                    .or_default()
                    .insert(target.path.clone());
            }
        }
    }
    edges
}

/// The file that defines the longest module prefix of `segments`, in the
/// same crate (library or binary) as the file naming it.
fn file_of<'a>(
    files: &'a [SourceFile],
    binary: bool,
    segments: &[String],
) -> Option<&'a SourceFile> {
    (0..=segments.len()).rev().find_map(|n| {
        files
            .iter()
            .find(|f| f.binary == binary && f.module == segments[..n])
    })
}

/// Strongly connected groups of more than one file (Tarjan): every file
/// of a group imports, directly or not, every other one.
pub(super) fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        groups: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            for w in self.edges.get(v).into_iter().flatten() {
                if !self.index.contains_key(w.as_str()) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w.as_str()]);
                    self.low.insert(v, low);
                } else if self.stack.contains(&w.as_str()) {
                    let low = self.low[v].min(self.index[w.as_str()]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let at = self.stack.iter().rposition(|&s| s == v).unwrap_or(0);
                let mut group: Vec<String> = self.stack.drain(at..).map(str::to_owned).collect();
                if group.len() > 1 {
                    group.sort();
                    self.groups.push(group);
                }
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        groups: Vec::new(),
    };
    for v in edges.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.groups.sort();
    walk.groups
}
