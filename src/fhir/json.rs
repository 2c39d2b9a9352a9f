//! A serde `Serializer` that writes the bundle types as compact JSON, byte
//! for byte what `serde_json::to_writer` writes, only faster.
//!
//! Why: serde_json escapes every string byte by byte, and a bundle is
//! ~2.4 KB of strings (keys, profile URLs, code systems), so escaping alone
//! was 29 % of the instructions of a million-row `check` (callgrind, see
//! BENCHMARKS.md). Here a string is first scanned, eight bytes at a time,
//! for the bytes JSON must escape (`"`, `\`, controls); a plain one, nearly
//! every one, is copied whole. One that needs escaping is handed to
//! serde_json itself, so its escapes stay exactly serde_json's.
//!
//! It knows only the shapes `types.rs` uses: structs, arrays and tuples,
//! sequences, `Option`, strings (also through `collect_str`), integers,
//! booleans and serde_json's `RawValue` (a FHIR decimal). Anything else is
//! an error, never a silently different output; the tests compare it with
//! serde_json on every bundle shape.
//!
//! Invariant: pure; writes into the caller's buffer.

use std::fmt::{self, Write as _};

use serde::ser::{self, Impossible, Serialize};

/// How serde_json marks a `RawValue` (a struct of this name with one field
/// of this name holding the JSON text).
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// A shape this writer does not know (a defect of `types.rs`).
#[derive(Debug)]
pub(crate) struct Unsupported(String);

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Unsupported(msg.to_string())
    }
}

fn unsupported<T>(what: &str) -> Result<T, Unsupported> {
    Err(Unsupported(format!(
        "tipo não suportado no JSON do bundle: {what}"
    )))
}

/// Appends `value` as compact JSON to `out`.
pub(crate) fn write<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), Unsupported> {
    let mut writer = Writer {
        out,
        scratch: String::new(),
    };
    value.serialize(&mut writer)
}

pub(crate) struct Writer<'o> {
    out: &'o mut Vec<u8>,
    /// Reused text of `collect_str` values (dates, UUIDs, joined URLs).
    scratch: String,
}

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

impl Writer<'_> {
    fn string(&mut self, text: &str) -> Result<(), Unsupported> {
        if !has_escapes(text) {
            self.out.reserve(text.len() + 2);
            self.out.push(b'"');
            self.out.extend_from_slice(text.as_bytes());
            self.out.push(b'"');
            return Ok(());
        }
        serde_json::to_writer(&mut *self.out, text).map_err(|e| Unsupported(e.to_string()))
    }
}

/// An open array or object: whether an element was written yet.
pub(crate) struct Compound<'w, 'o> {
    writer: &'w mut Writer<'o>,
    first: bool,
    /// The `RawValue` struct: its one field is written unquoted.
    raw: bool,
}

impl Compound<'_, '_> {
    fn comma(&mut self) {
        if self.first {
            self.first = false;
        } else {
            self.writer.out.push(b',');
        }
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.comma();
        value.serialize(&mut *self.writer)
    }
}

impl<'w, 'o> ser::Serializer for &'w mut Writer<'o> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Compound<'w, 'o>;
    type SerializeTuple = Compound<'w, 'o>;
    type SerializeTupleStruct = Impossible<(), Unsupported>;
    type SerializeTupleVariant = Impossible<(), Unsupported>;
    type SerializeMap = Impossible<(), Unsupported>;
    type SerializeStruct = Compound<'w, 'o>;
    type SerializeStructVariant = Impossible<(), Unsupported>;

    fn serialize_bool(self, v: bool) -> Result<(), Unsupported> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), Unsupported> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i16(self, v: i16) -> Result<(), Unsupported> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i32(self, v: i32) -> Result<(), Unsupported> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i64(self, v: i64) -> Result<(), Unsupported> {
        self.scratch.clear();
        let _ = write!(self.scratch, "{v}");
        self.out.extend_from_slice(self.scratch.as_bytes());
        Ok(())
    }

    fn serialize_u8(self, v: u8) -> Result<(), Unsupported> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u16(self, v: u16) -> Result<(), Unsupported> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u32(self, v: u32) -> Result<(), Unsupported> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u64(self, v: u64) -> Result<(), Unsupported> {
        self.scratch.clear();
        let _ = write!(self.scratch, "{v}");
        self.out.extend_from_slice(self.scratch.as_bytes());
        Ok(())
    }

    fn serialize_f32(self, _: f32) -> Result<(), Unsupported> {
        unsupported("f32")
    }

    fn serialize_f64(self, _: f64) -> Result<(), Unsupported> {
        unsupported("f64")
    }

    fn serialize_char(self, v: char) -> Result<(), Unsupported> {
        self.string(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<(), Unsupported> {
        self.string(v)
    }

    fn serialize_bytes(self, _: &[u8]) -> Result<(), Unsupported> {
        unsupported("bytes")
    }

    fn serialize_none(self) -> Result<(), Unsupported> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Unsupported> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Unsupported> {
        self.serialize_none()
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Unsupported> {
        self.serialize_none()
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Unsupported> {
        self.string(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Unsupported> {
        unsupported("newtype variant")
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'w, 'o>, Unsupported> {
        self.out.push(b'[');
        Ok(Compound {
            writer: self,
            first: true,
            raw: false,
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'w, 'o>, Unsupported> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Unsupported> {
        unsupported("tuple struct")
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Unsupported> {
        unsupported("tuple variant")
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Unsupported> {
        unsupported("map")
    }

    fn serialize_struct(
        self,
        name: &'static str,
        _: usize,
    ) -> Result<Compound<'w, 'o>, Unsupported> {
        let raw = name == RAW_VALUE_TOKEN;
        if !raw {
            self.out.push(b'{');
        }
        Ok(Compound {
            writer: self,
            first: true,
            raw,
        })
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Unsupported> {
        unsupported("struct variant")
    }

    fn collect_str<T: fmt::Display + ?Sized>(self, value: &T) -> Result<(), Unsupported> {
        let mut text = std::mem::take(&mut self.scratch);
        text.clear();
        let written = write!(text, "{value}");
        let result = match written {
            Ok(()) => self.string(&text),
            Err(_) => unsupported("Display que falhou"),
        };
        self.scratch = text;
        result
    }
}

impl ser::SerializeSeq for Compound<'_, '_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.element(value)
    }

    fn end(self) -> Result<(), Unsupported> {
        self.writer.out.push(b']');
        Ok(())
    }
}

impl ser::SerializeTuple for Compound<'_, '_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.element(value)
    }

    fn end(self) -> Result<(), Unsupported> {
        self.writer.out.push(b']');
        Ok(())
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        if self.raw {
            // The JSON text itself, as serde_json writes a RawValue: it is
            // written as a string, then its quotes are taken off (a decimal
            // has nothing to escape).
            let at = self.writer.out.len();
            value.serialize(&mut *self.writer)?;
            let out = &mut *self.writer.out;
            if out.len() < at + 2 || out[at] != b'"' || out.last() != Some(&b'"') {
                return unsupported("RawValue que não é texto simples");
            }
            out.pop();
            out.remove(at);
            return Ok(());
        }
        self.comma();
        // Keys are the field names of `types.rs` (identifiers and
        // camelCase renames): nothing to escape, so no scan. The test
        // against serde_json would catch a key that needed one.
        let out = &mut *self.writer.out;
        out.reserve(key.len() + 3);
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
        value.serialize(&mut *self.writer)
    }

    fn end(self) -> Result<(), Unsupported> {
        if !self.raw {
            self.writer.out.push(b'}');
        }
        Ok(())
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
