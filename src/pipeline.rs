//! The order of one file's journey through the pure core: read → map →
//! validate → build, in parallel chunks that keep input order. The caller
//! decides what happens to each chunk (write files for `check`, ledger and
//! submission for `send`/`run`).
//!
//! Invariant: knows the order of the steps, not their details: no protocol,
//! no SQL, no report layout.

use std::path::Path;

use rayon::prelude::*;

use crate::fhir::{self, BundleSettings};
use crate::input::{self, InputError, ReadOptions, Row, SourceInfo};
use crate::layout::{Grouper, LayoutSpec, Mapped, Plan, Skip, Unit};
use crate::mapping::{self, ColumnMap};
use crate::model::{LabResult, RowIssue};
use crate::report::SkippedRows;
use crate::validate::{self, Settings};

/// Rows handed to the caller at a time: big enough to keep both cores busy,
/// small enough to keep memory flat on a million-row file.
pub(crate) const CHUNK_ROWS: usize = 4096;

/// A chunk also ends at this much cell text, so rows near the input's
/// length caps cannot make three chunks in flight cost gigabytes.
pub(crate) const CHUNK_BYTES: usize = 16 << 20;

/// Rows read before a file is judged as a whole: when at least
/// [`GARBAGE_PERCENT`] % of the first this-many results are invalid, the
/// file is not an export of results in the configured layout, and it
/// stops there as one file-level problem instead of a million row ones.
pub(crate) const GARBAGE_CHECK_ROWS: u64 = 1000;

/// See [`GARBAGE_CHECK_ROWS`].
pub(crate) const GARBAGE_PERCENT: u64 = 99;

/// Everything needed to process one file, resolved from the configuration.
#[derive(Debug, Clone)]
pub struct FileJob {
    /// How to read the file (sheet, byte limit).
    pub read: ReadOptions,
    /// The inbox's layout (its preset plus its own keys): column names,
    /// value maps, selection, targets, analytes, composed and date fields.
    pub layout: LayoutSpec,
    /// What validation needs (CNES, author, time zone, defaults).
    pub validate: Settings,
    /// What the bundles need besides the result.
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
pub(crate) const CHECK_SAMPLE_EVERY: usize = 256;

/// One row after the core: a result with its bundle, or its issues.
#[derive(Debug)]
pub(crate) enum RowOutcome {
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
pub(crate) struct FileHeader {
    pub info: SourceInfo,
    /// Field → column, as validation reads it (fields the layout fills
    /// point past the file's own cells, under the header they came from).
    pub columns: ColumnMap,
    /// The layout compiled against this file (shared: headers are cloned).
    pub plan: std::sync::Arc<Plan>,
    /// Problems of the file as a whole; when not empty every row is invalid.
    pub file_issues: Vec<RowIssue>,
}

/// Totals after the last chunk.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileTotals {
    pub sha256: String,
    pub rows_total: u64,
    pub rows_valid: u64,
    pub rows_invalid: u64,
    /// Rows the layout says are not results to send (other exams, pending
    /// statuses, untested targets…), never errors.
    pub rows_skipped: u64,
    /// Skipped rows counted per reason.
    pub skipped: Vec<SkippedRows>,
}

/// Distinct (reason, column, value) entries kept; the rest are counted
/// under their reason code alone, so a million different values cost no
/// memory.
const MAX_SKIP_ENTRIES: usize = 200;

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

