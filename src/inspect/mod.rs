//! `rnds-drop inspecionar`: what a lab's export looks like to rnds-drop,
//! before any configuration exists. For each file: how it was read, the
//! layout recognised, which column feeds which field (or which default),
//! what RNDS requires that the file lacks, how many rows would be sent,
//! skipped or refused, suspicious timestamp columns, and a ready-to-paste
//! `[[inbox]]` snippet. No network, no ledger, no file written.
//!
//! Invariant: glue and counting only. The core decides (the same pipeline
//! as `check`); `render` words it.

mod layout;
mod midnight;
mod render;

use std::collections::BTreeMap;
use std::path::Path;

use crate::input::SourceInfo;
use crate::mapping::ColumnMap;
use crate::model::RowIssue;
use crate::pipeline::{self, FileHeader, FileJob, PipelineError, RowOutcome};
use crate::report::SkippedRows;

pub(crate) use layout::{layout_headers, matching_preset, recognise, Layout};
pub(crate) use midnight::{MidnightColumn, TimestampHours};
pub use render::{render, snippet};

/// Issues listed per problem code in the report (the rest are counted).
const EXAMPLES_PER_CODE: usize = 1;

/// Distinct values kept per problem code that names an unknown value (the
/// rows of further values are only counted): enough for a lab to map all
/// its names in one round, bounded on a file of a million different cells.
const VALUES_PER_CODE: usize = 40;

/// One kind of row problem: how many rows have it and one example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProblemCount {
    /// Stable problem code, e.g. `data_invalida`.
    pub code: String,
    /// Rows that have this problem.
    pub rows: u64,
    /// The first rows found with it (at most one).
    pub examples: Vec<RowIssue>,
    /// For a value no table knows (an exam, result, specimen, status or a
    /// layout value map): each distinct value with its rows, most frequent
    /// first (at most [`VALUES_PER_CODE`]).
    pub values: Vec<(String, u64)>,
    /// Rows whose value was past the [`VALUES_PER_CODE`] kept.
    pub rows_of_other_values: u64,
}

impl ProblemCount {
    /// Does this code name an unknown value, worth listing value by value?
    pub(crate) fn lists_values(code: &str) -> bool {
        code.ends_with("_desconhecido")
            || code.ends_with("_desconhecida")
            || code == "valor_nao_mapeado"
    }

    fn count_value(&mut self, value: &str) {
        if let Some(entry) = self.values.iter_mut().find(|(v, _)| v == value) {
            entry.1 += 1;
        } else if self.values.len() < VALUES_PER_CODE {
            self.values.push((value.to_string(), 1));
        } else {
            self.rows_of_other_values += 1;
        }
    }
}

/// Everything `inspecionar` found out about one file.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// File name as given.
    pub file: String,
    /// What was detected while reading; None when the file is unreadable.
    pub source: Option<SourceInfo>,
    /// Which header fed each canonical field.
    pub columns: ColumnMap,
    /// The layout the file was read with; `None` when unreadable.
    pub layout: Option<Layout>,
    /// The preset the file's header matches, and whether the counts used it
    /// (they do without `--config`; with one, the configuration decides).
    pub preset: Option<String>,
    /// Whether the counts used that preset.
    pub preset_applied: bool,
    /// Why no row of the file can be sent (empty when rows are judged one
    /// by one).
    pub file_issues: Vec<RowIssue>,
    /// Data rows read.
    pub rows_total: u64,
    /// Rows that would be sent.
    pub rows_valid: u64,
    /// Rows with at least one problem.
    pub rows_invalid: u64,
    /// Rows that are not results to send (other exams, pending statuses,
    /// untested targets), by reason.
    pub rows_skipped: u64,
    /// Skipped rows, counted per reason and value.
    pub skipped: Vec<SkippedRows>,
    /// Row problems by code, most frequent first.
    pub problems: Vec<ProblemCount>,
    /// Timestamp columns whose values all sit at one UTC hour.
    pub midnight: Vec<MidnightColumn>,
    /// pt-BR reason when the file could not be read.
    pub error: Option<String>,
}

impl Inspection {
    /// Can the file be dropped as it is: readable, no file-level problem,
    /// at least one row, and no row that would be refused?
    pub fn sendable_as_is(&self) -> bool {
        self.error.is_none()
            && self.file_issues.is_empty()
            && self.rows_invalid == 0
            && self.rows_valid > 0
    }
}

/// What `inspecionar` assumes without `--config`: a placeholder lab in
/// São Paulo whose `[defaults]` set what every real configuration sets
/// (category, method, reference range), so rows are judged on what the
/// file itself holds. Nothing built with it ever leaves the machine.
const WITHOUT_CONFIG: &str = r#"
[lab]
cnes = "2337991"
requester_id = "inspecionar"
requester_cns = "980016287385192"
timezone = "America/Sao_Paulo"
uf = "SP"

[defaults]
category = "0202"
method = "(a definir)"
reference_range = "(a definir)"
"#;

/// The job of `inspecionar` without a configuration (see [`WITHOUT_CONFIG`]).
pub fn job_without_config(
    now: chrono::DateTime<chrono::Utc>,
) -> Result<FileJob, crate::config::ConfigError> {
    let path = Path::new("(inspecionar)");
    let config = crate::config::Config::parse_for(
        WITHOUT_CONFIG,
        path,
        Path::new("."),
        crate::config::Purpose::Offline,
    )?;
    Ok(FileJob::from_config(&config, None, now))
}

