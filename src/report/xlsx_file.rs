//! `<stem>.erros.xlsx`: the errors file for XLSX input, same content as
//! `erros.csv`, header in bold. The sheet is written in rust_xlsxwriter's
//! constant-memory mode: each row goes to a temporary file as soon as the
//! next one starts, so a long list of invalid rows costs disk, not memory.

use std::io;
use std::path::{Path, PathBuf};

use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

use crate::model::RowIssue;

use super::atomic::write_atomic;
use super::csv_files::{aligned, cut_note, file_note, issue_cells, ERROR_COLUMNS, MAX_LISTED_ROWS};

/// Sheet name when the original one cannot be reused.
pub(crate) const DEFAULT_SHEET: &str = "Erros";

/// Data rows listed, as in `erros.csv` (far below Excel's 1,048,576).
const DATA_ROWS_THAT_FIT: u32 = MAX_LISTED_ROWS as u32;

fn xlsx_error(e: XlsxError) -> io::Error {
    io::Error::other(format!("falha ao gerar a planilha de erros: {e}"))
}

/// Column widths, in characters: at least a header's, at most this much
/// (a long message wraps in Excel's cell view rather than push the sheet).
const MIN_COLUMN_WIDTH: usize = 8;
const MAX_COLUMN_WIDTH: usize = 80;

pub(crate) struct ErrorsXlsx {
    /// Holds the one sheet (constant-memory mode), reached by index.
    workbook: Workbook,
    width: usize,
    /// Widest text per column so far, in characters (header included).
    widths: Vec<usize>,
    /// Next sheet row (0-based; row 0 is the header).
    next_row: u32,
    /// Rows past the cap, counted only.
    left_out: u64,
    /// Data rows the sheet takes.
    fits: u32,
}

impl ErrorsXlsx {
    /// `sheet` is the original sheet name, kept so an inbox configured for
    /// that sheet reads the corrected file back; [`DEFAULT_SHEET`] otherwise.
    pub(crate) fn new(headers: &[String], sheet: Option<&str>) -> io::Result<ErrorsXlsx> {
        let mut workbook = Workbook::new();
        let ws = workbook.add_worksheet_with_constant_memory();
        if ws.set_name(sheet.unwrap_or(DEFAULT_SHEET)).is_err() {
            ws.set_name(DEFAULT_SHEET).map_err(xlsx_error)?;
        }
        let bold = Format::new().set_bold();
        let header = headers.iter().map(String::as_str).chain(ERROR_COLUMNS);
        let mut widths = Vec::new();
        for (col, text) in header.enumerate() {
            widths.push(text.chars().count());
            ws.write_string_with_format(0, column(col)?, text, &bold)
                .map_err(xlsx_error)?;
        }
        ws.set_freeze_panes(1, 0).map_err(xlsx_error)?;
        Ok(ErrorsXlsx {
            workbook,
            width: headers.len(),
            widths,
            next_row: 1,
            left_out: 0,
            fits: DATA_ROWS_THAT_FIT,
        })
    }

    /// One invalid row: its original `cells` (as text, so leading zeros of
    /// CNS and CNES stay), then its issues.
    /// Past the cap the row is only counted (see [`ErrorsXlsx::save`]).
    pub(crate) fn write_row(&mut self, cells: &[String], issues: &[RowIssue]) -> io::Result<()> {
        if self.next_row > self.fits {
            self.left_out += 1;
            return Ok(());
        }
        self.write_listed(cells, issues)
    }

    fn write_listed(&mut self, cells: &[String], issues: &[RowIssue]) -> io::Result<()> {
        let row = self.next_row;
        let errors = issue_cells(issues);
        let all = aligned(cells, self.width).chain(errors.iter().map(String::as_str));
        for (col, text) in all.enumerate() {
            if let Some(widest) = self.widths.get_mut(col) {
                *widest = (*widest).max(text.chars().count());
            }
            if !text.is_empty() {
                sheet(&mut self.workbook)?
                    .write_string(row, column(col)?, text)
                    .map_err(xlsx_error)?;
            }
        }
        self.next_row += 1;
        Ok(())
    }

    /// A line about the whole file, as in `erros.csv`.
    pub(crate) fn write_file_note(&mut self, issue: &RowIssue) -> io::Result<()> {
        let (cells, note) = file_note(issue);
        self.write_row(&cells, std::slice::from_ref(&note))
    }

    #[cfg(test)]
    /// Rows written so far (header excluded).
    pub(crate) fn rows(&self) -> u64 {
        u64::from(self.next_row - 1)
    }

    /// Rows past the cap.
    #[cfg(test)]
    pub(crate) fn rows_left_out(&self) -> u64 {
        self.left_out
    }

    /// Builds the workbook and writes it atomically to `path`. When rows
    /// were left out, the sheet's last row says how many, as `erros.csv`'s.
    /// Returns where it went (see [`super::AtomicFile::commit`]).
    pub(crate) fn save(mut self, path: &Path) -> io::Result<PathBuf> {
        if self.left_out > 0 {
            let (cells, note) = file_note(&cut_note(self.left_out));
            self.write_listed(&cells, std::slice::from_ref(&note))?;
        }
        let widths = self.column_widths();
        let ws = sheet(&mut self.workbook)?;
        for (col, width) in widths.into_iter().enumerate() {
            ws.set_column_width(column(col)?, width as f64)
                .map_err(xlsx_error)?;
        }
        let bytes = self.workbook.save_to_buffer().map_err(xlsx_error)?;
        write_atomic(path, &bytes)
    }
}

impl ErrorsXlsx {
    /// The width each column gets: its widest text plus a margin, bounded.
    pub(crate) fn column_widths(&self) -> Vec<usize> {
        self.widths
            .iter()
            .map(|w| (w + 2).clamp(MIN_COLUMN_WIDTH, MAX_COLUMN_WIDTH))
            .collect()
    }
}

/// The errors sheet, the workbook's only one.
fn sheet(workbook: &mut Workbook) -> io::Result<&mut Worksheet> {
    workbook.worksheet_from_index(0).map_err(xlsx_error)
}

fn column(index: usize) -> io::Result<u16> {
    u16::try_from(index).map_err(|_| io::Error::other("planilha com colunas demais"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(line: u64) -> RowIssue {
        RowIssue {
            line,
            column: "CNS".into(),
            value: "123".into(),
            code: "cns_invalido".into(),
            message: format!("Linha {line}: CNS inválido."),
        }
    }

    #[test]
    fn rows_past_the_sheet_limit_are_counted_and_noted() {
        let headers = vec!["Paciente".to_string(), "CNS".to_string()];
        let mut errors = ErrorsXlsx::new(&headers, None).unwrap();
        errors.fits = 2;
        for line in 2..6 {
            let cells = vec![format!("P{line}"), "123".to_string()];
            errors.write_row(&cells, &[issue(line)]).unwrap();
        }
        assert_eq!((errors.rows(), errors.rows_left_out()), (2, 2));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.erros.xlsx");
        errors.save(&path).unwrap();
        let mut workbook: calamine::Xlsx<_> = calamine::open_workbook(&path).unwrap();
        let range = calamine::Reader::worksheet_range(&mut workbook, DEFAULT_SHEET).unwrap();
        let last: Vec<String> = range
            .rows()
            .next_back()
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(range.height(), 4);
        assert!(
            last[0].starts_with("Mais 2 linhas com problema não foram listadas"),
            "{last:?}"
        );
    }
}
