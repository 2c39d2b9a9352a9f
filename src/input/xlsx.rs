//! XLSX reading through calamine: picks the sheet, turns every cell into the
//! text a person sees (identifiers as exact digits, dates as ISO text,
//! formulas as their cached values) and combines a two-row merged header.
//!
//! The sheet is streamed cell by cell on its own thread (never loaded
//! whole), and the workbook's parts are inflated and counted first
//! (`xlsx_scan`: real sizes, not the zip directory's, and no over-long
//! cell), so a hostile workbook costs bounded memory.
//!
//! Invariant: yields text cells with their sheet row number; knows nothing of
//! what the columns mean.

use std::io::{Read, Seek, SeekFrom};
use std::sync::mpsc::{self, Receiver, SyncSender};

use calamine::{Cell, DataRef, Dimensions, Reader, Xlsx, XlsxError};

use super::sniff::{self, HEADER_SEARCH_ROWS};
use super::xlsx_cells::{cell_text, cut_cell};
use super::{
    fit_to_width, header_texts, redrop, Format, InputError, ReadNote, ReadOptions, Row, SourceInfo,
    Table,
};

/// The most rows a sheet can have in Excel; more cannot come from Excel.
pub(crate) const MAX_SHEET_ROWS: u32 = 1_048_576;

/// The most columns a sheet can have in Excel (`XFD`).
const MAX_SHEET_COLUMNS: u32 = 16_384;

/// Rows in flight between the reading thread and the pipeline.
const ROWS_IN_FLIGHT: usize = 1024;

type RowResult = Result<Row, InputError>;

/// Reads the sheet chosen by `options` (default: the first one with data).
///
/// calamine 0.32 can panic on corrupt workbooks (e.g. arithmetic overflow
/// parsing an over-long cell reference, found by the corrupted-workbook
/// property test), so the reading thread catches panics: a panic becomes an
/// `InputError::Xlsx` instead of taking the whole run down.
pub(crate) fn read_xlsx<RS>(
    file: String,
    mut source: RS,
    options: &ReadOptions,
) -> Result<Table, InputError>
where
    RS: Read + Seek + Send + 'static,
{
    super::xlsx_scan::check_parts(&mut source)?;
    source.seek(SeekFrom::Start(0))?;
    let (header_tx, header_rx) = mpsc::sync_channel::<Result<SourceInfo, InputError>>(1);
    let (rows_tx, rows_rx) = mpsc::sync_channel::<RowResult>(ROWS_IN_FLIGHT);
    let wanted = options.sheet.clone();
    std::thread::Builder::new()
        .name("xlsx-reader".into())
        .spawn(move || {
            let header = header_tx.clone();
            let rows = rows_tx.clone();
            let read = std::panic::AssertUnwindSafe(move || {
                stream_workbook(file, source, wanted, &header_tx, &rows_tx)
            });
            if let Err(error) = std::panic::catch_unwind(read).unwrap_or_else(|_| Err(corrupt())) {
                // Whichever side is still listening learns why.
                if header.send(Err(error)).is_err() {
                    let _ = rows.send(Err(corrupt()));
                }
            }
        })?;
    let info = header_rx.recv().unwrap_or_else(|_| Err(corrupt()))?;
    Ok(Table {
        info,
        rows: Box::new(ReceivedRows(Some(rows_rx))),
    })
}

fn corrupt() -> InputError {
    InputError::Xlsx(
        "a planilha está corrompida e não pôde ser lida; \
         abra-a no Excel e salve novamente como .xlsx ou CSV"
            .into(),
    )
}

/// Rows as the reading thread sends them; stops at the first error.
struct ReceivedRows(Option<Receiver<RowResult>>);

impl Iterator for ReceivedRows {
    type Item = RowResult;

    fn next(&mut self) -> Option<RowResult> {
        let item = self.0.as_ref()?.recv().ok();
        if !matches!(item, Some(Ok(_))) {
            self.0 = None;
        }
        item
    }
}

