//! The lab's identity and the TLS configuration built from it: a PKCS#12
//! file (legacy RC2-40/3DES/SHA-1 or modern AES-256/SHA-256, via
//! `p12-keystore` with PBES1), a PEM chain plus key, a token's
//! certificate whose key signs on the token (`pkcs11.rs`), or a certificate
//! of the Windows store whose key signs through CNG
//! (`config::certificate_store`, `winstore`); the key is a rustls
//! `SigningKey` whatever its source; the identity in use is swapped when the
//! source is renewed (`live.rs`); the standard roots
//! from `webpki-roots` plus the optional `extra_ca`; client authentication
//! with the leaf and its intermediates. Verification of the server can never
//! be turned off: there is no code path that installs another verifier.
//!
//! Invariant: this module knows nothing of HTTP, tokens or bundles, and no
//! password ever reaches a message or a log.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore};

use super::ClientError;
use crate::config::{certificate_store, CertificateSource, Rnds};

mod inspect;
mod live;
pub(crate) mod pkcs11;
mod pkcs11_uri;

pub(crate) use inspect::ChainEnd;
#[cfg(test)]
mod tests;
mod winstore;

pub(crate) use live::LiveIdentity;
pub(crate) use pkcs11::SigningFailures;

/// Certificates expiring within this many days are announced with a warning.
const EXPIRY_WARNING_DAYS: i64 = 30;

/// What doctor prints about the lab's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CertificateInfo {
    /// Subject distinguished name, e.g. `CN=LAB EXEMPLO LTDA:12345678000195, ...`.
    pub subject: String,
    /// CNPJ (14 digits) or CPF (11 digits) from the ICP-Brasil `NAME:NUMBER`
    /// common name, when present.
    pub cnpj_or_cpf: Option<String>,
    /// Issuer distinguished name (the certification authority).
    pub issuer: String,
    /// Whether the issuer is an ICP-Brasil authority: its name has an
    /// `O` or `OU` "ICP-Brasil", as every AC of the ICP-Brasil tree does.
    pub icp_brasil: bool,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

impl CertificateInfo {
    /// What `status` may know without the password (subject, issuer,
    /// validity), as the JSON the service records in the ledger.
    pub(crate) fn public_part_json(&self) -> String {
        serde_json::json!({
            "version": 1,
            "subject": self.subject,
            "issuer": self.issuer,
            "not_before": self.not_before,
            "not_after": self.not_after,
        })
        .to_string()
    }

    /// `válido de 01/02/2025 00:00 UTC até 01/02/2026 00:00 UTC`.
    pub(crate) fn validity_text(&self) -> String {
        format!(
            "válido de {} até {}",
            format_date(self.not_before),
            format_date(self.not_after)
        )
    }
}

/// The loaded client identity: leaf first, then intermediates, and the key
/// that signs for it (in memory for a file, on the token for `pkcs11:`).
pub(crate) struct Identity {
    certified: Arc<CertifiedKey>,
    info: CertificateInfo,
    /// pt-BR warnings found while loading: files others can read.
    file_warnings: Vec<String>,
    /// What [`source_fingerprint`] said of the source this was loaded from.
    fingerprint: Vec<u8>,
}

impl std::fmt::Debug for Identity {
    // The key never appears in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("chain_len", &self.certified.cert.len())
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Loads the certificate named by `[rnds]` and checks it is valid now.
    pub(crate) fn load(rnds: &Rnds, failures: SigningFailures) -> Result<Identity, ClientError> {
        Identity::load_at(rnds, Utc::now(), failures)
    }

    /// As [`Identity::load`], with the validity judged at `now`.
    pub(crate) fn load_at(
        rnds: &Rnds,
        now: DateTime<Utc>,
        failures: SigningFailures,
    ) -> Result<Identity, ClientError> {
        let identity = Identity::load_any_validity(rnds, failures)?;
        check_validity(&identity.info, now)?;
        Ok(identity)
    }

