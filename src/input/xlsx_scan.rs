//! The byte-counting pass over an XLSX before calamine opens it: every XML
//! part is inflated through the `zip` crate into a small buffer and
//! counted, so the size caps hold on the bytes the part really has (a zip
//! directory can declare 1,000 bytes for 900 MB), and no single XML token
//! (a cell's text, a tag) may exceed [`MAX_XML_TOKEN_BYTES`], so calamine
//! never builds an 800 MB string for one cell.
//!
//! Invariant: counts bytes of the workbook's parts; knows nothing of cells,
//! rows or what the columns mean.

use std::io::{Read, Seek};

use super::InputError;

/// Largest uncompressed sheet XML read (a full Excel sheet of 20 text
/// columns is about 800 MB); the 1.5 GB "bomb" is refused before reading.
pub(crate) const MAX_SHEET_XML_BYTES: u64 = 1 << 30;

/// Largest uncompressed size of any other part; calamine holds these
/// (shared strings, styles, workbook) in memory whole.
pub(crate) const MAX_PART_BYTES: u64 = 64 << 20;

/// Longest XML token (a text node, a tag with its attributes, a comment)
/// read. Excel's longest cell, 32,767 characters, is at most about 330 KB
/// even with every character escaped; calamine holds a token whole while
/// it reads it, so a longer one is refused, not read.
pub(crate) const MAX_XML_TOKEN_BYTES: u64 = 1 << 20;

/// Inflated bytes looked at a time.
const SCAN_BUFFER: usize = 64 * 1024;

/// Refuses a workbook whose parts would take too long or too much memory
/// to read: first from the sizes its zip directory declares (cheap), then
/// by inflating each XML part and counting what really comes out.
///
/// A zip that cannot be opened, or a part that cannot be inflated, is left
/// to calamine, whose error says it better.
pub(crate) fn check_parts<RS: Read + Seek>(source: &mut RS) -> Result<(), InputError> {
    let Ok(mut archive) = zip::ZipArchive::new(&mut *source) else {
        return Ok(());
    };
    for index in 0..archive.len() {
        let Ok(part) = archive.by_index_raw(index) else {
            continue;
        };
        let limit = part_limit(part.name());
        if part.size() > limit {
            return Err(too_big(part.name(), part.size(), limit));
        }
    }
    let started = std::time::Instant::now();
    let mut total: u64 = 0;
    let mut buffer = vec![0; SCAN_BUFFER];
    for index in 0..archive.len() {
        let Ok(mut part) = archive.by_index(index) else {
            continue;
        };
        let name = part.name().to_owned();
        if !is_xml(&name) {
            continue;
        }
        let limit = part_limit(&name);
        let mut meter = TokenMeter::default();
        let mut inflated: u64 = 0;
        loop {
            let read = match part.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            inflated += read as u64;
            total += read as u64;
            if inflated > limit {
                return Err(too_big(&name, inflated, limit));
            }
            if meter.feed(&buffer[..read]) > MAX_XML_TOKEN_BYTES {
                return Err(InputError::Xlsx(format!(
                    "a planilha tem uma célula ou marcação interna ({name}) com mais de {} MB \
                     de texto; o Excel não grava células tão longas (no máximo 32767 \
                     caracteres), e o arquivo não foi lido. Abra-o no Excel e salve novamente \
                     como .xlsx, ou exporte como CSV",
                    MAX_XML_TOKEN_BYTES >> 20
                )));
            }
        }
    }
    // What the scan costs (BENCHMARKS.md quotes it): RUST_LOG=debug.
    tracing::debug!(
        inflated_mb = total >> 20,
        ms = started.elapsed().as_millis(),
        "xlsx: partes descompactadas e contadas antes da leitura"
    );
    Ok(())
}

/// The XML parts calamine may read; pictures and other binaries it never
/// inflates.
fn is_xml(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".xml") || lower.ends_with(".rels") || lower.ends_with(".vml")
}

fn part_limit(name: &str) -> u64 {
    if is_sheet(name) {
        MAX_SHEET_XML_BYTES
    } else {
        MAX_PART_BYTES
    }
}

fn is_sheet(name: &str) -> bool {
    name.starts_with("xl/worksheets/") && name.ends_with(".xml")
}

