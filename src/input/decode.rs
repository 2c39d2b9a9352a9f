//! Text decoding of CSV cells: picks the file's encoding (UTF-8, with or
//! without BOM, else Windows-1252) and turns each cell's bytes into clean,
//! trimmed text, repairing the stray control bytes real exports carry.
//!
//! Invariant: knows bytes and characters only, never what a cell means.

use std::borrow::Cow;
use std::io::{self, Read};

/// UTF-8 byte order mark.
pub(crate) const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The encoding a CSV file is decoded with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextEncoding {
    Utf8,
    Utf8Bom,
    /// Also covers ISO-8859-1, whose printable range it extends.
    Windows1252,
}

impl TextEncoding {
    /// The name reported in `SourceInfo::encoding`.
    pub(crate) fn label(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Utf8Bom => "UTF-8 (BOM)",
            TextEncoding::Windows1252 => "windows-1252",
        }
    }

    /// How many leading bytes of the file are not content: the BOM, or the
    /// lone 0xFF some Latin-1 exports carry at offset 0 (it would make the
    /// first header read `ÿid`).
    pub(crate) fn skipped_prefix(self, head: &[u8]) -> usize {
        match self {
            TextEncoding::Utf8Bom => UTF8_BOM.len(),
            TextEncoding::Windows1252 if head.first() == Some(&0xFF) => 1,
            _ => 0,
        }
    }

    /// A whole record's bytes as text, when every cell of it can be
    /// decoded from that text ([`TextEncoding::decode_text`]): valid UTF-8,
    /// and only ASCII in a Windows-1252 file. One check for the record
    /// instead of one per cell.
    pub(crate) fn record_text(self, bytes: &[u8]) -> Option<&str> {
        let text = std::str::from_utf8(bytes).ok()?;
        (self != TextEncoding::Windows1252 || text.is_ascii()).then_some(text)
    }

    /// [`TextEncoding::decode_cell`] of a cell of a record
    /// [`TextEncoding::record_text`] accepted: the same text.
    pub(crate) fn decode_text(text: &str) -> String {
        if text.bytes().all(|byte| (0x20..0x7F).contains(&byte)) {
            return text.trim_ascii().to_owned();
        }
        clean_cell(text)
    }

    /// Decodes one cell's bytes into trimmed, cleaned text.
    pub(crate) fn decode_cell(self, bytes: &[u8]) -> String {
        // Fast path for the common cell: printable ASCII needs no decoding
        // and no repair, only trimming.
        if bytes.iter().all(|&byte| (0x20..0x7F).contains(&byte)) {
            let trimmed = bytes.trim_ascii();
            // `from_utf8` checks ASCII a word at a time; the lossy decoder
            // walks it in chunks (1.7 % of a `check`'s instructions).
            return std::str::from_utf8(trimmed).map_or_else(
                |_| String::from_utf8_lossy(trimmed).into_owned(),
                str::to_owned,
            );
        }
        let text: Cow<'_, str> = match self {
            TextEncoding::Windows1252 if !bytes.is_ascii() => {
                encoding_rs::WINDOWS_1252
                    .decode_without_bom_handling(bytes)
                    .0
            }
            // Valid UTF-8 (and ASCII) borrows; anything else is a corrupt
            // byte in a UTF-8 file and becomes U+FFFD rather than an error.
            _ => std::str::from_utf8(bytes)
                .map_or_else(|_| String::from_utf8_lossy(bytes), Cow::Borrowed),
        };
        clean_cell(&text)
    }
}

/// Chooses the encoding from the first bytes and the whole content's UTF-8
/// validity.
pub(crate) fn choose_encoding(head: &[u8], whole_is_utf8: bool) -> TextEncoding {
    if head.starts_with(UTF8_BOM) {
        TextEncoding::Utf8Bom
    } else if whole_is_utf8 {
        TextEncoding::Utf8
    } else {
        TextEncoding::Windows1252
    }
}