    /// As [`Identity::load`] without comparing the key with the
    /// certificate: doctor shows a wrong key on its own line, by the test
    /// signature ([`Identity::test_signature`]).
    pub(crate) fn load_for_inspection(
        rnds: &Rnds,
        failures: SigningFailures,
    ) -> Result<Identity, ClientError> {
        let identity = Identity::load_unchecked_key(rnds, failures)?;
        check_validity(&identity.info, Utc::now())?;
        Ok(identity)
    }

    /// Loads the certificate whatever its validity period.
    fn load_any_validity(rnds: &Rnds, failures: SigningFailures) -> Result<Identity, ClientError> {
        let identity = Identity::load_unchecked_key(rnds, failures)?;
        // A key in memory is compared with the certificate here; a token's
        // key is the one with the certificate's CKA_ID (checked at load).
        match identity.certified.keys_match() {
            Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
                Ok(identity)
            }
            Err(_) => Err(key_mismatch()),
        }
    }

    fn load_unchecked_key(rnds: &Rnds, failures: SigningFailures) -> Result<Identity, ClientError> {
        if !rnds.is_configured() {
            return Err(not_configured());
        }
        let fingerprint = source_fingerprint(rnds)?;
        let (chain, key, file_warnings, shown) = match &rnds.certificate {
            CertificateSource::File(path) => {
                let (chain, key, warnings) = load_file(rnds, path)?;
                let key = rustls::crypto::ring::sign::any_supported_type(&key)
                    .map_err(|_| key_mismatch())?;
                (chain, key, warnings, path.display().to_string())
            }
            CertificateSource::Pkcs11(uri) => {
                let token = pkcs11::load(rnds, uri, failures)?;
                (token.chain, token.key, Vec::new(), "do token".to_string())
            }
            CertificateSource::Store(text) => {
                let Some((uri, selector)) =
                    certificate_store::store_source(&rnds.certificate_keys())
                        .map_err(|(_, message)| ClientError::Config(message))?
                else {
                    return Err(ClientError::Config(format!(
                        "[rnds] certificate = \"{text}\" não é um repositório do Windows válido"
                    )));
                };
                let (chain, key) = winstore::load(&uri, &selector, Utc::now())?;
                (
                    chain,
                    key,
                    Vec::new(),
                    format!("{}{uri}", certificate_store::PREFIX),
                )
            }
        };
        Identity::from_parts(chain, key, file_warnings, &shown, fingerprint)
    }

    /// The identity of `chain` (leaf first), whose source `shown` names.
    fn from_parts(
        chain: Vec<CertificateDer<'static>>,
        key: Arc<dyn rustls::sign::SigningKey>,
        file_warnings: Vec<String>,
        shown: &str,
        fingerprint: Vec<u8>,
    ) -> Result<Identity, ClientError> {
        let Some(leaf) = chain.first() else {
            return Err(ClientError::Config(format!(
                "{shown} não contém nenhum certificado"
            )));
        };
        let info = describe_der(leaf)
            .map_err(|m| ClientError::Config(format!("certificado {shown}: {m}")))?;
        Ok(Identity {
            certified: Arc::new(CertifiedKey::new(chain, key)),
            info,
            file_warnings,
            fingerprint,
        })
    }

    /// An identity from its parts, for tests of what is shown of it.
    #[cfg(test)]
    pub(crate) fn new(
        chain: Vec<CertificateDer<'static>>,
        key: Arc<dyn rustls::sign::SigningKey>,
        file_warnings: Vec<String>,
        shown: &str,
    ) -> Result<Identity, ClientError> {
        Identity::from_parts(chain, key, file_warnings, shown, Vec::new())
    }

    pub(crate) fn info(&self) -> &CertificateInfo {
        &self.info
    }

    /// Loose file permissions found at load time (pt-BR, one per file).
    pub(crate) fn file_warnings(&self) -> &[String] {
        &self.file_warnings
    }

    pub(crate) fn fingerprint(&self) -> &[u8] {
        &self.fingerprint
    }

    pub(crate) fn certified(&self) -> Arc<CertifiedKey> {
        self.certified.clone()
    }
}