    fn skip(&mut self, skip: Skip) {
        self.rows_total += 1;
        self.rows_skipped += 1;
        let same = |e: &&mut SkippedRows| {
            e.code == skip.code && e.column == skip.column && e.value == skip.value
        };
        if let Some(entry) = self.skipped.iter_mut().find(same) {
            entry.rows += 1;
            return;
        }
        if self.skipped.len() >= MAX_SKIP_ENTRIES {
            let other = |e: &&mut SkippedRows| e.code == skip.code && e.value == "…";
            if let Some(entry) = self.skipped.iter_mut().find(other) {
                entry.rows += 1;
                return;
            }
            self.skipped.push(SkippedRows {
                code: skip.code.to_string(),
                column: skip.column.clone(),
                value: "…".into(),
                reason: format!("{} (outros valores)", skip.code),
                rows: 1,
                first_line: skip.line,
            });
            return;
        }
        self.skipped.push(SkippedRows {
            code: skip.code.to_string(),
            reason: skip.reason(),
            column: skip.column,
            value: skip.value,
            rows: 1,
            first_line: skip.line,
        });
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum PipelineError<E> {
    /// The file could not be read at all (or stopped being readable midway).
    #[error(transparent)]
    Input(#[from] InputError),
    /// The caller's sink failed (e.g. the output folder is not writable).
    #[error("{0}")]
    Sink(E),
}

/// What the caller does with a file's rows.
pub(crate) trait Sink {
    type Error;
    /// Called once, when the header is known, before any chunk.
    fn header(&mut self, header: &FileHeader) -> Result<(), Self::Error>;
    /// Called with each chunk of outcomes, in input order.
    fn chunk(&mut self, outcomes: Vec<RowOutcome>) -> Result<(), Self::Error>;
}

/// Runs one file through the core, feeding `sink`.
pub(crate) fn process_file<S: Sink>(
    path: &Path,
    job: &FileJob,
    sink: &mut S,
) -> Result<FileTotals, PipelineError<S::Error>> {
    // `input` reads the file twice, on two threads: the digest of the bytes
    // read and the rows; the page cache makes the second read nearly free
    // and it keeps the reader format-agnostic.
    std::thread::scope(|scope| {
        let digest = scope.spawn(|| input::sha256_prefix(path, job.read.byte_limit));
        let table = input::open(path, &job.read)?;
        let overrides = job.layout.columns_for(&table.info.headers);
        let base = mapping::map_columns(&table.info.headers, &overrides);
        let plan = Plan::new(&job.layout, base);
        let columns = plan.view(0).clone();
        let mut file_issues =
            validate::file_issues(&columns, &job.validate, table.info.header_line);
        file_issues.extend(missing_layout_columns(&plan, table.info.header_line));
        let header = FileHeader {
            info: table.info,
            columns,
            plan: std::sync::Arc::new(plan),
            file_issues,
        };
        sink.header(&header).map_err(PipelineError::Sink)?;

        // Reading overlaps with validation: one thread splits the text (and
        // groups analyte rows) while rayon validates and builds the
        // previous chunk.
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Result<Vec<Unit>, InputError>>(2);
        let rows = table.rows;
        let mut units: Box<dyn Iterator<Item = Result<Unit, InputError>> + Send> =
            match header.plan.group_key() {
                Some((key, max)) => Box::new(Grouper::new(rows, key, max)),
                None => Box::new(rows.map(|r| r.map(Unit::Row))),
            };
        scope.spawn(move || loop {
            // A chunk holds at most CHUNK_ROWS rows (plus one group), so
            // memory stays flat however rows are grouped.
            let mut chunk = Vec::with_capacity(CHUNK_ROWS);
            let (mut rows_in_chunk, mut bytes) = (0, 0);
            while rows_in_chunk < CHUNK_ROWS && bytes < CHUNK_BYTES {
                match units.next() {
                    None => break,
                    Some(Ok(unit)) => {
                        rows_in_chunk += unit.rows();
                        bytes += unit.text_bytes();
                        chunk.push(unit);
                    }
                    Some(Err(e)) => {
                        // The rows read before the failure are handled
                        // first: the caller reports how far the file got.
                        if !chunk.is_empty() && sender.send(Ok(chunk)).is_err() {
                            return;
                        }
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
        // A file whose columns are all missing is already one file-level
        // problem; judged only when the header looked right.
        let mut judge = GarbageJudge::new(header.file_issues.is_empty());
        let mut ready: Option<Vec<RowOutcome>> = None;
        for chunk in receiver {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    if let Some(previous) = ready.take() {
                        sink.chunk(previous).map_err(PipelineError::Sink)?;
                    }
                    return Err(e.into());
                }
            };
            let mut built: Vec<Processed> = Vec::new();
            let mut delivered = Ok(());
            rayon::in_place_scope(|scope| {
                scope.spawn(|_| {
                    built = chunk
                        .into_par_iter()
                        .enumerate()
                        .flat_map_iter(|(i, unit)| process_unit(unit, &header, job, i % every == 0))
                        .collect();
                });
                if let Some(previous) = ready.take() {
                    delivered = sink.chunk(previous);
                }
            });
            delivered.map_err(PipelineError::Sink)?;
            let mut outcomes = Vec::with_capacity(built.len());
            for item in built {
                match item {
                    Processed::Outcome(o) => outcomes.push(o),
                    Processed::Skipped(skip) => totals.skip(skip),
                }
            }
            totals.count(&outcomes);
            if let Some(garbage) = judge.look(&outcomes) {
                return Err(PipelineError::Input(garbage));
            }
            ready = Some(outcomes);
        }
        if let Some(last) = ready {
            sink.chunk(last).map_err(PipelineError::Sink)?;
        }
        totals.sha256 = joined_digest(digest.join()).map_err(PipelineError::Input)?;
        Ok(totals)
    })
}

/// Counts the first [`GARBAGE_CHECK_ROWS`] results of a file, then says
/// whether the file is garbage (once).
struct GarbageJudge {
    /// Still counting.
    open: bool,
    seen: u64,
    invalid: u64,
    /// The first problem met, quoted as an example.
    example: Option<String>,
}

impl GarbageJudge {
    fn new(open: bool) -> GarbageJudge {
        GarbageJudge {
            open,
            seen: 0,
            invalid: 0,
            example: None,
        }
    }

    /// Takes the next results; the file-level problem when the first
    /// [`GARBAGE_CHECK_ROWS`] of them are at least [`GARBAGE_PERCENT`] %
    /// invalid.
    fn look(&mut self, outcomes: &[RowOutcome]) -> Option<InputError> {
        if !self.open {
            return None;
        }
        for outcome in outcomes {
            self.seen += 1;
            match outcome {
                RowOutcome::Invalid { issues, .. } => {
                    self.invalid += 1;
                    if self.example.is_none() {
                        self.example = issues.first().map(|issue| issue.message.clone());
                    }
                }
                RowOutcome::Valid { .. } => {}
            }
            if self.seen == GARBAGE_CHECK_ROWS {
                self.open = false;
                if self.invalid * 100 < self.seen * GARBAGE_PERCENT {
                    return None;
                }
                let last_line = match outcome {
                    RowOutcome::Valid { row, .. } | RowOutcome::Invalid { row, .. } => row.line,
                };
                return Some(InputError::MostlyInvalid {
                    checked: self.seen,
                    invalid: self.invalid,
                    last_line,
                    example: self.example.take().unwrap_or_default(),
                });
            }
        }
        None
    }
}

/// One unit's items: a plain row gives exactly one outcome without any
/// allocation; a layout may give several outcomes and skips.
enum Items {
    One(Option<Processed>),
    Many(std::vec::IntoIter<Processed>),
}

impl Iterator for Items {
    type Item = Processed;
    fn next(&mut self) -> Option<Processed> {
        match self {
            Items::One(item) => item.take(),
            Items::Many(items) => items.next(),
        }
    }
}

enum Processed {
    Outcome(RowOutcome),
    Skipped(Skip),
}

fn process_unit(unit: Unit, header: &FileHeader, job: &FileJob, self_check: bool) -> Items {
    let plan = &header.plan;
    let unit = match unit {
        Unit::Row(row) if plan.is_plain() => {
            let outcome = process_row(row, &header.columns, header, job, self_check);
            return Items::One(Some(Processed::Outcome(outcome)));
        }
        other => other,
    };
    let mut mapped = Vec::new();
    plan.apply(unit, &mut mapped);
    let width = plan.width();
    let items: Vec<Processed> = mapped
        .into_iter()
        .map(|m| match m {
            Mapped::Skipped(skip) => Processed::Skipped(skip),
            Mapped::Invalid { mut row, issues } => {
                row.cells.truncate(width);
                Processed::Outcome(RowOutcome::Invalid { row, issues })
            }
            Mapped::Record { row, issues, view } => {
                let outcome = process_row(row, plan.view(view), header, job, self_check);
                Processed::Outcome(with_layout_issues(outcome, issues, width))
            }
        })
        .collect();
    Items::Many(items.into_iter())
}

/// The layout's own issues (a value no map knows) make the row invalid;
/// validation's issues about the same column are dropped (the layout
/// already said what is wrong there). The slots are cut off the row.
fn with_layout_issues(outcome: RowOutcome, layout: Vec<RowIssue>, width: usize) -> RowOutcome {
    match outcome {
        RowOutcome::Valid { mut row, .. } if !layout.is_empty() => {
            row.cells.truncate(width);
            RowOutcome::Invalid {
                row,
                issues: layout,
            }
        }
        RowOutcome::Valid {
            mut row,
            result,
            bundle,
        } => {
            row.cells.truncate(width);
            RowOutcome::Valid {
                row,
                result,
                bundle,
            }
        }
        RowOutcome::Invalid { mut row, issues } => {
            row.cells.truncate(width);
            let mut all = layout;
            let covered: Vec<String> = all.iter().map(|i| i.column.clone()).collect();
            all.extend(
                issues
                    .into_iter()
                    .filter(|i| i.column.is_empty() || !covered.contains(&i.column)),
            );
            RowOutcome::Invalid { row, issues: all }
        }
    }
}

/// A column the layout names but the file lacks: one issue on the header.
fn missing_layout_columns(plan: &Plan, header_line: u64) -> Vec<RowIssue> {
    plan.missing_columns()
        .iter()
        .map(|name| RowIssue {
            line: header_line,
            column: name.clone(),
            value: String::new(),
            code: "coluna_do_layout_ausente".into(),
            message: format!(
                "Linha {header_line} (cabeçalho): a coluna \"{name}\" indicada no layout da \
                 configuração não existe neste arquivo. Confira o nome da coluna na \
                 configuração ([[inbox]]) ou o layout escolhido."
            ),
        })
        .collect()
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

fn process_row(
    row: Row,
    columns: &ColumnMap,
    header: &FileHeader,
    job: &FileJob,
    self_check: bool,
) -> RowOutcome {
    // validate_row already flags every row of a file with a file-level
    // issue; the guard keeps that promise from being load-bearing.
    let result = match validate::validate_row(&row, columns, &job.validate) {
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
        Ok(value) => crate::conformance::check_lab_result(&value),
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

impl FileJob {
    /// Resolves the settings of one inbox (or of `check`/`send` when
    /// `inbox` is None) at the instant `now`.
    pub fn from_config(
        config: &crate::config::Config,
        inbox: Option<&crate::config::Inbox>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> FileJob {
        let tz = config.timezone();
        // A config that parsed has layouts that resolve; the fallback keeps
        // the inbox's own keys should that promise ever break.
        let layout = inbox
            .map(|i| {
                i.layout_spec().unwrap_or_else(|_| LayoutSpec {
                    columns: i.columns.clone(),
                    exam_codes: i.exam_codes.clone(),
                    ..LayoutSpec::default()
                })
            })
            .unwrap_or_default();
        FileJob {
            read: ReadOptions {
                sheet: inbox.and_then(|i| i.sheet.clone()),
                byte_limit: None,
            },
            layout: layout.clone(),
            validate: Settings {
                exam_codes: layout.exam_codes.clone(),
                ..Settings::from_config(config, inbox, now)
            },
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
