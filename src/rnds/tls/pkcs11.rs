//! A3 certificates: the key stays on the token or smartcard and signs the
//! TLS handshake there, through the vendor's PKCS#11 module (`cryptoki`
//! loads it at run time). Each signature opens its own session, logs in
//! with the PIN read afresh from `pin_env`/`pin_file`, finds the key again
//! and signs: a token pulled out and put back, or a renewed certificate
//! object, is picked up without a restart. A PIN the token refused is
//! never tried again (a token locks itself after a few wrong tries).
//!
//! Invariant: the PIN never reaches a message, a log or `Debug`; a module
//! is loaded and initialised once per process and never finalised (the
//! signer and `doctor` share it).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, Pkcs11};
use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, CertificateType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use rustls::pki_types::CertificateDer;
use rustls::sign::{Signer, SigningKey};
use rustls::{SignatureAlgorithm, SignatureScheme};
use sha2::Digest;

use super::pkcs11_uri::{percent_encode, Pkcs11Uri};
use crate::config::Rnds;
use crate::rnds::ClientError;

/// The certificate found on the token and the key that signs for it.
pub(super) struct TokenIdentity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: Arc<dyn SigningKey>,
}

/// Finds the certificate the URI names, logs in once (a wrong PIN fails
/// here, at start, with the tries left) and checks its key is there.
/// Where a signature that failed during a handshake leaves its pt-BR
/// reason: rustls only carries a string, the token request reads this.
pub(crate) type SigningFailures = Arc<Mutex<Option<ClientError>>>;

pub(super) fn load(
    rnds: &Rnds,
    uri_text: &str,
    failures: SigningFailures,
) -> Result<TokenIdentity, ClientError> {
    let uri = Pkcs11Uri::parse(uri_text).map_err(config)?;
    let module_path = module_path(rnds)?;
    let token = Arc::new(Token {
        module_path,
        uri,
        pin: PinSource::from(rnds)?,
        refused_pin: Mutex::new(None),
        failures,
    });
    let (slot, session) = token.session()?;
    let (cert_handle, der) = token.certificate(&session)?;
    let key_id = read_bytes(&session, cert_handle, AttributeType::Id)?;
    token.login(slot, &session)?;
    token.private_key(&session, key_id.as_deref())?;
    let kind = KeyKind::of(&der)?;
    let mechanisms = token.module()?.get_mechanism_list(slot).unwrap_or_default();
    let key = TokenKey {
        token,
        key_id,
        kind,
        pss: mechanisms.contains(&MechanismType::RSA_PKCS_PSS),
    };
    Ok(TokenIdentity {
        chain: vec![CertificateDer::from(der)],
        key: Arc::new(key),
    })
}

/// The DER of the certificate the URI names, without logging in: what the
/// service compares before each token request to notice a renewed object.
pub(super) fn certificate_der(rnds: &Rnds, uri_text: &str) -> Result<Vec<u8>, ClientError> {
    let uri = Pkcs11Uri::parse(uri_text).map_err(config)?;
    let module_path = module_path(rnds)?;
    let token = Token {
        module_path,
        uri,
        pin: PinSource::None,
        refused_pin: Mutex::new(None),
        failures: SigningFailures::default(),
    };
    let (_, session) = token.session()?;
    token.certificate(&session).map(|(_, der)| der)
}

