//! Tidy: ARCHITECTURE.md's invariants as a build check, in the style of
//! rust-analyzer's `tidy` tests. The source text of `src/` is scanned
//! (comments and string literals blanked, `#[cfg(test)]` items and test
//! files left out) for the paths each module must not name, and for
//! files that import each other. Each row of `RULES` quotes the
//! "Invariant:" sentence of ARCHITECTURE.md it enforces; a test keeps the
//! two texts in step.

mod graph;
mod scan;

use std::path::{Path, PathBuf};

use scan::{scan_sources, NamedPath, SourceFile};

/// One ARCHITECTURE.md invariant as imports: files under `modules` name
/// none of `forbidden`.
struct Rule {
    /// The codemap heading, as in ARCHITECTURE.md (`src/validate/`).
    section: &'static str,
    /// Words of that section's "Invariant:" paragraph, verbatim.
    invariant: &'static str,
    /// Files (`model.rs`) or folders (`validate/`) under `src/`.
    modules: &'static [&'static str],
    /// Lists of path prefixes (`std::fs`, `crate::ledger`); a `Type::fn`
    /// entry (`Instant::now`) matches wherever it appears in a path.
    forbidden: &'static [&'static [&'static str]],
}

/// Disk, network, database, watcher and clock: what the pure core may
/// not touch ("now" comes in as an argument).
const IO_AND_CLOCK: &[&str] = &[
    "std::fs",
    "std::net",
    "tokio",
    "reqwest",
    "hyper",
    "hyper_util",
    "rusqlite",
    "notify",
    "Utc::now",
    "Local::now",
    "SystemTime::now",
    "Instant::now",
];

/// The edges' modules, which the pure core does not know.
const EDGES: &[&str] = &[
    "crate::ledger",
    "crate::rnds",
    "crate::service",
    "crate::watch",
    "crate::report",
    "crate::simulator",
    "crate::ops",
];

const BINARY: &[&str] = &[
    "main.rs",
    "cli.rs",
    "inspect_cli.rs",
    "servico.rs",
    "progress.rs",
];

