//! The outbox files written for each input `<stem>`: `resumo.json`,
//! `erros.csv` and `erros.xlsx` (the one staff fix in Excel) and `enviados.csv`, each
//! written to a temporary file and renamed into place, so a reader never
//! sees half a report.
//!
//! Invariant: knows how to lay out and write the report files, not how the
//! rows were read, validated or sent.

mod atomic;
mod csv_files;
mod issues;
mod staging;
mod summary;
pub(crate) mod wording;
mod xlsx_file;

#[cfg(test)]
mod atomic_tests;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

#[cfg(test)]
pub(crate) use atomic::is_temp_leftover;
pub(crate) use atomic::{
    create_private_dir, create_private_dir_all, sync_dir, write_atomic, AtomicFile,
};
#[cfg(test)]
pub(crate) use csv_files::issue_cells;
pub use csv_files::{pt_number, ERROR_COLUMNS, FILE_NOTE_COLUMN};
pub(crate) use csv_files::{restore_formula, ErrorsCsv, SentCsv, SentLookup, SentStatus};
pub(crate) use issues::IssueLog;
#[cfg(test)]
pub(crate) use issues::EXAMPLES_PER_CODE;
pub(crate) use staging::{
    discard_dir, discard_empty_dir, discard_files, ensure_dir, fresh_private_dir, is_staged,
    move_staged_file, remove_leftovers, remove_staged_sets, staged_files,
};
pub use summary::{SkippedRows, Summary};
pub(crate) use xlsx_file::ErrorsXlsx;
#[cfg(test)]
pub(crate) use xlsx_file::DEFAULT_SHEET;

/// Where the reports of input `<stem>` go in `outbox`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportPaths {
    /// `<stem>.resumo.json`.
    pub summary: PathBuf,
    /// `<stem>.erros.csv`.
    pub errors_csv: PathBuf,
    /// `<stem>.erros.xlsx` (every input: the one staff fix in Excel).
    pub errors_xlsx: PathBuf,
    /// `<stem>.enviados.csv` (the service and `send` only).
    pub sent_csv: PathBuf,
}

impl ReportPaths {
    pub(crate) fn new(outbox: &Path, stem: &str) -> ReportPaths {
        ReportPaths {
            summary: outbox.join(format!("{stem}.resumo.json")),
            errors_csv: outbox.join(format!("{stem}.erros.csv")),
            errors_xlsx: outbox.join(format!("{stem}.erros.xlsx")),
            sent_csv: outbox.join(format!("{stem}.enviados.csv")),
        }
    }

    /// A set of these names is already in the outbox (its summary or its
    /// `enviados.csv`): the service picks another name.
    pub(crate) fn taken(&self) -> bool {
        self.summary.exists() || self.sent_csv.exists()
    }
}

/// Some `<stem>.enviados.csv` in `outbox`: a trace that rows were sent
/// from it before (the ledger's guard against starting from nothing).
pub(crate) fn any_sent_report(outbox: &Path) -> Option<PathBuf> {
    std::fs::read_dir(outbox)
        .ok()?
        .filter_map(Result::ok)
        .find(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .ends_with(".enviados.csv")
        })
        .map(|entry| entry.path())
}
