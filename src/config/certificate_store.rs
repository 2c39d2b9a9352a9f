//! The Windows certificate store as a certificate source, in its pure
//! parts: the `store:<location>\<name>` value of `[rnds] certificate`, the
//! selector keys (`certificate_thumbprint`, `certificate_cnpj`) and the
//! choice among the store's certificates. Nothing here touches Windows, so
//! all of it is tested on every platform; `rnds/tls/winstore.rs` does the
//! calls.
//!
//! Choice rule: among the certificates the selector matches and whose key
//! this account can use, the one valid now with the latest `not_after`
//! (after a renewal both the old and the new one are in the store); two
//! different ones valid until the same instant are refused as ambiguous,
//! never picked at random.

// The choice is used by `rnds/tls/winstore.rs` on Windows only, and tested everywhere.
#![cfg_attr(not(windows), allow(dead_code))]

use std::fmt;
use std::path::Path;

use chrono::{DateTime, Utc};

/// What `[rnds] certificate` starts with to name a Windows store.
pub(crate) const PREFIX: &str = "store:";

/// Whether `[rnds] certificate` names a Windows store rather than a file
/// (such a value is never made absolute against the configuration folder).
pub(crate) fn is_store(certificate: &Path) -> bool {
    certificate
        .to_str()
        .and_then(|text| text.get(..PREFIX.len()))
        .is_some_and(|head| head.eq_ignore_ascii_case(PREFIX))
}

/// Which registry hive holds the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreLocation {
    /// The account's own store (certmgr.msc): only that account sees it.
    CurrentUser,
    /// The computer's store (certlm.msc): the one for a service.
    LocalMachine,
}

/// `store:CurrentUser\My`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoreUri {
    pub location: StoreLocation,
    /// The store's name; `My` ("Pessoal") holds certificates with keys.
    pub name: String,
}

impl fmt::Display for StoreUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let location = match self.location {
            StoreLocation::CurrentUser => "CurrentUser",
            StoreLocation::LocalMachine => "LocalMachine",
        };
        write!(f, "{location}\\{}", self.name)
    }
}

/// `store:CurrentUser\My`, `store:LocalMachine/My` (either slash; the
/// location's case does not matter). The message names the key.
pub(crate) fn parse_store_uri(text: &str) -> Result<StoreUri, String> {
    let usage = "use certificate = 'store:CurrentUser\\My' ou 'store:LocalMachine\\My' (entre \
                 aspas simples, ou com a barra dobrada entre aspas duplas: \
                 \"store:LocalMachine\\\\My\")";
    let rest = text
        .get(PREFIX.len()..)
        .filter(|_| is_store(Path::new(text)))
        .ok_or_else(|| format!("[rnds] certificate = \"{text}\" não começa com store:; {usage}"))?;
    let Some((location, name)) = rest.split_once(['\\', '/']) else {
        return Err(format!(
            "[rnds] certificate = \"{text}\": falta o nome do repositório depois do local; {usage}"
        ));
    };
    let location = if location.eq_ignore_ascii_case("CurrentUser") {
        StoreLocation::CurrentUser
    } else if location.eq_ignore_ascii_case("LocalMachine") {
        StoreLocation::LocalMachine
    } else {
        return Err(format!(
            "[rnds] certificate = \"{text}\": o local \"{location}\" não existe (só CurrentUser \
             ou LocalMachine); {usage}"
        ));
    };
    let name = name.trim();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ') {
        return Err(format!(
            "[rnds] certificate = \"{text}\": \"{name}\" não é o nome de um repositório (o dos \
             certificados com chave é My, \"Pessoal\" no certlm.msc); {usage}"
        ));
    }
    Ok(StoreUri {
        location,
        name: name.to_string(),
    })
}

/// Which certificate of the store: by thumbprint, by the CNPJ/CPF in the
/// subject, or both (then both must match).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoreSelector {
    pub thumbprint: Option<[u8; 20]>,
    /// 14 digits (CNPJ) or 11 (CPF), punctuation removed.
    pub cnpj_or_cpf: Option<String>,
}

impl StoreSelector {
    pub(crate) fn matches(&self, thumbprint: &[u8; 20], cnpj_or_cpf: Option<&str>) -> bool {
        self.thumbprint.is_none_or(|wanted| &wanted == thumbprint)
            && self
                .cnpj_or_cpf
                .as_deref()
                .is_none_or(|wanted| cnpj_or_cpf == Some(wanted))
    }
}

impl fmt::Display for StoreSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(thumbprint) = &self.thumbprint {
            parts.push(format!("impressão digital {}", thumbprint_text(thumbprint)));
        }
        if let Some(number) = &self.cnpj_or_cpf {
            let kind = if number.len() == 14 { "CNPJ" } else { "CPF" };
            parts.push(format!("{kind} {number}"));
        }
        f.write_str(&parts.join(" e "))
    }
}