/// Which of the certificates the URI matches to use: after a renewal the
/// CA's tool leaves the old certificate beside the new one under the same
/// label, so the one valid now with the latest `notAfter` wins (the rule
/// of `config::certificate_store::choose` for the Windows store); two
/// different certificates valid until the same instant are refused as
/// ambiguous, never picked at random. An unreadable certificate only wins
/// when it is the only one (its own error follows).
fn newest_valid(ders: &[&[u8]], now: chrono::DateTime<chrono::Utc>) -> Result<usize, String> {
    if ders.len() == 1 {
        return Ok(0);
    }
    let validity = |der: &[u8]| {
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        let validity = cert.validity();
        Some((
            validity.not_before.timestamp(),
            validity.not_after.timestamp(),
        ))
    };
    let valid: Vec<(usize, i64)> = ders
        .iter()
        .enumerate()
        .filter_map(|(i, der)| validity(der).map(|v| (i, v)))
        .filter(|(_, (from, until))| *from <= now.timestamp() && now.timestamp() <= *until)
        .map(|(i, (_, until))| (i, until))
        .collect();
    let Some(latest) = valid.iter().map(|(_, until)| *until).max() else {
        return Err(format!(
            "nenhum dos {} certificados que [rnds] certificate indica é válido agora. O que \
             fazer: grave no token o certificado renovado (ou confira o relógio deste \
             computador); rnds-drop doctor lista os certificados do token",
            ders.len()
        ));
    };
    let newest: Vec<usize> = valid
        .iter()
        .filter(|(_, until)| *until == latest)
        .map(|(i, _)| *i)
        .collect();
    match newest.as_slice() {
        [first, rest @ ..] if rest.iter().all(|i| ders[*i] == ders[*first]) => Ok(*first),
        _ => Err(format!(
            "{} certificados diferentes que [rnds] certificate indica valem até a mesma data: \
             o rnds-drop não escolhe ao acaso. O que fazer: indique no endereço pkcs11: o \
             certificado certo pelo id= (o CKA_ID dele) ou apague do token o certificado que não \
             é mais usado",
            newest.len()
        )),
    }
}

fn config(message: String) -> ClientError {
    ClientError::Config(message)
}

fn module_path(rnds: &Rnds) -> Result<PathBuf, ClientError> {
    rnds.pkcs11_module.clone().ok_or_else(|| {
        config(
            "o certificado é de um token (pkcs11:) mas falta [rnds] pkcs11_module: informe o \
             caminho do módulo PKCS#11 do fabricante (ex.: \
             /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so)"
                .into(),
        )
    })
}

/// The process's modules, each loaded and initialised once, until a
/// token goes missing ([`forget_module`]).
fn modules() -> std::sync::MutexGuard<'static, HashMap<PathBuf, Pkcs11>> {
    static MODULES: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    MODULES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Drops the process's handle on a module whose token went missing: when
/// the last clone goes, the module is finalised, and the next use loads
/// and initialises it again, which makes it look for its tokens afresh
/// (many modules, SoftHSM2 among them, list slots only at initialisation).
fn forget_module(path: &Path) {
    modules().remove(path);
}

