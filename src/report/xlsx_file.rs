//! `<stem>.erros.xlsx`: the errors file staff fix in Excel (written for
//! every input, CSV too), same content as `erros.csv`, header in bold.
//! Every cell is a text cell in a text-formatted column, so a CNS, CPF, id
//! or code keeps its digits when edited and saved again (a bare number
//! would come back as `8,52984E+14`); only the date columns hold real
//! Excel dates, shown `dd/mm/aaaa hh:mm`, which read back as the same
//! moment. The sheet is written in rust_xlsxwriter's constant-memory mode:
//! each row goes to a temporary file as soon as the next one starts, so a
//! long list of invalid rows costs disk, not memory.

use std::io;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

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
    /// Columns (of the lab's own) that hold a date or date-time.
    date_columns: Vec<usize>,
    /// Text format (`@`): what staff type in stays text.
    text: Format,
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
    /// `date_columns` are the columns whose cells are written as Excel
    /// dates when they read as one (see [`excel_moment`]).
    pub(crate) fn new(
        headers: &[String],
        sheet: Option<&str>,
        date_columns: &[usize],
    ) -> io::Result<ErrorsXlsx> {
        let mut workbook = Workbook::new();
        let ws = workbook.add_worksheet_with_constant_memory();
        if ws.set_name(sheet.unwrap_or(DEFAULT_SHEET)).is_err() {
            ws.set_name(DEFAULT_SHEET).map_err(xlsx_error)?;
        }
        let text = Format::new().set_num_format("@");
        let bold = Format::new().set_bold().set_num_format("@");
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
            date_columns: date_columns.to_vec(),
            text,
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
            if text.is_empty() {
                continue;
            }
            let at = column(col)?;
            let moment = excel_moment(text).filter(|_| self.date_columns.contains(&col));
            let ws = sheet(&mut self.workbook)?;
            match moment {
                Some((moment, format)) => ws.write_datetime_with_format(
                    row,
                    at,
                    &moment,
                    &Format::new().set_num_format(format),
                ),
                None => ws.write_string_with_format(row, at, text, &self.text),
            }
            .map_err(xlsx_error)?;
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
            let at = column(col)?;
            ws.set_column_width(at, width as f64).map_err(xlsx_error)?;
            if !self.date_columns.contains(&col) {
                // Cells staff fill in later are text too.
                ws.set_column_format(at, &self.text).map_err(xlsx_error)?;
            }
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

/// The Excel date of a cell written the way a lab or our XLSX reader
/// writes dates (`03/11/2026 09:10`, `2026-11-03 09:10:00`, `03/11/2026`),
/// with the number format that shows it the Brazilian way; None for
/// anything else, which stays text. Reading the date cell back gives the
/// same moment (date alone stays a date alone); a time of exactly
/// midnight stays text, since it would read back as a date alone.
fn excel_moment(text: &str) -> Option<(ExcelDateTime, &'static str)> {
    const WITH_TIME: [&str; 5] = [
        "%d/%m/%Y %H:%M:%S",
        "%d/%m/%Y %H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
    ];
    const DATE_ONLY: [&str; 2] = ["%d/%m/%Y", "%Y-%m-%d"];
    let text = text.trim();
    let moment = WITH_TIME
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .filter(|m| m.time() != NaiveTime::MIN)
        .or_else(|| {
            DATE_ONLY
                .iter()
                .find_map(|f| NaiveDate::parse_from_str(text, f).ok())
                .map(|d| d.and_time(NaiveTime::MIN))
        })?;
    let (date, time) = (moment.date(), moment.time());
    let format = if time == NaiveTime::MIN {
        "dd/mm/yyyy"
    } else if time.second() == 0 {
        "dd/mm/yyyy hh:mm"
    } else {
        "dd/mm/yyyy hh:mm:ss"
    };
    let year = u16::try_from(chrono::Datelike::year(&date)).ok()?;
    let excel = ExcelDateTime::from_ymd(
        year,
        chrono::Datelike::month(&date) as u8,
        chrono::Datelike::day(&date) as u8,
    )
    .and_then(|d| d.and_hms(time.hour() as u16, time.minute() as u8, time.second()))
    .ok()?;
    Some((excel, format))
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
        let mut errors = ErrorsXlsx::new(&headers, None, &[]).unwrap();
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

    #[test]
    fn only_dates_a_reader_gives_back_unchanged_become_excel_dates() {
        for (text, format) in [
            ("03/11/2026 09:10", Some("dd/mm/yyyy hh:mm")),
            ("2026-11-03 09:10:05", Some("dd/mm/yyyy hh:mm:ss")),
            ("03/11/2026", Some("dd/mm/yyyy")),
            ("2026-11-03", Some("dd/mm/yyyy")),
            ("03/11/2026 00:00", None),
            ("31/02/2026", None),
            ("03/11/26", None),
            ("2026-11-03T09:10:00-03:00", None),
            ("759010928159013", None),
        ] {
            assert_eq!(excel_moment(text).map(|(_, f)| f), format, "{text}");
        }
    }
}
