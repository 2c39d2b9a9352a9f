//! Tidy: ARCHITECTURE.md's invariants as a build check, in the style of
//! rust-analyzer's `tidy` tests. The source text of `src/` is scanned
//! (comments and string literals blanked, `#[cfg(test)]` items and test
//! files left out) for the paths each module must not name, and for
//! files that import each other. Each row of `RULES` quotes the
//! "Invariant:" sentence of ARCHITECTURE.md it enforces; a test keeps the
//! two texts in step.

mod graph;
mod rules;
mod scan;

use std::path::{Path, PathBuf};

use rules::{Rule, KEPT_ELSEWHERE, PENDING, PENDING_CYCLES, RULES};
use scan::{scan_sources, NamedPath, SourceFile};

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn matches(forbidden: &str, named: &NamedPath) -> bool {
    let pattern: Vec<&str> = forbidden.split("::").collect();
    let segments: Vec<&str> = named.segments.iter().map(String::as_str).collect();
    let is_type_fn = pattern[0].starts_with(|c: char| c.is_ascii_uppercase());
    if is_type_fn {
        segments
            .windows(pattern.len())
            .any(|w| w == pattern.as_slice())
    } else {
        segments.starts_with(&pattern)
    }
}

fn in_scope(rule: &Rule, file: &SourceFile) -> bool {
    rule.modules.iter().any(|m| {
        if m.ends_with('/') {
            file.path.starts_with(m)
        } else {
            file.path == *m
        }
    })
}

/// Every (file, line, path, rule) that breaks a rule, pending ones aside.
fn violations(files: &[SourceFile]) -> (Vec<String>, Vec<usize>) {
    let mut found = Vec::new();
    let mut pending_used = Vec::new();
    for rule in RULES {
        for file in files.iter().filter(|f| in_scope(rule, f)) {
            for named in &file.paths {
                let Some(forbidden) = rule
                    .forbidden
                    .iter()
                    .flat_map(|list| list.iter())
                    .find(|f| matches(f, named))
                else {
                    continue;
                };
                let text = named.text();
                if let Some(p) = PENDING
                    .iter()
                    .position(|(f, t, _)| *f == file.path && matches(t, named))
                {
                    pending_used.push(p);
                    continue;
                }
                found.push((
                    file.path.clone(),
                    named.line,
                    format!(
                    "src/{}:{}: `{text}` (forbidden: `{forbidden}`) breaks the invariant of `{}` in ARCHITECTURE.md: \"Invariant: … {}\"",
                    file.path, named.line, rule.section, rule.invariant
                ),
                ));
            }
        }
    }
    found.sort();
    found.dedup();
    (
        found.into_iter().map(|(_, _, text)| text).collect(),
        pending_used,
    )
}

/// The scanner sees what a rule needs and nothing a comment, a string or
/// a test says.
#[test]
fn the_scan_sees_uses_groups_and_qualified_paths_but_not_comments_strings_or_tests() {
    let text = r##"
//! Never `std::fs::write` here.
use std::{fs, io::Read};
use super::{rows::Row, self};
pub(crate) use crate::ledger::{Ledger as L, LedgerReader};
/// Calls `tokio::spawn`.
fn f() -> u32 {
    let _ = "std::net::TcpStream::connect";
    let _ = r#"rusqlite::Connection"#;
    let _ = (b'"', '"', 'x', '\'', '\\');
    let _t: &'static str = "";
    let _ = std::time::Instant::now();
    submit::run(1)
}
mod submit;
#[cfg(test)]
mod tests {
    use reqwest::Client;
}
"##;
    let module = vec!["simulator".to_owned(), "handlers".to_owned()];
    let found: Vec<String> = scan::paths_in(text, &module)
        .iter()
        .map(|p| format!("{}:{}", p.line, p.text()))
        .collect();
    let expected = [
        "3:std::fs",
        "3:std::io::Read",
        "4:crate::simulator::rows::Row",
        "4:crate::simulator",
        "5:crate::ledger::Ledger",
        "5:crate::ledger::LedgerReader",
        "12:std::time::Instant::now",
        "13:crate::simulator::handlers::submit::run",
    ];
    assert_eq!(found, expected);
    let instant = scan::paths_in(text, &module)
        .into_iter()
        .find(|p| p.text().ends_with("now"))
        .expect("the clock call");
    assert!(matches("Instant::now", &instant));
    assert!(!matches("std::fs", &instant));
}

