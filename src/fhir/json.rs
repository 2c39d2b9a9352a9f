//! The bundle types of `types.rs` as compact JSON, byte for byte what
//! `serde_json::to_writer` writes for them, only faster.
//!
//! Why: a bundle is ~2.4 KB, most of it constant (keys, profile URLs, code
//! systems). serde_json escapes every string byte by byte (29 % of the
//! instructions of a million-row `check`, callgrind, see BENCHMARKS.md);
//! a serde `Serializer` that scanned strings a word at a time still spent
//! ~9 instructions a byte walking the serde calls. Here each resource is
//! written straight from its fields: the constant text between values as
//! pre-quoted literals, the `&'static str` values (profile URLs, systems,
//! codes the builder chose) unscanned, and only the lab's own texts
//! scanned, eight bytes at a time, for the bytes JSON must escape (`"`,
//! `\`, controls), escaped exactly as serde_json escapes them.
//!
//! The serde derives of `types.rs` stay the reference: a test compares
//! these bytes with serde_json's on every bundle shape, so a field added
//! there and not here fails it.
//!
//! Invariant: pure; writes into the caller's buffer.

use uuid::Uuid;

use super::types::{
    date_ascii, Bundle, CodeableConcept, Composition, Entry, FhirInstant, FhirWhen,
    IdentifierReference, Joined, Notes, Observation, Specimen, Text,
};
use crate::model::When;

/// Whether JSON needs an escape for `byte` (serde_json escapes exactly
/// these: controls, `"` and `\`).
fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// Whether any byte of `text` needs an escape, eight bytes at a time (the
/// byte-by-byte loop was itself ~10 instructions a byte). For a word `w`,
/// `(w - 0x01..) & !w & 0x80..` is non-zero exactly when some byte of `w`
/// is zero (a borrow can only add a false hit above a true one), and
/// `(w - 0x20..) & !w & 0x80..` when some byte is below 0x20.
fn has_escapes(text: &str) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |w: u64| w.wrapping_sub(ONES) & !w & HIGH != 0;
    let mut words = text.as_bytes().chunks_exact(8);
    for word in words.by_ref() {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let w = u64::from_le_bytes(bytes);
        if w.wrapping_sub(ONES * 0x20) & !w & HIGH != 0
            || has_zero(w ^ (ONES * u64::from(b'"')))
            || has_zero(w ^ (ONES * u64::from(b'\\')))
        {
            return true;
        }
    }
    words.remainder().iter().any(|&b| needs_escape(b))
}

/// Appends the bundle as compact JSON to `out`.
pub(crate) fn write_bundle(bundle: &Bundle<'_>, out: &mut Vec<u8>) {
    let mut o = Out(out);
    o.lit("{\"resourceType\":");
    o.constant(bundle.resource_type);
    o.lit(",\"meta\":{\"lastUpdated\":");
    o.string(bundle.meta.last_updated);
    o.lit("},\"identifier\":{\"system\":");
    o.joined(bundle.identifier.system);
    o.lit(",\"value\":");
    o.string(bundle.identifier.value);
    o.lit("},\"type\":");
    o.constant(bundle.kind);
    o.lit(",\"timestamp\":");
    o.string(bundle.timestamp);
    o.lit(",\"entry\":[");
    let (composition, observation, specimen) = &bundle.entry;
    o.entry(composition, Out::composition);
    o.lit(",");
    o.entry(observation, Out::observation);
    o.lit(",");
    o.entry(specimen, Out::specimen);
    o.lit("]}");
}

/// The output buffer, with one method per JSON shape of the bundle.
struct Out<'o>(&'o mut Vec<u8>);

