//! The CSV outputs, shaped for Brazilian Excel: UTF-8 with BOM (so accents
//! survive), `;` as delimiter (Excel's list separator in pt-BR), CRLF line
//! ends, quotes only where a cell needs them, and no cell Excel would run
//! as a formula (see [`neutralise_formula`]).

use std::borrow::Cow;
use std::io;
use std::path::{Path, PathBuf};

use crate::model::RowIssue;

use super::atomic::AtomicFile;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Extra columns appended to the original ones in the errors file.
pub const ERROR_COLUMNS: [&str; 3] = ["erro_coluna", "erro_valor", "erro_mensagem"];

/// `erro_coluna` of a line that speaks of the whole file (a column the file
/// lacks, a file that is not results at all), not of one row. Such lines
/// come first; a re-dropped errors file is read without them.
pub const FILE_NOTE_COLUMN: &str = "(arquivo)";

/// The cells and issue of a whole-file line: the sentence in the first
/// column too, where it is seen without scrolling past the file's own
/// columns.
pub(crate) fn file_note(issue: &RowIssue) -> (Vec<String>, RowIssue) {
    let note = RowIssue {
        column: FILE_NOTE_COLUMN.into(),
        ..issue.clone()
    };
    (vec![issue.message.clone()], note)
}

/// `30000` → `30.000`: a count the way a Brazilian reads it.
pub fn pt_number(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(d);
    }
    out
}

/// Rows an errors file lists (whole-file lines included); past this they
/// are counted and a closing line says how many were left out. A file with
/// a million bad rows gets a report a person can open, not gigabytes.
pub(crate) const MAX_LISTED_ROWS: u64 = 10_000;

/// The closing whole-file line of an errors file that left `left_out` rows
/// out. A whole-file line: a corrected errors file dropped back in is read
/// without it.
pub(crate) fn cut_note(left_out: u64) -> RowIssue {
    RowIssue {
        line: 0,
        column: FILE_NOTE_COLUMN.into(),
        value: left_out.to_string(),
        code: "linhas_nao_listadas".into(),
        message: format!(
            "Mais {left_out} linhas com problema não foram listadas aqui (este relatório lista \
             no máximo {MAX_LISTED_ROWS} linhas; o resumo conta todos os problemas). Corrija \
             o arquivo original e envie-o inteiro de novo: resultados já enviados não são \
             enviados outra vez."
        ),
    }
}

/// Separator of several issues of one row inside one cell.
pub(crate) const ISSUE_SEPARATOR: &str = " | ";

fn excel_writer(path: &Path) -> io::Result<csv::Writer<AtomicFile>> {
    let mut file = AtomicFile::create(path)?;
    io::Write::write_all(&mut file, BOM)?;
    Ok(csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(file))
}

/// A cell Excel would take for a formula (`=`, `@`, tab or CR first, or
/// `+`/`-` first when it is not a plain number such as `-3,5` or a lone
/// `-`) gets a leading `'`, which Excel shows as text: a value copied from
/// an input file must never run when staff open a report. Leading quotes
/// already there are counted, so [`restore_formula`] undoes exactly this
/// and nothing else.
pub(crate) fn neutralise_formula(cell: &str) -> Cow<'_, str> {
    if would_run(cell.trim_start_matches('\'')) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// The inverse of [`neutralise_formula`], for a report dropped back in.
pub(crate) fn restore_formula(cell: &str) -> Option<&str> {
    let rest = cell.strip_prefix('\'')?;
    would_run(rest.trim_start_matches('\'')).then_some(rest)
}

fn would_run(text: &str) -> bool {
    match text.as_bytes() {
        [b'=' | b'@' | b'\t' | b'\r', ..] => true,
        [b'+' | b'-', rest @ ..] => !rest
            .iter()
            .all(|&b| b.is_ascii_digit() || matches!(b, b'.' | b',')),
        _ => false,
    }
}

fn neutralised(cell: &str) -> String {
    neutralise_formula(cell).into_owned()
}

