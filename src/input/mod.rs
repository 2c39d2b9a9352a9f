//! Bytes → rows of text cells with their position. CSV is streamed (bounded
//! memory, any size); XLSX is read through calamine.
//!
//! Invariant: this module knows no validation rule, no field meaning and no
//! FHIR. It never decides whether a row is valid, only what its cells say.

mod caps;
mod csv;
mod decode;
mod digest;
mod ods;
mod ods_bounds;
mod redrop;
mod sniff;
mod window;
mod xlsx;
mod xlsx_cells;
mod xlsx_scan;

#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use self::csv::{read_csv, CsvSource, SNIFF_LEN};
use self::decode::{choose_encoding, is_utf8_stream};
pub(crate) use self::digest::{sha256_file, sha256_prefix};
use self::window::Window;

/// What kind of file was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Delimited text (any delimiter and encoding the reader detects).
    Csv,
    /// Excel workbook.
    Xlsx,
}

/// How to read a file (per inbox).
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// XLSX sheet name; default: the first sheet with data.
    pub sheet: Option<String>,
    /// Read no byte past this offset (`None`: the whole file). The service
    /// reads a snapshot of a file a writer may still be appending to: bytes
    /// written after the snapshot are read on a later pass, never half.
    pub byte_limit: Option<u64>,
}

/// What was detected about a file; the report repeats it to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    /// File name (no directory).
    pub file: String,
    /// CSV or XLSX.
    pub format: Format,
    /// Encoding used to decode a CSV, e.g. `UTF-8`, `UTF-8 (BOM)`, `windows-1252`.
    pub encoding: Option<String>,
    /// Detected CSV delimiter.
    pub delimiter: Option<char>,
    /// Sheet read, for XLSX.
    pub sheet: Option<String>,
    /// Line (or sheet row) of the header, as a person sees it.
    pub header_line: u64,
    /// Header texts as they appear in the file (trimmed), one per column.
    pub headers: Vec<String>,
}

/// One data row: cells as text, aligned with `SourceInfo::headers`.
///
/// Blank rows and "Total" summary rows are skipped. A row shorter than the
/// header is padded with empty cells; cells beyond the header width (no
/// column name to land under) are dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Line (or sheet row) as a person sees it.
    pub line: u64,
    /// Cell texts, one per header column.
    pub cells: Vec<String>,
    /// What the reader had to say about this row beyond its text (a cut
    /// cell, the text an older version read); empty for almost every row.
    pub notes: Vec<ReadNote>,
}

impl Row {
    /// A row with no reader notes.
    pub fn new(line: u64, cells: Vec<String>) -> Row {
        Row {
            line,
            cells,
            notes: Vec::new(),
        }
    }

    /// Whether the reader cut this row's text: such a row is never sent.
    pub(crate) fn is_cut(&self) -> bool {
        self.notes.iter().any(|note| {
            matches!(
                note,
                ReadNote::LineTooLong { .. } | ReadNote::CellTooLong { .. }
            )
        })
    }

    /// Whether the reader doubts this is a data row as the lab wrote it
    /// (cut, a header again, or rows swallowed by an open quote): such a
    /// row is reported, never sent.
    pub(crate) fn is_doubtful(&self) -> bool {
        self.notes.iter().any(|note| {
            !matches!(
                note,
                ReadNote::LegacyText { .. } | ReadNote::ShortRow { .. }
            )
        })
    }
}

/// Notes a data row that repeats the header (exports pasted one after
/// another): it is not data, and the lab should know the file was joined.
fn mark_repeated_header(row: &mut Row, headers: &[String], header_line: u64) {
    let repeats = row.cells.first() == headers.first()
        && row.cells.len() >= headers.len()
        && row
            .cells
            .iter()
            .zip(headers)
            .all(|(cell, header)| cell == header);
    if repeats {
        row.notes.push(ReadNote::RepeatedHeader { header_line });
    }
}