fn module(path: &Path) -> Result<Pkcs11, ClientError> {
    let mut modules = modules();
    if let Some(module) = modules.get(path) {
        return Ok(module.clone());
    }
    if !path.exists() {
        return Err(config(format!(
            "o módulo PKCS#11 {} não existe: confira [rnds] pkcs11_module (o caminho da \
             biblioteca do fabricante do token, instalada com o driver dele)",
            path.display()
        )));
    }
    let module = Pkcs11::new(path).map_err(|e| {
        config(format!(
            "não foi possível carregar o módulo PKCS#11 {}: {}. O que fazer: confira se é a \
             biblioteca PKCS#11 do fabricante do token (.so no Linux, .dll no Windows), para \
             64 bits, e se o driver do token está instalado",
            path.display(),
            loading_reason(&e)
        ))
    })?;
    match module.initialize(CInitializeArgs::OsThreads) {
        Ok(()) | Err(P11Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => {
            return Err(config(format!(
                "o módulo PKCS#11 {} não iniciou ({}): confira a instalação do driver do token",
                path.display(),
                rv_words(&e)
            )))
        }
    }
    modules.insert(path.to_path_buf(), module.clone());
    Ok(module)
}

fn loading_reason(error: &P11Error) -> String {
    match error {
        P11Error::LibraryLoading(_) => "o arquivo não é uma biblioteca carregável".into(),
        P11Error::Pkcs11(..) => "a biblioteca não oferece as funções PKCS#11".into(),
        other => rv_words(other),
    }
}

/// pt-BR words for a module's answer; never the PIN.
fn rv_words(error: &P11Error) -> String {
    match error {
        P11Error::Pkcs11(rv, _) => match rv {
            RvError::TokenNotPresent | RvError::DeviceRemoved => "o token foi desconectado".into(),
            RvError::PinIncorrect => "PIN incorreto".into(),
            RvError::PinLocked => "PIN bloqueado".into(),
            RvError::DeviceError | RvError::DeviceMemory => "o token informou um defeito".into(),
            other => format!("o módulo respondeu o código PKCS#11 {other:?}"),
        },
        P11Error::LibraryLoading(_) => "o módulo não pôde ser carregado".into(),
        _ => "erro interno da biblioteca PKCS#11".into(),
    }
}

enum PinSource {
    Env(String),
    File(PathBuf),
    None,
}

impl PinSource {
    fn from(rnds: &Rnds) -> Result<PinSource, ClientError> {
        match (&rnds.pin_env, &rnds.pin_file) {
            (Some(var), _) if std::env::var_os(var).is_some() => Ok(PinSource::Env(var.clone())),
            (_, Some(file)) => Ok(PinSource::File(file.clone())),
            (Some(var), None) => Err(config(format!(
                "a variável de ambiente {var} (pin_env) não está definida: defina-a com o PIN \
                 do token"
            ))),
            (None, None) => Err(config(
                "o token precisa do PIN: informe pin_env ou pin_file em [rnds] (o PIN nunca \
                 vai no arquivo de configuração)"
                    .into(),
            )),
        }
    }

    /// The PIN, and its SHA-256 (to recognise a PIN the token refused).
    fn read(&self) -> Result<(AuthPin, [u8; 32]), ClientError> {
        let pin = match self {
            PinSource::Env(var) => std::env::var(var).map_err(|_| {
                config(format!(
                    "a variável de ambiente {var} (pin_env) não está mais definida"
                ))
            })?,
            PinSource::File(file) => {
                let bytes = std::fs::read(file).map_err(|e| {
                    config(format!(
                        "não foi possível ler o arquivo indicado em [rnds] pin_file: {}. O que \
                         fazer: escreva ali o caminho do arquivo que contém o PIN (nunca o PIN)",
                        crate::io_text::reason(&e)
                    ))
                })?;
                super::password_from_file(&bytes).ok_or_else(|| {
                    config(
                        "o arquivo indicado em [rnds] pin_file não é texto UTF-8 nem UTF-16 \
                         com BOM: grave o PIN de novo"
                            .into(),
                    )
                })?
            }
            PinSource::None => String::new(),
        };
        let digest = sha2::Sha256::digest(pin.as_bytes()).into();
        Ok((AuthPin::from(pin), digest))
    }
}

/// One token as the URI names it, in one module.
struct Token {
    module_path: PathBuf,
    uri: Pkcs11Uri,
    pin: PinSource,
    /// SHA-256 of a PIN the token refused: never tried again.
    refused_pin: Mutex<Option<[u8; 32]>>,
    failures: SigningFailures,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("module", &self.module_path)
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

impl Token {
    fn module(&self) -> Result<Pkcs11, ClientError> {
        module(&self.module_path)
    }

    fn named(&self) -> String {
        self.uri
            .token
            .as_deref()
            .map_or_else(|| "do certificado".into(), |label| format!("\"{label}\""))
    }

    /// The slot holding the token, and a read-only session on it. A token
    /// that is not found makes the module be loaded again next time.
    fn session(&self) -> Result<(Slot, Session), ClientError> {
        let module = self.module()?;
        let found = self.open(&module);
        if matches!(found, Err(ClientError::Unreachable(_))) {
            drop(module);
            forget_module(&self.module_path);
        }
        found
    }

    fn open(&self, module: &Pkcs11) -> Result<(Slot, Session), ClientError> {
        let slots = module.get_slots_with_token().map_err(|e| {
            ClientError::Unreachable(format!(
                "o módulo PKCS#11 não listou os tokens: {}",
                rv_words(&e)
            ))
        })?;
        let slot = slots
            .into_iter()
            .find(|slot| self.matches(module, *slot))
            .ok_or_else(|| {
                ClientError::Unreachable(format!(
                    "o token {} não está conectado (nenhum leitor do módulo {} o mostra). O que \
                     fazer: conecte o token ou cartão; rnds-drop doctor lista os tokens vistos",
                    self.named(),
                    self.module_path.display()
                ))
            })?;
        let session = module.open_ro_session(slot).map_err(|e| {
            ClientError::Unreachable(format!(
                "não foi possível abrir o token {}: {}",
                self.named(),
                rv_words(&e)
            ))
        })?;
        Ok((slot, session))
    }

    fn matches(&self, module: &Pkcs11, slot: Slot) -> bool {
        if self.uri.slot_id.is_some_and(|id| id != slot.id()) {
            return false;
        }
        let Ok(info) = module.get_token_info(slot) else {
            return false;
        };
        let same = |wanted: &Option<String>, got: &str| {
            wanted.as_deref().is_none_or(|w| w.trim() == got.trim())
        };
        same(&self.uri.token, info.label())
            && same(&self.uri.serial, info.serial_number())
            && same(&self.uri.manufacturer, info.manufacturer_id())
            && same(&self.uri.model, info.model())
    }

    fn certificate(&self, session: &Session) -> Result<(ObjectHandle, Vec<u8>), ClientError> {
        let mut template = vec![
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
        ];
        template.extend(self.selector());
        let found = session.find_objects(&template).map_err(|e| {
            ClientError::Unreachable(format!(
                "o token {} não listou os certificados: {}",
                self.named(),
                rv_words(&e)
            ))
        })?;
        if found.is_empty() {
            return Err(config(format!(
                "o token {} não tem o certificado que [rnds] certificate indica (object=/id=). \
                 O que fazer: rnds-drop doctor lista os certificados do token com o endereço \
                 pronto para colar",
                self.named()
            )));
        }
        let mut candidates = Vec::with_capacity(found.len());
        for handle in found {
            let der = read_bytes(session, handle, AttributeType::Value)?.unwrap_or_default();
            candidates.push((handle, der));
        }
        let ders: Vec<&[u8]> = candidates.iter().map(|(_, der)| der.as_slice()).collect();
        let chosen = newest_valid(&ders, chrono::Utc::now())
            .map_err(|why| config(format!("o token {}: {why}", self.named())))?;
        Ok(candidates.swap_remove(chosen))
    }

    fn selector(&self) -> Vec<Attribute> {
        let mut attributes = Vec::new();
        if let Some(label) = &self.uri.object {
            attributes.push(Attribute::Label(label.clone().into_bytes()));
        }
        if let Some(id) = &self.uri.id {
            attributes.push(Attribute::Id(id.clone()));
        }
        attributes
    }

    /// Logs in as the user, unless already logged in; refuses to try a PIN
    /// the token already refused.
    fn login(&self, slot: Slot, session: &Session) -> Result<(), ClientError> {
        let module = self.module()?;
        let info = module.get_token_info(slot).ok();
        if info
            .as_ref()
            .is_some_and(cryptoki::slot::TokenInfo::user_pin_locked)
        {
            return Err(self.locked());
        }
        let (pin, digest) = self.pin.read()?;
        let mut refused = self
            .refused_pin
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *refused == Some(digest) {
            return Err(config(format!(
                "o token {} recusou este PIN antes; ele não é tentado de novo para não \
                 bloquear o token. O que fazer: corrija o PIN em pin_env/pin_file",
                self.named()
            )));
        }
        match session.login(UserType::User, Some(&pin)) {
            Ok(()) | Err(P11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
            Err(P11Error::Pkcs11(RvError::PinIncorrect | RvError::PinLenRange, _)) => {
                *refused = Some(digest);
                let after = module.get_token_info(slot).ok();
                let tries = match after {
                    Some(i) if i.user_pin_locked() => return Err(self.locked()),
                    Some(i) if i.user_pin_final_try() => {
                        " Resta só 1 tentativa antes de o token se bloquear."
                    }
                    Some(i) if i.user_pin_count_low() => {
                        " Restam poucas tentativas antes de o token se bloquear."
                    }
                    _ => "",
                };
                Err(config(format!(
                    "PIN incorreto para o token {}.{tries} O que fazer: confira o PIN em \
                     pin_env/pin_file (a primeira linha do arquivo); nada foi enviado",
                    self.named()
                )))
            }
            Err(P11Error::Pkcs11(RvError::PinLocked, _)) => Err(self.locked()),
            Err(e) => Err(ClientError::Unreachable(format!(
                "o token {} não aceitou o login: {}",
                self.named(),
                rv_words(&e)
            ))),
        }
    }

    fn locked(&self) -> ClientError {
        config(format!(
            "o PIN do token {} está bloqueado (tentativas erradas demais). O que fazer: \
             desbloqueie-o com o PUK no programa do fabricante ou peça um novo à autoridade \
             certificadora",
            self.named()
        ))
    }

    fn private_key(
        &self,
        session: &Session,
        id: Option<&[u8]>,
    ) -> Result<ObjectHandle, ClientError> {
        let mut template = vec![Attribute::Class(ObjectClass::PRIVATE_KEY)];
        match id.filter(|id| !id.is_empty()) {
            Some(id) => template.push(Attribute::Id(id.to_vec())),
            None => template.extend(self.selector()),
        }
        let found = session.find_objects(&template).map_err(|e| {
            ClientError::Unreachable(format!(
                "o token {} não listou as chaves: {}",
                self.named(),
                rv_words(&e)
            ))
        })?;
        found.first().copied().ok_or_else(|| {
            config(format!(
                "o certificado do token {} não tem a chave privada correspondente (nenhuma \
                 chave com o mesmo identificador CKA_ID). O que fazer: use o certificado que \
                 foi gerado neste token; doctor lista os certificados",
                self.named()
            ))
        })
    }

    /// One signature: session, login, the key found again, C_Sign.
    fn sign(
        &self,
        key_id: Option<&[u8]>,
        mechanism: &Mechanism,
        data: &[u8],
    ) -> Result<Vec<u8>, ClientError> {
        let (slot, session) = self.session()?;
        self.login(slot, &session)?;
        let signed = self.private_key(&session, key_id).and_then(|key| {
            session.sign(mechanism, key, data).map_err(|e| {
                ClientError::Unreachable(format!(
                    "o token {} não assinou: {}",
                    self.named(),
                    rv_words(&e)
                ))
            })
        });
        if signed.is_err() {
            // A token that vanished under an open slot: look for it afresh.
            drop(session);
            forget_module(&self.module_path);
        }
        signed
    }
}

fn read_bytes(
    session: &Session,
    handle: ObjectHandle,
    which: AttributeType,
) -> Result<Option<Vec<u8>>, ClientError> {
    let attributes = session.get_attributes(handle, &[which]).map_err(|e| {
        ClientError::Unreachable(format!("o token não respondeu: {}", rv_words(&e)))
    })?;
    Ok(attributes.into_iter().find_map(|a| match a {
        Attribute::Id(bytes) | Attribute::Value(bytes) | Attribute::Label(bytes) => Some(bytes),
        _ => None,
    }))
}

/// The key's type, from the certificate's public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    EcP256,
    EcP384,
}

impl KeyKind {
    fn of(der: &[u8]) -> Result<KeyKind, ClientError> {
        use x509_parser::public_key::PublicKey;
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|_| config("o certificado do token não é um X.509 legível".into()))?;
        match cert.public_key().parsed() {
            Ok(PublicKey::RSA(_)) => Ok(KeyKind::Rsa),
            Ok(PublicKey::EC(point)) if point.key_size() == 256 => Ok(KeyKind::EcP256),
            Ok(PublicKey::EC(point)) if point.key_size() == 384 => Ok(KeyKind::EcP384),
            _ => Err(config(
                "a chave do certificado do token não é RSA nem ECDSA P-256/P-384; o \
                 rnds-drop não sabe assinar com ela"
                    .into(),
            )),
        }
    }
}

/// The token's private key as rustls sees it.
#[derive(Debug)]
struct TokenKey {
    token: Arc<Token>,
    key_id: Option<Vec<u8>>,
    kind: KeyKind,
    /// The module offers RSA-PSS (TLS 1.3 needs it for an RSA key).
    pss: bool,
}

impl SigningKey for TokenKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        use SignatureScheme as S;
        let ours: &[SignatureScheme] = match self.kind {
            KeyKind::EcP256 => &[S::ECDSA_NISTP256_SHA256],
            KeyKind::EcP384 => &[S::ECDSA_NISTP384_SHA384],
            KeyKind::Rsa if self.pss => &[
                S::RSA_PSS_SHA256,
                S::RSA_PSS_SHA384,
                S::RSA_PKCS1_SHA256,
                S::RSA_PKCS1_SHA384,
            ],
            KeyKind::Rsa => &[S::RSA_PKCS1_SHA256, S::RSA_PKCS1_SHA384],
        };
        let scheme = ours.iter().find(|s| offered.contains(s))?;
        Some(Box::new(TokenSigner {
            token: self.token.clone(),
            key_id: self.key_id.clone(),
            scheme: *scheme,
        }))
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        match self.kind {
            KeyKind::Rsa => SignatureAlgorithm::RSA,
            KeyKind::EcP256 | KeyKind::EcP384 => SignatureAlgorithm::ECDSA,
        }
    }
}