fn commit(writer: csv::Writer<AtomicFile>) -> io::Result<PathBuf> {
    writer
        .into_inner()
        .map_err(csv::IntoInnerError::into_error)?
        .commit()
}

/// The three error cells of a row: columns, values and messages of its
/// issues, each joined with [`ISSUE_SEPARATOR`] in the same order; a
/// problem with no column (or no value) adds nothing to that cell, and a
/// column or value named twice is named once, so a cell never reads " | ".
pub(crate) fn issue_cells(issues: &[RowIssue]) -> [String; 3] {
    let join = |part: fn(&RowIssue) -> &str| {
        let mut parts: Vec<&str> = Vec::new();
        for text in issues.iter().map(part) {
            if !text.is_empty() && !parts.contains(&text) {
                parts.push(text);
            }
        }
        parts.join(ISSUE_SEPARATOR)
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
pub(crate) struct ErrorsCsv {
    writer: csv::Writer<AtomicFile>,
    width: usize,
    rows: u64,
    /// Rows past [`MAX_LISTED_ROWS`], counted only.
    left_out: u64,
    record: Vec<String>,
}

impl ErrorsCsv {
    /// Starts the file with the original `headers` plus the error columns.
    pub(crate) fn create(path: &Path, headers: &[String]) -> io::Result<ErrorsCsv> {
        let mut writer = excel_writer(path)?;
        writer.write_record(
            headers
                .iter()
                .map(|header| neutralised(header))
                .chain(ERROR_COLUMNS.map(String::from)),
        )?;
        Ok(ErrorsCsv {
            writer,
            width: headers.len(),
            rows: 0,
            left_out: 0,
            record: Vec::new(),
        })
    }

    /// One invalid row: its original `cells`, then its issues. Past
    /// [`MAX_LISTED_ROWS`] the row is only counted.
    pub(crate) fn write_row(&mut self, cells: &[String], issues: &[RowIssue]) -> io::Result<()> {
        if self.rows >= MAX_LISTED_ROWS {
            self.left_out += 1;
            return Ok(());
        }
        self.write_listed(cells, issues)
    }

    fn write_listed(&mut self, cells: &[String], issues: &[RowIssue]) -> io::Result<()> {
        self.record.clear();
        self.record
            .extend(aligned(cells, self.width).map(neutralised));
        self.record
            .extend(issue_cells(issues).iter().map(|cell| neutralised(cell)));
        self.writer.write_record(&self.record)?;
        self.rows += 1;
        Ok(())
    }

    /// A line about the whole file (see [`FILE_NOTE_COLUMN`]).
    pub(crate) fn write_file_note(&mut self, issue: &RowIssue) -> io::Result<()> {
        let (cells, note) = file_note(issue);
        self.write_row(&cells, std::slice::from_ref(&note))
    }

    #[cfg(test)]
    /// Rows written so far (header excluded).
    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    /// Ends the file with [`cut_note`] when rows were left out, flushes
    /// and moves it into place; returns where it went (see
    /// [`AtomicFile::commit`]).
    pub(crate) fn commit(mut self) -> io::Result<PathBuf> {
        if self.left_out > 0 {
            let (cells, note) = file_note(&cut_note(self.left_out));
            self.write_listed(&cells, std::slice::from_ref(&note))?;
        }
        commit(self.writer)
    }
}

/// What happened to a valid row, in the words `enviados.csv` uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SentStatus {
    /// Accepted by RNDS (201).
    Sent,
    /// Accepted as a replacement of an earlier, different version.
    Replaced,
    /// Same content already accepted earlier, at this date (as the lab
    /// reads it, e.g. `03/11/2026 16:42`): not sent again.
    AlreadySent { sent_at: String },
    /// RNDS answered EHR-ERR866 for a lab id the ledger did not hold: it
    /// already has this exam (notified before), nothing to send.
    AlreadyAtRnds {
        /// The code RNDS answered (`EHR-ERR866`, `EHR-MSG010`, …).
        code: String,
    },
    /// Refused by RNDS, with the pt-BR reason.
    Rejected(String),
    /// Not sent yet (RNDS unreachable); will be retried.
    Pending,
    /// A row an earlier read of this file handled, no longer in the file
    /// (the writer rewrote it while it was being processed), with the
    /// state the ledger holds for it (`sent`: RNDS stored it).
    GoneFromFile { sent: bool },
    /// Not sent now: a file admitted later (`later_file`) brought another
    /// version of this result, which prevails. `sent_before`: this
    /// version reached RNDS earlier (its RNDS id is on the line).
    Superseded {
        later_file: String,
        sent_before: bool,
    },
    /// Sent, but the answer never arrived (or the process stopped while
    /// sending): RNDS may hold it. Checked with RNDS before anything is
    /// sent again, never resent blindly.
    Unconfirmed,
}

impl SentStatus {
    pub(crate) fn text(&self) -> String {
        match self {
            SentStatus::Sent => "enviado".into(),
            SentStatus::Replaced => "substituído".into(),
            SentStatus::AlreadySent { sent_at } if sent_at.is_empty() => "já enviado".into(),
            SentStatus::AlreadySent { sent_at } => format!("já enviado em {sent_at}"),
            SentStatus::AlreadyAtRnds { code } => format!(
                "já estava na RNDS ({code}): este exame já foi notificado antes, nada a fazer. \
                 Se o resultado desta linha for diferente do notificado, não troque o número do \
                 exame: peça ao suporte a substituição na RNDS"
            ),
            SentStatus::Rejected(reason) if reason.trim().is_empty() => "rejeitado".into(),
            SentStatus::Rejected(reason) => format!("rejeitado: {}", reason.trim()),
            SentStatus::Pending => "pendente".into(),
            SentStatus::GoneFromFile { sent: true } => "enviado de uma versão anterior deste \
                arquivo: o arquivo foi reescrito enquanto era processado e esta linha não está \
                mais nele. O exame continua na RNDS. Se ele não devia ter sido enviado, peça \
                ao suporte a correção na RNDS (não troque o número do exame)"
                .into(),
            SentStatus::Superseded {
                later_file,
                sent_before,
            } => format!(
                "{}: um arquivo posterior ({later_file}) traz outra versão deste exame, que \
                 prevalece; nada a fazer",
                if *sent_before {
                    "enviado antes"
                } else {
                    "não enviado"
                }
            ),
            SentStatus::Unconfirmed => "aguardando confirmação da RNDS: o envio pode ter \
                chegado; o rnds-drop confere na RNDS antes de qualquer reenvio (nada a fazer)"
                .into(),
            SentStatus::GoneFromFile { sent: false } => "não enviado: estava numa versão \
                anterior deste arquivo, que foi reescrito enquanto era processado, e não está \
                mais nele. Se o exame deve ir para a RNDS, coloque-o num arquivo na pasta de \
                entrada"
                .into(),
        }
    }
}

/// Header of `enviados.csv`: the row, its ids and fate, then what staff
/// look a result up by (new columns go last: readers index the first four).
pub(crate) const SENT_COLUMNS: [&str; 8] = [
    "linha",
    "id_exame",
    "id_rnds",
    "situacao",
    "paciente",
    "exame",
    "resultado",
    "data_coleta",
];

/// What staff recognise a sent result by, as `enviados.csv` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SentLookup {
    /// The patient's name when the file has one (never sent to RNDS).
    pub patient: String,
    /// The exam as the row wrote it (name or code).
    pub exam: String,
    /// The result as sent, in words (`Não detectável`, `12,5 UI/mL (Detectável)`).
    pub result: String,
    /// Collection date as the lab reads it (`03/11/2026 08:15`).
    pub collected: String,
}

