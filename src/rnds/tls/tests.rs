use super::*;
use crate::rnds::testutil::{self, pfx, pki, Encoding, PASSWORD};

fn load(config: &crate::config::Config) -> Result<Identity, ClientError> {
    Identity::load(&config.rnds, SigningFailures::default())
}

impl Identity {
    /// The TLS configuration with this identity, never renewed.
    fn into_config(self, extra_ca: Option<&Path>) -> Result<ClientConfig, ClientError> {
        client_config(LiveIdentity::fixed(self), extra_ca)
    }
}

fn config_error(result: Result<Identity, ClientError>) -> String {
    match result {
        Err(ClientError::Config(message)) => message,
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[test]
fn legacy_rc2_3des_sha1_pfx_loads_with_its_chain() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), "lab", None);
    let file = pfx(&pki, Encoding::Legacy);
    let identity = load(&testutil::config(dir.path(), &file, PASSWORD, "")).unwrap();
    assert_eq!(identity.certified.cert.len(), 2, "leaf plus the CA");
    let info = identity.info();
    assert!(info.subject.contains("LAB EXEMPLO"), "{}", info.subject);
    assert_eq!(info.cnpj_or_cpf.as_deref(), Some("12345678000195"));
    assert!(
        info.issuer.contains("AC TESTE RNDS-DROP"),
        "{}",
        info.issuer
    );
    identity.into_config(Some(&pki.ca_pem)).unwrap();
}

#[test]
fn openssl1_default_rc2_certificates_3des_key_pfx_loads() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), "lab", None);
    let file = pfx(&pki, Encoding::Openssl1Default);
    let identity = load(&testutil::config(dir.path(), &file, PASSWORD, "")).unwrap();
    assert_eq!(identity.certified.cert.len(), 2);
}

#[test]
fn modern_aes256_sha256_pfx_loads() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), "lab", None);
    let file = pfx(&pki, Encoding::Modern);
    let identity = load(&testutil::config(dir.path(), &file, PASSWORD, "")).unwrap();
    assert_eq!(
        identity.info().cnpj_or_cpf.as_deref(),
        Some("12345678000195")
    );
    let tls = identity.into_config(None).unwrap();
    assert_eq!(
        tls.alpn_protocols,
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    );
}

#[test]
fn wrong_password_is_named_and_not_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), "lab", None);
    for encoding in [Encoding::Legacy, Encoding::Modern] {
        let file = pfx(&pki, encoding);
        let message = config_error(load(&testutil::config(
            dir.path(),
            &file,
            "senha-errada-123",
            "",
        )));
        assert!(message.contains("senha incorreta"), "{message}");
        assert!(!message.contains("senha-errada-123"), "{message}");
        assert!(!message.contains(PASSWORD), "{message}");
    }
}

#[test]
fn unsupported_encryption_is_named_with_the_conversion_command() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), "lab", None);
    let file = pfx(&pki, Encoding::Rc4);
    let message = config_error(load(&testutil::config(dir.path(), &file, PASSWORD, "")));
    assert!(message.contains("PBE-SHA1-RC4-128"), "{message}");
    assert!(
        message.contains("openssl pkcs12 -in antigo.pfx"),
        "{message}"
    );
    assert!(message.contains("AES-256-CBC"), "{message}");
}

#[test]
fn pfx_without_private_key_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), "lab", None);
    let file = pfx(&pki, Encoding::NoKey);
    let message = config_error(load(&testutil::config(dir.path(), &file, PASSWORD, "")));
    assert!(message.contains("não contém a chave privada"), "{message}");
}

#[test]
fn expired_certificate_shows_its_dates() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), "vencido", Some((2019, 2021)));
    let file = pfx(&pki, Encoding::Modern);
    let message = config_error(load(&testutil::config(dir.path(), &file, PASSWORD, "")));
    assert!(message.contains("expirou em 01/01/2021"), "{message}");
    assert!(message.contains("válido de 01/01/2019"), "{message}");
}

#[test]
fn not_yet_valid_certificate_shows_its_dates() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), "futuro", Some((2099, 2101)));
    let file = pfx(&pki, Encoding::Legacy);
    let message = config_error(load(&testutil::config(dir.path(), &file, PASSWORD, "")));
    assert!(message.contains("ainda não é válido"), "{message}");
    assert!(message.contains("01/01/2099"), "{message}");
}

