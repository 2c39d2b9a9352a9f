//! CNS and CPF never reach a log line, `status`, `/healthz` or an alert:
//! every formatted log line goes through [`mask_identifiers`] on its way
//! to stderr or the log file, whatever the call site wrote, and the other
//! outputs mask the file names they show.
//!
//! A CNS (15 digits) or CPF (11 digits) is masked however it is written:
//! one run of digits (`pac_786570704999622.csv`), the usual groups with any
//! of ` .-_/` between them (`786 5707 0499 9622`, `529.982.247-25`,
//! `529982247-25`), or, standing alone, any grouping of 11 or 15 digits in
//! three or more groups with one and the same separator (`78657 07049
//! 99622`). It keeps its first
//! three and last two digits. A date, a time, a count or a CNES/CNPJ is
//! left alone: `2026-12-07 120` mixes separators and has no CNS/CPF shape.
//!
//! [`escape_controls`] keeps a file name from forging a log line: a
//! newline or another control character in it is written escaped.

use std::borrow::Cow;
use std::io::Write;

use tracing_subscriber::fmt::MakeWriter;

/// What may stand between the digit groups of a written CNS or CPF.
fn is_separator(b: u8) -> bool {
    matches!(b, b' ' | b'.' | b'-' | b'_' | b'/')
}

/// Group sizes of the usual ways to write a CNS or a CPF.
const SHAPES: [&[usize]; 3] = [&[3, 4, 4, 4], &[3, 3, 3, 2], &[9, 2]];

/// One maximal run of digits: `(start, end)` byte offsets.
type Group = (usize, usize);

/// Whether `chain` (groups joined by single separators) are a CNS or a CPF:
/// one run, a usual grouping, or (only when `whole`, nothing else joined
/// to them) three or more groups with one and the same separator.
fn is_identifier(line: &[u8], chain: &[Group], whole: bool) -> bool {
    let sizes: Vec<usize> = chain.iter().map(|(s, e)| e - s).collect();
    let total: usize = sizes.iter().sum();
    if total != 11 && total != 15 {
        return false;
    }
    if chain.len() == 1 || SHAPES.contains(&sizes.as_slice()) {
        return true;
    }
    let separators: Vec<u8> = chain.windows(2).map(|w| line[w[0].1]).collect();
    whole
        && chain.len() >= 3
        && separators.iter().all(|s| *s == separators[0])
        && sizes.iter().all(|n| *n >= 2)
}

/// The spans (start, end) of every CNS and CPF in `line`.
fn identifier_spans(line: &[u8]) -> Vec<(usize, usize)> {
    // Digit groups, and chains of groups joined by exactly one separator.
    let mut chains: Vec<Vec<Group>> = Vec::new();
    let mut i = 0;
    while i < line.len() {
        if !line[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < line.len() && line[i].is_ascii_digit() {
            i += 1;
        }
        let joined = chains
            .last()
            .and_then(|c| c.last())
            .is_some_and(|(_, end)| *end + 1 == start && is_separator(line[*end]));
        match chains.last_mut() {
            Some(chain) if joined => chain.push((start, i)),
            _ => chains.push(vec![(start, i)]),
        }
    }
    let mut spans = Vec::new();
    for chain in &chains {
        let mut first = 0;
        while first < chain.len() {
            // The longest identifier starting at this group, if any.
            let found = (first..chain.len()).rev().find(|last| {
                let whole = first == 0 && *last == chain.len() - 1;
                is_identifier(line, &chain[first..=*last], whole)
            });
            if let Some(last) = found {
                spans.push((chain[first].0, chain[last].1));
                first = last + 1;
            } else {
                first += 1;
            }
        }
    }
    spans
}

/// `line` with every CNS and CPF masked.
pub(crate) fn mask_identifiers(line: &str) -> Cow<'_, str> {
    let spans = identifier_spans(line.as_bytes());
    if spans.is_empty() {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len());
    let mut last = 0;
    for (start, end) in spans {
        out.push_str(&line[last..start]);
        let span = &line[start..end];
        let total = span.bytes().filter(u8::is_ascii_digit).count();
        let mut nth = 0;
        for c in span.chars() {
            if c.is_ascii_digit() {
                out.push(if nth >= 3 && nth < total - 2 { '*' } else { c });
                nth += 1;
            } else {
                out.push(c);
            }
        }
        last = end;
    }
    out.push_str(&line[last..]);
    Cow::Owned(out)
}

