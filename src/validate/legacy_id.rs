//! The lab id older versions derived from an Excel date-time they
//! truncated, recomputed so the service can recognise a result they sent.
//! Its own file because it runs the whole row validation (`rules`), which
//! itself starts from the reader's notes (`notes`).
//!
//! Invariant: pure; reads the row, its notes, the column map and settings.

use super::{dates, rules, Settings};
use crate::input::{ReadNote, Row};
use crate::mapping::{self, ColumnMap};
use crate::model::Field;

/// The lab id versions before the Excel-time rounding fix derived for this
/// row, when it differs from `current`: the row has no id of its own and
/// its collection moment came from an Excel serial whose truncation to the
/// second below differs from the rounding (a date-time cell of an XLSX, or
/// a serial typed as text in a CSV). `None` for every other row.
pub(crate) fn legacy_lab_id(
    row: &Row,
    map: &ColumnMap,
    settings: &Settings,
    current: &str,
) -> Option<String> {
    let own_id = map
        .cell(row, Field::LabId)
        .is_some_and(|id| !mapping::is_blank_optional(id));
    if own_id {
        return None;
    }
    let collection = map.by_field.get(&Field::CollectionDate).copied();
    let legacy_serial = collection
        .and_then(|column| row.cells.get(column))
        .and_then(|cell| dates::legacy_serial_text(cell));
    let has_legacy_text = row
        .notes
        .iter()
        .any(|note| matches!(note, ReadNote::LegacyText { .. }));
    // Almost every row stops here, before any copy.
    if legacy_serial.is_none() && !has_legacy_text {
        return None;
    }
    let mut legacy = row.clone();
    legacy.notes.clear();
    for note in &row.notes {
        if let ReadNote::LegacyText { column, text } = note {
            if let Some(cell) = legacy.cells.get_mut(*column) {
                *cell = text.clone();
            }
        }
    }
    if let (Some(column), Some(text)) = (collection, legacy_serial) {
        legacy.cells[column] = text;
    }
    let id = rules::validate_row(&legacy, map, settings).ok()?.lab_id;
    (id != current).then_some(id)
}
