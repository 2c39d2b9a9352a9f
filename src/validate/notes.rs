//! What the reader noted about a row, turned into validation: a row whose
//! text was cut is refused with the reason (its values are not whole, so
//! nothing of it may be sent). The lab id older versions derived is in
//! `legacy_id.rs`.
//!
//! Invariant: pure; reads the row, its notes and the column map.

use crate::input::{ReadNote, Row, MAX_CELL_CHARS, MAX_LINE_BYTES};
use crate::mapping::ColumnMap;
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
            ReadNote::UnclosedQuoteAtEnd { column } => {
                issues.push(unclosed_quote_issue(row, map, *column));
            }
            ReadNote::EmptyLastCellAtEnd { column } => {
                issues.push(empty_last_cell_issue(row, map, *column));
            }
            ReadNote::LegacyText { .. } | ReadNote::ShortRow { .. } => {}
        }
    }
    issues
}

/// Fields a `[defaults]` value may fill when their cell is empty.
const DEFAULTED: [Field; 5] = [
    Field::ExamCode,
    Field::ExamName,
    Field::Specimen,
    Field::Method,
    Field::ReferenceRange,
];

/// A row that ends before a column a default could fill: that column is
/// absent from the row (a writer still writing it, a cut export), not
/// empty, and filling it from `[defaults]` would send a value the lab never
/// wrote. One issue per such column; the row is not sent.
pub(super) fn short_row_issues(row: &Row, map: &ColumnMap) -> Vec<RowIssue> {
    let Some((cells, width)) = row.notes.iter().find_map(|note| match note {
        ReadNote::ShortRow { cells, width } => Some((*cells, *width)),
        _ => None,
    }) else {
        return Vec::new();
    };
    DEFAULTED
        .iter()
        .filter_map(|&field| {
            let column = *map.by_field.get(&field)?;
            (cells <= column && column < width).then(|| {
                let header = map.headers.get(column).map_or("", String::as_str);
                RowIssue {
                    line: row.line,
                    column: header.to_owned(),
                    value: String::new(),
                    code: "linha_incompleta".into(),
                    message: format!(
                        "Linha {}: a linha termina antes da coluna \"{header}\" ({cells} de \
                         {width} colunas); o valor padrão da configuração não é usado no lugar \
                         de uma coluna que a linha não tem, e a linha não foi enviada. Confira \
                         se a linha foi exportada inteira e envie o arquivo de novo.",
                        row.line
                    ),
                }
            })
        })
        .collect()
}

/// The last row of a file that ends inside a quoted cell.
fn unclosed_quote_issue(row: &Row, map: &ColumnMap, column: usize) -> RowIssue {
    let header = map.headers.get(column).map_or("", String::as_str);
    RowIssue {
        line: row.line,
        column: header.to_owned(),
        value: shown(row.cells.get(column).map_or("", String::as_str)),
        code: "aspas_abertas_no_fim".into(),
        message: format!(
            "Linha {}, coluna \"{header}\": a célula abre aspas (\") que não se fecham até o \
             fim do arquivo, então a linha está incompleta e não foi enviada (o arquivo pode \
             ter sido lido enquanto ainda era gravado, ou a exportação foi cortada). Se a \
             exportação terminou, feche as aspas dessa célula (ou retire-as) e envie o \
             arquivo de novo.",
            row.line
        ),
    }
}

/// The last row of a file that ends right after a delimiter: its last
/// cell may have been cut before its value was written.
fn empty_last_cell_issue(row: &Row, map: &ColumnMap, column: usize) -> RowIssue {
    let header = map.headers.get(column).map_or("", String::as_str);
    RowIssue {
        line: row.line,
        column: header.to_owned(),
        value: String::new(),
        code: "linha_incompleta".into(),
        message: format!(
            "Linha {}, coluna \"{header}\": o arquivo termina logo depois do separador dessa \
             coluna, sem quebra de linha, então a linha pode ter sido cortada antes do valor \
             dela e não foi enviada (o valor padrão da configuração não é usado no lugar \
             dele). Se a exportação terminou, confira essa linha (preencha a coluna ou \
             termine a linha com uma quebra de linha) e envie o arquivo de novo.",
            row.line
        ),
    }
}

/// The start of a long value, marked as cut.
fn shown(value: &str) -> String {
    match value.char_indices().nth(VALUE_SHOWN_CHARS) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_owned(),
    }
}