#[derive(Debug)]
struct TokenSigner {
    token: Arc<Token>,
    key_id: Option<Vec<u8>>,
    scheme: SignatureScheme,
}

impl Signer for TokenSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        let (mechanism, data, der_ecdsa) = signing_input(self.scheme, message)
            .ok_or_else(|| rustls::Error::General("esquema de assinatura não suportado".into()))?;
        let signature = self
            .token
            .sign(self.key_id.as_deref(), &mechanism, &data)
            .map_err(|e| {
                let words = e.to_string();
                *self
                    .token
                    .failures
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e);
                rustls::Error::General(words)
            })?;
        if der_ecdsa {
            ecdsa_raw_to_der(&signature).ok_or_else(|| {
                rustls::Error::General("assinatura ECDSA do token malformada".into())
            })
        } else {
            Ok(signature)
        }
    }

    fn scheme(&self) -> SignatureScheme {
        self.scheme
    }
}

/// The mechanism, the bytes C_Sign gets and whether its answer is a raw
/// ECDSA `r‖s` to wrap in DER: the hash is computed here, because many
/// tokens offer only the raw mechanisms (`CKM_ECDSA`, `CKM_RSA_PKCS`).
fn signing_input(
    scheme: SignatureScheme,
    message: &[u8],
) -> Option<(Mechanism<'static>, Vec<u8>, bool)> {
    use SignatureScheme as S;
    let sha256 = || sha2::Sha256::digest(message).to_vec();
    let sha384 = || sha2::Sha384::digest(message).to_vec();
    Some(match scheme {
        S::ECDSA_NISTP256_SHA256 => (Mechanism::Ecdsa, sha256(), true),
        S::ECDSA_NISTP384_SHA384 => (Mechanism::Ecdsa, sha384(), true),
        S::RSA_PKCS1_SHA256 => (
            Mechanism::RsaPkcs,
            digest_info(&SHA256_PREFIX, &sha256()),
            false,
        ),
        S::RSA_PKCS1_SHA384 => (
            Mechanism::RsaPkcs,
            digest_info(&SHA384_PREFIX, &sha384()),
            false,
        ),
        S::RSA_PSS_SHA256 => (
            Mechanism::RsaPkcsPss(PkcsPssParams {
                hash_alg: MechanismType::SHA256,
                mgf: PkcsMgfType::MGF1_SHA256,
                s_len: 32.into(),
            }),
            sha256(),
            false,
        ),
        S::RSA_PSS_SHA384 => (
            Mechanism::RsaPkcsPss(PkcsPssParams {
                hash_alg: MechanismType::SHA384,
                mgf: PkcsMgfType::MGF1_SHA384,
                s_len: 48.into(),
            }),
            sha384(),
            false,
        ),
        _ => return None,
    })
}

