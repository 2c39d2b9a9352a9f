//! Text keys for lookups: case, accents, spacing and punctuation folded
//! away, double-encoded UTF-8 repaired, and the edit distance used for
//! suggestions.
//!
//! Invariant: pure string functions; knows no field, table or code system.

use encoding_rs::{WINDOWS_1250, WINDOWS_1252};

/// The lookup key of `text`: lowercase ASCII letters and digits only, with
/// accents stripped, after repairing mojibake. `"NÃO DET ECTADO"`,
/// `"Não detectado"` and `"NÃ£o detectado"` share the key `naodetectado`.
pub(crate) fn key(text: &str) -> String {
    if let Some(repaired) = repair_mojibake(text) {
        return fold(&repaired);
    }
    fold(text)
}

/// [`key`], but a text made only of punctuation (`+`, `-`) is its own key,
/// so such wordings stay distinguishable.
pub(crate) fn value_key(text: &str) -> String {
    let folded = key(text);
    if folded.is_empty() {
        text.trim().to_string()
    } else {
        folded
    }
}

/// `text.trim()`, without walking the characters when both ends are
/// printable ASCII (cells come trimmed from the reader; `str::trim`
/// decodes each end's character and asks Unicode whether it is a space,
/// several times a cell).
pub(crate) fn trimmed(text: &str) -> &str {
    match (text.as_bytes().first(), text.as_bytes().last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

/// Calls `f` with [`value_key`] of `text`, built in a reused per-thread
/// buffer so the lookups of every cell do not allocate.
pub(super) fn with_value_key<R>(text: &str, f: impl FnOnce(&str) -> R) -> R {
    thread_local! {
        static BUFFER: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    // Most cells are short ASCII: their key goes on the stack (no
    // mojibake to repair, no thread-local buffer, no `char` pushes).
    if text.len() <= 64 && text.is_ascii() {
        let mut key = [0u8; 64];
        let mut len = 0;
        for &b in text.as_bytes() {
            if b.is_ascii_alphanumeric() {
                key[len] = b.to_ascii_lowercase();
                len += 1;
            }
        }
        if len == 0 {
            return f(text.trim());
        }
        // Only ASCII letters and digits were written.
        if let Ok(key) = std::str::from_utf8(&key[..len]) {
            return f(key);
        }
    }
    if repair_mojibake(text).is_some() {
        return f(&value_key(text));
    }
    BUFFER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffer) => {
            buffer.clear();
            fold_into(text, &mut buffer);
            if buffer.is_empty() {
                buffer.push_str(text.trim());
            }
            f(&buffer)
        }
        // Only reachable if `f` itself asks for a key: fall back to allocating.
        Err(_) => f(&value_key(text)),
    })
}

/// Header key: like [`key`], after dropping the stray byte-order-mark debris
/// some exports leave in front of the first header (`ÿid` is `id` preceded
/// by a lone 0xFF read as Latin-1).
pub(super) fn header_key(text: &str) -> String {
    key(text.trim_start_matches(['\u{feff}', '\u{ff}', '\u{fe}']))
}

fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    fold_into(text, &mut out);
    out
}

fn fold_into(text: &str, out: &mut String) {
    if text.is_ascii() {
        // Most cells: bytes, not chars (`is_ascii` looks at a word at a time).
        out.reserve(text.len());
        for &b in text.as_bytes() {
            if b.is_ascii_alphanumeric() {
                out.push(char::from(b.to_ascii_lowercase()));
            }
        }
        return;
    }
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !c.is_ascii() {
            if let Some(base) = strip_accent(c) {
                out.push(base);
            }
        }
    }
}

/// Base letter of an accented Latin letter (lowercase), None for symbols.
fn strip_accent(c: char) -> Option<char> {
    let base = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => 'a',
        'ç' | 'Ç' => 'c',
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => 'i',
        'ñ' | 'Ñ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => 'u',
        'ý' | 'ÿ' | 'Ý' => 'y',
        _ => return None,
    };
    Some(base)
}

/// Text that was UTF-8, decoded as cp1252 (`NÃ£o`) or cp1250 (`SĂłdio`) and
/// saved again as UTF-8: re-encoding it in that code page gives back valid
/// UTF-8. Legitimate accented text does not survive that round trip (`Não`
/// in cp1252 is not valid UTF-8), which is what makes the test safe.
pub(crate) fn repair_mojibake(text: &str) -> Option<String> {
    // Every double-encoded character is two non-ASCII characters in a row;
    // ordinary Portuguese text rarely has that, so most values skip the
    // re-encoding (and its allocation) entirely.
    if text.is_ascii() {
        return None;
    }
    let mut previous_non_ascii = false;
    let has_pair = text.chars().any(|c| {
        let pair = previous_non_ascii && !c.is_ascii();
        previous_non_ascii = !c.is_ascii();
        pair
    });
    if !has_pair {
        return None;
    }
    for encoding in [WINDOWS_1252, WINDOWS_1250] {
        let (bytes, _, had_errors) = encoding.encode(text);
        if had_errors {
            continue;
        }
        if let Ok(decoded) = std::str::from_utf8(&bytes) {
            if decoded != text {
                return Some(decoded.to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key handed to lookups is `value_key`'s, whichever path builds
    /// it (short ASCII on the stack, long or accented text in the buffer,
    /// mojibake repaired).
    #[test]
    fn lookup_keys_are_value_keys() {
        let long = "Não Detectável ".repeat(6);
        let long_ascii = "NAO DETECTAVEL ".repeat(6);
        for text in [
            "",
            " ",
            "-",
            " + ",
            "?!",
            "N/A",
            "nao detectavel",
            "Não detectável",
            "NÃ£o detectado",
            "P O S I T I V O",
            "RT-PCR",
            "SWNAFA",
            "LAB-00000001",
            &long,
            &long_ascii,
            &long_ascii[..64],
            &long_ascii[..65],
            "\t\u{7f}x",
        ] {
            assert_eq!(
                with_value_key(text, str::to_owned),
                value_key(text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn trimmed_is_str_trim() {
        for text in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\ta\n",
            "\u{a0}x\u{a0}",
            "\u{2003}é",
            "é\u{3000}",
            "não",
            "x\u{85}",
            "\u{7f}a",
            "a\u{7f}",
            "ação detectável",
        ] {
            assert_eq!(trimmed(text), text.trim(), "{text:?}");
        }
    }

    #[test]
    fn keys_fold_case_accents_spacing_and_punctuation() {
        assert_eq!(key("NÃO DET ECTADO"), "naodetectado");
        assert_eq!(key("P O S I T I V O"), "positivo");
        assert_eq!(key("Dt. Liberação"), key("DT_LIBERACAO"));
        assert_eq!(key("Cód. Exame"), "codexame");
        assert_eq!(value_key("+"), "+");
        assert_eq!(value_key(" - "), "-");
    }

    #[test]
    fn double_encoded_text_is_repaired_and_clean_text_left_alone() {
        assert_eq!(
            repair_mojibake("NÃ£o detectado").as_deref(),
            Some("Não detectado")
        );
        assert_eq!(repair_mojibake("SĂłdio").as_deref(), Some("Sódio"));
        assert_eq!(repair_mojibake("Não detectado"), None);
        assert_eq!(repair_mojibake("Detectável"), None);
        assert_eq!(key("NÃ£o detectÃ¡vel"), "naodetectavel");
    }

    #[test]
    fn header_key_drops_leading_bom_debris() {
        assert_eq!(header_key("ÿid"), "id");
        assert_eq!(header_key("\u{feff}Cartão SUS"), "cartaosus");
    }
}