const RULES: &[Rule] = &[
    Rule {
        section: "src/main.rs",
        invariant: "knows no CSV, FHIR, HTTP or SQL.",
        modules: BINARY,
        forbidden: &[&[
            "csv",
            "calamine",
            "rust_xlsxwriter",
            "rnds_drop::fhir",
            "rnds_drop::input",
            "reqwest",
            "hyper",
            "rusqlite",
        ]],
    },
    Rule {
        section: "src/config.rs",
        invariant: "knows nothing of clap, file contents or the network;",
        modules: &["config.rs", "config/"],
        forbidden: &[&[
            "clap",
            "crate::input",
            "csv",
            "calamine",
            "std::net::TcpStream",
            "std::net::TcpListener",
            "std::net::UdpSocket",
            "reqwest",
            "hyper",
            "tokio",
        ]],
    },
    Rule {
        section: "src/io_text.rs",
        invariant: "pure text.",
        modules: &["io_text.rs"],
        forbidden: &[&["std::fs", "std::net", "tokio", "reqwest", "rusqlite", "crate"]],
    },
    Rule {
        section: "src/model.rs",
        invariant: "no file format, no FHIR JSON, no I/O.",
        modules: &["model.rs"],
        forbidden: &[&["csv", "calamine", "serde_json", "crate::fhir", "crate::input"], IO_AND_CLOCK],
    },
    Rule {
        section: "src/input/",
        invariant: "knows no field meaning and no validation rule",
        modules: &["input/"],
        forbidden: &[&[
            "crate::mapping",
            "crate::layout",
            "crate::validate",
            "crate::fhir",
            "crate::pipeline",
        ]],
    },
    Rule {
        section: "src/input/",
        invariant: "reads, never writes;",
        modules: &["input/"],
        forbidden: &[&[
            "std::fs::write",
            "std::fs::OpenOptions",
            "std::fs::rename",
            "std::fs::remove_file",
            "std::fs::create_dir_all",
            "std::net",
            "tokio",
            "reqwest",
            "rusqlite",
            "crate::ledger",
            "crate::rnds",
        ]],
    },
    Rule {
        section: "src/mapping/",
        invariant: "no I/O beyond parsing its embedded tables once.",
        modules: &["mapping/"],
        forbidden: &[IO_AND_CLOCK, EDGES],
    },
    Rule {
        section: "src/layout/",
        invariant: "pure; knows header texts and cells, not validation rules, FHIR or I/O;",
        modules: &["layout/"],
        forbidden: &[&["crate::validate", "crate::fhir"], IO_AND_CLOCK, EDGES],
    },
    Rule {
        section: "src/validate/",
        invariant: "pure; no clock (now is an argument), no FHIR, no I/O.",
        modules: &["validate/"],
        forbidden: &[&["crate::fhir"], IO_AND_CLOCK, EDGES],
    },
    Rule {
        section: "src/fhir/",
        invariant: "pure; knows no file, ledger or transport.",
        modules: &["fhir/"],
        forbidden: &[IO_AND_CLOCK, EDGES],
    },
    Rule {
        section: "src/conformance/",
        invariant: "never sees `fhir::` types: it tests the contract, not our code.",
        modules: &["conformance/"],
        forbidden: &[&["crate::fhir"]],
    },
    Rule {
        section: "src/conformance/",
        invariant: "pure (no I/O, no clock)",
        modules: &["conformance/"],
        forbidden: &[IO_AND_CLOCK],
    },
    Rule {
        section: "src/pipeline.rs",
        invariant: "knows the order of steps, not their details: no I/O of its own, no ledger, transport or watcher.",
        modules: &["pipeline.rs"],
        forbidden: &[IO_AND_CLOCK, &[
            "crate::ledger",
            "crate::rnds",
            "crate::service",
            "crate::watch",
            "crate::simulator",
            "crate::ops",
        ]],
    },
    Rule {
        section: "src/inspect/",
        invariant: "writes nothing, opens no connection,",
        modules: &["inspect/"],
        forbidden: &[&[
            "std::fs::write",
            "std::fs::OpenOptions",
            "std::fs::rename",
            "std::fs::create_dir_all",
            "std::net",
            "tokio",
            "reqwest",
            "hyper",
            "rusqlite",
            "rust_xlsxwriter",
            "crate::ledger",
            "crate::rnds",
            "crate::service",
        ]],
    },
    Rule {
        section: "src/check.rs",
        invariant: "glue between `pipeline` and `report`; no ledger, no network.",
        modules: &["check.rs"],
        forbidden: &[&[
            "crate::ledger",
            "crate::rnds",
            "crate::service",
            "rusqlite",
            "reqwest",
            "hyper",
            "tokio",
            "csv",
            "rust_xlsxwriter",
        ]],
    },
    Rule {
        section: "src/report/",
        invariant: "knows the report layout, not how results were produced.",
        modules: &["report/"],
        forbidden: &[&[
            "crate::pipeline",
            "crate::mapping",
            "crate::layout",
            "crate::validate",
            "crate::fhir",
            "crate::ledger",
            "crate::rnds",
            "crate::service",
            "rusqlite",
            "reqwest",
            "hyper",
        ]],
    },
    Rule {
        section: "src/rnds/",
        invariant: "knows no rows, CSV or SQL.",
        modules: &["rnds/"],
        forbidden: &[&[
            "csv",
            "calamine",
            "rust_xlsxwriter",
            "rusqlite",
            "crate::input",
            "crate::mapping",
            "crate::layout",
            "crate::validate",
            "crate::pipeline",
            "crate::ledger",
            "crate::service",
        ]],
    },
    Rule {
        section: "src/ledger/",
        invariant: "knows ids and hashes, not FHIR content or HTTP;",
        modules: &["ledger/"],
        forbidden: &[&[
            "crate::fhir",
            "crate::rnds",
            "crate::conformance",
            "reqwest",
            "hyper",
            "serde_json",
        ]],
    },
    Rule {
        section: "src/watch/",
        invariant: "knows nothing of file contents beyond \"is there a line break at the end\";",
        modules: &["watch/"],
        forbidden: &[&[
            "crate::input",
            "crate::mapping",
            "crate::layout",
            "crate::validate",
            "crate::pipeline",
            "crate::fhir",
            "crate::ledger",
            "crate::rnds",
            "csv",
            "calamine",
        ]],
    },
    Rule {
        section: "src/service/",
        invariant: "glue only. Knows the order of things",
        modules: &["service/"],
        forbidden: &[&[
            "std::fs",
            "csv",
            "calamine",
            "rust_xlsxwriter",
            "rusqlite",
            "reqwest",
            "hyper",
            "crate::input",
            "crate::mapping",
            "crate::layout",
            "crate::validate",
        ]],
    },
    Rule {
        section: "src/ops/",
        invariant: "observes, never decides: nothing here changes what is sent or writes to the ledger (`ledger::LedgerReader` opens it read-only, without the lock).",
        modules: &["ops/"],
        forbidden: &[&[
            "crate::ledger::Ledger",
            "crate::ledger::guard",
            "crate::service",
            "crate::pipeline",
            "rusqlite",
        ]],
    },
    Rule {
        section: "src/homologation/",
        invariant: "never runs against `producao`; writes no ledger;",
        modules: &["homologation/"],
        forbidden: &[&["crate::ledger", "crate::service", "rusqlite"]],
    },
    Rule {
        section: "src/simulator/",
        invariant: "knows no `fhir::` or `rnds::` types;",
        modules: &["simulator/"],
        forbidden: &[&[
            "crate::fhir",
            "crate::rnds",
            "crate::ledger",
            "crate::service",
            "crate::pipeline",
        ]],
    },
    Rule {
        section: "src/platform.rs",
        invariant: "facts about one OS only, no policy;",
        modules: &["platform.rs"],
        forbidden: &[&["crate"]],
    },
    Rule {
        section: "src/winservice/",
        invariant: "the service's work is `service::run`, unchanged;",
        modules: &["winservice/"],
        forbidden: &[&[
            "crate::pipeline",
            "crate::ledger",
            "crate::rnds",
            "crate::watch",
            "crate::report",
        ]],
    },
];

