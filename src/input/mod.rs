//! Bytes → rows of text cells with their position. CSV is streamed (bounded
//! memory, any size); XLSX is read through calamine.
//!
//! Invariant: this module knows no validation rule, no field meaning and no
//! FHIR. It never decides whether a row is valid, only what its cells say.

use std::path::Path;

/// What kind of file was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Xlsx,
}

/// How to read a file (per inbox).
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// XLSX sheet name; default: the first sheet with data.
    pub sheet: Option<String>,
}

/// What was detected about a file; the report repeats it to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    /// File name (no directory).
    pub file: String,
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Line (or sheet row) as a person sees it.
    pub line: u64,
    pub cells: Vec<String>,
}

/// An opened file: what was detected plus a stream of its data rows.
pub struct Table {
    pub info: SourceInfo,
    pub rows: Box<dyn Iterator<Item = Result<Row, InputError>> + Send>,
}

/// A file that cannot be read at all. Messages are pt-BR (they reach lab staff).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("não foi possível abrir o arquivo: {0}")]
    Io(#[from] std::io::Error),
    #[error("formato não reconhecido: {0}")]
    UnknownFormat(String),
    #[error("nenhuma linha de cabeçalho encontrada")]
    NoHeader,
    #[error("planilha inválida: {0}")]
    Xlsx(String),
    #[error("CSV inválido na linha {line}: {message}")]
    Csv { line: u64, message: String },
}

/// Opens a CSV or XLSX file (detected by content, then by extension).
pub fn open(path: &Path, options: &ReadOptions) -> Result<Table, InputError> {
    let _ = (path, options);
    Err(InputError::UnknownFormat("não implementado".into()))
}