fn stream_workbook<RS: Read + Seek>(
    file: String,
    source: RS,
    wanted: Option<String>,
    header_tx: &SyncSender<Result<SourceInfo, InputError>>,
    rows_tx: &SyncSender<RowResult>,
) -> Result<(), InputError> {
    let mut workbook = Xlsx::new(source).map_err(open_error)?;
    let sheet = choose_sheet(&mut workbook, wanted.as_deref())?;
    let merges = match workbook.worksheet_merge_cells(&sheet) {
        Some(Ok(merges)) => merges,
        // Merges only refine the header; a sheet whose merge list cannot be
        // read is still read.
        Some(Err(_)) | None => Vec::new(),
    };
    let mut reader = workbook
        .worksheet_cells_reader(&sheet)
        .map_err(open_error)?;
    let mut cells = || reader.next_cell();
    let mut assembler = RowAssembler::default();

    // The header is searched among the first non-blank rows, with columns
    // counted from the leftmost cell those rows use.
    let mut first: Vec<SheetRow> = Vec::new();
    while first.len() < HEADER_SEARCH_ROWS {
        match assembler.next_row(&mut cells)? {
            Some(row) if row.is_blank() => {}
            Some(row) => first.push(row),
            None => break,
        }
    }
    let first_column = first
        .iter()
        .filter_map(SheetRow::first_column)
        .min()
        .unwrap_or(0);
    let mut rows: Vec<Row> = first
        .into_iter()
        .map(|row| row.into_row(first_column, MAX_SHEET_COLUMNS as usize))
        .collect();
    let search: Vec<&Vec<String>> = rows.iter().map(|row| &row.cells).collect();
    let header_index = sniff::find_header(&search).ok_or(InputError::NoHeader)?;
    let header_line = rows[header_index].line;
    let merged = combine_merged_header(&rows, header_index, &merges, first_column);
    let (mut headers, data_start) = match merged {
        Some(headers) => (headers, header_index + 2),
        None => (header_texts(&rows[header_index].cells), header_index + 1),
    };
    if headers.is_empty() {
        return Err(InputError::NoHeader);
    }
    let full_width = headers.len();
    let ours = redrop::error_columns_at(&headers);
    headers.truncate(ours.unwrap_or(full_width));
    let header_copy = headers.clone();
    let data_row = |row: Row| data_row(row, &header_copy, header_line, ours, full_width);
    let info = SourceInfo {
        file,
        format: Format::Xlsx,
        encoding: None,
        delimiter: None,
        sheet: Some(sheet),
        header_line,
        headers,
    };
    if header_tx.send(Ok(info)).is_err() {
        return Ok(());
    }
    let buffered = rows.drain(data_start.min(rows.len())..);
    for row in buffered {
        if let Some(row) = data_row(row) {
            if rows_tx.send(Ok(row)).is_err() {
                return Ok(());
            }
        }
    }
    loop {
        let next = match assembler.next_row(&mut cells) {
            Ok(Some(row)) => row,
            Ok(None) => return Ok(()),
            Err(error) => {
                let _ = rows_tx.send(Err(error));
                return Ok(());
            }
        };
        if next.is_blank() {
            continue;
        }
        // Our error columns of a re-dropped errors file are read too: a
        // whole-file line is recognised by them, then they are cut off.
        if let Some(row) = data_row(next.into_row(first_column, full_width)) {
            if rows_tx.send(Ok(row)).is_err() {
                return Ok(());
            }
        }
    }
}

/// Drops our whole-file lines of a re-dropped errors file, blank and
/// "Total" rows; fits the rest to the header width and notes a repeated
/// header. Blankness is judged on the fitted cells: a row of a re-dropped
/// errors file whose only text was in our error columns is blank.
fn data_row(
    row: Row,
    headers: &[String],
    header_line: u64,
    ours: Option<usize>,
    full_width: usize,
) -> Option<Row> {
    if ours.is_some_and(|at| redrop::is_file_note(at, full_width, |i| row.cells.get(i).cloned())) {
        return None;
    }
    let mut row = Row {
        cells: fit_to_width(row.cells, headers.len()),
        ..row
    };
    if !row.is_cut() && (sniff::is_blank(&row.cells) || sniff::is_total_row(&row.cells)) {
        return None;
    }
    super::mark_repeated_header(&mut row, headers, header_line);
    Some(row)
}

/// One sheet row as read: its 0-based index and its non-empty cells
/// (0-based column, text), in sheet order.
struct SheetRow {
    index: u32,
    cells: Vec<(u32, String)>,
    notes: Vec<(u32, ReadNote)>,
}

impl SheetRow {
    fn is_blank(&self) -> bool {
        self.cells.iter().all(|(_, text)| text.is_empty())
    }

    fn first_column(&self) -> Option<u32> {
        self.cells
            .iter()
            .filter(|(_, text)| !text.is_empty())
            .map(|&(column, _)| column)
            .min()
    }

