//! Test-time PKI: a CA, a lab certificate in the ICP-Brasil `NAME:CNPJ`
//! style, and PKCS#12 files in the legacy and modern encodings, written
//! in-process (`pkcs12_file`). Nothing is committed; everything lives in a
//! temp dir.
//!
//! Invariant: used by tests only.

mod pkcs12_file;

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

use crate::config::Config;

pub(crate) const PASSWORD: &str = "s3nh@ do lab";
pub(crate) const LAB_CN: &str = "LAB EXEMPLO ANALISES CLINICAS LTDA:12345678000195";

/// A CA and a leaf it signed, as PEM files in `dir`.
pub(crate) struct Pki {
    pub dir: PathBuf,
    pub issuer: Issuer<'static, KeyPair>,
    pub ca_pem: PathBuf,
    pub cert_pem: PathBuf,
    pub key_pem: PathBuf,
    /// The leaf then the CA, DER.
    chain_der: Vec<Vec<u8>>,
    /// The leaf's key, PKCS#8 DER.
    key_der: Vec<u8>,
}

/// `validity`: `None` for the rcgen default (1975–4096), else (not_before, not_after) years.
pub(crate) fn pki(dir: &Path, name: &str, validity: Option<(i32, i32)>) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "AC TESTE RNDS-DROP v5");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, LAB_CN);
    if let Some((from, to)) = validity {
        params.not_before = rcgen::date_time_ymd(from, 1, 1);
        params.not_after = rcgen::date_time_ymd(to, 1, 1);
    }
    let leaf = params.signed_by(&leaf_key, &issuer).unwrap();

    let write = |file: &str, text: &str| {
        let path = dir.join(format!("{name}-{file}"));
        std::fs::write(&path, text).unwrap();
        path
    };
    Pki {
        dir: dir.to_path_buf(),
        issuer,
        ca_pem: write("ca.pem", &ca_cert.pem()),
        cert_pem: write("cert.pem", &format!("{}{}", leaf.pem(), ca_cert.pem())),
        key_pem: write("key.pem", &leaf_key.serialize_pem()),
        chain_der: vec![leaf.der().to_vec(), ca_cert.der().to_vec()],
        key_der: leaf_key.serialize_der(),
    }
}

/// A server certificate for 127.0.0.1 signed by the test CA: (chain, key) DER.
pub(crate) fn server_identity(
    pki: &Pki,
) -> (
    Vec<rustls::pki_types::CertificateDer<'static>>,
    rustls::pki_types::PrivateKeyDer<'static>,
) {
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let cert = params.signed_by(&key, &pki.issuer).unwrap();
    let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    (vec![cert.der().clone()], key_der)
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Encoding {
    /// RC2-40 keys, 3DES certificates, SHA-1 MAC (DATASUS' sample keystore).
    Legacy,
    /// OpenSSL 1.x default: RC2-40 certificates, 3DES key, SHA-1 MAC.
    Openssl1Default,
    /// AES-256-CBC and SHA-256 MAC (OpenSSL 3 default).
    Modern,
    /// RC4-128: not supported, must be named in the error.
    Rc4,
    /// Certificates only, no private key.
    NoKey,
}

/// The test PKI's chain and key as a PKCS#12 file in `encoding`, protected by [`PASSWORD`].
pub(crate) fn pfx(pki: &Pki, encoding: Encoding) -> PathBuf {
    let out = pki.dir.join(format!(
        "{}-{encoding:?}.pfx",
        pki.cert_pem.file_stem().unwrap().to_string_lossy()
    ));
    let bytes = pkcs12_file::write(&pki.chain_der, &pki.key_der, encoding, PASSWORD);
    std::fs::write(&out, bytes).unwrap();
    // Private, as openssl writes it and a careful administrator keeps it
    // (doctor warns about a key other accounts can read).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    out
}

/// A configuration for `certificate`, with the password in a file.
pub(crate) fn config(dir: &Path, certificate: &Path, password: &str, rnds_extra: &str) -> Config {
    config_for(
        dir,
        "https://127.0.0.1:9",
        certificate,
        password,
        rnds_extra,
    )
}

/// The TOML text of a simulator configuration for `base_url`.
pub(crate) fn config_text(
    dir: &Path,
    base_url: &str,
    certificate: &Path,
    password: &str,
    rnds_extra: &str,
) -> String {
    let password_file = dir.join("senha.txt");
    std::fs::write(&password_file, format!("{password}\n")).unwrap();
    // As a careful administrator leaves it (loose modes are warned about).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    format!(
        "[lab]\ncnes = \"1234567\"\nrequester_id = \"98765\"\nrequester_cns = \
         \"980016287385192\"\ntimezone = \"America/Sao_Paulo\"\nuf = \"GO\"\n\n[rnds]\n\
         environment = \"simulador\"\nauth_url = \"{base_url}\"\nehr_url = \
         \"{base_url}\"\ncertificate = \"{}\"\ncertificate_password_file = \"{}\"\n{rnds_extra}",
        certificate.display(),
        password_file.display()
    )
}

pub(crate) fn config_for(
    dir: &Path,
    base_url: &str,
    certificate: &Path,
    password: &str,
    rnds_extra: &str,
) -> Config {
    let text = config_text(dir, base_url, certificate, password, rnds_extra);
    Config::parse(&text, Path::new("teste.toml"), dir).unwrap()
}