/// The longest cell kept, in characters: Excel's own limit, so every cell
/// we read fits the `erros.xlsx` we write.
pub(crate) const MAX_CELL_CHARS: usize = 32_767;

/// The longest physical line of a CSV kept, in bytes. Real exports have
/// lines of a few hundred bytes; past this the rest of the line is skipped
/// (and the row refused), so a line without breaks cannot take the
/// memory.
pub(crate) const MAX_LINE_BYTES: usize = 1 << 20;

/// Something the reader noticed about one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadNote {
    /// The line had `bytes` bytes (at least), more than [`MAX_LINE_BYTES`]:
    /// what follows the limit was skipped.
    LineTooLong {
        /// Length of the line in bytes (a lower bound).
        bytes: u64,
    },
    /// The cell of `column` (index into the cells) had `chars` characters,
    /// more than [`MAX_CELL_CHARS`]; it was cut. `last_line` is the last
    /// line the row reached (past `Row::line` when a quote was left open).
    CellTooLong {
        /// Index of the cut cell.
        column: usize,
        /// Characters the cell had.
        chars: usize,
        /// Last line the row reached.
        last_line: u64,
    },
    /// The text that versions before the Excel-time rounding fix read from
    /// this cell (a date-time serial they truncated to the second below).
    /// Only kept when it differs; used to recognise results those versions
    /// sent under an identifier derived from that text.
    LegacyText {
        /// Index of the cell.
        column: usize,
        /// The text the older versions read.
        text: String,
    },
    /// The row repeats the header of `header_line`.
    RepeatedHeader {
        /// Line of the header this row repeats.
        header_line: u64,
    },
    /// The file ended inside the quoted cell of `column`: the row is
    /// incomplete (a writer may still be writing it, or the export was
    /// cut), whatever its cells look like.
    UnclosedQuoteAtEnd {
        /// Index of the cell that opened the quote.
        column: usize,
    },
    /// The file ended right after the delimiter before the cell of
    /// `column`, with no line break: that cell is empty because nothing was
    /// written after the delimiter (an export cut there, or a writer still
    /// writing), so the row is incomplete, whatever its cells look like;
    /// no default may fill that cell (chaos seed 207).
    EmptyLastCellAtEnd {
        /// Index of the empty last cell.
        column: usize,
    },
    /// The row has only `cells` cells, fewer than the header: the columns
    /// past them are absent, not empty, and no default may fill them.
    ShortRow {
        /// How many cells the row had.
        cells: usize,
        /// How many the header has.
        width: usize,
    },
    /// The cell of `column` opened a quote that ran to `last_line`, and
    /// lines inside it look like whole rows: the quote was probably never
    /// closed and those rows were read as part of this cell.
    QuoteSwallowedRows {
        /// Index of the cell that opened the quote.
        column: usize,
        /// Last line the open quote reached.
        last_line: u64,
    },
}

/// An opened file: what was detected plus a stream of its data rows.
pub(crate) struct Table {
    pub info: SourceInfo,
    pub rows: Box<dyn Iterator<Item = Result<Row, InputError>> + Send>,
}

/// A file that cannot be read at all. Messages are pt-BR (they reach lab staff).
#[derive(Debug, thiserror::Error)]
pub(crate) enum InputError {
    #[error("não foi possível abrir o arquivo: {}", crate::io_text::reason(.0))]
    Io(#[from] std::io::Error),
    #[error("formato não reconhecido: {0}")]
    UnknownFormat(String),
    #[error("nenhuma linha de cabeçalho encontrada")]
    NoHeader,
    #[error("planilha inválida: {0}")]
    Xlsx(String),
    #[error("o arquivo está vazio (nenhuma linha com conteúdo)")]
    Empty,
    #[error("CSV inválido na linha {line}: {message}")]
    Csv { line: u64, message: String },
    #[error(
        "das primeiras {checked} linhas de dados, {invalid} têm problema: o arquivo não parece \
         uma exportação de resultados no formato configurado para esta pasta (colunas trocadas \
         ou conteúdo de outro tipo). A leitura parou na linha {last_line}; as linhas seguintes \
         não foram lidas. Exemplo: {example} Corrija o arquivo original e envie-o inteiro de novo"
    )]
    MostlyInvalid {
        checked: u64,
        invalid: u64,
        last_line: u64,
        example: String,
    },
}

