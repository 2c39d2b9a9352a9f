//! `<stem>.resumo.json`: what was detected in a file, how many rows were
//! valid, its issues (counted by code, the first of each code listed), and
//! (after sending) what happened to the valid rows.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::input::{Format, SourceInfo};
use crate::model::{Field, RowIssue};

use super::atomic::write_atomic;

/// The summary file. Field names are a promise to whoever reads the file:
/// do not rename them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// File name as dropped.
    pub file: String,
    /// Hex SHA-256 of the file's bytes.
    pub sha256: String,
    /// `"csv"` or `"xlsx"`; null when the format could not be recognized.
    pub format: Option<Format>,
    /// Encoding a CSV was decoded with; null for XLSX.
    pub encoding: Option<String>,
    /// One-character string (`";"`, `","`, `"\t"`), null for XLSX.
    pub delimiter: Option<char>,
    /// Sheet read, for XLSX.
    pub sheet: Option<String>,
    /// Line (or sheet row) of the header.
    pub header_line: Option<u64>,
    /// Canonical field → the file's header text that was mapped onto it.
    pub columns: BTreeMap<Field, String>,
    /// Data rows read.
    pub rows_total: u64,
    /// Rows that became bundles.
    pub rows_valid: u64,
    /// Rows with at least one problem.
    pub rows_invalid: u64,
    /// Rows that are not results to send (other exams, pending statuses,
    /// untested targets, analyte rows merged into a result): never errors.
    pub rows_skipped: u64,
    /// Why rows were skipped, counted per reason and value.
    pub skipped: Vec<SkippedRows>,
    /// Row problems in file order: every one, or when a file has more than
    /// 50 of one code, the first 50 of that code (then `issues_left_out`
    /// and `issue_counts` say how many there were).
    pub issues: Vec<RowIssue>,
    /// Problems counted but not listed in `issues` (absent when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub issues_left_out: u64,
    /// Code → how many problems of that code, listed or not (present only
    /// when some were left out of `issues`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub issue_counts: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Rows RNDS stored (the service and `send` only).
    pub rows_sent: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Rows sent as replacements of an earlier result.
    pub rows_replaced: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Rows the ledger shows as already sent: not sent again. Also rows a
    /// file admitted later brought another version of (that version
    /// prevails; `enviados.csv` names the file).
    pub rows_already_sent: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Rows RNDS refused.
    pub rows_rejected: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Rows still waiting to be sent (kept for a later pass).
    pub rows_pending: Option<u64>,
    /// pt-BR text when the file could not be read at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the service took the file from its inbox (RFC 3339, the lab's
    /// time zone): the instant in the report's name (the service only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received_at: Option<String>,
    /// The inbox folder the file was dropped in (the service only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inbox: Option<String>,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(count: &u64) -> bool {
    *count == 0
}

/// Rows skipped for one reason and value (`resumo.json` `skipped`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedRows {
    /// Stable name of the reason, e.g. `status_nao_liberado`.
    pub code: String,
    /// The column whose value decided it ("" when none).
    pub column: String,
    /// The value of that column.
    pub value: String,
    /// pt-BR sentence.
    pub reason: String,
    /// Rows skipped for this reason and value.
    pub rows: u64,
    /// The first line skipped for this reason and value.
    pub first_line: u64,
}

impl Summary {
    /// A summary of a file that was opened: counts and issues start empty.
    pub(crate) fn for_source(info: &SourceInfo, sha256: impl Into<String>) -> Summary {
        Summary {
            file: info.file.clone(),
            sha256: sha256.into(),
            format: Some(info.format),
            encoding: info.encoding.clone(),
            delimiter: info.delimiter,
            sheet: info.sheet.clone(),
            header_line: Some(info.header_line),
            ..Summary::empty(String::new(), String::new())
        }
    }

    /// A summary of a file that could not be read at all; `error` is the
    /// pt-BR explanation shown to the lab.
    pub(crate) fn unreadable(
        file: impl Into<String>,
        sha256: impl Into<String>,
        format: Option<Format>,
        error: impl Into<String>,
    ) -> Summary {
        Summary {
            format,
            error: Some(error.into()),
            ..Summary::empty(file.into(), sha256.into())
        }
    }

    fn empty(file: String, sha256: String) -> Summary {
        Summary {
            file,
            sha256,
            format: None,
            encoding: None,
            delimiter: None,
            sheet: None,
            header_line: None,
            columns: BTreeMap::new(),
            rows_total: 0,
            rows_valid: 0,
            rows_invalid: 0,
            rows_skipped: 0,
            skipped: Vec::new(),
            issues: Vec::new(),
            issues_left_out: 0,
            issue_counts: BTreeMap::new(),
            rows_sent: None,
            rows_replaced: None,
            rows_already_sent: None,
            rows_rejected: None,
            rows_pending: None,
            error: None,
            received_at: None,
            inbox: None,
        }
    }

    /// The issues of the file as a whole (why no row can be sent): those on
    /// the header line, which no data row shares. They come first.
    pub fn file_issues(&self) -> impl Iterator<Item = &RowIssue> {
        self.issues
            .iter()
            .take_while(move |i| Some(i.line) == self.header_line)
    }

    /// Pretty-printed JSON (people open this file), ending in a newline.
    pub(crate) fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        let mut out = serde_json::to_vec_pretty(self)?;
        out.push(b'\n');
        Ok(out)
    }

    /// Writes the summary atomically to `path`; returns where it went (see
    /// [`super::AtomicFile::commit`]).
    pub(crate) fn write(&self, path: &Path) -> io::Result<PathBuf> {
        write_atomic(path, &self.to_json()?)
    }
}
