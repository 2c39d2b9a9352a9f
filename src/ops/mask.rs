//! CNS and CPF never reach a log line: every formatted line goes through
//! [`mask_identifiers`] on its way to stderr or the log file, whatever the
//! call site wrote.
//!
//! A run of exactly 11 (CPF) or 15 (CNS) digits, or a punctuated CPF
//! `000.000.000-00`, keeps its first three and last two digits. Longer or
//! shorter digit runs (CNES, CNPJ, timestamps, counts) are left alone.

use std::borrow::Cow;
use std::io::Write;

use tracing_subscriber::fmt::MakeWriter;

/// `line` with every CNS and CPF masked.
pub(crate) fn mask_identifiers(line: &str) -> Cow<'_, str> {
    let bytes = line.as_bytes();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() || (i > 0 && bytes[i - 1].is_ascii_digit()) {
            i += 1;
            continue;
        }
        let run = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        if run == 11 || run == 15 {
            spans.push((i, i + run));
        } else if run == 3 && punctuated_cpf(&bytes[i..]) {
            spans.push((i, i + 14));
            i += 14;
            continue;
        }
        i += run;
    }
    if spans.is_empty() {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len());
    let mut last = 0;
    for (start, end) in spans {
        out.push_str(&line[last..start]);
        let span = &line[start..end];
        let digits_seen = |upto: usize| span[..upto].bytes().filter(u8::is_ascii_digit).count();
        let total = digits_seen(span.len());
        for (k, c) in span.char_indices() {
            let nth = digits_seen(k);
            if c.is_ascii_digit() && nth >= 3 && nth < total - 2 {
                out.push('*');
            } else {
                out.push(c);
            }
        }
        last = end;
    }
    out.push_str(&line[last..]);
    Cow::Owned(out)
}

/// `000.000.000-00` not followed by another digit.
fn punctuated_cpf(b: &[u8]) -> bool {
    const SHAPE: &[u8; 14] = b"ddd.ddd.ddd-dd";
    b.len() >= 14
        && SHAPE.iter().zip(b).all(|(s, c)| match s {
            b'd' => c.is_ascii_digit(),
            other => other == c,
        })
        && !b.get(14).is_some_and(u8::is_ascii_digit)
}

/// Wraps a [`MakeWriter`] so that each event is masked before it is written.
/// `tracing_subscriber::fmt` formats an event into one buffer and writes it
/// with one `write_all`, so an identifier is never split across writes.
#[derive(Debug, Clone)]
pub(crate) struct Masking<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Masking<M> {
    type Writer = MaskingWriter<M::Writer>;
    fn make_writer(&'a self) -> Self::Writer {
        MaskingWriter(self.0.make_writer())
    }
}

pub(crate) struct MaskingWriter<W>(W);

impl<W: Write> Write for MaskingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(mask_identifiers(&text).as_bytes())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::mask_identifiers;

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
        ];
        for (input, expected) in cases {
            assert_eq!(mask_identifiers(input), expected, "{input}");
        }
    }
}
