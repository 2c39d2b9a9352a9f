//! RFC 7512 `pkcs11:` URIs: which token and which object on it. Only the
//! attributes that pick a certificate are read; a PIN in the URI
//! (`pin-value`) is refused, because the PIN never goes in the TOML.
//!
//! Invariant: pure text; no module is loaded here.

/// What a `pkcs11:` URI selects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Pkcs11Uri {
    /// `token=`: the token's label.
    pub token: Option<String>,
    /// `serial=`: the token's serial number.
    pub serial: Option<String>,
    /// `manufacturer=`.
    pub manufacturer: Option<String>,
    /// `model=`.
    pub model: Option<String>,
    /// `slot-id=`: the slot's number.
    pub slot_id: Option<u64>,
    /// `object=`: the certificate's (and key's) label.
    pub object: Option<String>,
    /// `id=`: the certificate's (and key's) CKA_ID, raw bytes.
    pub id: Option<Vec<u8>>,
}

impl Pkcs11Uri {
    /// Parses `pkcs11:token=…;object=…[?…]`. Errors are pt-BR sentences
    /// that never repeat the URI (it might hold a PIN).
    pub(crate) fn parse(text: &str) -> Result<Pkcs11Uri, String> {
        let rest = text
            .get(..7)
            .filter(|scheme| scheme.eq_ignore_ascii_case("pkcs11:"))
            .and_then(|_| text.get(7..))
            .ok_or("o endereço do certificado não começa com pkcs11:")?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut uri = Pkcs11Uri::default();
        for part in path.split(';').filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').ok_or_else(|| {
                format!("o trecho \"{}\" do endereço pkcs11: não tem =", safe(part))
            })?;
            let bytes = percent_decode(value).ok_or_else(|| {
                format!("o valor de {name}= no endereço pkcs11: tem um % inválido")
            })?;
            let text = || {
                String::from_utf8(bytes.clone())
                    .map_err(|_| format!("o valor de {name}= no endereço pkcs11: não é UTF-8"))
            };
            match name {
                "token" => uri.token = Some(text()?),
                "serial" => uri.serial = Some(text()?),
                "manufacturer" => uri.manufacturer = Some(text()?),
                "model" => uri.model = Some(text()?),
                "object" => uri.object = Some(text()?),
                "id" => uri.id = Some(bytes),
                "slot-id" => {
                    uri.slot_id = Some(text()?.parse().map_err(|_| {
                        "slot-id= no endereço pkcs11: precisa ser um número".to_string()
                    })?);
                }
                // Attributes that do not change which certificate is picked.
                "type"
                | "library-manufacturer"
                | "library-description"
                | "library-version"
                | "slot-description"
                | "slot-manufacturer" => {}
                other => {
                    return Err(format!(
                        "o endereço pkcs11: tem o atributo desconhecido \"{}\"; use token=, \
                         object=, id=, serial= ou slot-id= (doctor mostra o endereço pronto)",
                        safe(other)
                    ))
                }
            }
        }
        for part in query.split('&').filter(|p| !p.is_empty()) {
            let name = part.split_once('=').map_or(part, |(n, _)| n);
            if name == "pin-value" || name == "pin-source" {
                return Err(
                    "o endereço pkcs11: não pode conter o PIN: apague pin-value/pin-source \
                     dele e informe o PIN por pin_env ou pin_file em [rnds]"
                        .into(),
                );
            }
        }
        if uri.object.is_none() && uri.id.is_none() {
            return Err(
                "o endereço pkcs11: precisa dizer qual certificado usar (object=<rótulo> ou \
                 id=<identificador>); rnds-drop doctor lista os certificados do token"
                    .into(),
            );
        }
        Ok(uri)
    }
}

/// Percent-encodes `bytes` for a URI attribute value (RFC 7512 §2.3: the
/// unreserved characters stay, everything else is `%XX`).
pub(crate) fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(value: &str) -> Option<Vec<u8>> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// A fragment of the URI fit to repeat: short and without `%`-encoded
/// bytes (never a whole value, which could be a PIN typed in the wrong place).
fn safe(part: &str) -> String {
    part.chars().take(24).filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_object_and_id_are_read_and_percent_decoded() {
        let uri = Pkcs11Uri::parse(
            "pkcs11:token=Meu%20Token;object=LAB%3A1;id=%01%A2;slot-id=3;type=cert",
        )
        .unwrap();
        assert_eq!(uri.token.as_deref(), Some("Meu Token"));
        assert_eq!(uri.object.as_deref(), Some("LAB:1"));
        assert_eq!(uri.id, Some(vec![0x01, 0xA2]));
        assert_eq!(uri.slot_id, Some(3));
    }

    #[test]
    fn a_pin_in_the_uri_is_refused_without_repeating_it() {
        let error = Pkcs11Uri::parse("pkcs11:token=T;object=O?pin-value=123456").unwrap_err();
        assert!(error.contains("pin_env"), "{error}");
        assert!(!error.contains("123456"), "{error}");
    }

    #[test]
    fn a_uri_must_name_the_certificate() {
        let error = Pkcs11Uri::parse("pkcs11:token=T").unwrap_err();
        assert!(error.contains("object="), "{error}");
        assert!(Pkcs11Uri::parse("pkcs11:token=T;objeto=X").is_err());
        assert!(Pkcs11Uri::parse("pkcs11:object=%G1").is_err());
    }

    #[test]
    fn encoding_round_trips() {
        let raw = b"LAB EXEMPLO:11;%";
        let text = format!("pkcs11:object={}", percent_encode(raw));
        let uri = Pkcs11Uri::parse(&text).unwrap();
        assert_eq!(uri.object.as_deref().map(str::as_bytes), Some(&raw[..]));
    }
}