/// Opens a CSV or XLSX file (detected by content, then by extension).
///
/// A CSV is streamed: only its first 64 KiB are held for detection, plus one
/// cheap pass over the file to check whether it is valid UTF-8.
pub(crate) fn open(path: &Path, options: &ReadOptions) -> Result<Table, InputError> {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    );
    let limit = options.byte_limit.unwrap_or(u64::MAX);
    let mut file = File::open(path)?;
    let mut head = Vec::with_capacity(SNIFF_LEN);
    (&mut file)
        .take((SNIFF_LEN as u64).min(limit))
        .read_to_end(&mut head)?;
    match classify(&head, &name)? {
        Kind::Ods => {
            file.seek(SeekFrom::Start(0))?;
            let mut bytes = Vec::new();
            file.take(limit).read_to_end(&mut bytes)?;
            ods::read_ods(name, Cursor::new(bytes), options.sheet.as_deref())
        }
        Kind::Xlsx => {
            file.seek(SeekFrom::Start(0))?;
            if limit == u64::MAX {
                let reader = std::io::BufReader::with_capacity(256 * 1024, file);
                xlsx::read_xlsx(name, reader, options)
            } else {
                // A snapshot of a file that may still grow: only the bytes
                // measured before the read, through a window (never a copy
                // of the whole file in memory).
                let window = Window::new(file, limit)?;
                let reader = std::io::BufReader::with_capacity(256 * 1024, window);
                xlsx::read_xlsx(name, reader, options)
            }
        }
        Kind::Csv => {
            let head_is_whole = head.len() < SNIFF_LEN || head.len() as u64 >= limit;
            let whole_is_utf8 = if head_is_whole {
                std::str::from_utf8(&head).is_ok()
            } else {
                file.seek(SeekFrom::Start(0))?;
                let valid = is_utf8_stream((&mut file).take(limit))?;
                file.seek(SeekFrom::Start(head.len() as u64))?;
                valid
            };
            let rest = file.take(limit.saturating_sub(head.len() as u64));
            read_csv(CsvSource {
                file: name,
                encoding: choose_encoding(&head, whole_is_utf8),
                head,
                head_is_whole,
                rest: Box::new(std::io::BufReader::with_capacity(256 * 1024, rest)),
            })
        }
    }
}

#[cfg(test)]
/// Same as [`open`], from bytes already in memory; `name` is the file name
/// reported in `SourceInfo::file` and used to recognise the format.
pub(crate) fn open_bytes(
    name: &str,
    bytes: Vec<u8>,
    options: &ReadOptions,
) -> Result<Table, InputError> {
    let head_len = bytes.len().min(SNIFF_LEN);
    match classify(&bytes[..head_len], name)? {
        Kind::Ods => ods::read_ods(
            name.to_owned(),
            Cursor::new(bytes),
            options.sheet.as_deref(),
        ),
        Kind::Xlsx => xlsx::read_xlsx(name.to_owned(), Cursor::new(bytes), options),
        Kind::Csv => {
            let head = bytes[..head_len].to_vec();
            let encoding = choose_encoding(&head, std::str::from_utf8(&bytes).is_ok());
            let mut rest = Cursor::new(bytes);
            rest.set_position(head_len as u64);
            read_csv(CsvSource {
                file: name.to_owned(),
                encoding,
                head_is_whole: head_len == rest.get_ref().len(),
                head,
                rest: Box::new(rest),
            })
        }
    }
}