/// Reads `path` through the same core as `check` with `job`, writing
/// nothing. When the header matches a layout preset and `apply_preset`
/// (no configuration was given), the counts use that preset.
pub fn inspect_file(path: &Path, job: &FileJob, apply_preset: bool) -> Inspection {
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    // The header alone (the rows stay unread) says which preset fits.
    let preset = crate::input::open(path, &job.read)
        .ok()
        .and_then(|t| matching_preset(&t.info.headers));
    let preset_applied = apply_preset && preset.is_some() && job.layout.is_plain();
    let job = match &preset {
        Some((_, spec)) if preset_applied => {
            let mut with_preset = job.clone();
            with_preset.layout = job.layout.over(spec);
            std::borrow::Cow::Owned(with_preset)
        }
        _ => std::borrow::Cow::Borrowed(job),
    };
    let mut sink = InspectSink::default();
    let result = pipeline::process_file(path, &job, &mut sink);
    let problems = sink.problems();
    // Only columns that feed a field matter to RNDS.
    let mapped: Vec<&str> = sink
        .header
        .as_ref()
        .map(|h| {
            h.columns
                .by_field
                .keys()
                .filter_map(|&f| h.columns.header(f))
                .collect()
        })
        .unwrap_or_default();
    let midnight = sink
        .hours
        .as_ref()
        .map(midnight::TimestampHours::flagged)
        .unwrap_or_default()
        .into_iter()
        .filter(|m| mapped.contains(&m.header.as_str()))
        .collect();
    let mut inspection = Inspection {
        file,
        layout: sink.header.as_ref().map(|h| {
            recognise(
                &h.columns,
                &h.file_issues,
                preset.as_ref().map(|(n, s)| (*n, s)),
            )
        }),
        preset: preset.as_ref().map(|(n, _)| n.to_string()),
        preset_applied,
        source: sink.header.as_ref().map(|h| h.info.clone()),
        columns: sink
            .header
            .as_ref()
            .map(|h| h.columns.clone())
            .unwrap_or_default(),
        file_issues: sink
            .header
            .as_ref()
            .map(|h| h.file_issues.clone())
            .unwrap_or_default(),
        rows_total: 0,
        rows_valid: 0,
        rows_invalid: 0,
        rows_skipped: 0,
        skipped: Vec::new(),
        problems,
        midnight,
        error: None,
    };
    match result {
        Ok(totals) => {
            inspection.rows_total = totals.rows_total;
            inspection.rows_valid = totals.rows_valid;
            inspection.rows_invalid = totals.rows_invalid;
            inspection.rows_skipped = totals.rows_skipped;
            inspection.skipped = totals.skipped;
        }
        Err(PipelineError::Input(e)) => inspection.error = Some(e.to_string()),
        Err(PipelineError::Sink(never)) => match never {},
    }
    inspection
}

/// Counts instead of writing.
#[derive(Default)]
struct InspectSink {
    header: Option<FileHeader>,
    lines: crate::check::RowLines,
    by_code: BTreeMap<String, ProblemCount>,
    hours: Option<TimestampHours>,
}

impl InspectSink {
    fn problems(&self) -> Vec<ProblemCount> {
        let mut all: Vec<ProblemCount> = self.by_code.values().cloned().collect();
        all.sort_by(|a, b| b.rows.cmp(&a.rows).then_with(|| a.code.cmp(&b.code)));
        for p in &mut all {
            p.values
                .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        }
        all
    }
}

impl pipeline::Sink for InspectSink {
    type Error = std::convert::Infallible;

    fn header(&mut self, header: &FileHeader) -> Result<(), Self::Error> {
        self.lines = crate::check::RowLines::for_file(&header.file_issues);
        self.hours =
            Some(TimestampHours::new(header.info.headers.len()).with_headers(&header.info.headers));
        self.header = Some(header.clone());
        Ok(())
    }

    fn chunk(&mut self, outcomes: Vec<RowOutcome>) -> Result<(), Self::Error> {
        for outcome in outcomes {
            let (row, issues) = match outcome {
                RowOutcome::Valid { row, .. } => (row, Vec::new()),
                RowOutcome::Invalid { row, issues } => (row, issues),
            };
            if let Some(hours) = self.hours.as_mut() {
                hours.add_row(&row.cells);
            }
            let mut codes_seen: Vec<&str> = Vec::new();
            let kept = self.lines.keep(issues);
            for issue in &kept {
                if codes_seen.contains(&issue.code.as_str()) {
                    continue;
                }
                codes_seen.push(&issue.code);
                let entry =
                    self.by_code
                        .entry(issue.code.clone())
                        .or_insert_with(|| ProblemCount {
                            code: issue.code.clone(),
                            rows: 0,
                            examples: Vec::new(),
                            values: Vec::new(),
                            rows_of_other_values: 0,
                        });
                entry.rows += 1;
                if ProblemCount::lists_values(&issue.code) {
                    entry.count_value(issue.value.trim());
                }
                if entry.examples.len() < EXAMPLES_PER_CODE {
                    entry.examples.push(issue.clone());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
