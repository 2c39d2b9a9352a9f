//! The Windows certificate store through CryptoAPI and CNG (`rustls-cng`):
//! lists the store's certificates, lets `config::certificate_store::choose` pick one, and
//! hands rustls a signing key that stays in Windows (non-exportable A1
//! keys, and A3 tokens whose vendor installs a smart-card minidriver).
//! Elsewhere `store:` is a clear error, never a file path.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rustls::pki_types::CertificateDer;
use rustls::sign::SigningKey;

use crate::config::certificate_store::{StoreSelector, StoreUri};
use crate::rnds::ClientError;

/// The chosen certificate's chain (leaf first, root left out) and its key.
pub(super) type StoreIdentity = (Vec<CertificateDer<'static>>, Arc<dyn SigningKey>);

#[cfg(windows)]
pub(super) fn load(
    uri: &StoreUri,
    selector: &StoreSelector,
    now: DateTime<Utc>,
) -> Result<StoreIdentity, ClientError> {
    use rustls_cng::signer::CngSigningKey;
    use rustls_cng::store::{CertStore, CertStoreType};
    use sha1::{Digest, Sha1};

    use crate::config::certificate_store::{
        choose, cnpj_or_cpf_in_common_name, Candidate, StoreLocation,
    };

    let location = match uri.location {
        StoreLocation::CurrentUser => CertStoreType::CurrentUser,
        StoreLocation::LocalMachine => CertStoreType::LocalMachine,
    };
    let store = CertStore::open(location, &uri.name).map_err(|e| {
        let hint = match uri.location {
            StoreLocation::CurrentUser => "; para um serviço use LocalMachine\\My",
            StoreLocation::LocalMachine => "",
        };
        ClientError::Config(format!(
            "não foi possível abrir o repositório de certificados {uri} ({}). O que fazer: \
             confira [rnds] certificate{hint}",
            windows_reason(&e)
        ))
    })?;
    let contexts = store.find_all().map_err(|e| {
        ClientError::Config(format!(
            "não foi possível listar os certificados de {uri} ({})",
            windows_reason(&e)
        ))
    })?;
    // Certificates Windows holds but X.509 cannot read are left out.
    let mut candidates = Vec::new();
    let mut kept = Vec::new();
    for context in contexts {
        let der = context.as_der();
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
            continue;
        };
        let cnpj_or_cpf = cert
            .subject()
            .iter_common_name()
            .filter_map(|cn| cn.as_str().ok())
            .find_map(cnpj_or_cpf_in_common_name);
        let instant = |t: &x509_parser::time::ASN1Time| {
            DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
        };
        let thumbprint: [u8; 20] = Sha1::digest(der).into();
        // Only the selected certificates' keys are touched.
        let has_key = selector.matches(&thumbprint, cnpj_or_cpf.as_deref())
            && context.acquire_key(true).is_ok();
        candidates.push(Candidate {
            thumbprint,
            subject: cert.subject().to_string(),
            cnpj_or_cpf,
            not_before: instant(&cert.validity().not_before),
            not_after: instant(&cert.validity().not_after),
            has_key,
        });
        kept.push(context);
    }
    let index = choose(uri, selector, &candidates, now).map_err(ClientError::Config)?;
    let context = &kept[index];
    let key = context
        .acquire_key(true)
        .and_then(CngSigningKey::new)
        .map_err(|e| {
            ClientError::Config(format!(
                "o Windows não entregou a chave privada do certificado escolhido em {uri} ({}). \
                 O que fazer: dê à conta do serviço permissão de Leitura na chave (certlm.msc > \
                 Gerenciar Chaves Privadas) ou, num token A3, confira se ele está conectado",
                windows_reason(&e)
            ))
        })?;
    // The chain Windows builds from its stores; the leaf alone if it cannot.
    let chain = context
        .as_chain_der()
        .unwrap_or_else(|_| vec![context.as_der().to_vec()])
        .into_iter()
        .map(CertificateDer::from)
        .collect();
    Ok((chain, Arc::new(key)))
}

/// The Windows error code with the meaning of the usual ones.
#[cfg(windows)]
fn windows_reason(error: &rustls_cng::error::CngError) -> String {
    use rustls_cng::error::CngError;
    match error {
        CngError::WindowsError(5 | 0x8009_0010) => {
            "acesso negado a esta conta: dê permissão de Leitura à conta do serviço".into()
        }
        CngError::WindowsError(2 | 0x8009_0016) => "não encontrado".into(),
        CngError::WindowsError(0x8010_0069 | 0x8010_000C) => {
            "o cartão ou token A3 não está conectado".into()
        }
        CngError::UnsupportedKeyAlgorithmGroup => {
            "a chave não é RSA nem ECDSA, que o rnds-drop usa".into()
        }
        CngError::WindowsError(code) => format!("código do Windows 0x{code:08X}"),
        other => other.to_string(),
    }
}

#[cfg(not(windows))]
pub(super) fn load(
    uri: &StoreUri,
    _selector: &StoreSelector,
    _now: DateTime<Utc>,
) -> Result<StoreIdentity, ClientError> {
    Err(ClientError::Config(format!(
        "store: só existe no Windows (certificate = 'store:{uri}' indica o repositório de \
         certificados do Windows). O que fazer: neste sistema use o arquivo .pfx do \
         certificado (certificate = \"certificado-laboratorio.pfx\" com \
         certificate_password_file) e apague certificate_thumbprint/certificate_cnpj"
    )))
}
