//! Streamed CSV reading: the delimiter and header are detected from the
//! first lines, then records are decoded one at a time, so memory stays
//! bounded whatever the file size.
//!
//! Invariant: yields text cells with the line a person sees in an editor;
//! knows nothing of what the columns mean.

use std::collections::VecDeque;
use std::io::{Cursor, Read};
use std::sync::Arc;

use super::caps::{CapState, CappedLines, RecordTooLong, MAX_RECORD_BYTES};
use super::decode::TextEncoding;
use super::sniff::{self, HEADER_SEARCH_ROWS};
use super::xlsx_cells::cut_cell;
// The errors file is the one output that comes back as input (fixed by
// the lab), so the reader knows its extra columns and its escaping.
use super::{
    fit_to_width, header_texts, redrop, Format, InputError, ReadNote, Row, SourceInfo, Table,
    MAX_LINE_BYTES,
};
use crate::report::restore_formula;

type CsvReader = csv::Reader<Box<dyn Read + Send>>;

/// Bytes of the file inspected to detect the delimiter.
pub(crate) const SNIFF_LEN: usize = 64 * 1024;

/// A CSV whose encoding has been chosen, ready to be parsed.
pub(crate) struct CsvSource {
    pub file: String,
    pub encoding: TextEncoding,
    /// The first bytes of the file (at most `SNIFF_LEN`).
    pub head: Vec<u8>,
    /// Whether `head` holds the whole file.
    pub head_is_whole: bool,
    /// The rest of the file, after `head`.
    pub rest: Box<dyn Read + Send>,
}

/// Detects the layout and returns the table with its streamed rows.
pub(crate) fn read_csv(source: CsvSource) -> Result<Table, InputError> {
    let CsvSource {
        file,
        encoding,
        mut head,
        head_is_whole,
        rest,
    } = source;
    head.drain(..encoding.skipped_prefix(&head));
    let sample = complete_lines(&head, head_is_whole);
    let delimiter = sniff::sniff_delimiter(sample);
    let terminator = line_terminator(sample);
    let line_end = match terminator {
        csv::Terminator::CRLF => b'\r',
        _ => b'\n',
    };
    let caps = Arc::new(CapState::default());
    let stream: Box<dyn Read + Send> = Box::new(CappedLines::new(
        Cursor::new(head).chain(rest),
        line_end,
        delimiter,
        caps.clone(),
    ));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .terminator(terminator)
        .buffer_capacity(64 * 1024)
        .from_reader(stream);

    let mut record = csv::ByteRecord::new();
    let mut first_rows: Vec<Row> = Vec::new();
    while first_rows.len() < HEADER_SEARCH_ROWS {
        if !next_record(&mut reader, &mut record, &caps)? {
            break;
        }
        let row = capped_row(&reader, &record, &caps, encoding, usize::MAX);
        if !sniff::is_blank(&row.cells) {
            first_rows.push(row);
        }
    }
    if first_rows.is_empty() {
        return Err(InputError::Empty);
    }
    let cells: Vec<Vec<String>> = first_rows.iter().map(|row| row.cells.clone()).collect();
    let header_index = sniff::find_header(&cells).ok_or(InputError::NoHeader)?;
    if first_rows[header_index].is_cut() {
        return Err(header_too_long(first_rows[header_index].line));
    }
    let mut headers = header_texts(&first_rows[header_index].cells);
    if headers.is_empty() {
        return Err(InputError::NoHeader);
    }
    let full_width = headers.len();
    let ours = redrop::error_columns_at(&headers);
    headers.truncate(ours.unwrap_or(full_width));
    let restore = ours.is_some();
    if restore {
        restore_cells(&mut headers);
    }
    let layout = Layout {
        headers: headers.clone(),
        header_line: first_rows[header_index].line,
        delimiter,
        restore,
        ours,
        full_width,
    };
    let pending: VecDeque<Row> = first_rows
        .drain(header_index + 1..)
        .filter(|row| !layout.is_file_note(|i| row.cells.get(i).cloned()))
        .filter_map(|row| keep_data_row(row, &layout))
        .collect();
    let info = SourceInfo {
        file,
        format: Format::Csv,
        encoding: Some(encoding.label().to_owned()),
        delimiter: Some(char::from(delimiter)),
        sheet: None,
        header_line: layout.header_line,
        headers,
    };
    let rows = CsvRows {
        reader,
        record,
        caps,
        encoding,
        layout,
        pending,
        finished: false,
    };
    Ok(Table {
        info,
        rows: Box::new(rows),
    })
}