/// The rustls configuration: ring provider, standard roots plus
/// `extra_ca`, `identity` for client authentication (asked at every
/// handshake, so a renewed certificate is used from the next connection
/// on), HTTP/2 offered.
pub(crate) fn client_config(
    identity: Arc<LiveIdentity>,
    extra_ca: Option<&Path>,
) -> Result<ClientConfig, ClientError> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(ca_path) = extra_ca {
        add_extra_ca(&mut roots, ca_path)?;
    }
    let mut config =
        ClientConfig::builder_with_provider(rustls::crypto::ring::default_provider().into())
            .with_safe_default_protocol_versions()
            .map_err(|_| {
                ClientError::Config(
                    "a biblioteca TLS recusou as versões de protocolo padrão (defeito do rnds-drop)"
                        .into(),
                )
            })?
            .with_root_certificates(roots)
            .with_client_cert_resolver(identity);
    // reqwest leaves ALPN to a preconfigured rustls config.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

fn not_configured() -> ClientError {
    ClientError::Config(
        "o arquivo de configuração não tem a seção [rnds] (ambiente e certificado): \
         acrescente-a (veja examples/rnds-drop.toml); sem ela só o check funciona"
            .into(),
    )
}

fn key_mismatch() -> ClientError {
    ClientError::Config(
        "a chave privada não serve para o certificado; confira se a chave \
         é a do certificado e se é RSA ou ECDSA"
            .into(),
    )
}

/// What changes when the certificate is renewed: the SHA-256 of the
/// certificate file (and its PEM key), of the token's certificate object,
/// or of the store certificate the selector picks. Read before each token
/// request; cheap.
pub(crate) fn source_fingerprint(rnds: &Rnds) -> Result<Vec<u8>, ClientError> {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    match &rnds.certificate {
        CertificateSource::File(path) => {
            hash.update(read_certificate_file(path)?);
            if let Some(key) = &rnds.certificate_key {
                hash.update(std::fs::read(key).unwrap_or_default());
            }
        }
        CertificateSource::Pkcs11(uri) => hash.update(pkcs11::certificate_der(rnds, uri)?),
        // The certificate the selector picks now: a renewed one installed
        // in the store (valid later) changes it.
        CertificateSource::Store(_) => {
            if let Some((uri, selector)) = certificate_store::store_source(&rnds.certificate_keys())
                .map_err(|(_, message)| ClientError::Config(message))?
            {
                let (chain, _) = winstore::load(&uri, &selector, Utc::now())?;
                for der in &chain {
                    hash.update(der.as_ref());
                }
            }
        }
    }
    Ok(hash.finalize().to_vec())
}

fn read_certificate_file(path: &Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|e| {
        ClientError::Config(format!(
            "não foi possível ler o certificado {}: {}. O que fazer: confira [rnds] \
             certificate (caminhos relativos partem da pasta do arquivo de configuração)",
            path.display(),
            crate::io_text::reason(&e)
        ))
    })
}

/// A PKCS#12 or PEM file: its chain, key and loose-permission warnings.
fn load_file(
    rnds: &Rnds,
    path: &Path,
) -> Result<
    (
        Vec<CertificateDer<'static>>,
        PrivateKeyDer<'static>,
        Vec<String>,
    ),
    ClientError,
