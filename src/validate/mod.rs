//! A mapped row → a valid `LabResult` or the list of its issues.
//!
//! Invariant: pure. No I/O, no clock (the current time comes in through
//! `Settings::now`), no FHIR, no HTTP.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::config::Defaults;
use crate::input::Row;
use crate::mapping::ColumnMap;
use crate::model::{LabResult, Party, RowIssue};

/// Everything validation needs besides the row.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The lab's CNES (7 digits), used when the file has no CNES column.
    pub lab_cnes: String,
    /// `Composition.author`.
    pub author: Party,
    pub timezone: chrono_tz::Tz,
    pub defaults: Defaults,
    /// Local exam code → LOINC/GAL code (per inbox).
    pub exam_codes: BTreeMap<String, String>,
    /// "Now", for the not-in-the-future rule.
    pub now: DateTime<Utc>,
}

/// Problems of the file as a whole (a required column that is missing and
/// has no default), reported once on the header line.
pub fn file_issues(map: &ColumnMap, settings: &Settings, header_line: u64) -> Vec<RowIssue> {
    let _ = (map, settings, header_line);
    Vec::new()
}

/// Validates one row.
pub fn validate_row(
    row: &Row,
    map: &ColumnMap,
    settings: &Settings,
) -> Result<LabResult, Vec<RowIssue>> {
    let _ = (row, map, settings);
    Err(Vec::new())
}