#[test]
fn validity_is_judged_at_the_given_instant() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), "lab", Some((2020, 2030)));
    let config = testutil::config(dir.path(), &pfx(&pki, Encoding::Modern), PASSWORD, "");
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    // 20 days before expiry: loads (with a warning).
    assert!(Identity::load_at(
        &config.rnds,
        at("2029-12-12T00:00:00Z"),
        SigningFailures::default()
    )
    .is_ok());
    assert!(Identity::load_at(
        &config.rnds,
        at("2030-01-02T00:00:00Z"),
        SigningFailures::default()
    )
    .is_err());
}

#[test]
fn expiry_within_30_days_is_announced() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), "lab", Some((2020, 2030)));
    let config = testutil::config(dir.path(), &pfx(&pki, Encoding::Modern), PASSWORD, "");
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    let identity = Identity::load_at(
        &config.rnds,
        at("2029-12-12T00:00:00Z"),
        SigningFailures::default(),
    )
    .unwrap();
    let soon = identity
        .info()
        .expiry_warning(at("2029-12-12T00:00:00Z"))
        .expect("warned 20 days before");
    assert!(
        soon.starts_with("o certificado do laboratório expira em 20 dias (01/01/2030"),
        "{soon}"
    );
    assert!(soon.contains("renovação"), "{soon}");
    let ten_days = identity.info().expiry_warning(at("2029-12-22T00:00:00Z"));
    assert!(ten_days.is_some_and(|w| w.contains("em 10 dias")));
    assert_eq!(
        identity.info().expiry_warning(at("2029-06-01T00:00:00Z")),
        None
    );
}

#[test]
fn pem_chain_and_key_load() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), "lab", None);
    let extra = format!("certificate_key = \"{}\"", pki.key_pem.display());
    let identity = load(&testutil::config(dir.path(), &pki.cert_pem, "", &extra)).unwrap();
    assert_eq!(identity.certified.cert.len(), 2);
    identity.into_config(Some(&pki.ca_pem)).unwrap();
}

#[test]
fn pem_without_key_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), "lab", None);
    let message = config_error(load(&testutil::config(dir.path(), &pki.cert_pem, "", "")));
    assert!(message.contains("não contém a chave privada"), "{message}");
}

#[test]
fn missing_password_source_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), "lab", None);
    let mut config = testutil::config(dir.path(), &pfx(&pki, Encoding::Modern), PASSWORD, "");
    config.rnds.certificate_password_file = None;
    let message = config_error(load(&config));
    assert!(message.contains("certificate_password_env"), "{message}");
    config.rnds.certificate_password_env = Some("RNDS_DROP_TEST_UNSET_VARIABLE".into());
    let message = config_error(load(&config));
    assert!(
        message.contains("RNDS_DROP_TEST_UNSET_VARIABLE"),
        "{message}"
    );
}

#[test]
fn extra_ca_must_hold_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), "lab", None);
    let identity = load(&testutil::config(
        dir.path(),
        &pfx(&pki, Encoding::Modern),
        PASSWORD,
        "",
    ))
    .unwrap();
    let empty = dir.path().join("vazio.pem");
    std::fs::write(&empty, "nada aqui\n").unwrap();
    assert!(matches!(
        identity.into_config(Some(&empty)),
        Err(ClientError::Config(m)) if m.contains("nenhum certificado")
    ));
}

#[test]
fn icp_brasil_common_names() {
    assert_eq!(
        icp_brasil_number("FULANO DE TAL:12345678901").as_deref(),
        Some("12345678901")
    );
    assert_eq!(icp_brasil_number("LAB:123").as_deref(), None);
    assert_eq!(icp_brasil_number("sem numero").as_deref(), None);
}

/// The password written where the variable's name goes (a natural
/// mistake) is never echoed.
#[test]
fn a_password_written_as_the_variable_name_is_not_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), "lab", None);
    let mut config = testutil::config(dir.path(), &pfx(&pki, Encoding::Modern), PASSWORD, "");
    config.rnds.certificate_password_file = None;
    config.rnds.certificate_password_env = Some("s3nh@-do-Lab".into());
    let message = config_error(load(&config));
    assert!(!message.contains("s3nh@-do-Lab"), "{message}");
    assert!(message.contains("certificate_password_env"), "{message}");
}

#[test]
fn a_password_file_in_no_known_encoding_is_refused_not_guessed() {
    use super::password_from_file;
    assert_eq!(password_from_file(b"s\xe9nha\r\n"), None, "Windows-1252");
    assert_eq!(password_from_file(&[0xFF, 0xFE, b'a']), None, "odd UTF-16");
    assert_eq!(
        password_from_file(&[0xFE, 0xFF, 0xD8, 0x00]),
        None,
        "lone surrogate"
    );
    assert_eq!(
        password_from_file("\u{feff}sénha 1\r\nnext".as_bytes()).as_deref(),
        Some("sénha 1")
    );
}