> {
    let bytes = read_certificate_file(path)?;
    let mut file_warnings = Vec::new();
    file_warnings.extend(loose_permissions(
        path,
        "o certificado (com a chave privada)",
        &path.display().to_string(),
    ));
    if let Some(key) = &rnds.certificate_key {
        file_warnings.extend(loose_permissions(
            key,
            "a chave privada",
            &key.display().to_string(),
        ));
    }
    let (chain, key) = if rnds.certificate_key.is_some() || looks_like_pem(&bytes) {
        load_pem(path, &bytes, rnds.certificate_key.as_deref())?
    } else {
        let password = read_password(rnds)?;
        if let Some(file) = rnds
            .certificate_password_file
            .as_deref()
            .filter(|_| password_came_from_file(rnds))
        {
            file_warnings.extend(loose_permissions(
                file,
                "o arquivo de senha",
                "(certificate_password_file)",
            ));
        }
        load_pkcs12(path, &bytes, &password)?
    };
    Ok((chain, key, file_warnings))
}

/// Describes the configured certificate even when expired or not yet
/// valid (`status` and `/healthz` report the validity themselves). A
/// token's certificate is read without the PIN.
pub(crate) fn read_certificate_info(rnds: &Rnds) -> Result<CertificateInfo, ClientError> {
    if let (true, CertificateSource::Pkcs11(uri)) = (rnds.is_configured(), &rnds.certificate) {
        let der = pkcs11::certificate_der(rnds, uri)?;
        return describe_der(&der)
            .map_err(|m| ClientError::Config(format!("certificado do token: {m}")));
    }
    Identity::load_any_validity(rnds, SigningFailures::default()).map(|identity| identity.info)
}

fn looks_like_pem(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    bytes[start..].starts_with(b"-----BEGIN")
}

/// The password from the environment variable, else from the file's first
/// line (see [`password_from_file`]); never from the TOML.
fn read_password(rnds: &Rnds) -> Result<String, ClientError> {
    if let Some(var) = &rnds.certificate_password_env {
        if let Ok(value) = std::env::var(var) {
            return Ok(value);
        }
        if rnds.certificate_password_file.is_none() {
            // Only a conventional variable name is repeated: anything else
            // may be the password itself, written in the wrong key.
            let conventional = var
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            if !conventional {
                return Err(ClientError::Config(
                    "certificate_password_env não é o nome de uma variável de ambiente \
                     definida. O que fazer: escreva ali só o nome da variável (ex.: \
                     certificate_password_env = \"RNDS_PFX_SENHA\") e defina-a com a senha; se \
                     você escreveu a senha nessa chave, apague-a do arquivo"
                        .into(),
                ));
            }
            return Err(ClientError::Config(format!(
                "a variável de ambiente {var} (certificate_password_env) não está definida: \
                 defina-a com a senha do certificado"
            )));
        }
    }
    if let Some(file) = &rnds.certificate_password_file {
        let bytes = std::fs::read(file).map_err(|e| {
            // The path is never shown: what was typed there may be the
            // password itself.
            ClientError::Config(format!(
                "não foi possível ler o arquivo de senha indicado em [rnds] \
                 certificate_password_file: {}. O que fazer: escreva ali o caminho do arquivo \
                 que contém a senha (nunca a senha) e confira se a conta do serviço pode lê-lo",
                crate::io_text::reason(&e)
            ))
        })?;
        return password_from_file(&bytes).ok_or_else(|| {
            ClientError::Config(
                "o arquivo de senha indicado em [rnds] certificate_password_file não é texto \
                 UTF-8 nem UTF-16 com BOM. O que fazer: grave a senha de novo; no PowerShell: \
                 Set-Content -NoNewline -Encoding ascii -Path <arquivo> -Value '<senha>' (para \
                 uma senha com acentos, -Encoding utf8)"
                    .into(),
            )
        });
    }
    Err(ClientError::Config(
        "o certificado PKCS#12 precisa de senha: informe certificate_password_env ou \
         certificate_password_file em [rnds] (a senha nunca vai no arquivo de configuração)"
            .into(),
    ))
}