/// DER `DigestInfo` prefixes (RFC 8017 §9.2 note 1).
const SHA256_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];
const SHA384_PREFIX: [u8; 19] = [
    0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05,
    0x00, 0x04, 0x30,
];

fn digest_info(prefix: &[u8], hash: &[u8]) -> Vec<u8> {
    [prefix, hash].concat()
}

/// PKCS#11's ECDSA signature `r‖s` (two equal halves) as the DER
/// `SEQUENCE { INTEGER r, INTEGER s }` TLS carries.
fn ecdsa_raw_to_der(raw: &[u8]) -> Option<Vec<u8>> {
    if raw.is_empty() || !raw.len().is_multiple_of(2) || raw.len() > 132 {
        return None;
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let integer = |bytes: &[u8]| {
        let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
        let mut value = if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
            [vec![0], trimmed].concat()
        } else {
            trimmed
        };
        let mut out = vec![0x02, u8::try_from(value.len()).unwrap_or(0)];
        out.append(&mut value);
        out
    };
    let body = [integer(r), integer(s)].concat();
    let mut out = vec![0x30];
    let len = u8::try_from(body.len()).ok()?;
    if len >= 0x80 {
        out.push(0x81);
    }
    out.push(len);
    out.extend(body);
    Some(out)
}

/// What `doctor` prints about a module: each token and its certificates.
pub(crate) struct TokenListing {
    pub label: String,
    pub manufacturer: String,
    pub model: String,
    pub serial: String,
    pub certificates: Vec<ListedCertificate>,
    /// Why the certificates could not be listed, when they could not.
    pub problem: Option<String>,
}