/// The header row was cut by the line or cell cap: not a results export.
fn header_too_long(line: u64) -> InputError {
    InputError::Csv {
        line,
        message: format!(
            "a linha do cabeçalho passa do limite de {} MB por linha ou de {} caracteres \
             por coluna; confira se o arquivo é mesmo uma exportação de exames em CSV",
            MAX_LINE_BYTES >> 20,
            super::MAX_CELL_CHARS
        ),
    }
}

/// The sample cut after its last line break, unless it is the whole file, so
/// a half-read last line does not skew the field counts.
fn complete_lines(head: &[u8], head_is_whole: bool) -> &[u8] {
    if head_is_whole {
        return head;
    }
    match head.iter().rposition(|&byte| byte == b'\n') {
        Some(end) => &head[..=end],
        None => head,
    }
}

/// Records end at LF, so `csv` counts lines as an editor does (with its CRLF
/// mode a record after CRLF reports the previous line); the CR left at the
/// end of the last cell is trimmed with the cell. Only a file of bare CRs
/// (classic Mac) needs CR as the terminator.
fn line_terminator(sample: &[u8]) -> csv::Terminator {
    if sample.contains(&b'\r') && !sample.contains(&b'\n') {
        csv::Terminator::CRLF
    } else {
        csv::Terminator::Any(b'\n')
    }
}

/// Reads the next record; a record past [`MAX_RECORD_BYTES`] (a quote
/// left open) stops the file with a reason naming where it starts.
fn next_record(
    reader: &mut CsvReader,
    record: &mut csv::ByteRecord,
    caps: &CapState,
) -> Result<bool, InputError> {
    let start = reader.position().clone();
    caps.record_starts_at(start.byte());
    reader.read_byte_record(record).map_err(|error| {
        let too_long = matches!(error.kind(), csv::ErrorKind::Io(io)
            if io.get_ref().is_some_and(RecordTooLong::is_cause));
        if too_long {
            InputError::Csv {
                line: start.line(),
                message: format!(
                    "a linha {} abre aspas (\") que não se fecham: o registro passa de {} MB \
                     sem terminar e o arquivo não foi lido. Feche as aspas dessa linha (ou \
                     retire-as) e exporte de novo",
                    start.line(),
                    MAX_RECORD_BYTES >> 20
                ),
            }
        } else {
            InputError::Csv {
                line: error.position().map_or(start.line(), csv::Position::line),
                message: format!("falha ao ler o arquivo ({error})"),
            }
        }
    })
}

/// The record as a row: cells decoded (the first `width`), long cells cut,
/// and the cuts of its lines and cells as notes.
fn capped_row(
    reader: &CsvReader,
    record: &csv::ByteRecord,
    caps: &CapState,
    encoding: TextEncoding,
    width: usize,
) -> Row {
    let line = line_of(record);
    let next_line = reader.position().line().max(line + 1);
    let mut notes: Vec<ReadNote> = caps
        .take_cuts(line, next_line)
        .into_iter()
        .map(|(_, bytes)| ReadNote::LineTooLong { bytes })
        .collect();
    let mut cells = Vec::with_capacity(record.len().min(width));
    // A cell's bytes lie between ASCII delimiters and quotes, so a cell of
    // a valid record is valid on its own unless its range splits a
    // character (then `get` says no and the cell is decoded alone).
    let whole = encoding.record_text(record.as_slice());
    for (column, field) in record.iter().take(width).enumerate() {
        let decoded = match whole.and_then(|text| text.get(record.range(column)?)) {
            Some(text) => TextEncoding::decode_text(text),
            None => encoding.decode_cell(field),
        };
        let (text, cut) = cut_cell(decoded);
        if let Some(chars) = cut {
            notes.push(ReadNote::CellTooLong {
                column,
                chars,
                last_line: next_line - 1,
            });
        }
        cells.push(text);
    }
    // The parser hands back a record cut by the end of the file inside a
    // quote as if it were whole: it is the last one, and incomplete.
    if caps.ended_inside_quote() {
        notes.push(ReadNote::UnclosedQuoteAtEnd {
            column: record.len().saturating_sub(1),
        });
    } else if caps.ended_after_delimiter() && record.len() > 1 {
        notes.push(ReadNote::EmptyLastCellAtEnd {
            column: record.len() - 1,
        });
    }
    Row { line, cells, notes }
}

/// The line where the record starts (a quoted cell may span several lines).
fn line_of(record: &csv::ByteRecord) -> u64 {
    record.position().map_or(0, csv::Position::line)
}

