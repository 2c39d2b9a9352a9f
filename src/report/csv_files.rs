//! The CSV outputs, shaped for Brazilian Excel: UTF-8 with BOM (so accents
//! survive), `;` as delimiter (Excel's list separator in pt-BR), CRLF line
//! ends, quotes only where a cell needs them.

use std::io;
use std::path::{Path, PathBuf};

use crate::model::RowIssue;

use super::atomic::AtomicFile;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Extra columns appended to the original ones in the errors file.
pub const ERROR_COLUMNS: [&str; 3] = ["erro_coluna", "erro_valor", "erro_mensagem"];

/// Separator of several issues of one row inside one cell.
pub const ISSUE_SEPARATOR: &str = " | ";

fn excel_writer(path: &Path) -> io::Result<csv::Writer<AtomicFile>> {
    let mut file = AtomicFile::create(path)?;
    io::Write::write_all(&mut file, BOM)?;
    Ok(csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(file))
}

fn commit(writer: csv::Writer<AtomicFile>) -> io::Result<PathBuf> {
    writer.into_inner().map_err(|e| e.into_error())?.commit()
}

/// The three error cells of a row: columns, values and messages of its
/// issues, each joined with [`ISSUE_SEPARATOR`] in the same order.
pub fn issue_cells(issues: &[RowIssue]) -> [String; 3] {
    let join = |part: fn(&RowIssue) -> &str| {
        issues
            .iter()
            .map(part)
            .collect::<Vec<_>>()
            .join(ISSUE_SEPARATOR)
    };
    [
        join(|i| &i.column),
        join(|i| &i.value),
        join(|i| &i.message),
    ]
}

/// The cells of a row aligned with the header: short rows padded with
/// empty cells, cells beyond the last header left out.
pub(super) fn aligned(cells: &[String], width: usize) -> impl Iterator<Item = &str> {
    cells
        .iter()
        .map(String::as_str)
        .chain(std::iter::repeat(""))
        .take(width)
}

/// `<stem>.erros.csv`: the invalid rows as they were, plus why, so the lab
/// can fix the cells and drop the file again. Written atomically on
/// [`ErrorsCsv::commit`]; dropped without commit, nothing appears.
pub struct ErrorsCsv {
    writer: csv::Writer<AtomicFile>,
    width: usize,
    rows: u64,
    record: Vec<String>,
}

impl ErrorsCsv {
    /// Starts the file with the original `headers` plus the error columns.
    pub fn create(path: &Path, headers: &[String]) -> io::Result<ErrorsCsv> {
        let mut writer = excel_writer(path)?;
        writer.write_record(headers.iter().map(String::as_str).chain(ERROR_COLUMNS))?;
        Ok(ErrorsCsv {
            writer,
            width: headers.len(),
            rows: 0,
            record: Vec::new(),
        })
    }

    /// One invalid row: its original `cells`, then its issues.
    pub fn write_row(&mut self, cells: &[String], issues: &[RowIssue]) -> io::Result<()> {
        self.record.clear();
        self.record
            .extend(aligned(cells, self.width).map(str::to_owned));
        self.record.extend(issue_cells(issues));
        self.writer.write_record(&self.record)?;
        self.rows += 1;
        Ok(())
    }

    /// Rows written so far (header excluded).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Flushes and moves the file into place; returns where it went (see
    /// [`AtomicFile::commit`]).
    pub fn commit(self) -> io::Result<PathBuf> {
        commit(self.writer)
    }
}

/// What happened to a valid row, in the words `enviados.csv` uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SentStatus {
    /// Accepted by RNDS (201).
    Sent,
    /// Accepted as a replacement of an earlier, different version.
    Replaced,
    /// Same content already accepted earlier, at this date (as the lab
    /// reads it, e.g. `03/11/2026 16:42`): not sent again.
    AlreadySent { sent_at: String },
    /// RNDS answered EHR-ERR866 for a lab id the ledger did not hold: it
    /// already has this exam (notified before), nothing to send.
    AlreadyAtRnds,
    /// Refused by RNDS, with the pt-BR reason.
    Rejected(String),
    /// Not sent yet (RNDS unreachable); will be retried.
    Pending,
}

impl SentStatus {
    pub fn text(&self) -> String {
        match self {
            SentStatus::Sent => "enviado".into(),
            SentStatus::Replaced => "substituído".into(),
            SentStatus::AlreadySent { sent_at } if sent_at.is_empty() => "já enviado".into(),
            SentStatus::AlreadySent { sent_at } => format!("já enviado em {sent_at}"),
            SentStatus::AlreadyAtRnds => "já estava na RNDS (EHR-ERR866): este exame já foi \
                notificado antes, nada a fazer. Se o resultado desta linha for diferente do \
                notificado, não troque o número do exame: peça ao suporte a substituição na RNDS"
                .into(),
            SentStatus::Rejected(reason) if reason.trim().is_empty() => "rejeitado".into(),
            SentStatus::Rejected(reason) => format!("rejeitado: {}", reason.trim()),
            SentStatus::Pending => "pendente".into(),
        }
    }
}

/// Header of `enviados.csv`.
pub const SENT_COLUMNS: [&str; 4] = ["linha", "id_exame", "id_rnds", "situacao"];

/// `<stem>.enviados.csv`: one line per valid row with the RNDS id it got.
pub struct SentCsv {
    writer: csv::Writer<AtomicFile>,
    rows: u64,
}

impl SentCsv {
    pub fn create(path: &Path) -> io::Result<SentCsv> {
        let mut writer = excel_writer(path)?;
        writer.write_record(SENT_COLUMNS)?;
        Ok(SentCsv { writer, rows: 0 })
    }

    /// `rnds_id` is empty when RNDS assigned none (pending, rejected, or an
    /// earlier acceptance whose answer was lost).
    pub fn write_row(
        &mut self,
        line: u64,
        lab_id: &str,
        rnds_id: Option<&str>,
        status: &SentStatus,
    ) -> io::Result<()> {
        self.writer.write_record([
            line.to_string().as_str(),
            lab_id,
            rnds_id.unwrap_or(""),
            status.text().as_str(),
        ])?;
        self.rows += 1;
        Ok(())
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn commit(self) -> io::Result<PathBuf> {
        commit(self.writer)
    }
}