pub(crate) struct ListedCertificate {
    pub info: Option<super::CertificateInfo>,
    /// `pkcs11:token=…;object=…` (or `id=`), ready to paste.
    pub uri: String,
}

/// Lists the tokens `module_path` shows and the certificates on each
/// (certificates are public objects: no PIN needed).
pub(crate) fn list(module_path: &Path) -> Result<Vec<TokenListing>, ClientError> {
    let module = module(module_path)?;
    let slots = module.get_slots_with_token().map_err(|e| {
        config(format!(
            "o módulo PKCS#11 não listou os tokens: {}",
            rv_words(&e)
        ))
    })?;
    let mut listings = Vec::new();
    for slot in slots {
        // An empty slot some modules keep (SoftHSM2's free slot) is no token.
        let Ok(info) = module.get_token_info(slot) else {
            continue;
        };
        if !info.token_initialized() {
            continue;
        }
        let label = info.label().trim().to_string();
        let mut listing = TokenListing {
            label: label.clone(),
            manufacturer: info.manufacturer_id().trim().to_string(),
            model: info.model().trim().to_string(),
            serial: info.serial_number().trim().to_string(),
            certificates: Vec::new(),
            problem: None,
        };
        match certificates_on(&module, slot, &label) {
            Ok(certificates) => listing.certificates = certificates,
            Err(e) => listing.problem = Some(e),
        }
        listings.push(listing);
    }
    Ok(listings)
}