/// What the data rows are read against, once the header is known.
struct Layout {
    headers: Vec<String>,
    header_line: u64,
    delimiter: u8,
    /// Whether this is our own errors file dropped again: its formula
    /// neutralising is ours to undo.
    restore: bool,
    /// Where the error columns of a re-dropped errors file start.
    ours: Option<usize>,
    /// The header's width before our error columns were left out.
    full_width: usize,
}

impl Layout {
    /// Is this row one of the whole-file lines of our own errors file?
    fn is_file_note(&self, cell: impl Fn(usize) -> Option<String>) -> bool {
        self.ours
            .is_some_and(|at| redrop::is_file_note(at, self.full_width, cell))
    }
}

/// Drops blank and "Total" rows (unless cut: a cut row is reported);
/// fits the rest to the header width, undoes the formula neutralising of
/// our own errors file, and notes a repeated header or an open quote.
/// Blankness is judged on the fitted cells: a row of a re-dropped errors
/// file whose only text was in our error columns is blank.
fn keep_data_row(mut row: Row, layout: &Layout) -> Option<Row> {
    let width = layout.headers.len();
    // A file whose every line ends with a delimiter (some exports): past
    // the header's last column there is no value to cut, and the row is
    // whole.
    row.notes.retain(
        |note| !matches!(note, ReadNote::EmptyLastCellAtEnd { column } if *column >= width),
    );
    let mut short = None;
    if row.cells.len() < width && !row.cells.is_empty() {
        short = Some(ReadNote::ShortRow {
            cells: row.cells.len(),
            width,
        });
    }
    let mut row = Row {
        cells: fit_to_width(row.cells, width),
        ..row
    };
    if !row.is_cut() && (sniff::is_blank(&row.cells) || sniff::is_total_row(&row.cells)) {
        return None;
    }
    if layout.restore {
        restore_cells(&mut row.cells);
    }
    super::mark_repeated_header(&mut row, &layout.headers, layout.header_line);
    mark_swallowed_rows(&mut row, layout.delimiter, width);
    row.notes.extend(short);
    Some(row)
}

/// A quoted cell may hold line breaks (a long observation); one whose
/// inner lines carry a whole row's worth of delimiters is a quote never
/// closed that swallowed the rows below it.
fn mark_swallowed_rows(row: &mut Row, delimiter: u8, width: usize) {
    if width < 3 || !row.cells.iter().any(|cell| cell.contains('\n')) {
        return;
    }
    let breaks: usize = row
        .cells
        .iter()
        .map(|cell| cell.bytes().filter(|&b| b == b'\n').count())
        .sum();
    let last_line = row.line + breaks as u64;
    let swallowed = row.cells.iter().position(|cell| {
        cell.split('\n')
            .skip(1)
            .any(|line| line.bytes().filter(|&b| b == delimiter).count() + 1 >= width)
    });
    if let Some(column) = swallowed {
        row.notes
            .push(ReadNote::QuoteSwallowedRows { column, last_line });
    }
}

/// Takes off the `'` our reports put before formula-like cells.
fn restore_cells(cells: &mut [String]) {
    for cell in cells {
        if let Some(original) = restore_formula(cell) {
            *cell = original.to_owned();
        }
    }
}

/// Iterator over the data rows below the header.
struct CsvRows {
    reader: CsvReader,
    record: csv::ByteRecord,
    caps: Arc<CapState>,
    encoding: TextEncoding,
    layout: Layout,
    /// Rows already read while looking for the header.
    pending: VecDeque<Row>,
    finished: bool,
}

impl Iterator for CsvRows {
    type Item = Result<Row, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(row) = self.pending.pop_front() {
            return Some(Ok(row));
        }
        while !self.finished {
            match next_record(&mut self.reader, &mut self.record, &self.caps) {
                Ok(true) => {}
                Ok(false) => self.finished = true,
                Err(error) => {
                    self.finished = true;
                    return Some(Err(error));
                }
            }
            if self.finished {
                break;
            }
            let (record, encoding) = (&self.record, &self.encoding);
            if self
                .layout
                .is_file_note(|i| record.get(i).map(|field| encoding.decode_cell(field)))
            {
                continue;
            }
            // Cells beyond the header width have no column to land in.
            let row = capped_row(
                &self.reader,
                &self.record,
                &self.caps,
                self.encoding,
                self.layout.headers.len(),
            );
            if let Some(row) = keep_data_row(row, &self.layout) {
                return Some(Ok(row));
            }
        }
        None
    }
}
