//! The table: one row per "Invariant:" line of ARCHITECTURE.md, the
//! paths the files it covers may not name, and the known violations in
//! progress.

/// One ARCHITECTURE.md invariant as imports: files under `modules` name
/// none of `forbidden`.
pub(super) struct Rule {
    /// The codemap heading, as in ARCHITECTURE.md (`src/validate/`).
    pub(super) section: &'static str,
    /// Words of that section's "Invariant:" paragraph, verbatim.
    pub(super) invariant: &'static str,
    /// Files (`model.rs`) or folders (`validate/`) under `src/`.
    pub(super) modules: &'static [&'static str],
    /// Lists of path prefixes (`std::fs`, `crate::ledger`); a `Type::fn`
    /// entry (`Instant::now`) matches wherever it appears in a path.
    pub(super) forbidden: &'static [&'static [&'static str]],
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

pub(super) const RULES: &[Rule] = &[
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
        section: "src/rnds_errors.rs",
        invariant: "data only; knows codes, classes and sentences, not HTTP, rows or bundles.",
        modules: &["rnds_errors.rs"],
        forbidden: &[
            IO_AND_CLOCK,
            EDGES,
            &["crate::fhir", "crate::model", "crate::input", "crate::validate"],
        ],
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
        invariant: "glue only, no `std::fs` outside its tests and no file system probe (`Path::exists`, `is_dir`, `metadata`…): the modules whose job is I/O answer those.",
        modules: &["service/"],
        // The types that flow between the steps (`input::Row`,
        // `mapping::ColumnMap`) and the edge helpers it sequences
        // (`input::sha256_file`, `validate::legacy_lab_id`) are glue's to
        // name; the steps themselves belong to `pipeline`.
        forbidden: &[&[
            "std::fs",
            "csv",
            "calamine",
            "rust_xlsxwriter",
            "rusqlite",
            "reqwest",
            "hyper",
            "crate::input::open",
            "crate::mapping::map_columns",
            "crate::layout",
            "crate::validate::validate_row",
        ],
            &[
                // `Path`'s file system methods, as the scan names method
                // calls (no import shows them).
                ".exists",
                ".try_exists",
                ".is_dir",
                ".is_file",
                ".is_symlink",
                ".metadata",
                ".symlink_metadata",
                ".read_dir",
                ".read_link",
                ".canonicalize",
            ],
        ],
    },
    Rule {
        section: "src/demo.rs",
        invariant: "drives the public pieces; no logic of its own about rows or",
        modules: &["demo.rs"],
        forbidden: &[&[
            "rusqlite",
            "reqwest",
            "hyper",
            "csv",
            "calamine",
            "crate::ledger",
            "crate::rnds",
            "crate::input",
            "crate::mapping",
            "crate::layout",
            "crate::validate",
            "crate::fhir",
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
pub(super) const KEPT_ELSEWHERE: &[(&str, &str, &str)] = &[(
    "packaging/",
    "packaging.rs",
    "the_packaged_config_is_the_example_with_absolute_paths",
)];

/// Known violations being worked on, as (file, forbidden path prefix as
/// named, why). Empty: keep it so. An entry that no longer matches
/// anything fails the test, so it cannot outlive its reason.
pub(super) const PENDING: &[(&str, &str, &str)] = &[];

/// Known file cycles being worked on. Empty: keep it so.
pub(super) const PENDING_CYCLES: &[&[&str]] = &[];