    /// Cells placed by column from `first_column`; those left of it or
    /// `width` columns past it have no header to land under.
    fn into_row(self, first_column: u32, width: usize) -> Row {
        let place = |column: u32| {
            column
                .checked_sub(first_column)
                .map(|index| index as usize)
                .filter(|&index| index < width)
        };
        let used = self
            .cells
            .iter()
            .filter_map(|&(column, _)| place(column))
            .max()
            .map_or(0, |last| last + 1);
        let mut cells = vec![String::new(); used];
        for (column, text) in self.cells {
            if let Some(index) = place(column) {
                cells[index] = text;
            }
        }
        let notes = self
            .notes
            .into_iter()
            .filter_map(|(column, note)| {
                let index = place(column)?;
                Some(match note {
                    ReadNote::CellTooLong {
                        chars, last_line, ..
                    } => ReadNote::CellTooLong {
                        column: index,
                        chars,
                        last_line,
                    },
                    ReadNote::LegacyText { text, .. } => ReadNote::LegacyText {
                        column: index,
                        text,
                    },
                    other => other,
                })
            })
            .collect();
        Row {
            line: u64::from(self.index) + 1,
            cells,
            notes,
        }
    }
}

/// Groups the cell stream into rows.
#[derive(Default)]
struct RowAssembler {
    /// A cell read past the end of the previous row.
    carried: Option<(u32, u32, String, Vec<ReadNote>)>,
    finished: bool,
}

/// The next cell of a sheet (calamine's cell reader, whose type it does
/// not export).
type NextCell<'c, 'a> = dyn FnMut() -> Result<Option<Cell<DataRef<'a>>>, XlsxError> + 'c;

impl RowAssembler {
    fn next_row(
        &mut self,
        next_cell: &mut NextCell<'_, '_>,
    ) -> Result<Option<SheetRow>, InputError> {
        let mut row: Option<SheetRow> = None;
        if let Some((index, column, text, notes)) = self.carried.take() {
            row = Some(SheetRow::start(index, column, text, notes));
        }
        while !self.finished {
            let Some(cell) = next_cell().map_err(read_error)? else {
                self.finished = true;
                break;
            };
            let (index, column) = cell.get_position();
            if index >= MAX_SHEET_ROWS {
                return Err(InputError::Xlsx(format!(
                    "a aba tem linhas além da linha {MAX_SHEET_ROWS}, o limite do Excel; o \
                     arquivo não foi gerado pelo Excel ou está corrompido. Divida os exames \
                     em arquivos menores ou exporte como CSV"
                )));
            }
            if column >= MAX_SHEET_COLUMNS {
                continue;
            }
            let (text, notes) = cell_content(cell.get_value(), index);
            match row.as_mut() {
                Some(current) if current.index == index => current.push(column, text, notes),
                Some(_) => {
                    self.carried = Some((index, column, text, notes));
                    break;
                }
                None => row = Some(SheetRow::start(index, column, text, notes)),
            }
        }
        Ok(row)
    }
}

impl SheetRow {
    fn start(index: u32, column: u32, text: String, notes: Vec<ReadNote>) -> SheetRow {
        let mut row = SheetRow {
            index,
            cells: Vec::new(),
            notes: Vec::new(),
        };
        row.push(column, text, notes);
        row
    }

    fn push(&mut self, column: u32, text: String, notes: Vec<ReadNote>) {
        if !text.is_empty() {
            self.cells.push((column, text));
        }
        self.notes
            .extend(notes.into_iter().map(|note| (column, note)));
    }
}

/// A cell's text, cut to the longest cell kept, with what the reader noted.
fn cell_content(value: &DataRef<'_>, row_index: u32) -> (String, Vec<ReadNote>) {
    let (text, legacy) = cell_text(value);
    let mut notes = Vec::new();
    let (text, cut) = cut_cell(text);
    if let Some(chars) = cut {
        notes.push(ReadNote::CellTooLong {
            column: 0,
            chars,
            last_line: u64::from(row_index) + 1,
        });
    }
    if let Some(text) = legacy {
        notes.push(ReadNote::LegacyText { column: 0, text });
    }
    (text, notes)
}

fn read_error(error: XlsxError) -> InputError {
    InputError::Xlsx(format!(
        "a planilha está corrompida e não pôde ser lida até o fim ({error}); \
         abra-a no Excel e salve novamente como .xlsx ou CSV"
    ))
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

/// The wanted sheet, or the first one with a non-empty cell.
fn choose_sheet<RS: Read + Seek>(
    workbook: &mut Xlsx<RS>,
    wanted: Option<&str>,
) -> Result<String, InputError> {
    let names = workbook.sheet_names();
    if let Some(wanted) = wanted {
        if !names.iter().any(|name| name == wanted) {
            return Err(InputError::Xlsx(format!(
                "a aba \"{wanted}\" não existe; abas encontradas: {}",
                names.join(", ")
            )));
        }
        return Ok(wanted.to_owned());
    }
    for name in names {
        let mut cells = workbook.worksheet_cells_reader(&name).map_err(open_error)?;
        while let Some(cell) = cells.next_cell().map_err(read_error)? {
            if !cell_text(cell.get_value()).0.is_empty() {
                return Ok(name);
            }
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