fn certificates_on(
    module: &Pkcs11,
    slot: Slot,
    token_label: &str,
) -> Result<Vec<ListedCertificate>, String> {
    let session = module.open_ro_session(slot).map_err(|e| rv_words(&e))?;
    let handles = session
        .find_objects(&[Attribute::Class(ObjectClass::CERTIFICATE)])
        .map_err(|e| rv_words(&e))?;
    let mut listed = Vec::new();
    for handle in handles {
        let attributes = session
            .get_attributes(
                handle,
                &[
                    AttributeType::Label,
                    AttributeType::Id,
                    AttributeType::Value,
                ],
            )
            .map_err(|e| rv_words(&e))?;
        let (mut label, mut id, mut value) = (None, None, None);
        for attribute in attributes {
            match attribute {
                Attribute::Label(bytes) => label = String::from_utf8(bytes).ok(),
                Attribute::Id(bytes) => id = Some(bytes),
                Attribute::Value(bytes) => value = Some(bytes),
                _ => {}
            }
        }
        let selector = match (&label, &id) {
            (Some(label), _) if !label.is_empty() => {
                format!("object={}", percent_encode(label.as_bytes()))
            }
            (_, Some(id)) => format!("id={}", percent_encode_all(id)),
            _ => continue,
        };
        listed.push(ListedCertificate {
            info: value
                .as_deref()
                .and_then(|der| super::describe_der(der).ok()),
            uri: format!(
                "pkcs11:token={};{selector}",
                percent_encode(token_label.as_bytes())
            ),
        });
    }
    Ok(listed)
}