fn too_big(name: &str, size: u64, limit: u64) -> InputError {
    let what = if is_sheet(name) {
        "uma aba da planilha"
    } else {
        "uma parte interna da planilha"
    };
    let size = if size > limit {
        format!("mais de {} MB", limit >> 20)
    } else {
        format!("{} MB", size >> 20)
    };
    InputError::Xlsx(format!(
        "{what} ({name}) tem {size} de dados descompactados, mais que o limite de {} MB \
         que o conector lê; o arquivo não foi lido. Divida os exames em arquivos \
         menores ou exporte como CSV",
        limit >> 20
    ))
}

/// Measures the longest XML token seen so far. Errs on the long side: a
/// quoted `>` does not end a tag, and `<!…` ends only at `-->` or `]]>`, so
/// no token an XML reader buffers can look shorter here than it is.
#[derive(Debug, Default)]
struct TokenMeter {
    state: State,
    /// Bytes of the current token.
    current: u64,
    /// The longest token so far.
    longest: u64,
    /// The two bytes before the current one (to see `-->`, `]]>`, `?>`).
    before: [u8; 2],
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Character data between tags.
    #[default]
    Text,
    /// Just after `<`.
    Open,
    /// A start or end tag; `Some(quote)` inside an attribute value.
    Tag(Option<u8>),
    /// `<!…` (comment, CDATA, DOCTYPE).
    Bang,
    /// `<?…?>`.
    Instruction,
}

impl TokenMeter {
    /// Takes the next bytes; returns the longest token so far (a token
    /// still open counts with the bytes it has).
    fn feed(&mut self, bytes: &[u8]) -> u64 {
        let mut rest = bytes;
        while !rest.is_empty() {
            if self.state == State::Text {
                // The common case, a run of text, is one search for `<`.
                if let Some(at) = rest.iter().position(|&byte| byte == b'<') {
                    self.end_token(at as u64);
                    self.state = State::Open;
                    self.current = 1;
                    rest = &rest[at + 1..];
                } else {
                    self.current += rest.len() as u64;
                    rest = &[];
                }
                continue;
            }
            let byte = rest[0];
            rest = &rest[1..];
            self.current += 1;
            self.state = match (self.state, byte) {
                (State::Open, b'!') => State::Bang,
                (State::Open, b'?') => State::Instruction,
                (State::Open | State::Tag(None), b'>') => State::Text,
                (State::Open | State::Tag(None), b'"' | b'\'') => State::Tag(Some(byte)),
                (State::Open, _) => State::Tag(None),
                (State::Tag(Some(quote)), _) if byte == quote => State::Tag(None),
                (State::Bang, b'>') if matches!(&self.before, b"--" | b"]]") => State::Text,
                (State::Instruction, b'>') if self.before[1] == b'?' => State::Text,
                (state, _) => state,
            };
            self.before = [self.before[1], byte];
            if self.state == State::Text {
                self.end_token(0);
            }
        }
        self.longest.max(self.current)
    }

    /// Closes the current token after `extra` more bytes.
    fn end_token(&mut self, extra: u64) {
        self.longest = self.longest.max(self.current + extra);
        self.current = 0;
        self.before = [0; 2];
    }
}

#[cfg(test)]
mod tests {
    use super::TokenMeter;

    fn longest(chunks: &[&[u8]]) -> u64 {
        let mut meter = TokenMeter::default();
        chunks.iter().map(|chunk| meter.feed(chunk)).last().unwrap()
    }

    #[test]
    fn the_longest_token_is_a_text_node_or_a_tag_whole() {
        assert_eq!(longest(&[b"<a>hello</a>"]), 5);
        assert_eq!(longest(&[b"<c r=\"A1\">x</c>"]), 10);
        // Split anywhere, the same lengths.
        assert_eq!(longest(&[b"<c r=\"A", b"1\">x</", b"c>"]), 10);
    }

    #[test]
    fn a_quoted_angle_bracket_or_a_cdata_does_not_end_the_token_early() {
        assert_eq!(longest(&[b"<c v=\"a>b>c\">"]), 13);
        let cdata = b"<t><![CDATA[<<>><>]]></t>";
        assert_eq!(longest(&[cdata]), 18);
        assert_eq!(longest(&[b"<!-- a > b -->x"]), 14);
        assert_eq!(longest(&[b"<?xml version=\"1.0\"?><a/>"]), 21);
    }

    #[test]
    fn a_token_still_open_counts_with_what_it_has() {
        assert_eq!(longest(&[b"<t>", &[b'x'; 5000]]), 5000);
    }
}
