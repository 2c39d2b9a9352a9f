//! The order of one file's journey through the pure core: read → map →
//! validate → build, in parallel chunks that keep input order. The caller
//! decides what happens to each chunk (write files for `check`, ledger and
//! submission for `send`/`run`).
//!
//! Invariant: knows the order of the steps, not their details: no protocol,
//! no SQL, no report layout.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::fhir::{self, BundleSettings};
use crate::input::{self, InputError, ReadOptions, Row, SourceInfo};
use crate::mapping::{self, ColumnMap};
use crate::model::{Field, LabResult, RowIssue};
use crate::validate::{self, Settings};

/// Rows handed to the caller at a time: big enough to keep both cores busy,
/// small enough to keep memory flat on a million-row file.
pub const CHUNK_ROWS: usize = 4096;

/// Everything needed to process one file, resolved from the configuration.
#[derive(Debug, Clone)]
pub struct FileJob {
    pub read: ReadOptions,
    /// `[inbox.columns]` overrides.
    pub columns: BTreeMap<Field, String>,
    pub validate: Settings,
    pub bundle: BundleSettings,
    /// Build instant text for `Bundle.timestamp` (the caller's clock).
    pub timestamp: String,
    /// Every n-th row's bundle is checked against the profile rules before
    /// it leaves the core (1 = every bundle). The property tests prove the
    /// builder conforms for every valid row; this catches what they miss
    /// without doubling the cost of a million-row `check`.
    pub self_check_every: usize,
}

/// `check` samples one bundle in this many; `send` and `run` check all.
pub const CHECK_SAMPLE_EVERY: usize = 256;

/// One row after the core: a result with its bundle, or its issues.
#[derive(Debug)]
pub enum RowOutcome {
    Valid {
        row: Row,
        result: Box<LabResult>,
        /// The compact JSON bundle (no replacement link).
        bundle: Vec<u8>,
    },
    Invalid {
        row: Row,
        issues: Vec<RowIssue>,
    },
}

/// What the file turned out to be, known once its header is read.
#[derive(Debug, Clone)]
pub struct FileHeader {
    pub info: SourceInfo,
    pub columns: ColumnMap,
    /// Problems of the file as a whole; when not empty every row is invalid.
    pub file_issues: Vec<RowIssue>,
}

/// Totals after the last chunk.
#[derive(Debug, Clone, Default)]
pub struct FileTotals {
    pub sha256: String,
    pub rows_total: u64,
    pub rows_valid: u64,
    pub rows_invalid: u64,
}