/// `<stem>.enviados.csv`: one line per valid row with the RNDS id it got.
pub(crate) struct SentCsv {
    writer: csv::Writer<AtomicFile>,
    rows: u64,
}

impl SentCsv {
    pub(crate) fn create(path: &Path) -> io::Result<SentCsv> {
        let mut writer = excel_writer(path)?;
        writer.write_record(SENT_COLUMNS)?;
        Ok(SentCsv { writer, rows: 0 })
    }

    /// `rnds_id` is empty when RNDS assigned none (pending, rejected, or an
    /// earlier acceptance whose answer was lost).
    pub(crate) fn write_row(
        &mut self,
        line: u64,
        lab_id: &str,
        rnds_id: Option<&str>,
        status: &SentStatus,
        lookup: &SentLookup,
    ) -> io::Result<()> {
        let status = status.text();
        self.writer.write_record([
            line.to_string().as_str(),
            &*neutralise_formula(lab_id),
            &*neutralise_formula(rnds_id.unwrap_or("")),
            &*neutralise_formula(&status),
            &*neutralise_formula(&lookup.patient),
            &*neutralise_formula(&lookup.exam),
            &*neutralise_formula(&lookup.result),
            &*neutralise_formula(&lookup.collected),
        ])?;
        self.rows += 1;
        Ok(())
    }

    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    pub(crate) fn commit(self) -> io::Result<PathBuf> {
        commit(self.writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(value: &str) -> RowIssue {
        RowIssue {
            line: 2,
            column: "Obs".into(),
            value: value.into(),
            code: "x".into(),
            message: format!("Linha 2: \"{value}\" não serve."),
        }
    }

    #[test]
    fn counts_are_written_the_brazilian_way() {
        for (n, text) in [
            (0, "0"),
            (999, "999"),
            (1000, "1.000"),
            (1_234_567, "1.234.567"),
        ] {
            assert_eq!(pt_number(n), text);
        }
    }

    #[test]
    fn formula_like_cells_are_neutralised_and_restored_exactly() {
        for (cell, written) in [
            (
                "=HYPERLINK(\"http://x\",\"x\")",
                "'=HYPERLINK(\"http://x\",\"x\")",
            ),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("+55 11 9999", "'+55 11 9999"),
            ("-1+cmd|' /C calc'!A0", "'-1+cmd|' /C calc'!A0"),
            ("\tx", "'\tx"),
            ("'=already", "''=already"),
            ("-", "-"),
            ("-3,5", "-3,5"),
            ("+12", "+12"),
            ("Não detectável", "Não detectável"),
            ("'texto", "'texto"),
        ] {
            assert_eq!(neutralise_formula(cell), written, "{cell:?}");
            let back = restore_formula(written).unwrap_or(written);
            assert_eq!(back, cell, "{written:?}");
        }
    }

    #[test]
    fn every_csv_report_neutralises_what_came_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let errors_path = dir.path().join("x.erros.csv");
        let headers = vec!["=Paciente".to_string(), "Obs".to_string()];
        let mut errors = ErrorsCsv::create(&errors_path, &headers).unwrap();
        let cells = vec!["Ana".to_string(), "=1+1".to_string()];
        errors.write_row(&cells, &[issue("=1+1")]).unwrap();
        errors.commit().unwrap();
        let text = std::fs::read_to_string(&errors_path).unwrap();
        let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
        assert_eq!(
            lines[0],
            "'=Paciente;Obs;erro_coluna;erro_valor;erro_mensagem"
        );
        assert_eq!(
            lines[1],
            "Ana;'=1+1;Obs;'=1+1;\"Linha 2: \"\"=1+1\"\" não serve.\""
        );

        let sent_path = dir.path().join("x.enviados.csv");
        let mut sent = SentCsv::create(&sent_path).unwrap();
        let lookup = SentLookup {
            patient: "=Ana".into(),
            ..SentLookup::default()
        };
        sent.write_row(3, "-2+3", Some("abc"), &SentStatus::Sent, &lookup)
            .unwrap();
        sent.commit().unwrap();
        let text = std::fs::read_to_string(&sent_path).unwrap();
        assert!(text.contains("3;'-2+3;abc;enviado;'=Ana;;;"), "{text}");
    }
}