/// `text` with control characters escaped (`\n`, `\r`, `\u{1b}`...), so
/// a name can never start a line of its own. Tabs stay; `keep_escape`
/// keeps ESC for the colours of a console log.
pub(crate) fn escape_controls(text: &str, keep_escape: bool) -> Cow<'_, str> {
    let escaped = |c: char| c.is_control() && c != '\t' && !(keep_escape && c == '\u{1b}');
    if !text.chars().any(escaped) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if escaped(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A file name (or any one-line text from outside) as `status` and alerts
/// show it: control characters escaped, CNS and CPF masked.
pub(crate) fn for_display(text: &str) -> String {
    mask_identifiers(&escape_controls(text, false)).into_owned()
}

/// Wraps a [`MakeWriter`] so that each event is masked before it is written.
/// `tracing_subscriber::fmt` formats an event into one buffer and writes it
/// with one `write_all`, so an identifier is never split across writes.
/// Control characters inside the event are escaped (its final line break
/// stays), so one event is always one line; `ansi` keeps the console's
/// colour codes.
#[derive(Debug, Clone)]
pub(crate) struct Masking<M> {
    pub inner: M,
    pub ansi: bool,
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Masking<M> {
    type Writer = MaskingWriter<M::Writer>;
    fn make_writer(&'a self) -> Self::Writer {
        MaskingWriter {
            inner: self.inner.make_writer(),
            ansi: self.ansi,
        }
    }
}

pub(crate) struct MaskingWriter<W> {
    inner: W,
    ansi: bool,
}

impl<W: Write> Write for MaskingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let (body, end) = match text.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (&*text, ""),
        };
        let line = escape_controls(body, self.ansi);
        self.inner.write_all(mask_identifiers(&line).as_bytes())?;
        self.inner.write_all(end.as_bytes())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::{escape_controls, for_display, mask_identifiers};

    #[test]
    fn control_characters_are_escaped_so_a_name_never_starts_a_line() {
        assert_eq!(
            escape_controls("lote\nFALSO ERROR\r.csv\u{7}", false),
            "lote\\nFALSO ERROR\\r.csv\\u{7}"
        );
        assert_eq!(escape_controls("\u{1b}[31mx\tok", true), "\u{1b}[31mx\tok");
        assert_eq!(escape_controls("\u{1b}[31m", false), "\\u{1b}[31m");
        assert_eq!(
            for_display("786 5707 0499 9622\n.csv"),
            "786 **** **** **22\\n.csv"
        );
    }

    #[test]
    fn cns_and_cpf_are_masked_other_numbers_are_not() {
        let cases = [
            ("paciente 759010928159013 ok", "paciente 759**********13 ok"),
            ("cpf=12345678909;", "cpf=123******09;"),
            ("CPF 123.456.789-09.", "CPF 123.***.***-09."),
            // CNES (7), CNPJ (14), a 16-digit number, a date: untouched.
            (
                "cnes 2077485 cnpj 12345678000195",
                "cnes 2077485 cnpj 12345678000195",
            ),
            (
                "id 1234567890123456 em 2026-12-01",
                "id 1234567890123456 em 2026-12-01",
            ),
            ("a-759010928159013-b", "a-759**********13-b"),
            ("sem números", "sem números"),
            ("ação 98765432100 é", "ação 987******00 é"),
            // Any spacing or punctuation of a CNS or a CPF.
            (
                "JOAO DA SILVA 786 5707 0499 9622.csv",
                "JOAO DA SILVA 786 **** **** **22.csv",
            ),
            ("786.5707.0499.9622.csv", "786.****.****.**22.csv"),
            ("786-5707_0499/9622", "786-****_****/**22"),
            ("pac_786570704999622.csv", "pac_786**********22.csv"),
            ("2026-11-03_786570704999622", "2026-11-03_786**********22"),
            ("MARIA 529 982 247 25.csv", "MARIA 529 *** *** 25.csv"),
            ("cpf 529982247-25", "cpf 529******-25"),
            ("78657 07049 99622", "786** ***** ***22"),
            ("lote 3 786 5707 0499 9622", "lote 3 786 **** **** **22"),
            // Dates, times, counts and CNES next to each other: untouched.
            (
                "2026-12-07 120 linhas, 2077485 2026-12-01T07:25:12.345-03:00",
                "2026-12-07 120 linhas, 2077485 2026-12-01T07:25:12.345-03:00",
            ),
            (
                "03/11/2026 08:15 e 03/11/2026 16:40",
                "03/11/2026 08:15 e 03/11/2026 16:40",
            ),
            (
                "200000 linhas · 3000 enviadas",
                "200000 linhas · 3000 enviadas",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(mask_identifiers(input), expected, "{input}");
        }
    }
}
