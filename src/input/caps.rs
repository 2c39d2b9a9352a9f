//! Bounds on what one CSV record may cost: a physical line is cut at
//! [`MAX_LINE_BYTES`] (the rest of it skipped and the cut remembered, so
//! the row is refused with a reason), and a record that keeps growing over
//! many lines (a quote never closed) stops the read at
//! [`MAX_RECORD_BYTES`] instead of swallowing the file into one cell.
//! It also follows the quoting of the bytes it passes on (as the `csv`
//! parser does: a quote opens only at the start of a cell) so that a file
//! ending inside an open quote, a cell still being written, is known:
//! the parser itself returns that last record as if it were complete.
//!
//! Invariant: sits between the file and the CSV parser; counts bytes and
//! line breaks only.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::MAX_LINE_BYTES;

/// The most bytes one record (one row, over all its lines) may take.
pub(crate) const MAX_RECORD_BYTES: u64 = 8 << 20;

/// What the capped stream and the row reader share.
#[derive(Debug, Default)]
pub(crate) struct CapState {
    /// Lines cut so far and not yet claimed by a row: (line, bytes it had).
    cut_lines: Mutex<VecDeque<(u64, u64)>>,
    /// How many are in `cut_lines`, so rows skip the lock when none is.
    cut_count: AtomicUsize,
    /// Stream offset where the record being parsed starts.
    record_start: AtomicU64,
    /// The stream ended inside a quoted cell: the record being parsed
    /// when it ended (the last one) is incomplete.
    open_quote_at_end: AtomicBool,
    /// The stream ended right after a delimiter, with no line break: the
    /// last record's last cell is empty because nothing was written after
    /// its delimiter yet (a writer cut there, or still writing).
    delimiter_at_end: AtomicBool,
}

impl CapState {
    /// Marks where the next record starts (the parser's byte position).
    pub(crate) fn record_starts_at(&self, byte: u64) {
        self.record_start.store(byte, Ordering::Relaxed);
    }

    /// The cut lines in `first..next` (a record's lines); earlier ones
    /// belonged to skipped blank records and are dropped.
    pub(crate) fn take_cuts(&self, first: u64, next: u64) -> Vec<(u64, u64)> {
        if self.cut_count.load(Ordering::Acquire) == 0 {
            return Vec::new();
        }
        let mut cuts = match self.cut_lines.lock() {
            Ok(cuts) => cuts,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut taken = Vec::new();
        while let Some(&(line, bytes)) = cuts.front() {
            if line >= next {
                break;
            }
            cuts.pop_front();
            self.cut_count.fetch_sub(1, Ordering::AcqRel);
            if line >= first {
                taken.push((line, bytes));
            }
        }
        taken
    }

    /// Whether the stream ended inside a quoted cell (set when the end is
    /// reached, that is while the last record is parsed).
    pub(crate) fn ended_inside_quote(&self) -> bool {
        self.open_quote_at_end.load(Ordering::Acquire)
    }

    /// Whether the stream ended right after a delimiter, with no line
    /// break (set when the end is reached, like [`Self::ended_inside_quote`]).
    pub(crate) fn ended_after_delimiter(&self) -> bool {
        self.delimiter_at_end.load(Ordering::Acquire)
    }

    fn push_cut(&self, line: u64, bytes: u64) {
        match self.cut_lines.lock() {
            Ok(mut cuts) => cuts.push_back((line, bytes)),
            Err(poisoned) => poisoned.into_inner().push_back((line, bytes)),
        }
        self.cut_count.fetch_add(1, Ordering::AcqRel);
    }
}

/// The error a record over [`MAX_RECORD_BYTES`] raises through the parser.
#[derive(Debug)]
pub(crate) struct RecordTooLong;

impl RecordTooLong {
    /// Whether an I/O error's inner error is this one.
    pub(crate) fn is_cause(inner: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
        inner.is::<RecordTooLong>()
    }
}

impl std::fmt::Display for RecordTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "registro com mais de {} MB", MAX_RECORD_BYTES >> 20)
    }
}

impl std::error::Error for RecordTooLong {}

/// Where the bytes passed on stand in the CSV quoting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quoting {
    /// At the start of a cell: a `"` here opens a quoted cell.
    CellStart,
    /// Inside an unquoted cell: a `"` is a plain character.
    Unquoted,
    /// Inside a quoted cell: delimiters and line breaks are text.
    Quoted,
    /// A `"` inside a quoted cell: a second one is an escaped quote,
    /// anything else closed the cell.
    QuoteInQuoted,
}

/// A reader that applies the caps; `line_end` is the byte that ends a
/// physical line (`\n`, or `\r` for a file of bare CRs).
pub(crate) struct CappedLines<R> {
    inner: R,
    state: Arc<CapState>,
    line_end: u8,
    delimiter: u8,
    quoting: Quoting,
    line: u64,
    line_len: u64,
    skipping: bool,
    delivered: u64,
    /// The last byte passed on.
    last_byte: Option<u8>,
}

