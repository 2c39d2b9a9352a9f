//! Headers → canonical fields; wordings → codes. The tables (header
//! synonyms, result wordings, specimen wordings, exam names) are data in
//! `schemas/synonyms.toml` and `schemas/vocabulary.toml`, embedded at build
//! time and parsed once. Lookups ignore case, accents, spacing and
//! punctuation and repair double-encoded UTF-8.
//!
//! Invariant: no I/O beyond loading its embedded tables once; no FHIR; no
//! validation rule (it says what a wording means, never whether a row is
//! acceptable). It never maps a result wording by similarity.

mod normalize;
mod tables;

use std::collections::BTreeMap;

use crate::input::Row;
use crate::model::{ExamCode, Field, Qualitative, SpecimenCode};

pub(crate) use normalize::{key, trimmed, value_key};

/// Which column holds which field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnMap {
    /// Field → column index in the row.
    pub by_field: BTreeMap<Field, usize>,
    /// The file's header texts, for reports (a layout appends the headers
    /// of the fields it fills after them).
    pub headers: Vec<String>,
    /// How many of `headers` are the file's own.
    pub file_headers: usize,
    /// `[inbox.columns]` overrides whose header is not in the file (or is
    /// already taken): the lab named a column, so no synonym stands in.
    pub missing_overrides: Vec<(Field, String)>,
}

impl ColumnMap {
    /// The original header text mapped to `field`.
    pub(crate) fn header(&self, field: Field) -> Option<&str> {
        self.by_field
            .get(&field)
            .and_then(|&i| self.headers.get(i))
            .map(String::as_str)
    }

    /// The cell of `row` for `field` (None when unmapped or the row is short).
    pub(crate) fn cell<'r>(&self, row: &'r Row, field: Field) -> Option<&'r str> {
        self.by_field
            .get(&field)
            .and_then(|&i| row.cells.get(i))
            .map(String::as_str)
    }

    pub(crate) fn has(&self, field: Field) -> bool {
        self.by_field.contains_key(&field)
    }
}

/// Maps headers onto fields: `overrides` (field → header text) first, then
/// the synonym table: whole-header matches, then prefix matches. A column
/// serves at most one field through synonyms (overrides may share one);
/// each field takes the column of its earliest-listed synonym (leftmost
/// column on ties).
pub fn map_columns(headers: &[String], overrides: &BTreeMap<Field, String>) -> ColumnMap {
    let keys: Vec<String> = headers.iter().map(|h| normalize::header_key(h)).collect();
    let mut by_field = BTreeMap::new();
    let mut taken = vec![false; headers.len()];
    // A field whose configured column is absent maps to nothing (no
    // synonym stands in): guessing another column could send a wrong value.
    let mut missing_overrides = Vec::new();

    for (&field, wanted) in overrides {
        let column = find_header(headers, wanted);
        // Overrides may share a column (one column feeding two fields is
        // an explicit choice of the config); synonyms never take it again.
        match column {
            Some(i) => {
                taken[i] = true;
                by_field.insert(field, i);
            }
            None => missing_overrides.push((field, wanted.clone())),
        }
    }

    let synonyms = &tables::tables().synonyms;
    let matchers: [fn(&str, &str) -> bool; 2] = [|h, s| h == s, |h, s| h.starts_with(s)];
    for (pass, matches) in matchers.into_iter().enumerate() {
        for field in Field::ALL {
            if by_field.contains_key(&field) || overrides.contains_key(&field) {
                continue;
            }
            let Some(entry) = synonyms.get(&field) else {
                continue;
            };
            let wanted = if pass == 0 {
                &entry.exact_keys
            } else {
                &entry.prefix_keys
            };
            let found = wanted.iter().find_map(|synonym| {
                (0..keys.len())
                    .find(|&i| !taken[i] && !synonym.is_empty() && matches(&keys[i], synonym))
            });
            if let Some(i) = found {
                taken[i] = true;
                by_field.insert(field, i);
            }
        }
    }

    ColumnMap {
        by_field,
        headers: headers.to_vec(),
        file_headers: headers.len(),
        missing_overrides,
    }
}

/// The column whose header is `wanted`: written exactly, or the same once
/// case, accents, punctuation and spacing are ignored.
pub(crate) fn find_header(headers: &[String], wanted: &str) -> Option<usize> {
    let wanted_key = normalize::header_key(wanted);
    headers
        .iter()
        .position(|h| h.trim() == wanted.trim())
        .or_else(|| {
            headers
                .iter()
                .position(|h| normalize::header_key(h) == wanted_key)
        })
}

