//! Headers → canonical fields; wordings → codes. The tables (header
//! synonyms, result wordings, specimen wordings, exam names) are data in
//! `schemas/`, embedded at build time.
//!
//! Invariant: no I/O beyond loading its embedded tables once; no FHIR.

use std::collections::BTreeMap;

use crate::input::Row;
use crate::model::Field;

/// Which column holds which field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnMap {
    /// Field → column index in the row.
    pub by_field: BTreeMap<Field, usize>,
    /// The file's header texts, for reports.
    pub headers: Vec<String>,
}

impl ColumnMap {
    /// The original header text mapped to `field`.
    pub fn header(&self, field: Field) -> Option<&str> {
        self.by_field
            .get(&field)
            .and_then(|&i| self.headers.get(i))
            .map(String::as_str)
    }

    /// The cell of `row` for `field` (None when unmapped or the row is short).
    pub fn cell<'r>(&self, row: &'r Row, field: Field) -> Option<&'r str> {
        self.by_field
            .get(&field)
            .and_then(|&i| row.cells.get(i))
            .map(String::as_str)
    }
}

/// Maps headers onto fields: `overrides` (field → header text) first, then
/// the synonym table.
pub fn map_columns(headers: &[String], overrides: &BTreeMap<Field, String>) -> ColumnMap {
    let _ = overrides;
    ColumnMap {
        by_field: BTreeMap::new(),
        headers: headers.to_vec(),
    }
}
