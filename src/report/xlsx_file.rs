//! `<stem>.erros.xlsx`: the errors file for XLSX input, same content as
//! `erros.csv`, header in bold. Only invalid rows are held in memory.

use std::io;
use std::path::{Path, PathBuf};

use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

use crate::model::RowIssue;

use super::atomic::write_atomic;
use super::csv_files::{aligned, issue_cells, ERROR_COLUMNS};

/// Sheet name when the original one cannot be reused.
pub const DEFAULT_SHEET: &str = "Erros";

fn xlsx_error(e: XlsxError) -> io::Error {
    io::Error::other(format!("falha ao gerar a planilha de erros: {e}"))
}

/// Column widths, in characters: at least a header's, at most this much
/// (a long message wraps in Excel's cell view rather than push the sheet).
const MIN_COLUMN_WIDTH: usize = 8;
const MAX_COLUMN_WIDTH: usize = 80;

pub struct ErrorsXlsx {
    sheet: Worksheet,
    width: usize,
    /// Widest text per column so far, in characters (header included).
    widths: Vec<usize>,
    /// Next sheet row (0-based; row 0 is the header).
    next_row: u32,
}

impl ErrorsXlsx {
    /// `sheet` is the original sheet name, kept so an inbox configured for
    /// that sheet reads the corrected file back; [`DEFAULT_SHEET`] otherwise.
    pub fn new(headers: &[String], sheet: Option<&str>) -> io::Result<ErrorsXlsx> {
        let mut ws = Worksheet::new();
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
            sheet: ws,
            width: headers.len(),
            widths,
            next_row: 1,
        })
    }

    /// One invalid row: its original `cells` (as text, so leading zeros of
    /// CNS and CNES stay), then its issues.
    pub fn write_row(&mut self, cells: &[String], issues: &[RowIssue]) -> io::Result<()> {
        let row = self.next_row;
        let errors = issue_cells(issues);
        let all = aligned(cells, self.width).chain(errors.iter().map(String::as_str));
        for (col, text) in all.enumerate() {
            if let Some(widest) = self.widths.get_mut(col) {
                *widest = (*widest).max(text.chars().count());
            }
            if !text.is_empty() {
                self.sheet
                    .write_string(row, column(col)?, text)
                    .map_err(xlsx_error)?;
            }
        }
        self.next_row += 1;
        Ok(())
    }

    /// Rows written so far (header excluded).
    pub fn rows(&self) -> u64 {
        u64::from(self.next_row - 1)
    }

    /// Builds the workbook and writes it atomically to `path`; returns
    /// where it went (see [`super::AtomicFile::commit`]).
    pub fn save(mut self, path: &Path) -> io::Result<PathBuf> {
        for (col, width) in self.column_widths().into_iter().enumerate() {
            self.sheet
                .set_column_width(column(col)?, width as f64)
                .map_err(xlsx_error)?;
        }
        let mut workbook = Workbook::new();
        workbook.push_worksheet(self.sheet);
        let bytes = workbook.save_to_buffer().map_err(xlsx_error)?;
        write_atomic(path, &bytes)
    }
}

impl ErrorsXlsx {
    /// The width each column gets: its widest text plus a margin, bounded.
    pub fn column_widths(&self) -> Vec<usize> {
        self.widths
            .iter()
            .map(|w| (w + 2).clamp(MIN_COLUMN_WIDTH, MAX_COLUMN_WIDTH))
            .collect()
    }
}

fn column(index: usize) -> io::Result<u16> {
    u16::try_from(index).map_err(|_| io::Error::other("planilha com colunas demais"))
}
