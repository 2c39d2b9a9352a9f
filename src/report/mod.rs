//! The outbox files written for each input `<stem>`: `resumo.json`,
//! `erros.csv` (or `erros.xlsx` for XLSX input) and `enviados.csv`, each
//! written to a temporary file and renamed into place, so a reader never
//! sees half a report.
//!
//! Invariant: knows how to lay out and write the report files, not how the
//! rows were read, validated or sent.

mod atomic;
mod csv_files;
mod issues;
mod summary;
mod xlsx_file;

#[cfg(test)]
mod atomic_tests;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use atomic::{
    create_private_dir, create_private_dir_all, is_temp_leftover, sync_dir, write_atomic,
    AtomicFile,
};
pub use csv_files::{
    file_note, issue_cells, neutralise_formula, restore_formula, ErrorsCsv, SentCsv, SentStatus,
    ERROR_COLUMNS, FILE_NOTE_COLUMN, ISSUE_SEPARATOR, SENT_COLUMNS,
};
pub use issues::{IssueLog, ISSUES_KEPT_IN_MEMORY};
pub use summary::{SkippedRows, Summary};
pub use xlsx_file::{ErrorsXlsx, DEFAULT_SHEET};

/// Where the reports of input `<stem>` go in `outbox`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportPaths {
    pub summary: PathBuf,
    pub errors_csv: PathBuf,
    pub errors_xlsx: PathBuf,
    pub sent_csv: PathBuf,
}

impl ReportPaths {
    pub fn new(outbox: &Path, stem: &str) -> ReportPaths {
        ReportPaths {
            summary: outbox.join(format!("{stem}.resumo.json")),
            errors_csv: outbox.join(format!("{stem}.erros.csv")),
            errors_xlsx: outbox.join(format!("{stem}.erros.xlsx")),
            sent_csv: outbox.join(format!("{stem}.enviados.csv")),
        }
    }
}