impl FileTotals {
    fn count(&mut self, outcomes: &[RowOutcome]) {
        for o in outcomes {
            self.rows_total += 1;
            match o {
                RowOutcome::Valid { .. } => self.rows_valid += 1,
                RowOutcome::Invalid { .. } => self.rows_invalid += 1,
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError<E> {
    /// The file could not be read at all (or stopped being readable midway).
    #[error(transparent)]
    Input(#[from] InputError),
    /// The caller's sink failed (e.g. the output folder is not writable).
    #[error("{0}")]
    Sink(E),
}

/// What the caller does with a file's rows.
pub trait Sink {
    type Error;
    /// Called once, when the header is known, before any chunk.
    fn header(&mut self, header: &FileHeader) -> Result<(), Self::Error>;
    /// Called with each chunk of outcomes, in input order.
    fn chunk(&mut self, outcomes: Vec<RowOutcome>) -> Result<(), Self::Error>;
}

/// Runs one file through the core, feeding `sink`.
pub fn process_file<S: Sink>(
    path: &Path,
    job: &FileJob,
    sink: &mut S,
) -> Result<FileTotals, PipelineError<S::Error>> {
    // The digest reads the file a second time on another thread; the page
    // cache makes that nearly free and it keeps the reader format-agnostic.
    std::thread::scope(|scope| {
        let digest = scope.spawn(|| sha256_prefix(path, job.read.byte_limit));
        let table = input::open(path, &job.read)?;
        let columns = mapping::map_columns(&table.info.headers, &job.columns);
        let file_issues = validate::file_issues(&columns, &job.validate, table.info.header_line);
        let header = FileHeader {
            info: table.info,
            columns,
            file_issues,
        };
        sink.header(&header).map_err(PipelineError::Sink)?;

        // Reading overlaps with validation: one thread splits the text while
        // rayon validates and builds the previous chunk.
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Result<Vec<Row>, InputError>>(2);
        let mut rows = table.rows;
        scope.spawn(move || loop {
            let mut chunk = Vec::with_capacity(CHUNK_ROWS);
            for row in rows.by_ref().take(CHUNK_ROWS) {
                match row {
                    Ok(row) => chunk.push(row),
                    Err(e) => {
                        let _ = sender.send(Err(e));
                        return;
                    }
                }
            }
            if chunk.is_empty() || sender.send(Ok(chunk)).is_err() {
                return;
            }
        });

        // Three stages overlap: the reader thread splits chunk n+1, rayon
        // validates and builds chunk n, and this thread hands chunk n-1 to
        // the sink (writing gigabytes of JSON is not free either).
        let every = job.self_check_every.max(1);
        let mut totals = FileTotals::default();
        let mut ready: Option<Vec<RowOutcome>> = None;
        for chunk in receiver {
            let chunk = chunk?;
            let mut built = Vec::new();
            let mut delivered = Ok(());
            rayon::in_place_scope(|scope| {
                scope.spawn(|_| {
                    built = chunk
                        .into_par_iter()
                        .enumerate()
                        .map(|(i, row)| process_row(row, &header, job, i % every == 0))
                        .collect();
                });
                if let Some(previous) = ready.take() {
                    delivered = sink.chunk(previous);
                }
            });
            delivered.map_err(PipelineError::Sink)?;
            totals.count(&built);
            ready = Some(built);
        }
        if let Some(last) = ready {
            sink.chunk(last).map_err(PipelineError::Sink)?;
        }
        totals.sha256 = joined_digest(digest.join()).map_err(PipelineError::Input)?;
        Ok(totals)
    })
}

/// The digest thread's result; a panic there is an error, never `""`.
fn joined_digest(
    joined: std::thread::Result<std::io::Result<String>>,
) -> Result<String, InputError> {
    match joined {
        Ok(Ok(hex)) => Ok(hex),
        Ok(Err(e)) => Err(InputError::Io(e)),
        Err(_) => Err(InputError::Io(std::io::Error::other(
            "o cálculo do SHA-256 do arquivo falhou (defeito interno)",
        ))),
    }
}

fn process_row(row: Row, header: &FileHeader, job: &FileJob, self_check: bool) -> RowOutcome {
    // validate_row already flags every row of a file with a file-level
    // issue; the guard keeps that promise from being load-bearing.
    let result = match validate::validate_row(&row, &header.columns, &job.validate) {
        Ok(result) if header.file_issues.is_empty() => result,
        Ok(_) => {
            let issues = header
                .file_issues
                .iter()
                .map(|i| RowIssue {
                    line: row.line,
                    ..i.clone()
                })
                .collect();
            return RowOutcome::Invalid { row, issues };
        }
        Err(issues) => return RowOutcome::Invalid { row, issues },
    };
    let built = fhir::to_json_bytes(&result, &job.bundle, &job.timestamp, None);
    if let (true, Ok(bundle)) = (self_check, &built) {
        if let Some(issue) = nonconformity(bundle, row.line) {
            return RowOutcome::Invalid {
                row,
                issues: vec![issue],
            };
        }
    }
    match built {
        Ok(bundle) => RowOutcome::Valid {
            row,
            result: Box::new(result),
            bundle,
        },
        // Validation normalizes every value the builder needs, so this is a
        // defect; the row still goes back to the lab instead of vanishing.
        Err(e) => RowOutcome::Invalid {
            issues: vec![RowIssue {
                line: row.line,
                column: String::new(),
                value: String::new(),
                code: "erro_interno".into(),
                message: format!(
                    "Linha {}: não foi possível montar o documento RNDS ({e}). Avise o suporte do rnds-drop.",
                    row.line
                ),
            }],
            row,
        },
    }
}

/// The builder's self-check: a bundle that breaks the profile rules is a
/// defect of ours, so the row goes back to the lab instead of to RNDS.
fn nonconformity(bundle: &[u8], line: u64) -> Option<RowIssue> {
    let violations = match serde_json::from_slice(bundle) {
        Ok(value) => crate::conformance::check_bundle(&value),
        Err(e) => vec![crate::conformance::Violation {
            location: "Bundle".into(),
            message: e.to_string(),
        }],
    };
    if violations.is_empty() {
        return None;
    }
    let detail: Vec<String> = violations
        .iter()
        .map(|v| format!("{}: {}", v.location, v.message))
        .collect();
    tracing::error!(line, violations = ?detail, "bundle built from a valid row breaks the profile rules");
    Some(RowIssue {
        line,
        column: String::new(),
        value: String::new(),
        code: "perfil_violado".into(),
        message: format!(
            "Linha {line}: o documento montado não segue os perfis da RNDS ({}). A linha não foi enviada; avise o suporte do rnds-drop.",
            detail.join("; ")
        ),
    })
}

/// Hex SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    sha256_prefix(path, None)
}

/// Hex SHA-256 of a file's first `limit` bytes (all of it for `None`):
/// the bytes a pass with that `byte_limit` read.
pub fn sha256_prefix(path: &Path, limit: Option<u64>) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?.take(limit.unwrap_or(u64::MAX));
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

impl FileJob {
    /// Resolves the settings of one inbox (or of `check`/`send` when
    /// `inbox` is None) at the instant `now`.
    pub fn from_config(
        config: &crate::config::Config,
        inbox: Option<&crate::config::Inbox>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> FileJob {
        let tz = config.timezone();
        FileJob {
            read: ReadOptions {
                sheet: inbox.and_then(|i| i.sheet.clone()),
                byte_limit: None,
            },
            columns: inbox.map(|i| i.columns.clone()).unwrap_or_default(),
            validate: Settings::from_config(config, inbox, now),
            bundle: BundleSettings {
                requester_id: config.lab.requester_id.clone(),
                profile: config.rnds.profile,
            },
            timestamp: fhir::instant_text(now.with_timezone(&tz).fixed_offset()),
            self_check_every: CHECK_SAMPLE_EVERY,
        }
    }
}

#[cfg(test)]
mod digest_tests {
    #[test]
    fn a_panicked_digest_thread_is_an_error() {
        let joined = std::thread::spawn(|| -> std::io::Result<String> { panic!("defect") }).join();
        assert!(super::joined_digest(joined).is_err());
    }
}