impl<R: Read> CappedLines<R> {
    pub(crate) fn new(
        inner: R,
        line_end: u8,
        delimiter: u8,
        state: Arc<CapState>,
    ) -> CappedLines<R> {
        CappedLines {
            inner,
            state,
            line_end,
            delimiter,
            quoting: Quoting::CellStart,
            line: 1,
            line_len: 0,
            skipping: false,
            delivered: 0,
            last_byte: None,
        }
    }

    /// Keeps the bytes of `buf[..filled]` that fit the line cap, moved to
    /// the front of `buf`; returns how many were kept.
    fn keep(&mut self, buf: &mut [u8], filled: usize) -> usize {
        let max = MAX_LINE_BYTES as u64;
        let (mut kept, mut at) = (0, 0);
        while at < filled {
            if self.skipping {
                match memchr::memchr(self.line_end, &buf[at..filled]) {
                    None => {
                        self.line_len += (filled - at) as u64;
                        at = filled;
                    }
                    Some(offset) => {
                        self.line_len += offset as u64;
                        self.state.push_cut(self.line, self.line_len);
                        self.skipping = false;
                        at += offset;
                    }
                }
                continue;
            }
            if self.line_len >= max && buf[at] != self.line_end {
                self.skipping = true;
                continue;
            }
            let room = (max - self.line_len.min(max)) as usize;
            let end = filled.min(at + room.max(1));
            let (take, line_ended) = match memchr::memchr(self.line_end, &buf[at..end]) {
                Some(offset) => (offset + 1, true),
                None => (end - at, false),
            };
            if kept != at {
                buf.copy_within(at..at + take, kept);
            }
            kept += take;
            at += take;
            if line_ended {
                self.line += 1;
                self.line_len = 0;
            } else {
                self.line_len += take as u64;
            }
        }
        kept
    }

    /// Follows the quoting over bytes passed on to the parser.
    fn follow_quoting(&mut self, bytes: &[u8]) {
        let mut at = 0;
        while at < bytes.len() {
            if self.quoting == Quoting::Quoted {
                // Most of a quoted cell is text: jump to its next quote.
                match memchr::memchr(b'"', &bytes[at..]) {
                    Some(offset) => {
                        self.quoting = Quoting::QuoteInQuoted;
                        at += offset + 1;
                    }
                    None => return,
                }
                continue;
            }
            // Outside a quoted cell only a quote can open one; any other
            // byte sets the state by itself (a delimiter or line break
            // starts a cell, anything else is inside an unquoted one), so
            // a run without quotes is decided by its last byte.
            let run = memchr::memchr(b'"', &bytes[at..]);
            let end = run.map_or(bytes.len(), |offset| at + offset);
            if end > at {
                self.quoting = self.after(bytes[end - 1]);
            }
            if run.is_none() {
                return;
            }
            self.quoting = match self.quoting {
                Quoting::CellStart | Quoting::QuoteInQuoted => Quoting::Quoted,
                _ => Quoting::Unquoted,
            };
            at = end + 1;
        }
    }

    /// The state after a byte other than a quote, outside a quoted cell.
    fn after(&self, byte: u8) -> Quoting {
        if byte == self.delimiter || byte == b'\n' || byte == b'\r' {
            Quoting::CellStart
        } else {
            Quoting::Unquoted
        }
    }
}