fn percent_encode_all(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "%{b:02X}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raw_ecdsa_signature_becomes_der_with_sign_bytes_where_needed() {
        let mut raw = vec![0u8; 64];
        raw[0] = 0x80; // r needs a leading zero
        raw[32] = 0x00; // s starts with zeros that are dropped
        raw[33] = 0x01;
        let der = ecdsa_raw_to_der(&raw).unwrap();
        assert_eq!(der[0], 0x30);
        assert_eq!(&der[2..5], &[0x02, 33, 0x00]);
        let s_at = 2 + 2 + 33;
        assert_eq!(&der[s_at..s_at + 3], &[0x02, 31, 0x01]);
        assert_eq!(usize::from(der[1]), der.len() - 2);
        assert!(ecdsa_raw_to_der(&[1, 2, 3]).is_none());
    }

    fn certificate_until(year: i32, name: &str) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(year, 1, 1);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn the_renewed_certificate_beside_the_old_one_wins_and_a_tie_is_refused() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-07T12:00:00Z")
            .unwrap()
            .to_utc();
        let old = certificate_until(2027, "antigo");
        let renewed = certificate_until(2031, "renovado");
        let expired = certificate_until(2025, "vencido");
        // Whatever order the token lists them in.
        assert_eq!(newest_valid(&[&old, &renewed], now), Ok(1));
        assert_eq!(newest_valid(&[&renewed, &old], now), Ok(0));
        // A renewed one not yet valid or already expired is not chosen.
        assert_eq!(newest_valid(&[&expired, &old], now), Ok(1));
        // The same certificate twice is no ambiguity.
        assert_eq!(newest_valid(&[&old, &old], now), Ok(0));
        let twin = certificate_until(2031, "outro");
        let tie = newest_valid(&[&renewed, &twin], now).unwrap_err();
        assert!(tie.contains("não escolhe ao acaso"), "{tie}");
        let none = newest_valid(&[&expired, &expired.clone()], now).unwrap_err();
        assert!(none.contains("válido agora"), "{none}");
    }

    #[test]
    fn pkcs1_input_is_the_digest_info_of_the_hash() {
        let (_, data, der) = signing_input(SignatureScheme::RSA_PKCS1_SHA256, b"abc").unwrap();
        assert!(!der);
        assert_eq!(data.len(), 19 + 32);
        assert_eq!(&data[..19], &SHA256_PREFIX);
        assert_eq!(&data[19..], sha2::Sha256::digest(b"abc").as_slice());
    }
}
