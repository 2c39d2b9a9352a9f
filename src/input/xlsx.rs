//! XLSX reading through calamine: picks the sheet, turns every cell into the
//! text a person sees (identifiers as exact digits, dates as ISO text,
//! formulas as their cached values) and combines a two-row merged header.
//!
//! Invariant: yields text cells with their sheet row number; knows nothing of
//! what the columns mean.

use std::io::Cursor;

use calamine::{Data, Dimensions, Reader, Xlsx, XlsxError};

use super::sniff::{self, HEADER_SEARCH_ROWS};
use super::{fit_to_width, header_texts, Format, InputError, ReadOptions, Row, SourceInfo, Table};

/// Reads the sheet chosen by `options` (default: the first one with data).
///
/// calamine 0.32 can panic on corrupt workbooks (e.g. arithmetic overflow
/// parsing an over-long cell reference, found by the corrupted-workbook
/// property test), so the read is isolated: a panic becomes an
/// `InputError::Xlsx` instead of taking the whole run down.
pub(crate) fn read_xlsx(
    file: String,
    bytes: Vec<u8>,
    options: &ReadOptions,
) -> Result<Table, InputError> {
    let read = std::panic::AssertUnwindSafe(|| read_workbook(file, bytes, options));
    std::panic::catch_unwind(read).unwrap_or_else(|_| {
        Err(InputError::Xlsx(
            "a planilha está corrompida e não pôde ser lida; \
             abra-a no Excel e salve novamente como .xlsx ou CSV"
                .into(),
        ))
    })
}

fn read_workbook(file: String, bytes: Vec<u8>, options: &ReadOptions) -> Result<Table, InputError> {
    let mut workbook = Xlsx::new(Cursor::new(bytes)).map_err(open_error)?;
    let (sheet, range) = choose_sheet(&mut workbook, options)?;
    let merges = match workbook.worksheet_merge_cells(&sheet) {
        Some(Ok(merges)) => merges,
        // Merges only refine the header; a sheet whose merge list cannot be
        // read is still read.
        Some(Err(_)) | None => Vec::new(),
    };
    let (first_row, first_column) = range.start().unwrap_or((0, 0));
    let mut rows: Vec<Row> = range
        .rows()
        .enumerate()
        .map(|(index, cells)| Row {
            line: u64::from(first_row) + index as u64 + 1,
            cells: cells.iter().map(cell_text).collect(),
        })
        .filter(|row| !sniff::is_blank(&row.cells))
        .collect();
    drop(range);

    let search: Vec<&Vec<String>> = rows
        .iter()
        .take(HEADER_SEARCH_ROWS)
        .map(|row| &row.cells)
        .collect();
    let header_index = sniff::find_header(&search).ok_or(InputError::NoHeader)?;
    let header_line = rows[header_index].line;
    let merged = combine_merged_header(&rows, header_index, &merges, first_column);
    let (headers, data_start) = match merged {
        Some(headers) => (headers, header_index + 2),
        None => (header_texts(&rows[header_index].cells), header_index + 1),
    };
    if headers.is_empty() {
        return Err(InputError::NoHeader);
    }
    let width = headers.len();
    let data: Vec<Row> = rows
        .drain(data_start.min(rows.len())..)
        .filter(|row| !sniff::is_total_row(&row.cells))
        .map(|row| Row {
            line: row.line,
            cells: fit_to_width(row.cells, width),
        })
        .collect();
    let info = SourceInfo {
        file,
        format: Format::Xlsx,
        encoding: None,
        delimiter: None,
        sheet: Some(sheet),
        header_line,
        headers,
    };
    Ok(Table {
        info,
        rows: Box::new(data.into_iter().map(Ok)),
    })
}

fn open_error(error: XlsxError) -> InputError {
    match error {
        XlsxError::Password => InputError::Xlsx(
            "a planilha está protegida por senha; salve uma cópia sem senha e envie novamente"
                .into(),
        ),
        // calamine's text ("Zip error: invalid Zip archive: Could not find
        // EOCD") means nothing to lab staff; the advice is the same anyway.
        _ => InputError::Xlsx(
            "o arquivo não é uma planilha XLSX válida ou está corrompido (incompleto, ou de \
             outro formato com a extensão .xlsx); abra-o no Excel e salve novamente como .xlsx \
             ou CSV"
                .into(),
        ),
    }
}

