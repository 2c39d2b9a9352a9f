//! A mapped row → a valid `LabResult` or the list of all its issues, each a
//! pt-BR sentence naming the line, the column, the value and the fix.
//!
//! Choices worth knowing:
//! - The patient is identified by CNS only; a CPF is checked and explained,
//!   never sent.
//! - A release (`issued`) given as a date alone becomes 00:00 local time of
//!   that date (FHIR `issued` is an instant). Midnight never lies about the
//!   day and can never be in the future for a past date; the
//!   "collection ≤ release" rule then compares days, not times.
//! - A result wording not in `schemas/vocabulary.toml` is an issue with a
//!   suggestion, never mapped by similarity.
//! - Without an id column, the lab id is a UUIDv5 of (CNES, CNS, exam code,
//!   collection text, specimen code): the same row always gets the same id.
//!
//! Invariant: pure. No I/O, no clock (the current time comes in through
//! `Settings::now`), no FHIR, no HTTP.

mod check;
pub(crate) mod dates;
pub(crate) mod exam_kind;
pub(crate) mod file_kind;
mod header;
pub(crate) mod ids;
mod legacy_id;
mod messages;
mod notes;
pub(crate) mod panel;
mod parties;
mod result;
mod rules;
mod when;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::config::{Config, Defaults, Inbox};
use crate::input::Row;
use crate::mapping::ColumnMap;
use crate::model::{LabResult, Party, RowIssue};

pub(crate) use legacy_id::legacy_lab_id;
#[cfg(test)]
pub(crate) use rules::MAX_LAB_ID_CHARS;

/// `code` of a row issue that only repeats a file-level one: the file has
/// no column for a required field.
pub(crate) const COLUMN_MISSING: &str = "coluna_ausente";

/// Everything validation needs besides the row.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The lab's CNES (7 digits), used when the file has no CNES column.
    pub lab_cnes: String,
    /// `Composition.author`.
    pub author: Party,
    /// Time zone of the lab's local date-times.
    pub timezone: chrono_tz::Tz,
    /// Fallback values for columns the file lacks.
    pub defaults: Defaults,
    /// Local exam code → LOINC/GAL code (per inbox).
    pub exam_codes: BTreeMap<String, String>,
    /// "Now", for the not-in-the-future rule.
    pub now: DateTime<Utc>,
}

impl Settings {
    /// The settings of one inbox: its defaults over the global ones, its
    /// exam-code table, the lab's zone and author (`[lab] author_cnpj` when
    /// set, stripped of punctuation, else the CNES).
    pub(crate) fn from_config(
        config: &Config,
        inbox: Option<&Inbox>,
        now: DateTime<Utc>,
    ) -> Settings {
        let author = match config.lab.author_cnpj.as_deref() {
            Some(id) if !id.trim().is_empty() => {
                Party::CnpjOrCpf(ids::strip_formatting(id).to_ascii_uppercase())
            }
            _ => Party::Cnes(config.lab.cnes.clone()),
        };
        let defaults = match inbox.and_then(|i| i.defaults.as_ref()) {
            Some(own) => own.over(&config.defaults),
            None => config.defaults.clone(),
        };
        Settings {
            lab_cnes: config.lab.cnes.clone(),
            author,
            timezone: config.timezone(),
            defaults,
            exam_codes: inbox.map(|i| i.exam_codes.clone()).unwrap_or_default(),
            now,
        }
    }
}

/// Problems of the file as a whole (a required column that is missing and
/// has no default), reported once on the header line.
pub(crate) fn file_issues(map: &ColumnMap, settings: &Settings, header_line: u64) -> Vec<RowIssue> {
    header::file_issues(map, settings, header_line)
}

/// Validates one row; on failure returns every issue of the row.
pub fn validate_row(
    row: &Row,
    map: &ColumnMap,
    settings: &Settings,
) -> Result<LabResult, Vec<RowIssue>> {
    rules::validate_row(row, map, settings)
}

#[cfg(test)]
mod tests;