/// The header wordings recognised for `field`, as written in the table.
pub(crate) fn header_wordings(field: Field) -> &'static [String] {
    tables::tables()
        .synonyms
        .get(&field)
        .map(|s| s.wordings.as_slice())
        .unwrap_or(&[])
}

/// Is `value` empty or a null token (`null`, `N/A`, `Desconhecido`, ...)?
/// `-` is not null here (it is a result wording); see [`is_blank_optional`].
pub(crate) fn is_null(value: &str) -> bool {
    let trimmed = normalize::trimmed(value);
    if trimmed.is_empty() {
        return true;
    }
    // No null token starts with a digit (a test keeps it so): identifiers,
    // dates and codes skip the lookup.
    if trimmed.as_bytes()[0].is_ascii_digit() {
        return false;
    }
    normalize::with_value_key(trimmed, |k| tables::tables().null_keys.contains(k))
}

/// Whether [`key`] of `text` is `key` (a key of letters and digits),
/// without allocating the text's key.
pub(crate) fn has_key(text: &str, key: &str) -> bool {
    // `with_value_key` differs from `key` only on text with no letter or
    // digit, which no non-empty key of letters and digits equals.
    !key.is_empty() && normalize::with_value_key(text, |k| k == key)
}

/// [`is_null`] for optional columns, where a lone `-` also means "nothing".
pub(crate) fn is_blank_optional(value: &str) -> bool {
    normalize::trimmed(value) == "-" || is_null(value)
}

/// The meaning of a result wording or code 1/2/3, if it is in the vocabulary.
pub(crate) fn qualitative(value: &str) -> Option<Qualitative> {
    normalize::with_value_key(value, |k| tables::tables().results.get(k).copied())
}

/// The known result wording closest to `value` (edit distance over keys),
/// when it is close enough to be a likely typo, for a suggestion in a
/// message. Never used to map a value.
///
/// A suggestion never crosses from one pathogen or analyte to another: a
/// value with digits (`SARS-CoV-1`, `H1N1 detectado`) or one that is a known
/// wording plus other words (`Flu detectado`) gets none, and wordings that
/// name a pathogen (`SARS-CoV-2`) are never suggested.
pub(crate) fn closest_result_wording(value: &str) -> Option<&'static str> {
    let wanted = normalize::value_key(value);
    if wanted.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    let tables = tables::tables();
    let names_more = tables.result_wordings.iter().any(|(k, _)| {
        k.chars().count() > 1 && wanted.contains(k.as_str()) && wanted.len() >= k.len() + 3
    });
    if names_more {
        return None;
    }
    let candidates: Vec<(usize, &str, Option<Qualitative>)> = tables
        .result_wordings
        .iter()
        .filter(|(k, _)| k.chars().count() > 1 && !k.chars().any(|c| c.is_ascii_digit()))
        .map(|(k, wording)| {
            let meaning = tables.results.get(k.as_str()).copied();
            (strsim::levenshtein(&wanted, k), wording.as_str(), meaning)
        })
        .collect();
    let &(distance, wording, meaning) = candidates.iter().min_by_key(|c| c.0)?;
    // A far-off "closest" wording would be noise, not help.
    if distance > 3.max(wanted.chars().count() / 3) {
        return None;
    }
    // "N detectado" is one edit from "detectado" and two from "não
    // detectado": when a wording of another meaning is nearly as close,
    // any suggestion could flip a negative into a positive. Say nothing.
    let ambiguous = candidates
        .iter()
        .any(|&(d, _, m)| m != meaning && d <= distance + 2);
    (!ambiguous).then_some(wording)
}

/// A specimen wording, display or code → its code.
pub(crate) fn specimen(value: &str) -> Option<SpecimenCode> {
    normalize::with_value_key(value, |k| tables::tables().specimens.get(k).cloned())
}

/// An exam code that is in BRNomeExameLOINC or BRNomeExameGAL.
pub(crate) fn exam_code(code: &str) -> Option<ExamCode> {
    tables::exam_code(code.trim())
}

/// A Portuguese exam name (or a code system display) → its code.
pub(crate) fn exam_by_name(name: &str) -> Option<ExamCode> {
    normalize::with_value_key(name, |k| tables::tables().exams.get(k).cloned())
}

#[cfg(test)]
mod suggest_tests;
#[cfg(test)]
mod tests;