/// The password in a password file's first line, as Windows editors write
/// it: UTF-8 with or without BOM (Notepad), UTF-16 LE or BE with BOM
/// (PowerShell 5's `>` and `Out-File`), CRLF or LF, surrounding blanks
/// dropped. `None` when the bytes are none of these (never guessed).
pub(super) fn password_from_file(bytes: &[u8]) -> Option<String> {
    let utf16 = |rest: &[u8], unit: fn([u8; 2]) -> u16| -> Option<String> {
        let units: Vec<u16> = rest
            .chunks(2)
            .map(|pair| match *pair {
                [a, b] => Some(unit([a, b])),
                _ => None,
            })
            .collect::<Option<_>>()?;
        String::from_utf16(&units).ok()
    };
    let text = if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        utf16(rest, u16::from_le_bytes)?
    } else if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        utf16(rest, u16::from_be_bytes)?
    } else {
        let rest = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
        String::from_utf8(rest.to_vec()).ok()?
    };
    Some(text.lines().next().unwrap_or("").trim().to_string())
}

type Chain = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn load_pkcs12(path: &Path, bytes: &[u8], password: &str) -> Result<Chain, ClientError> {
    use p12_keystore::{KeyStore, Pkcs12ImportPolicy};
    let shown = path.display();
    let store = KeyStore::from_pkcs12(bytes, password, Pkcs12ImportPolicy::Relaxed)
        .map_err(|e| pkcs12_error(path, bytes, &e))?;
    let Some((_, key_chain)) = store.private_key_chain() else {
        return Err(ClientError::Config(format!(
            "{shown} não contém a chave privada, só certificados: exporte o certificado \
             novamente incluindo a chave privada (no Windows: \"Sim, exportar a chave privada\")"
        )));
    };
    if key_chain.certs().is_empty() {
        return Err(ClientError::Config(format!(
            "{shown} contém uma chave privada sem o certificado correspondente: exporte \
             novamente o certificado com a chave"
        )));
    }
    let chain = key_chain
        .certs()
        .iter()
        .map(|c| CertificateDer::from(c.as_der().to_vec()))
        .collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_chain.key().as_der().to_vec()));
    Ok((chain, key))
}

const CONVERT_HINT: &str = "converta-o para AES-256/SHA-256 com: openssl pkcs12 -in antigo.pfx \
    -nodes -legacy | openssl pkcs12 -export -out novo.pfx -keypbe AES-256-CBC -certpbe \
    AES-256-CBC -macalg sha256 (as duas senhas são pedidas no terminal)";

fn pkcs12_error(path: &Path, bytes: &[u8], error: &p12_keystore::error::Error) -> ClientError {
    use p12_keystore::error::Error as P12;
    let shown = path.display();
    let message = match error {
        P12::MacError(_) => format!(
            "senha incorreta para o certificado {shown}: confira a senha na variável de \
             ambiente ou no arquivo de senha (primeira linha)"
        ),
        P12::UnsupportedEncryptionScheme | P12::UnsupportedMacAlgorithm | P12::Pkcs5Error(_) => {
            match unsupported_algorithm_name(bytes) {
                Some(name) => format!(
                    "o certificado {shown} usa uma criptografia não suportada ({name}); \
                     {CONVERT_HINT}"
                ),
                None if matches!(error, P12::Pkcs5Error(_)) => format!(
                    "não foi possível abrir o certificado {shown}: senha incorreta ou \
                     criptografia não suportada; confira a senha ou {CONVERT_HINT}"
                ),
                None => format!(
                    "o certificado {shown} usa uma criptografia não suportada; {CONVERT_HINT}"
                ),
            }
        }
        P12::UnpadError | P12::InvalidPrivateKey => {
            format!("não foi possível abrir o certificado {shown}: a senha parece incorreta")
        }
        _ => format!(
            "{shown} não é um arquivo PKCS#12 (.pfx/.p12) válido: o conteúdo não foi reconhecido \
             (arquivo corrompido ou de outro tipo); se for PEM, \
             informe também certificate_key"
        ),
    };
    ClientError::Config(message)
}