/// The keys of `[rnds]` that say where the certificate is.
pub(crate) struct CertificateKeys<'a> {
    pub certificate: &'a Path,
    pub thumbprint: Option<&'a str>,
    pub cnpj: Option<&'a str>,
    /// `certificate_key` and the password keys, each with whether it is set.
    pub file_keys: [(&'static str, bool); 3],
}

/// The store and selector of `[rnds]`, `None` when `certificate` is a
/// file; `Err((key, message))` names the key that is wrong. Platform-neutral:
/// a Windows configuration is checked on any system.
pub(crate) fn store_source(
    keys: &CertificateKeys<'_>,
) -> Result<Option<(StoreUri, StoreSelector)>, (&'static str, String)> {
    let selector_keys = [
        ("certificate_thumbprint", keys.thumbprint.is_some()),
        ("certificate_cnpj", keys.cnpj.is_some()),
    ];
    if !is_store(keys.certificate) {
        if let Some((key, _)) = selector_keys.iter().find(|(_, set)| *set) {
            return Err((
                key,
                format!(
                    "[rnds] {key} só vale com o repositório de certificados do Windows \
                     (certificate = 'store:LocalMachine\\My'); com um arquivo .pfx, apague {key}"
                ),
            ));
        }
        return Ok(None);
    }
    let text = keys.certificate.to_string_lossy();
    let uri = parse_store_uri(&text).map_err(|m| ("certificate", m))?;
    if let Some((key, _)) = keys.file_keys.iter().find(|(_, set)| *set) {
        return Err((
            key,
            format!(
                "[rnds] {key} não se aplica ao repositório do Windows (a chave fica no \
                 repositório e o Windows a protege): apague {key}"
            ),
        ));
    }
    let thumbprint = keys
        .thumbprint
        .map(parse_thumbprint)
        .transpose()
        .map_err(|m| ("certificate_thumbprint", m))?;
    let cnpj_or_cpf = keys
        .cnpj
        .map(parse_cnpj_or_cpf)
        .transpose()
        .map_err(|m| ("certificate_cnpj", m))?;
    if thumbprint.is_none() && cnpj_or_cpf.is_none() {
        return Err((
            "certificate",
            format!(
                "[rnds] certificate = \"{text}\" precisa dizer qual certificado usar: \
                 certificate_thumbprint = \"<impressão digital>\" (certlm.msc > o certificado > \
                 Detalhes > Impressão digital) ou certificate_cnpj = \"<CNPJ do laboratório>\""
            ),
        ));
    }
    Ok(Some((
        uri,
        StoreSelector {
            thumbprint,
            cnpj_or_cpf,
        },
    )))
}

/// A SHA-1 thumbprint as Windows shows it: 40 hexadecimal digits, upper or
/// lower case, with or without spaces or colons, and without the invisible
/// left-to-right mark the certificate dialog puts in front when copied.
pub(crate) fn parse_thumbprint(text: &str) -> Result<[u8; 20], String> {
    let digits: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, ':' | '\u{200E}' | '\u{200F}' | '\u{FEFF}'))
        .collect();
    let problem = || {
        format!(
            "[rnds] certificate_thumbprint = \"{text}\" não é uma impressão digital SHA-1 (40 \
             dígitos hexadecimais, ex.: \"3b 1f 0c ...\"); copie-a do certlm.msc > o certificado > \
             Detalhes > Impressão digital, ou do PowerShell: Get-ChildItem Cert:\\LocalMachine\\My"
        )
    };
    if digits.len() != 40 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(problem());
    }
    let mut thumbprint = [0u8; 20];
    for (i, byte) in thumbprint.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).map_err(|_| problem())?;
    }
    Ok(thumbprint)
}

/// `12.345.678/0001-95` or `12345678000195` (CNPJ), `123.456.789-09` (CPF).
pub(crate) fn parse_cnpj_or_cpf(text: &str) -> Result<String, String> {
    let digits: String = text
        .chars()
        .filter(|c| !matches!(c, '.' | '/' | '-') && !c.is_whitespace())
        .collect();
    if (digits.len() == 14 || digits.len() == 11) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(digits)
    } else {
        Err(format!(
            "[rnds] certificate_cnpj = \"{text}\" não é um CNPJ (14 dígitos) nem um CPF (11 \
             dígitos); escreva o do titular do certificado, ex.: \"12.345.678/0001-95\""
        ))
    }
}

/// `3B1F0C…` (40 digits, as PowerShell's `Get-ChildItem Cert:\` shows it).
pub(crate) fn thumbprint_text(thumbprint: &[u8; 20]) -> String {
    use std::fmt::Write;
    thumbprint.iter().fold(String::new(), |mut text, b| {
        let _ = write!(text, "{b:02X}");
        text
    })
}

