//! OpenDocument spreadsheets (`.ods`, what LibreOffice saves) through
//! calamine's `Ods` reader. Unlike XLSX, calamine reads an ODS sheet whole,
//! so the sheet is bounded from the zip directory first (its `content.xml`,
//! as any XLSX part) and by the cells its repeats expand to
//! ([`super::ods_bounds`]), then read into rows the way an XLSX sheet is: the
//! same cell texts, header search, re-dropped errors columns and blank or
//! total rows left out.
//!
//! Invariant: reads, never writes; knows no field meaning.

use std::io::{Read, Seek, SeekFrom};

use calamine::{Data, DataRef, Ods, Reader};

use super::sniff::{self, HEADER_SEARCH_ROWS};
use super::xlsx_cells::{cell_text, cut_cell};
use super::{
    fit_to_width, header_texts, mark_repeated_header, redrop, Format, InputError, Row, SourceInfo,
    Table,
};

/// Reads the sheet chosen by `wanted` (default: the first one with data).
pub(super) fn read_ods<RS: Read + Seek>(
    file: String,
    mut source: RS,
    wanted: Option<&str>,
) -> Result<Table, InputError> {
    super::xlsx_scan::check_parts(&mut source)?;
    source.seek(SeekFrom::Start(0))?;
    super::ods_bounds::check_dense_size(&mut source)?;
    source.seek(SeekFrom::Start(0))?;
    let mut book = Ods::new(source).map_err(|e| unreadable(&e.to_string()))?;
    let names = book.sheet_names();
    let sheets: Vec<String> = match wanted {
        Some(wanted) if names.iter().any(|n| n == wanted) => vec![wanted.to_owned()],
        Some(wanted) => {
            return Err(InputError::Xlsx(format!(
                "a aba \"{wanted}\" não existe; abas encontradas: {}",
                names.join(", ")
            )))
        }
        None => names,
    };
    for sheet in sheets {
        let range = book
            .worksheet_range(&sheet)
            .map_err(|e| unreadable(&e.to_string()))?;
        let (top, left) = range.start().unwrap_or((0, 0));
        let rows: Vec<Row> = range
            .rows()
            .enumerate()
            .map(|(i, cells)| {
                let texts = cells.iter().map(|c| cut_cell(text(c)).0).collect();
                Row::new(u64::from(top) + i as u64 + 1, texts)
            })
            .filter(|row| !sniff::is_blank(&row.cells))
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = left;
        return table(file, sheet, rows);
    }
    Err(InputError::NoHeader)
}

fn table(file: String, sheet: String, mut rows: Vec<Row>) -> Result<Table, InputError> {
    let search: Vec<&Vec<String>> = rows
        .iter()
        .take(HEADER_SEARCH_ROWS)
        .map(|row| &row.cells)
        .collect();
    let header_index = sniff::find_header(&search).ok_or(InputError::NoHeader)?;
    let header_line = rows[header_index].line;
    let mut headers = header_texts(&rows[header_index].cells);
    if headers.is_empty() {
        return Err(InputError::NoHeader);
    }
    let full_width = headers.len();
    let ours = redrop::error_columns_at(&headers);
    headers.truncate(ours.unwrap_or(full_width));
    let data: Vec<Row> = rows.drain(header_index + 1..).collect();
    let kept_headers = headers.clone();
    let kept = data.into_iter().filter_map(move |row| {
        if ours
            .is_some_and(|at| redrop::is_file_note(at, full_width, |i| row.cells.get(i).cloned()))
        {
            return None;
        }
        let mut row = Row {
            cells: fit_to_width(row.cells, kept_headers.len()),
            ..row
        };
        if sniff::is_blank(&row.cells) || sniff::is_total_row(&row.cells) {
            return None;
        }
        mark_repeated_header(&mut row, &kept_headers, header_line);
        Some(Ok(row))
    });
    Ok(Table {
        info: SourceInfo {
            file,
            format: Format::Xlsx,
            encoding: None,
            delimiter: None,
            sheet: Some(sheet),
            header_line,
            headers,
        },
        rows: Box::new(kept),
    })
}

/// The text a person sees in the cell, as for an XLSX cell.
fn text(cell: &Data) -> String {
    let value = match cell {
        Data::Int(n) => DataRef::Int(*n),
        Data::Float(n) => DataRef::Float(*n),
        Data::String(s) => DataRef::SharedString(s),
        Data::Bool(b) => DataRef::Bool(*b),
        Data::DateTime(t) => DataRef::DateTime(*t),
        Data::DateTimeIso(s) => DataRef::DateTimeIso(s.clone()),
        Data::DurationIso(s) => DataRef::DurationIso(s.clone()),
        Data::Error(e) => DataRef::Error(e.clone()),
        Data::Empty => DataRef::Empty,
    };
    cell_text(&value).0
}

fn unreadable(reason: &str) -> InputError {
    InputError::Xlsx(format!(
        "a planilha .ods (LibreOffice) não pôde ser lida ({reason}); abra-a no LibreOffice e \
         salve novamente como .ods, .xlsx ou CSV"
    ))
}