impl Out<'_> {
    /// JSON text written as is (keys, punctuation).
    fn lit(&mut self, json: &str) {
        self.0.extend_from_slice(json.as_bytes());
    }

    /// A string value the builder chose from the code's constants (a
    /// profile URL, a system, `final`): nothing to escape, so no scan.
    fn constant(&mut self, text: &'static str) {
        debug_assert!(!has_escapes(text), "constant needs escaping: {text}");
        self.0.reserve(text.len() + 2);
        self.0.push(b'"');
        self.0.extend_from_slice(text.as_bytes());
        self.0.push(b'"');
    }

    /// A string value from the lab's data, escaped as serde_json does.
    fn string(&mut self, text: &str) {
        self.0.reserve(text.len() + 2);
        self.0.push(b'"');
        self.escaped(text);
        self.0.push(b'"');
    }

    /// The text of a string value, without its quotes.
    fn escaped(&mut self, text: &str) {
        if !has_escapes(text) {
            self.0.extend_from_slice(text.as_bytes());
            return;
        }
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let bytes = text.as_bytes();
        let mut start = 0;
        for (at, &byte) in bytes.iter().enumerate() {
            if !needs_escape(byte) {
                continue;
            }
            self.0.extend_from_slice(&bytes[start..at]);
            start = at + 1;
            match byte {
                b'"' => self.lit("\\\""),
                b'\\' => self.lit("\\\\"),
                b'\n' => self.lit("\\n"),
                b'\r' => self.lit("\\r"),
                b'\t' => self.lit("\\t"),
                0x08 => self.lit("\\b"),
                0x0c => self.lit("\\f"),
                _ => self.0.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(byte >> 4)],
                    HEX[usize::from(byte & 0xf)],
                ]),
            }
        }
        self.0.extend_from_slice(&bytes[start..]);
    }

    /// A constant prefix and a data suffix as one string value.
    fn joined(&mut self, joined: Joined<'_>) {
        let Joined(prefix, suffix) = joined;
        debug_assert!(!has_escapes(prefix), "constant needs escaping: {prefix}");
        self.0.push(b'"');
        self.0.extend_from_slice(prefix.as_bytes());
        self.escaped(suffix);
        self.0.push(b'"');
    }

    /// `"urn:uuid:<lowercase hyphenated uuid>"`.
    fn urn(&mut self, id: Uuid) {
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        self.lit("\"urn:uuid:");
        self.lit(id.hyphenated().encode_lower(&mut text));
        self.lit("\"");
    }

    fn instant(&mut self, instant: FhirInstant) {
        match instant.ascii() {
            Some(text) => {
                self.0.push(b'"');
                self.0.extend_from_slice(&text);
                self.0.push(b'"');
            }
            None => self.string(&When::Instant(instant.0).to_fhir()),
        }
    }

    fn when(&mut self, when: FhirWhen) {
        match when.0 {
            When::Instant(t) => self.instant(FhirInstant(t)),
            When::Date(d) => match date_ascii(d) {
                Some(text) => {
                    self.0.push(b'"');
                    self.0.extend_from_slice(&text);
                    self.0.push(b'"');
                }
                None => self.string(&When::Date(d).to_fhir()),
            },
        }
    }

    /// `{"profile":[<url>]}`.
    fn meta(&mut self, profile: &'static str) {
        self.lit("{\"profile\":[");
        self.constant(profile);
        self.lit("]}");
    }

    /// `{"coding":[{"system":<system>,"code":<code>}]}`.
    fn concept(&mut self, concept: &CodeableConcept<'_>) {
        let [coding] = &concept.coding;
        self.lit("{\"coding\":[{\"system\":");
        self.constant(coding.system);
        self.lit(",\"code\":");
        self.string(coding.code);
        self.lit("}]}");
    }

    /// `{"identifier":{"system":<system>,"value":<value>}}`.
    fn identified(&mut self, reference: &IdentifierReference<'_>) {
        self.lit("{\"identifier\":{\"system\":");
        self.constant(reference.identifier.system);
        self.lit(",\"value\":");
        self.string(reference.identifier.value);
        self.lit("}}");
    }

    /// `{"text":<text>}`.
    fn text(&mut self, text: &Text<'_>) {
        self.lit("{\"text\":");
        self.string(text.text);
        self.lit("}");
    }

    fn entry<R>(&mut self, entry: &Entry<R>, resource: fn(&mut Self, &R))
    where
        R: serde::Serialize,
    {
        self.lit("{\"fullUrl\":");
        self.urn(entry.full_url.0);
        self.lit(",\"resource\":");
        resource(self, &entry.resource);
        self.lit("}");
    }

    fn composition(&mut self, c: &Composition<'_>) {
        self.lit("{\"resourceType\":");
        self.constant(c.resource_type);
        self.lit(",\"meta\":");
        self.meta(c.meta.profile[0]);
        self.lit(",\"status\":");
        self.constant(c.status);
        self.lit(",\"type\":");
        self.concept(&c.kind);
        self.lit(",\"subject\":");
        self.identified(&c.subject);
        self.lit(",\"date\":");
        self.instant(c.date);
        self.lit(",\"author\":[");
        self.identified(&c.author[0]);
        self.lit("],\"title\":");
        self.constant(c.title);
        if let Some([relates]) = &c.relates_to {
            self.lit(",\"relatesTo\":[{\"code\":");
            self.constant(relates.code);
            self.lit(",\"targetReference\":{\"reference\":");
            self.joined(relates.target_reference.reference);
            self.lit("}}]");
        }
        let [section] = &c.section;
        self.lit(",\"section\":[{\"entry\":[{\"reference\":");
        self.urn(section.entry[0].reference.0);
        self.lit("}]}]}");
    }

    fn observation(&mut self, o: &Observation<'_>) {
        self.lit("{\"resourceType\":");
        self.constant(o.resource_type);
        self.lit(",\"meta\":");
        self.meta(o.meta.profile[0]);
        self.lit(",\"status\":");
        self.constant(o.status);
        self.lit(",\"category\":[");
        self.concept(&o.category[0]);
        self.lit("],\"code\":");
        self.concept(&o.code);
        self.lit(",\"subject\":");
        self.identified(&o.subject);
        if let Some(when) = o.effective_date_time {
            self.lit(",\"effectiveDateTime\":");
            self.when(when);
        }
        self.lit(",\"issued\":");
        self.instant(o.issued);
        self.lit(",\"performer\":[");
        self.identified(&o.performer[0]);
        self.lit("]");
        if let Some(quantity) = &o.value_quantity {
            // A FHIR decimal, checked when it was built: JSON number text.
            self.lit(",\"valueQuantity\":{\"value\":");
            self.lit(quantity.value.0.get());
            if !quantity.unit.is_empty() {
                self.lit(",\"unit\":");
                self.string(quantity.unit);
            }
            self.lit("}");
        }
        if let Some(concept) = &o.value_codeable_concept {
            self.lit(",\"valueCodeableConcept\":");
            self.concept(concept);
        }
        if let Some([interpretation]) = &o.interpretation {
            self.lit(",\"interpretation\":[");
            self.concept(interpretation);
            self.lit("]");
        }
        self.notes(o.note);
        self.lit(",\"method\":");
        self.text(&o.method);
        self.lit(",\"specimen\":{\"reference\":");
        self.urn(o.specimen.reference.0);
        self.lit("},\"referenceRange\":[");
        self.text(&o.reference_range[0]);
        self.lit("]}");
    }

    /// `,"note":[{"text":..},..]`, left out when no note has text.
    fn notes(&mut self, notes: Notes<'_>) {
        if notes.is_empty() {
            return;
        }
        self.lit(",\"note\":[");
        for (i, text) in notes.texts().enumerate() {
            if i > 0 {
                self.lit(",");
            }
            self.text(&Text { text });
        }
        self.lit("]");
    }

    fn specimen(&mut self, s: &Specimen<'_>) {
        self.lit("{\"resourceType\":");
        self.constant(s.resource_type);
        self.lit(",\"meta\":");
        self.meta(s.meta.profile[0]);
        self.lit(",\"type\":");
        self.concept(&s.kind);
        self.lit("}");
    }
}

#[cfg(test)]
mod tests {
    /// Every byte value at every position of a word and of the remainder:
    /// the word-at-a-time scan agrees with the byte-by-byte rule.
    #[test]
    fn the_word_scan_finds_exactly_the_bytes_to_escape() {
        for byte in 0u8..=0x7f {
            for len in 1..=19 {
                for at in 0..len {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = byte;
                    let text = std::str::from_utf8(&bytes).expect("ASCII");
                    assert_eq!(
                        super::has_escapes(text),
                        super::needs_escape(byte),
                        "byte {byte:#x} at {at} of {len}"
                    );
                }
            }
        }
        // Bytes of multi-byte characters never need an escape.
        assert!(!super::has_escapes("ação ÿ€😷 não detectável"));
        assert!(super::has_escapes("ação\\"));
    }
}