impl<R: Read> Read for CappedLines<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let since_start = self
            .delivered
            .saturating_sub(self.state.record_start.load(Ordering::Relaxed));
        if since_start > MAX_RECORD_BYTES {
            return Err(io::Error::new(io::ErrorKind::InvalidData, RecordTooLong));
        }
        loop {
            let filled = self.inner.read(buf)?;
            if filled == 0 {
                if self.skipping {
                    self.state.push_cut(self.line, self.line_len);
                    self.skipping = false;
                }
                if self.quoting == Quoting::Quoted {
                    self.state.open_quote_at_end.store(true, Ordering::Release);
                }
                if self.last_byte == Some(self.delimiter) {
                    self.state.delimiter_at_end.store(true, Ordering::Release);
                }
                return Ok(0);
            }
            let kept = self.keep(buf, filled);
            self.follow_quoting(&buf[..kept]);
            if kept > 0 {
                self.last_byte = Some(buf[kept - 1]);
                self.delivered += kept as u64;
                return Ok(kept);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capped(input: &[u8]) -> (Vec<u8>, Vec<(u64, u64)>) {
        let state = Arc::new(CapState::default());
        let mut reader = CappedLines::new(input, b'\n', b';', state.clone());
        let mut out = Vec::new();
        // Small reads exercise lines cut across buffer boundaries.
        let mut buf = [0u8; 4096];
        loop {
            let n = reader.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
            state.record_starts_at(reader.delivered);
        }
        (out, state.take_cuts(0, u64::MAX))
    }

    #[test]
    fn a_long_line_is_cut_and_remembered_the_others_untouched() {
        let long = "x".repeat(MAX_LINE_BYTES + 10_000);
        let input = format!("a;b\n{long}\n1;2\n");
        let (out, cuts) = capped(input.as_bytes());
        let expected = format!("a;b\n{}\n1;2\n", &long[..MAX_LINE_BYTES]);
        assert_eq!(out, expected.as_bytes());
        assert_eq!(cuts, vec![(2, (MAX_LINE_BYTES + 10_000) as u64)]);
    }

    #[test]
    fn a_long_last_line_without_break_is_cut_at_the_end() {
        let long = "y".repeat(MAX_LINE_BYTES + 1);
        let (out, cuts) = capped(format!("a;b\n{long}").as_bytes());
        assert_eq!(out.len(), 4 + MAX_LINE_BYTES);
        assert_eq!(cuts, vec![(2, (MAX_LINE_BYTES + 1) as u64)]);
        let exact = "z".repeat(MAX_LINE_BYTES);
        assert_eq!(capped(format!("{exact}\n").as_bytes()).1, vec![]);
    }

    /// Whether the stream ended inside a quoted cell.
    fn ends_inside_quote(input: &str) -> bool {
        let state = Arc::new(CapState::default());
        let mut reader = CappedLines::new(input.as_bytes(), b'\n', b';', state.clone());
        std::io::copy(&mut reader, &mut std::io::sink()).unwrap();
        state.ended_inside_quote()
    }

    #[test]
    fn a_file_ending_inside_a_quoted_cell_is_known() {
        assert!(ends_inside_quote("a;b\n1;\"obs\n"));
        assert!(ends_inside_quote("a;b\n1;\"obs \"\"x\"\" \n"));
        assert!(ends_inside_quote("a;b\n1;\"obs;2\n3;4\n"));
        assert!(!ends_inside_quote("a;b\n1;\"obs\n2\"\n"));
        assert!(!ends_inside_quote("a;b\n1;\"\"\n"));
        // A quote inside an unquoted cell is a plain character (5" tubes).
        assert!(!ends_inside_quote("a;b\n1;5\" tubo\n"));
        assert!(!ends_inside_quote("a;b\n1;\"x\"y\n"));
    }

    /// The rule byte by byte, as the parser applies it.
    fn quoting_byte_by_byte(mut state: Quoting, bytes: &[u8]) -> Quoting {
        for &b in bytes {
            state = match (state, b) {
                (Quoting::Quoted, b'"') => Quoting::QuoteInQuoted,
                (Quoting::Quoted, _) | (Quoting::CellStart | Quoting::QuoteInQuoted, b'"') => {
                    Quoting::Quoted
                }
                (_, b';' | b'\n' | b'\r') => Quoting::CellStart,
                _ => Quoting::Unquoted,
            };
        }
        state
    }

    /// The run-skipping `follow_quoting` ends every input, from every
    /// state, where the byte-by-byte rule does (every text of up to seven
    /// bytes from a quote, a delimiter, both line breaks and a letter).
    #[test]
    fn quoting_followed_by_runs_agrees_with_the_byte_rule() {
        let alphabet = [b'"', b';', b'\n', b'\r', b'a'];
        let states = [
            Quoting::CellStart,
            Quoting::Unquoted,
            Quoting::Quoted,
            Quoting::QuoteInQuoted,
        ];
        let mut compared = 0;
        for len in 0..=7u32 {
            for mut n in 0..alphabet.len().pow(len) {
                let mut text = Vec::new();
                for _ in 0..len {
                    text.push(alphabet[n % alphabet.len()]);
                    n /= alphabet.len();
                }
                for state in states {
                    let mut reader =
                        CappedLines::new(&b""[..], b'\n', b';', Arc::new(CapState::default()));
                    reader.quoting = state;
                    reader.follow_quoting(&text);
                    assert_eq!(
                        reader.quoting,
                        quoting_byte_by_byte(state, &text),
                        "{state:?} then {:?}",
                        String::from_utf8_lossy(&text)
                    );
                    compared += 1;
                }
            }
        }
        assert_eq!(compared, 4 * (0..=7).map(|l| 5usize.pow(l)).sum::<usize>());
    }

    #[test]
    fn a_record_that_never_ends_stops_the_read() {
        let state = Arc::new(CapState::default());
        let lines = "\"aberta;1\n".repeat((MAX_RECORD_BYTES / 8) as usize);
        let mut reader = CappedLines::new(lines.as_bytes(), b'\n', b';', state);
        let error = std::io::copy(&mut reader, &mut std::io::sink()).unwrap_err();
        assert!(error.get_ref().is_some_and(RecordTooLong::is_cause));
    }
}