enum Kind {
    Csv,
    Xlsx,
    /// OpenDocument spreadsheet (LibreOffice).
    Ods,
}

/// The first entry of an ODS zip is its uncompressed `mimetype`.
const ODS_MIMETYPE: &[u8] = b"application/vnd.oasis.opendocument.spreadsheet";

/// An HTML page (some systems "export to Excel" as a web page named
/// `.xls`): its first tag, after a BOM and blanks.
fn is_html(head: &[u8]) -> bool {
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    let opening: Vec<u8> = text[start..]
        .iter()
        .take(512)
        .map(u8::to_ascii_lowercase)
        .collect();
    opening.starts_with(b"<")
        && [&b"<html"[..], b"<!doctype html", b"<table"]
            .iter()
            .any(|tag| opening.windows(tag.len()).any(|w| w == *tag))
}

/// Recognises the format from the first bytes; refuses binary content that
/// is not a spreadsheet (a picture or PDF renamed `.csv`).
fn classify(head: &[u8], name: &str) -> Result<Kind, InputError> {
    const ZIP: &[u8] = b"PK\x03\x04";
    // Compound File Binary: legacy .xls, or an encrypted (password) .xlsx.
    const CFB: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";
    if head.is_empty() {
        return Err(InputError::Empty);
    }
    if head.starts_with(ZIP) {
        let ods = head
            .get(..200)
            .unwrap_or(head)
            .windows(ODS_MIMETYPE.len())
            .any(|w| w == ODS_MIMETYPE);
        return Ok(if ods { Kind::Ods } else { Kind::Xlsx });
    }
    if head.starts_with(CFB) {
        return Err(InputError::Xlsx(
            "a planilha está protegida por senha ou no formato antigo .xls; \
             salve uma cópia sem senha como .xlsx ou CSV e envie novamente"
                .into(),
        ));
    }
    let lower = name.to_lowercase();
    if is_html(head) {
        return Err(InputError::UnknownFormat(
            "o arquivo é uma página da web (HTML), não uma planilha, mesmo com a extensão do \
             Excel: o sistema que o gerou salva a tabela como página da web. Abra-o no Excel e \
             use Arquivo > Salvar como > Pasta de Trabalho do Excel (.xlsx) ou CSV, ou peça \
             ao sistema a exportação em .xlsx ou CSV"
                .into(),
        ));
    }
    if lower.ends_with(".xlsx") || lower.ends_with(".xlsm") {
        return Err(InputError::Xlsx(
            "o arquivo tem extensão .xlsx mas não é uma planilha XLSX (conteúdo corrompido ou de outro tipo)"
                .into(),
        ));
    }
    if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
        return Err(InputError::UnknownFormat(
            "texto em UTF-16; salve o arquivo como CSV em UTF-8".into(),
        ));
    }
    if looks_binary(head) {
        return Err(InputError::UnknownFormat(
            "o conteúdo não é texto (imagem, PDF ou outro arquivo binário?); envie um CSV ou XLSX"
                .into(),
        ));
    }
    Ok(Kind::Csv)
}

/// NUL bytes, or many control bytes, never occur in a text export.
fn looks_binary(head: &[u8]) -> bool {
    let controls = head
        .iter()
        .filter(|&&byte| byte < 0x20 && !matches!(byte, b'\t' | b'\n' | b'\r' | 0x0C | 0x13))
        .count();
    head.contains(&0) || controls * 20 > head.len()
}

/// Header texts, without the empty cells after the last named column.
fn header_texts(cells: &[String]) -> Vec<String> {
    let named = cells
        .iter()
        .rposition(|cell| !cell.is_empty())
        .map_or(0, |last| last + 1);
    cells[..named].to_vec()
}

/// Pads a row with empty cells, or drops the cells past the header width.
fn fit_to_width(mut cells: Vec<String>, width: usize) -> Vec<String> {
    cells.resize(width, String::new());
    cells
}