/// Invariants no import can show, and the test that keeps each.
/// (section, file of `tests/it/`, test function); the test must exist.
const KEPT_ELSEWHERE: &[(&str, &str, &str)] = &[(
    "packaging/",
    "packaging.rs",
    "the_packaged_config_is_the_example_with_absolute_paths",
)];

/// Known violations waiting for other work of issue 11: helper G moves
/// the file operations, the ledger lock, the demo workbook and the bundle
/// rebuilding out of `service/`, and the file digest out of `pipeline`.
/// Each entry is (file, forbidden path prefix as named, why). The lead
/// empties this list after merging that work; an entry that no longer
/// matches anything fails the test, so it cannot outlive its reason.
const PENDING: &[(&str, &str, &str)] = &[
    (
        "pipeline.rs",
        "std::fs",
        "G: the digest comes from input/watch",
    ),
    (
        "service/chunk.rs",
        "crate::input",
        "G: bundle rebuilding leaves service",
    ),
    (
        "service/chunk.rs",
        "crate::mapping",
        "G: bundle rebuilding leaves service",
    ),
    (
        "service/chunk.rs",
        "crate::validate",
        "G: legacy id lookup leaves service",
    ),
    (
        "service/demo.rs",
        "std::fs",
        "G: demo folders and files leave service",
    ),
    (
        "service/demo.rs",
        "rust_xlsxwriter",
        "G: the demo workbook leaves service",
    ),
    (
        "service/ledger_open.rs",
        "std::fs",
        "G: folder facts go to watch",
    ),
    (
        "service/mod.rs",
        "std::fs",
        "G: the ledger lock goes to ledger/",
    ),
    (
        "service/outputs.rs",
        "crate::input",
        "G: report naming goes to report/",
    ),
    (
        "service/publish.rs",
        "std::fs",
        "G: report file moves go to report/",
    ),
    (
        "service/send.rs",
        "std::fs",
        "G: file operations go to watch/report",
    ),
];

/// Known file cycles waiting for the same work (G breaks both).
const PENDING_CYCLES: &[&[&str]] = &[
    &["service/chunk.rs", "service/pass.rs"],
    &["service/outputs.rs", "service/publish.rs"],
];

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
    let _ = (b'"', '"', 'x');
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
