//! What the reader noted about a row, turned into validation: a row whose
//! text was cut is refused with the reason (its values are not whole, so
//! nothing of it may be sent), and the lab id older versions derived from
//! an Excel date-time they truncated is recomputed, so the service can
//! recognise a result they sent.
//!
//! Invariant: pure; reads the row, its notes, the column map and settings.

use super::{dates, rules, Settings};
use crate::input::{ReadNote, Row, MAX_CELL_CHARS, MAX_LINE_BYTES};
use crate::mapping::{self, ColumnMap};
use crate::model::{Field, RowIssue};

/// Characters of a cut value repeated in the issue (the rest is noise).
const VALUE_SHOWN_CHARS: usize = 60;

/// One issue per doubt the reader noted about the row.
pub(super) fn reader_issues(row: &Row, map: &ColumnMap) -> Vec<RowIssue> {
    let mut issues = Vec::new();
    for note in &row.notes {
        match note {
            ReadNote::LineTooLong { bytes } => issues.push(RowIssue {
                line: row.line,
                column: String::new(),
                value: shown(row.cells.first().map_or("", String::as_str)),
                code: "linha_longa_demais".into(),
                message: format!(
                    "Linha {}: a linha tem {bytes} bytes, mais que o limite de {} MB por linha; \
                     o excesso foi ignorado e a linha não foi enviada. Confira se a exportação \
                     não juntou várias linhas numa só (quebras de linha perdidas) e exporte de \
                     novo.",
                    row.line,
                    MAX_LINE_BYTES >> 20
                ),
            }),
            ReadNote::CellTooLong {
                column,
                chars,
                last_line,
            } => {
                let header = map.headers.get(*column).map_or("", String::as_str);
                let place = if header.is_empty() {
                    format!("Linha {}", row.line)
                } else {
                    format!("Linha {}, coluna \"{header}\"", row.line)
                };
                let mut message = format!(
                    "{place}: a célula tem {chars} caracteres, mais que o limite de \
                     {MAX_CELL_CHARS} (o do Excel); ela foi cortada e a linha não foi enviada."
                );
                if *last_line > row.line {
                    message.push_str(&format!(
                        " O conteúdo vai da linha {} à linha {last_line}: provavelmente há \
                         aspas (\") abertas e não fechadas nessa célula, e as linhas seguintes \
                         foram lidas como parte dela. Feche as aspas e envie o arquivo de novo.",
                        row.line
                    ));
                } else {
                    message
                        .push_str(" Encurte o texto no sistema do laboratório e exporte de novo.");
                }
                issues.push(RowIssue {
                    line: row.line,
                    column: header.to_owned(),
                    value: shown(row.cells.get(*column).map_or("", String::as_str)),
                    code: "celula_longa_demais".into(),
                    message,
                });
            }
            ReadNote::RepeatedHeader { header_line } => issues.push(RowIssue {
                line: row.line,
                column: String::new(),
                value: shown(row.cells.first().map_or("", String::as_str)),
                code: "cabecalho_repetido".into(),
                message: format!(
                    "Linha {}: a linha repete o cabeçalho da linha {header_line}; ela não é um \
                     exame e foi ignorada. O arquivo parece juntar mais de uma exportação: \
                     confira se nenhuma ficou pela metade ou repetida.",
                    row.line
                ),
            }),
            ReadNote::QuoteSwallowedRows { column, last_line } => {
                let header = map.headers.get(*column).map_or("", String::as_str);
                issues.push(RowIssue {
                    line: row.line,
                    column: header.to_owned(),
                    value: shown(row.cells.get(*column).map_or("", String::as_str)),
                    code: "aspas_abertas".into(),
                    message: format!(
                        "Linha {}, coluna \"{header}\": a célula abre aspas (\") que só se \
                         fecham na linha {last_line} (ou no fim do arquivo), e as linhas até lá \
                         foram lidas como parte dela; nenhuma delas foi enviada. Feche as aspas \
                         dessa célula (ou retire-as) e envie o arquivo de novo.",
                        row.line
                    ),
                });
            }
            ReadNote::LegacyText { .. } => {}
        }
    }
    issues
}

/// The start of a long value, marked as cut.
fn shown(value: &str) -> String {
    match value.char_indices().nth(VALUE_SHOWN_CHARS) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_owned(),
    }
}

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