/// The CNPJ (14 digits) or CPF (11) an ICP-Brasil common name ends with,
/// `NAME:NUMBER`.
pub(crate) fn cnpj_or_cpf_in_common_name(common_name: &str) -> Option<String> {
    let (_, number) = common_name.rsplit_once(':')?;
    let number = number.trim();
    ((number.len() == 14 || number.len() == 11) && number.bytes().all(|b| b.is_ascii_digit()))
        .then(|| number.to_string())
}

/// One certificate of the store, as the choice needs it.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub thumbprint: [u8; 20],
    /// Subject distinguished name.
    pub subject: String,
    /// From the subject's common name ([`cnpj_or_cpf_in_common_name`]).
    pub cnpj_or_cpf: Option<String>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// This account can use its private key.
    pub has_key: bool,
}

impl Candidate {
    fn line(&self) -> String {
        let date = |when: DateTime<Utc>| when.format("%d/%m/%Y %H:%M UTC").to_string();
        format!(
            "{} · impressão digital {} · válido de {} até {}",
            self.subject,
            thumbprint_text(&self.thumbprint),
            date(self.not_before),
            date(self.not_after)
        )
    }
}

/// At most this many certificates are listed in a message.
const LISTED: usize = 8;

fn listing(candidates: &[&Candidate]) -> String {
    let mut lines: Vec<String> = candidates.iter().take(LISTED).map(|c| c.line()).collect();
    if candidates.len() > LISTED {
        lines.push(format!("e mais {}", candidates.len() - LISTED));
    }
    lines.join("; ")
}

/// The index of the certificate to use (see the module's choice rule), or
/// what to do in pt-BR.
pub(crate) fn choose(
    uri: &StoreUri,
    selector: &StoreSelector,
    candidates: &[Candidate],
    now: DateTime<Utc>,
) -> Result<usize, String> {
    let matching: Vec<(usize, &Candidate)> = candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| selector.matches(&c.thumbprint, c.cnpj_or_cpf.as_deref()))
        .collect();
    if matching.is_empty() {
        let present: Vec<&Candidate> = candidates.iter().collect();
        return Err(if present.is_empty() {
            format!(
                "o repositório {uri} não tem nenhum certificado. O que fazer: importe o \
                 certificado do laboratório com a chave privada nesse repositório (certlm.msc \
                 para LocalMachine, certmgr.msc para CurrentUser) ou confira [rnds] certificate"
            )
        } else {
            format!(
                "nenhum certificado do repositório {uri} tem {selector}. O que fazer: confira \
                 certificate_thumbprint/certificate_cnpj em [rnds]; o repositório tem: {}",
                listing(&present)
            )
        });
    }
    let with_key: Vec<(usize, &Candidate)> = matching
        .iter()
        .copied()
        .filter(|(_, c)| c.has_key)
        .collect();
    if with_key.is_empty() {
        let found: Vec<&Candidate> = matching.iter().map(|(_, c)| *c).collect();
        return Err(format!(
            "o certificado com {selector} está em {uri}, mas esta conta não pode usar a chave \
             privada dele (foi importado sem a chave, ou a conta do serviço não tem permissão). \
             O que fazer: no certlm.msc, botão direito no certificado > Todas as Tarefas > \
             Gerenciar Chaves Privadas > dê Leitura à conta do serviço; ou importe de novo o \
             .pfx com a chave. Encontrado: {}",
            listing(&found)
        ));
    }
    let valid: Vec<(usize, &Candidate)> = with_key
        .iter()
        .copied()
        .filter(|(_, c)| c.not_before <= now && now <= c.not_after)
        .collect();
    let Some(latest) = valid.iter().map(|(_, c)| c.not_after).max() else {
        let found: Vec<&Candidate> = with_key.iter().map(|(_, c)| *c).collect();
        return Err(format!(
            "nenhum certificado com {selector} em {uri} é válido agora. O que fazer: instale o \
             certificado renovado nesse repositório (ou confira o relógio deste computador); \
             encontrados: {}",
            listing(&found)
        ));
    };
    let newest: Vec<(usize, &Candidate)> = valid
        .into_iter()
        .filter(|(_, c)| c.not_after == latest)
        .collect();
    match newest.as_slice() {
        [(index, _)] => Ok(*index),
        [(index, first), rest @ ..]
            if rest.iter().all(|(_, c)| c.thumbprint == first.thumbprint) =>
        {
            Ok(*index)
        }
        _ => {
            let found: Vec<&Candidate> = newest.iter().map(|(_, c)| *c).collect();
            Err(format!(
                "mais de um certificado com {selector} em {uri} vale até a mesma data: o \
                 rnds-drop não escolhe ao acaso. O que fazer: informe em [rnds] \
                 certificate_thumbprint a impressão digital do certificado certo; encontrados: \
                 {}",
                listing(&found)
            ))
        }
    }
}

#[cfg(test)]
mod tests;
