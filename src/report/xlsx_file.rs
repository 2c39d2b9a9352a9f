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

pub struct ErrorsXlsx {
    sheet: Worksheet,
    width: usize,
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
        for (col, text) in header.enumerate() {
            ws.write_string_with_format(0, column(col)?, text, &bold)
                .map_err(xlsx_error)?;
        }
        ws.set_freeze_panes(1, 0).map_err(xlsx_error)?;
        Ok(ErrorsXlsx {
            sheet: ws,
            width: headers.len(),
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
    pub fn save(self, path: &Path) -> io::Result<PathBuf> {
        let mut workbook = Workbook::new();
        workbook.push_worksheet(self.sheet);
        let bytes = workbook.save_to_buffer().map_err(xlsx_error)?;
        write_atomic(path, &bytes)
    }
}

fn column(index: usize) -> io::Result<u16> {
    u16::try_from(index).map_err(|_| io::Error::other("planilha com colunas demais"))
}
