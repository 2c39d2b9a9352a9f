//! The simulator's credentials: a test CA, the server certificate and the
//! lab's PKCS#12 identity, generated with rcgen on first start and reused
//! afterwards; plus the `rnds-drop.toml` snippet, rewritten on every start
//! because the port may change.
//!
//! Invariant: files and certificates only; nothing of HTTP or bundles.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::{LabIdentity, SimError, SimFiles};

/// The lab's certificate subject, shaped like an ICP-Brasil e-CNPJ
/// (`NAME:CNPJ`).
pub(crate) const LAB_SUBJECT: &str = "LABORATORIO EXEMPLO LTDA:11222333000181";

/// The identity the simulator's data knows: the CNES, the requester id it
/// accepts in `BRRNDS-<id>`, a professional linked to the CNES and one
/// that is not.
pub(super) fn lab_identity() -> LabIdentity {
    LabIdentity {
        cnes: "2337991".into(),
        requester_id: "31415".into(),
        requester_cns: "162534432180007".into(),
        unlinked_cns: "209876543210000".into(),
        cnpj: "11222333000181".into(),
    }
}

impl SimFiles {
    pub(super) fn in_dir(dir: &Path) -> SimFiles {
        SimFiles {
            ca_pem: dir.join("ca.pem"),
            ca_key: dir.join("ca.key"),
            lab_pfx: dir.join("lab.pfx"),
            lab_pfx_password_file: dir.join("lab.pfx.senha"),
            config_toml: dir.join("rnds-drop.toml"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
            documents: dir.join("documents.jsonl"),
        }
    }
}

/// What the TLS listener needs.
pub(super) struct ServerCredentials {
    pub ca: Vec<CertificateDer<'static>>,
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SimError + '_ {
    move |source| SimError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn write_file(path: &Path, bytes: &[u8], private: bool) -> Result<(), SimError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(path).map_err(io(path))?;
    file.write_all(bytes).map_err(io(path))
}

/// Creates the credentials unless all of them are already in `files`' folder.
pub(super) fn ensure_credentials(files: &SimFiles) -> Result<(), SimError> {
    let all = [
        &files.ca_pem,
        &files.ca_key,
        &files.server_cert,
        &files.server_key,
        &files.lab_pfx,
        &files.lab_pfx_password_file,
    ];
    if all.iter().all(|p| p.exists()) {
        return Ok(());
    }
    generate(files)
}

fn ca_params(common_name: &str) -> Result<CertificateParams, SimError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "rnds-drop simulador");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

/// A CA, its certificate in DER and an issuer to sign with.
pub(super) struct TestCa {
    pub cert: CertificateDer<'static>,
    pub pem: String,
    pub key_pem: String,
    pub issuer: Issuer<'static, KeyPair>,
}

/// The simulator's CA's common name.
const CA_NAME: &str = "rnds-drop simulador CA de teste";

pub(super) fn new_ca(common_name: &str) -> Result<TestCa, SimError> {
    let key = KeyPair::generate()?;
    let params = ca_params(common_name)?;
    let cert = params.self_signed(&key)?;
    Ok(TestCa {
        cert: cert.der().clone(),
        pem: cert.pem(),
        key_pem: key.serialize_pem(),
        issuer: Issuer::new(params, key),
    })
}

/// A renewed lab identity issued by the simulator's CA, as the PKCS#12
/// bytes a lab would receive: `subject` (an e-CNPJ-like `NAME:CNPJ`),
/// valid until 1 January of `valid_until_year`, encrypted with `password`.
pub fn renewed_lab_pfx(
    files: &SimFiles,
    subject: &str,
    valid_until_year: i32,
    password: &str,
) -> Result<Vec<u8>, SimError> {
    let ca_pem = fs::read_to_string(&files.ca_pem).map_err(io(&files.ca_pem))?;
    let key_pem = fs::read_to_string(&files.ca_key).map_err(io(&files.ca_key))?;
    let ca_cert = CertificateDer::from_pem_slice(ca_pem.as_bytes())
        .map_err(|e| SimError::Credentials(format!("{}: {e}", files.ca_pem.display())))?;
    let ca = TestCa {
        cert: ca_cert,
        pem: ca_pem,
        key_pem: key_pem.clone(),
        issuer: Issuer::new(ca_params(CA_NAME)?, KeyPair::from_pem(&key_pem)?),
    };
    let (leaf, key) = client_identity_until(&ca, subject, Some(valid_until_year))?;
    pkcs12(&leaf, &key, &[ca.cert.as_ref()], password)
}

/// A client certificate for `subject`, signed by `ca`: (leaf DER, PKCS#8 key DER).
pub(super) fn client_identity(ca: &TestCa, subject: &str) -> Result<(Vec<u8>, Vec<u8>), SimError> {
    client_identity_until(ca, subject, None)
}

