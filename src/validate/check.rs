//! The state of one row's validation: the row, its column map, the
//! settings and the issues found so far, with the helpers that read cells
//! and word issues.
//!
//! Invariant: pure; decides no rule.

use super::messages::{label, place};
use super::Settings;
use crate::input::Row;
use crate::mapping::{self, ColumnMap};
use crate::model::{Field, RowIssue};

pub(super) struct Check<'a> {
    pub row: &'a Row,
    pub map: &'a ColumnMap,
    pub settings: &'a Settings,
    pub issues: Vec<RowIssue>,
}

impl<'a> Check<'a> {
    pub(super) fn column(&self, field: Field) -> &'a str {
        self.map.header(field).unwrap_or("")
    }

    /// The cell of `field` unless it is missing, empty or a null token.
    pub(super) fn value(&self, field: Field) -> Option<&'a str> {
        self.map
            .cell(self.row, field)
            .filter(|v| !mapping::is_null(v))
            .map(mapping::trimmed)
    }

    /// Like [`Check::value`], for optional columns where `-` means nothing.
    pub(super) fn optional(&self, field: Field) -> Option<&'a str> {
        self.map
            .cell(self.row, field)
            .filter(|v| !mapping::is_blank_optional(v))
            .map(mapping::trimmed)
    }

    pub(super) fn raw(&self, field: Field) -> &'a str {
        self.map.cell(self.row, field).unwrap_or("")
    }

    pub(super) fn place(&self, field: Field) -> String {
        place(self.row.line, self.column(field))
    }

    pub(super) fn push(&mut self, field: Option<Field>, code: &str, message: String) {
        let (column, value) = match field {
            Some(f) => (self.column(f).to_string(), self.raw(f).to_string()),
            None => (String::new(), String::new()),
        };
        self.issues.push(RowIssue {
            line: self.row.line,
            column,
            value,
            code: code.to_string(),
            message,
        });
    }

    pub(super) fn required_empty(&mut self, field: Field) {
        if !self.map.has(field) {
            self.column_missing(field);
            return;
        }
        let message = format!(
            "{}: falta {}. Preencha esse campo no sistema do laboratório e exporte de novo.",
            self.place(field),
            label(field)
        );
        self.push(Some(field), "campo_obrigatorio", message);
    }

    /// The row lacks a value because the file lacks the column. The file
    /// issue opens the reports and says which names are recognised; the
    /// reports leave this repetition out of the row lines.
    pub(super) fn column_missing(&mut self, field: Field) {
        let message = format!(
            "{}: o arquivo não tem coluna com {}.",
            place(self.row.line, ""),
            label(field)
        );
        self.push(None, super::COLUMN_MISSING, message);
    }
}
