//! Streamed CSV reading: the delimiter and header are detected from the
//! first lines, then records are decoded one at a time, so memory stays
//! bounded whatever the file size.
//!
//! Invariant: yields text cells with the line a person sees in an editor;
//! knows nothing of what the columns mean.

use std::collections::VecDeque;
use std::io::{Cursor, Read};

use super::decode::TextEncoding;
use super::sniff::{self, HEADER_SEARCH_ROWS};
use super::{fit_to_width, header_texts, redrop, Format, InputError, Row, SourceInfo, Table};

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
    let stream: Box<dyn Read + Send> = Box::new(Cursor::new(head).chain(rest));
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
        if !next_record(&mut reader, &mut record)? {
            break;
        }
        let cells: Vec<String> = record
            .iter()
            .map(|field| encoding.decode_cell(field))
            .collect();
        if !sniff::is_blank(&cells) {
            first_rows.push(Row {
                line: line_of(&record),
                cells,
            });
        }
    }
    if first_rows.is_empty() {
        return Err(InputError::Empty);
    }
    let cells: Vec<Vec<String>> = first_rows.iter().map(|row| row.cells.clone()).collect();
    let header_index = sniff::find_header(&cells).ok_or(InputError::NoHeader)?;
    let mut headers = header_texts(&first_rows[header_index].cells);
    if headers.is_empty() {
        return Err(InputError::NoHeader);
    }
    let full_width = headers.len();
    let ours = redrop::error_columns_at(&headers);
    headers.truncate(ours.unwrap_or(full_width));
    let width = headers.len();
    let pending: VecDeque<Row> = first_rows
        .drain(header_index + 1..)
        .filter(|row| {
            !ours.is_some_and(|at| {
                redrop::is_file_note(at, full_width, |i| row.cells.get(i).cloned())
            })
        })
        .filter_map(|row| keep_data_row(row.line, row.cells, width))
        .collect();
    let info = SourceInfo {
        file,
        format: Format::Csv,
        encoding: Some(encoding.label().to_owned()),
        delimiter: Some(char::from(delimiter)),
        sheet: None,
        header_line: first_rows[header_index].line,
        headers,
    };
    let rows = CsvRows {
        reader,
        record,
        encoding,
        width,
        ours,
        full_width,
        pending,
        finished: false,
    };
    Ok(Table {
        info,
        rows: Box::new(rows),
    })
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

fn next_record(
    reader: &mut csv::Reader<Box<dyn Read + Send>>,
    record: &mut csv::ByteRecord,
) -> Result<bool, InputError> {
    reader
        .read_byte_record(record)
        .map_err(|error| InputError::Csv {
            line: error.position().map_or(0, csv::Position::line),
            message: format!("falha ao ler o arquivo ({error})"),
        })
}

/// The line where the record starts (a quoted cell may span several lines).
fn line_of(record: &csv::ByteRecord) -> u64 {
    record.position().map_or(0, csv::Position::line)
}

/// Drops blank and "Total" rows; fits the rest to the header width.
/// Blankness is judged on the fitted cells: a row of a re-dropped errors
/// file whose only text was in our error columns is blank.
fn keep_data_row(line: u64, cells: Vec<String>, width: usize) -> Option<Row> {
    let cells = fit_to_width(cells, width);
    if sniff::is_blank(&cells) || sniff::is_total_row(&cells) {
        return None;
    }
    Some(Row { line, cells })
}

/// Iterator over the data rows below the header.
struct CsvRows {
    reader: csv::Reader<Box<dyn Read + Send>>,
    record: csv::ByteRecord,
    encoding: TextEncoding,
    width: usize,
    /// Where the error columns of a re-dropped errors file start.
    ours: Option<usize>,
    full_width: usize,
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
            match next_record(&mut self.reader, &mut self.record) {
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
            if let Some(at) = self.ours {
                let (record, encoding) = (&self.record, &self.encoding);
                if redrop::is_file_note(at, self.full_width, |i| {
                    record.get(i).map(|field| encoding.decode_cell(field))
                }) {
                    continue;
                }
            }
            // Cells beyond the header width have no column to land in.
            let mut cells = Vec::with_capacity(self.width);
            cells.extend(
                self.record
                    .iter()
                    .take(self.width)
                    .map(|field| self.encoding.decode_cell(field)),
            );
            if let Some(row) = keep_data_row(line_of(&self.record), cells, self.width) {
                return Some(Ok(row));
            }
        }
        None
    }
}