fn client_identity_until(
    ca: &TestCa,
    subject: &str,
    valid_until_year: Option<i32>,
) -> Result<(Vec<u8>, Vec<u8>), SimError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    if let Some(year) = valid_until_year {
        params.not_after = rcgen::date_time_ymd(year, 1, 1);
    }
    params.distinguished_name.push(DnType::CountryName, "BR");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "ICP-Brasil");
    params
        .distinguished_name
        .push(DnType::OrganizationalUnitName, "RFB e-CNPJ A1");
    params.distinguished_name.push(DnType::CommonName, subject);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, &ca.issuer)?;
    Ok((cert.der().to_vec(), key.serialize_der()))
}

/// A PKCS#12 file (PBES2 AES-256-CBC with PBKDF2-HMAC-SHA256, HMAC-SHA256
/// MAC: p12-keystore's defaults) holding the key, the leaf and `chain`.
pub(super) fn pkcs12(
    leaf: &[u8],
    key: &[u8],
    chain: &[&[u8]],
    password: &str,
) -> Result<Vec<u8>, SimError> {
    use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
    let mut certs = vec![Certificate::from_der(leaf)?];
    for c in chain {
        certs.push(Certificate::from_der(c)?);
    }
    let local_key_id = uuid::Uuid::new_v4().as_bytes().to_vec();
    let key_chain = PrivateKeyChain::new(local_key_id, PrivateKey::from_der(key)?, certs);
    let mut store = KeyStore::new();
    store.add_entry("lab", KeyStoreEntry::PrivateKeyChain(key_chain));
    Ok(store.writer(password).write()?)
}

fn generate(files: &SimFiles) -> Result<(), SimError> {
    let ca = new_ca(CA_NAME)?;

    let server_key = KeyPair::generate()?;
    // `*.saude.gov.br` too: a client that builds RNDS' own host names (the
    // guide's npm client calls `<uf>-ehr-services.saude.gov.br` for its
    // version check) reaches the simulator by name resolution alone, still
    // verifying the certificate against this test CA.
    let mut params = CertificateParams::new(vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "*.saude.gov.br".to_string(),
    ])?;
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server = params.signed_by(&server_key, &ca.issuer)?;

    let (leaf, key) = client_identity(&ca, LAB_SUBJECT)?;
    // 32 hex characters from the OS generator (UUID v4: 122 random bits).
    let password = uuid::Uuid::new_v4().simple().to_string();
    let pfx = pkcs12(&leaf, &key, &[ca.cert.as_ref()], &password)?;

    write_file(&files.ca_pem, ca.pem.as_bytes(), false)?;
    write_file(&files.ca_key, ca.key_pem.as_bytes(), true)?;
    let chain_pem = format!("{}{}", server.pem(), ca.pem);
    write_file(&files.server_cert, chain_pem.as_bytes(), false)?;
    write_file(
        &files.server_key,
        server_key.serialize_pem().as_bytes(),
        true,
    )?;
    write_file(&files.lab_pfx, &pfx, true)?;
    write_file(
        &files.lab_pfx_password_file,
        format!("{password}\n").as_bytes(),
        true,
    )?;
    Ok(())
}

/// Loads what the listener needs from the generated files.
pub(super) fn load_server(files: &SimFiles) -> Result<ServerCredentials, SimError> {
    let certs = |path: &PathBuf| -> Result<Vec<CertificateDer<'static>>, SimError> {
        CertificateDer::pem_file_iter(path)
            .and_then(std::iter::Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(|e| SimError::Credentials(format!("{}: {e}", path.display())))
    };
    let key = PrivateKeyDer::from_pem_file(&files.server_key)
        .map_err(|e| SimError::Credentials(format!("{}: {e}", files.server_key.display())))?;
    Ok(ServerCredentials {
        ca: certs(&files.ca_pem)?,
        chain: certs(&files.server_cert)?,
        key,
    })
}

/// The config snippet that points a lab at this simulator.
pub(super) fn write_config(
    files: &SimFiles,
    identity: &LabIdentity,
    base_url: &str,
) -> Result<(), SimError> {
    let text = format!(
        r#"# Gerado por `rnds-drop simulate` a cada início (a porta pode mudar).
# Aponta um laboratório de teste para o simulador local da RNDS.

[lab]
cnes = "{cnes}"
requester_id = "{requester_id}"
requester_cns = "{requester_cns}"
timezone = "America/Sao_Paulo"
uf = "SP"

[rnds]
environment = "simulador"
certificate = "lab.pfx"
certificate_password_file = "lab.pfx.senha"
extra_ca = "ca.pem"
auth_url = "{base_url}"
ehr_url = "{base_url}"

[defaults]
method = "RT-PCR em tempo real"
reference_range = "Não detectável"
category = "0202"
exam_code = "94309-2"
specimen = "SWNAFA"

# Pasta vigiada por `rnds-drop run` (criada pelo simulador) e relatórios.
[[inbox]]
path = "entrada"
outbox = "saida"
"#,
        cnes = identity.cnes,
        requester_id = identity.requester_id,
        requester_cns = identity.requester_cns,
    );
    if let Some(dir) = files.config_toml.parent() {
        let inbox = dir.join("entrada");
        std::fs::create_dir_all(&inbox).map_err(|source| SimError::Io {
            path: inbox.clone(),
            source,
        })?;
    }
    write_file(&files.config_toml, text.as_bytes(), false)
}