/// Names a PBE or MAC algorithm `p12-keystore` cannot read, by looking for
/// its OID in the (unencrypted) algorithm identifiers of the file.
fn unsupported_algorithm_name(bytes: &[u8]) -> Option<&'static str> {
    // DER of 1.2.840.113549 (RSA Data Security) after the tag and length.
    const RSADSI: [u8; 6] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D];
    let known: [(&[u8], &str); 9] = [
        (&[0x01, 0x0C, 0x01, 0x01], "PBE-SHA1-RC4-128"),
        (&[0x01, 0x0C, 0x01, 0x02], "PBE-SHA1-RC4-40"),
        (&[0x01, 0x0C, 0x01, 0x04], "PBE-SHA1-2DES"),
        (&[0x01, 0x0C, 0x01, 0x05], "PBE-SHA1-RC2-128"),
        (&[0x01, 0x05, 0x03], "PBE-MD5-DES"),
        (&[0x01, 0x05, 0x06], "PBE-MD5-RC2-64"),
        (&[0x01, 0x05, 0x0A], "PBE-SHA1-DES"),
        (&[0x01, 0x05, 0x0B], "PBE-SHA1-RC2-64"),
        (&[0x02, 0x05], "MAC MD5"),
    ];
    known.iter().find_map(|(tail, name)| {
        let mut needle = vec![0x06, (RSADSI.len() + tail.len()) as u8];
        needle.extend_from_slice(&RSADSI);
        needle.extend_from_slice(tail);
        bytes
            .windows(needle.len())
            .any(|w| w == needle.as_slice())
            .then_some(*name)
    })
}

fn load_pem(path: &Path, bytes: &[u8], key_path: Option<&Path>) -> Result<Chain, ClientError> {
    let shown = path.display();
    let chain = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| {
            ClientError::Config(format!(
                "certificado PEM {shown} inválido: um bloco BEGIN/END CERTIFICATE está \
                 corrompido; exporte o certificado de novo"
            ))
        })?;
    let key_bytes;
    let (key_source, key_shown) = match key_path {
        Some(k) => {
            key_bytes = std::fs::read(k).map_err(|e| {
                ClientError::Config(format!(
                    "não foi possível ler a chave {}: {}; confira [rnds] certificate_key",
                    k.display(),
                    crate::io_text::reason(&e)
                ))
            })?;
            (key_bytes.as_slice(), k.display().to_string())
        }
        None => (bytes, path.display().to_string()),
    };
    if String::from_utf8_lossy(key_source).contains("ENCRYPTED PRIVATE KEY") {
        return Err(ClientError::Config(format!(
            "a chave {key_shown} está cifrada: use o arquivo .pfx com senha, ou decifre a chave \
             com `openssl pkcs8 -in chave.pem -out chave-aberta.pem` (e proteja o arquivo)"
        )));
    }
    let key = PrivateKeyDer::from_pem_slice(key_source).map_err(|_| {
        ClientError::Config(format!(
            "{key_shown} não contém a chave privada em PEM: informe em certificate_key o \
             arquivo da chave do certificado"
        ))
    })?;
    Ok((chain, key))
}