#[test]
fn no_module_names_what_its_invariant_forbids() {
    let files = scan_sources(&src_dir());
    assert!(
        files.len() > 50,
        "scanned only {} files of src/",
        files.len()
    );
    let (found, pending_used) = violations(&files);
    let stale: Vec<_> = PENDING
        .iter()
        .enumerate()
        .filter(|(i, _)| !pending_used.contains(i))
        .map(|(_, (file, path, _))| format!("src/{file}: `{path}`"))
        .collect();
    assert!(
        found.is_empty(),
        "{} forbidden path(s):\n{}",
        found.len(),
        found.join("\n")
    );
    assert!(
        stale.is_empty(),
        "PENDING entries that no longer match anything (remove them):\n{}",
        stale.join("\n")
    );
}

#[test]
fn no_file_imports_a_file_that_imports_it_back() {
    let files = scan_sources(&src_dir());
    let edges = graph::file_imports(&files);
    assert!(
        edges.len() > 30,
        "import graph too small: {} files",
        edges.len()
    );
    let cycles = graph::cycles(&edges);
    let unexpected: Vec<_> = cycles
        .iter()
        .filter(|c| !PENDING_CYCLES.iter().any(|p| p.iter().eq(c.iter())))
        .map(|c| c.join(" ↔ "))
        .collect();
    let stale: Vec<_> = PENDING_CYCLES
        .iter()
        .filter(|p| !cycles.iter().any(|c| p.iter().eq(c.iter())))
        .map(|p| p.join(" ↔ "))
        .collect();
    assert!(
        unexpected.is_empty(),
        "files that import each other (directly, or around a cycle through the others listed); move what they share into its own file:\n{}",
        unexpected.join("\n")
    );
    assert!(
        stale.is_empty(),
        "PENDING_CYCLES entries that are gone (remove them):\n{}",
        stale.join("\n")
    );
}

/// The test and ARCHITECTURE.md say the same thing: each rule quotes its
/// section's "Invariant:" paragraph, and every invariant is kept by a rule
/// here or by a named test.
#[test]
fn every_architecture_invariant_is_checked_and_quoted_verbatim() {
    let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md");
    let doc = std::fs::read_to_string(&doc_path).expect("ARCHITECTURE.md");
    let invariants = invariant_paragraphs(&doc);
    assert!(
        invariants.len() > 15,
        "found {} invariants",
        invariants.len()
    );
    let mut problems = Vec::new();
    for rule in RULES {
        match invariants.iter().find(|(s, _)| s.contains(rule.section)) {
            None => problems.push(format!(
                "no section `{}` with an Invariant line",
                rule.section
            )),
            Some((_, text)) if !text.contains(rule.invariant) => problems.push(format!(
                "section `{}`: the Invariant line does not say \"{}\"",
                rule.section, rule.invariant
            )),
            Some(_) => {}
        }
    }
    for (section, _) in &invariants {
        let kept = RULES.iter().any(|r| section.contains(r.section))
            || KEPT_ELSEWHERE.iter().any(|(s, _, _)| section.contains(s));
        if !kept {
            problems.push(format!(
                "section `{section}`: invariant kept by no rule or test"
            ));
        }
    }
    for (_, file, test) in KEPT_ELSEWHERE {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/it")
            .join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if !text.contains(&format!("fn {test}(")) {
            problems.push(format!("tests/it/{file} has no test `{test}`"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// (heading, whitespace-normalised "Invariant:" paragraph) per section.
fn invariant_paragraphs(doc: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut heading = String::new();
    let mut paragraph: Option<String> = None;
    for line in doc.lines() {
        if let Some(h) = line.strip_prefix("### ") {
            heading = h.replace('`', "");
        }
        match &mut paragraph {
            Some(text) if line.trim().is_empty() || line.starts_with('#') => {
                out.push((heading.clone(), std::mem::take(text)));
                paragraph = None;
            }
            Some(text) => {
                text.push(' ');
                text.push_str(line.trim());
            }
            None => {
                if let Some(rest) = line.strip_prefix("Invariant:") {
                    paragraph = Some(rest.trim().to_owned());
                }
            }
        }
    }
    if let Some(text) = paragraph {
        out.push((heading, text));
    }
    out
}