/// Whether everything `reader` yields is valid UTF-8, reading it in chunks so
/// a large file is never held in memory.
pub(crate) fn is_utf8_stream(mut reader: impl Read) -> io::Result<bool> {
    let mut buffer = vec![0u8; 1 << 20];
    // Bytes of a multi-byte sequence cut by the chunk boundary (at most 3).
    let mut carried = 0usize;
    loop {
        let read = match reader.read(&mut buffer[carried..]) {
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        if read == 0 {
            return Ok(carried == 0);
        }
        let filled = carried + read;
        match std::str::from_utf8(&buffer[..filled]) {
            Ok(_) => carried = 0,
            Err(error) if error.error_len().is_some() => return Ok(false),
            Err(error) => {
                let valid = error.valid_up_to();
                buffer.copy_within(valid..filled, 0);
                carried = filled - valid;
            }
        }
    }
}

/// Trims a cell and repairs control characters: U+0013 (where exports lost
/// an en dash) becomes `–`, other control characters and NBSP become spaces;
/// tab, CR and LF inside a quoted cell are kept.
pub(crate) fn clean_cell(text: &str) -> String {
    let trimmed = text.trim();
    // Fast path: C0 controls, DEL, and 0xC2 (lead byte of NBSP and of the C1
    // controls) are the only bytes that can need repair.
    if !trimmed
        .bytes()
        .any(|byte| byte < 0x20 || byte == 0x7F || byte == 0xC2)
    {
        return trimmed.to_owned();
    }
    let repaired: String = trimmed
        .chars()
        .map(|character| match character {
            '\u{13}' => '–',
            '\t' | '\n' | '\r' => character,
            '\u{A0}' => ' ',
            other if other.is_control() => ' ',
            other => other,
        })
        .collect();
    repaired.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_1252_cells_decode_with_accents() {
        let cell = TextEncoding::Windows1252.decode_cell(b" N\xE3o detect\xE1vel ");
        assert_eq!(cell, "Não detectável");
    }

    #[test]
    fn control_bytes_are_repaired() {
        assert_eq!(
            clean_cell("Eletroquimioluminesc\u{ea}ncia \u{13} ECLIA"),
            "Eletroquimioluminescência – ECLIA"
        );
        assert_eq!(clean_cell("a\u{1}b\u{a0}c\u{a0}"), "a b c");
        assert_eq!(clean_cell("linha 1\nlinha 2"), "linha 1\nlinha 2");
    }

    /// Two cells side by side as the CSV parser leaves them in a record:
    /// where the record's text is taken whole, each cell's text decodes
    /// exactly as its bytes alone do, in every encoding; a character split
    /// between the cells, or Windows-1252 bytes, fall back to the cell.
    #[test]
    fn a_record_decoded_whole_gives_each_cells_own_text() {
        let cells: [&[u8]; 12] = [
            b"  abc ",
            "Não detectável".as_bytes(),
            b"\xC3",
            b"\xA3o",
            b"x\x13y",
            "\u{a0}nbsp\u{a0}".as_bytes(),
            b"caf\xE9",
            b"\t tab \t",
            b"",
            "😷 ".as_bytes(),
            b"linha 1\nlinha 2",
            b"a\x7F",
        ];
        let (mut whole_hits, mut alone) = (0, 0);
        for encoding in [
            TextEncoding::Utf8,
            TextEncoding::Utf8Bom,
            TextEncoding::Windows1252,
        ] {
            for a in cells {
                for b in cells {
                    let record = [a, b].concat();
                    let text = encoding.record_text(&record);
                    for (range, bytes) in [(0..a.len(), a), (a.len()..record.len(), b)] {
                        match text.and_then(|t| t.get(range)) {
                            Some(t) => {
                                assert_eq!(
                                    TextEncoding::decode_text(t),
                                    encoding.decode_cell(bytes),
                                    "{encoding:?} {a:?} {b:?}"
                                );
                                whole_hits += 1;
                            }
                            None => alone += 1,
                        }
                    }
                }
            }
        }
        assert!(whole_hits > 200 && alone > 50, "{whole_hits} / {alone}");
        let split = [&b"\xC3"[..], b"\xA3o"].concat();
        let text = TextEncoding::Utf8.record_text(&split).expect("valid whole");
        assert_eq!(text, "ão");
        assert!(text.get(0..1).is_none());
        assert!(TextEncoding::Windows1252
            .record_text("Não".as_bytes())
            .is_none());
    }

    #[test]
    fn utf8_stream_check_handles_sequences_cut_by_chunks() {
        let mut text = vec![b'a'; (1 << 20) - 1];
        text.extend_from_slice("ção".as_bytes());
        assert!(is_utf8_stream(&text[..]).unwrap());
        text.push(0xE3);
        assert!(!is_utf8_stream(&text[..]).unwrap());
        assert!(!is_utf8_stream(&b"N\xE3o"[..]).unwrap());
    }
}