fn add_extra_ca(roots: &mut RootCertStore, path: &Path) -> Result<(), ClientError> {
    let bytes = std::fs::read(path).map_err(|e| {
        ClientError::Config(format!(
            "não foi possível ler extra_ca {}: {}; confira [rnds] extra_ca",
            path.display(),
            crate::io_text::reason(&e)
        ))
    })?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| {
            ClientError::Config(format!(
                "extra_ca {} inválido: um bloco BEGIN/END CERTIFICATE está corrompido; \
                 baixe de novo o certificado da CA em PEM",
                path.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(ClientError::Config(format!(
            "extra_ca {} não contém nenhum certificado PEM",
            path.display()
        )));
    }
    for cert in certs {
        roots.add(cert).map_err(|_| {
            ClientError::Config(format!(
                "extra_ca {} tem um certificado que não pode ser usado como CA; use o \
                 certificado da autoridade certificadora em PEM",
                path.display()
            ))
        })?;
    }
    Ok(())
}

pub(super) fn describe_der(der: &[u8]) -> Result<CertificateInfo, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|_| "o conteúdo não é um certificado X.509 legível".to_string())?;
    let cnpj_or_cpf = cert
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok())
        .find_map(icp_brasil_number);
    let timestamp = |t: &x509_parser::time::ASN1Time| {
        DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
    };
    let issuer = cert.issuer();
    let icp_brasil = issuer
        .iter_organization()
        .chain(issuer.iter_organizational_unit())
        .filter_map(|attribute| attribute.as_str().ok())
        .any(|name| name.to_ascii_lowercase().contains("icp-brasil"));
    Ok(CertificateInfo {
        subject: cert.subject().to_string(),
        cnpj_or_cpf,
        issuer: issuer.to_string(),
        icp_brasil,
        not_before: timestamp(&cert.validity().not_before),
        not_after: timestamp(&cert.validity().not_after),
    })
}

/// ICP-Brasil common names end in `:<CNPJ>` (e-CNPJ) or `:<CPF>` (e-CPF).
fn icp_brasil_number(common_name: &str) -> Option<String> {
    certificate_store::cnpj_or_cpf_in_common_name(common_name)
}

fn check_validity(info: &CertificateInfo, now: DateTime<Utc>) -> Result<(), ClientError> {
    if now < info.not_before {
        return Err(ClientError::Config(format!(
            "o certificado ainda não é válido: {} (confira o relógio deste computador)",
            info.validity_text()
        )));
    }
    if now > info.not_after {
        return Err(ClientError::Config(format!(
            "o certificado expirou em {}: {}; renove-o com a autoridade certificadora e \
             atualize [rnds] certificate",
            format_date(info.not_after),
            info.validity_text()
        )));
    }
    Ok(())
}

impl CertificateInfo {
    /// A pt-BR warning when the certificate expires within 30 days of `now`.
    pub(crate) fn expiry_warning(&self, now: DateTime<Utc>) -> Option<String> {
        let days_left = (self.not_after - now).num_days();
        (now <= self.not_after && days_left < EXPIRY_WARNING_DAYS).then(|| {
            let when = match days_left {
                0 => "hoje".to_string(),
                1 => "em 1 dia".to_string(),
                n => format!("em {n} dias"),
            };
            format!(
                "o certificado do laboratório expira {when} ({}). O que fazer: peça a renovação \
                 à autoridade certificadora agora e, com o novo .pfx, atualize [rnds] \
                 certificate; depois do vencimento a RNDS recusa todos os envios",
                format_date(self.not_after)
            )
        })
    }
}

fn password_came_from_file(rnds: &Rnds) -> bool {
    rnds.certificate_password_env
        .as_deref()
        .is_none_or(|var| std::env::var_os(var).is_none())
}

/// A warning when `path` can be read or written by other accounts (unix
/// mode bits). Windows ACLs are not inspected: `None` there. `shown` names
/// the file in the message: its path, or the key that holds it when the
/// path must not be printed (a password file's path may be the password
/// itself, typed in the wrong place).
#[cfg(unix)]
pub(crate) fn loose_permissions(path: &Path, what: &str, shown: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!(
            "{what} {shown} pode ser lido por outras contas deste computador (permissões \
             {mode:o}). O que fazer: chmod 600 nesse arquivo e deixe-o com a conta do serviço \
             como dona"
        )
    })
}

#[cfg(not(unix))]
pub(crate) fn loose_permissions(_path: &Path, _what: &str, _shown: &str) -> Option<String> {
    None
}

fn format_date(when: DateTime<Utc>) -> String {
    when.format("%d/%m/%Y %H:%M UTC").to_string()
}