fn choose_sheet(
    workbook: &mut Xlsx<Cursor<Vec<u8>>>,
    options: &ReadOptions,
) -> Result<(String, calamine::Range<Data>), InputError> {
    let names = workbook.sheet_names();
    if let Some(wanted) = &options.sheet {
        if !names.iter().any(|name| name == wanted) {
            return Err(InputError::Xlsx(format!(
                "a aba \"{wanted}\" não existe; abas encontradas: {}",
                names.join(", ")
            )));
        }
        let range = workbook.worksheet_range(wanted).map_err(open_error)?;
        return Ok((wanted.clone(), range));
    }
    for name in names {
        let range = workbook.worksheet_range(&name).map_err(open_error)?;
        if range
            .used_cells()
            .any(|(_, _, cell)| !cell_text(cell).is_empty())
        {
            return Ok((name, range));
        }
    }
    Err(InputError::Xlsx(
        "nenhuma aba da planilha contém dados".into(),
    ))
}

/// Headers of a two-row header: a parent cell merged across several columns
/// of the header row, child texts in the row below. Each column becomes
/// `Parent Child`; a column merged down both rows keeps its single text.
/// `None` when the header row has no such horizontal merge. The reported
/// `header_line` stays the first of the two rows; data starts after both.
fn combine_merged_header(
    rows: &[Row],
    header_index: usize,
    merges: &[Dimensions],
    first_column: u32,
) -> Option<Vec<String>> {
    let header = &rows[header_index];
    let below = rows.get(header_index + 1)?;
    if below.line != header.line + 1 {
        return None;
    }
    let sheet_row = u32::try_from(header.line.checked_sub(1)?).ok()?;
    let spans: Vec<&Dimensions> = merges
        .iter()
        .filter(|merge| merge.start.0 == sheet_row && merge.end.0 == sheet_row)
        .filter(|merge| merge.end.1 > merge.start.1)
        .collect();
    if spans.is_empty() {
        return None;
    }
    let cell = |row: &Row, column: u32| -> String {
        column
            .checked_sub(first_column)
            .and_then(|index| row.cells.get(index as usize))
            .cloned()
            .unwrap_or_default()
    };
    let width = header.cells.len().max(below.cells.len());
    let combined: Vec<String> = (0..width)
        .map(|index| {
            let column = first_column + index as u32;
            let parent = match spans
                .iter()
                .find(|span| (span.start.1..=span.end.1).contains(&column))
            {
                Some(span) => cell(header, span.start.1),
                None => cell(header, column),
            };
            let child = cell(below, column);
            match (parent.is_empty(), child.is_empty()) {
                (false, false) => format!("{parent} {child}"),
                (true, _) => child,
                (false, true) => parent,
            }
        })
        .collect();
    Some(header_texts(&combined))
}

/// The text a person sees in the cell.
pub(crate) fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty | Data::Error(_) => String::new(),
        Data::String(text) => super::decode::clean_cell(text),
        Data::Int(number) => number.to_string(),
        Data::Float(number) => number_text(*number),
        Data::Bool(true) => "VERDADEIRO".to_owned(),
        Data::Bool(false) => "FALSO".to_owned(),
        Data::DateTime(moment) if moment.is_datetime() => {
            let value = moment.as_f64();
            let (year, month, day, hour, minute, second, _) = moment.to_ymd_hms_milli();
            if value.abs() < 1.0 {
                format!("{hour:02}:{minute:02}:{second:02}")
            } else if (hour, minute, second) == (0, 0, 0) {
                format!("{year:04}-{month:02}-{day:02}")
            } else {
                format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}")
            }
        }
        Data::DateTime(duration) => number_text(duration.as_f64()),
        Data::DateTimeIso(text) | Data::DurationIso(text) => text.replacen('T', " ", 1),
    }
}

/// Integral numbers as exact digits (a 15-digit CNS stays `700512345678901`);
/// others rounded to 15 significant digits, as Excel shows them, with a dot.
fn number_text(number: f64) -> String {
    if !number.is_finite() {
        return String::new();
    }
    if number.fract() == 0.0 {
        // f64 Display never uses an exponent and prints no `.0`.
        return format!("{number}");
    }
    let rounded: f64 = format!("{number:.14e}").parse().unwrap_or(number);
    format!("{rounded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_people_see_them() {
        assert_eq!(number_text(700_512_345_678_901.0), "700512345678901");
        assert_eq!(number_text(38.5), "38.5");
        assert_eq!(number_text(0.1 + 0.2), "0.3");
        assert_eq!(number_text(-3.0), "-3");
        assert_eq!(number_text(44355.0), "44355");
    }
}
