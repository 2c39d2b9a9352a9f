//! What `doctor` shows beyond the leaf, for any certificate source: the
//! chain the identity carries (subject → issuer, and whether it ends at an
//! AC Raiz da ICP-Brasil) and a test signature made with the loaded key and
//! checked with the certificate's public key — the proof that the key is
//! the certificate's and that it signs (a token or a store key may refuse).

use rustls::pki_types::CertificateDer;
use rustls::SignatureScheme;
use x509_parser::prelude::{X509Certificate, X509Name};

use super::Identity;

/// Signed by the key and checked against the certificate; never sent.
const CHALLENGE: &[u8] = b"rnds-drop doctor: assinatura de teste da chave do laboratorio";

/// Where the chain the identity carries ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChainEnd {
    /// At an AC Raiz da ICP-Brasil (in the file, or named as the issuer of
    /// its last certificate), recognised by name: `O=ICP-Brasil` and
    /// `CN=Autoridade Certificadora Raiz Brasileira vN`.
    IcpBrasilRoot,
    /// At a self-signed root outside ICP-Brasil.
    OtherRoot,
    /// Before any root, at an authority that is neither: intermediates
    /// missing from the file.
    Incomplete,
}

/// The chain as doctor prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChainView {
    /// Common names from the leaf up: each certificate's issuer follows
    /// it; the last is the issuer named by the last certificate when that
    /// one is not self-signed (then not in the file).
    pub names: Vec<String>,
    pub end: ChainEnd,
    /// Certificates of the file that are not on the leaf's path.
    pub unrelated: usize,
}

impl Identity {
    /// The leaf's path through the certificates this identity carries.
    pub(crate) fn chain_view(&self) -> Result<ChainView, String> {
        let parsed = self
            .certified
            .cert
            .iter()
            .map(|der| {
                x509_parser::parse_x509_certificate(der)
                    .map(|(_, cert)| cert)
                    .map_err(|_| "um certificado da cadeia não é X.509 legível".to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let Some(leaf) = parsed.first() else {
            return Err("a identidade não tem certificado".into());
        };
        let mut path: Vec<&X509Certificate<'_>> = vec![leaf];
        let mut names = vec![short_name(leaf.subject())];
        let end = loop {
            let Some(current) = path.last().copied() else {
                break ChainEnd::Incomplete;
            };
            let self_signed = current.subject().as_raw() == current.issuer().as_raw();
            if self_signed {
                break if is_icp_brasil_root(current.subject()) {
                    ChainEnd::IcpBrasilRoot
                } else {
                    ChainEnd::OtherRoot
                };
            }
            let next = parsed.iter().find(|candidate| {
                candidate.subject().as_raw() == current.issuer().as_raw()
                    && !path.iter().any(|seen| std::ptr::eq(*seen, *candidate))
            });
            let Some(issuer) = next else {
                names.push(short_name(current.issuer()));
                break if is_icp_brasil_root(current.issuer()) {
                    ChainEnd::IcpBrasilRoot
                } else {
                    ChainEnd::Incomplete
                };
            };
            names.push(short_name(issuer.subject()));
            path.push(issuer);
        };
        Ok(ChainView {
            names,
            end,
            unrelated: parsed.len() - path.len(),
        })
    }

    /// Signs [`CHALLENGE`] with the key and checks the signature with the
    /// leaf's public key: the scheme used, or what went wrong (pt-BR).
    pub(crate) fn test_signature(&self) -> Result<SignatureScheme, String> {
        let offered = [
            SignatureScheme::ECDSA_NISTP256_SHA256,
            SignatureScheme::ECDSA_NISTP384_SHA384,
            SignatureScheme::RSA_PSS_SHA256,
            SignatureScheme::RSA_PKCS1_SHA256,
            SignatureScheme::ED25519,
        ];
        let signer = self.certified.key.choose_scheme(&offered).ok_or_else(|| {
            "a chave privada não é RSA nem ECDSA (P-256/P-384), os tipos que a RNDS aceita. O que \
             fazer: use o certificado ICP-Brasil A1/A3 do laboratório"
                .to_string()
        })?;
        let scheme = signer.scheme();
        let signature = signer.sign(CHALLENGE).map_err(|e| {
            format!(
                "a chave privada não assinou a mensagem de teste ({e}). O que fazer: confira se \
                 a conta que roda o rnds-drop pode usar a chave (no Windows: certlm.msc > \
                 Gerenciar Chaves Privadas > Leitura) e, num token ou cartão, se ele está \
                 conectado"
            )
        })?;
        let leaf = self
            .certified
            .cert
            .first()
            .ok_or("a identidade não tem certificado")?;
        if verifies(leaf, scheme, &signature) {
            Ok(scheme)
        } else {
            Err(
                "a chave privada não corresponde ao certificado: a assinatura de teste não \
                 confere com a chave pública dele, e a RNDS recusaria toda conexão. O que fazer: \
                 exporte de novo o certificado junto com a sua própria chave privada (no \
                 Windows: certlm.msc > o certificado > Todas as Tarefas > Exportar > \"Sim, \
                 exportar a chave privada\"); não monte o .pfx com a chave de outro certificado"
                    .into(),
            )
        }
    }
}

/// Whether `signature` over [`CHALLENGE`] verifies with `leaf`'s public
/// key under `scheme` (ring's algorithms, as rustls verifies handshakes).
fn verifies(leaf: &CertificateDer<'_>, scheme: SignatureScheme, signature: &[u8]) -> bool {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(leaf) else {
        return false;
    };
    let public_key = &cert.public_key().subject_public_key.data;
    let provider = rustls::crypto::ring::default_provider();
    provider
        .signature_verification_algorithms
        .mapping
        .iter()
        .filter(|(candidate, _)| *candidate == scheme)
        .flat_map(|(_, algorithms)| algorithms.iter())
        .any(|algorithm| {
            algorithm
                .verify_signature(public_key, CHALLENGE, signature)
                .is_ok()
        })
}

/// `O=ICP-Brasil` and `CN=Autoridade Certificadora Raiz Brasileira v…`:
/// the names of every AC Raiz of the ICP-Brasil (v1 to v11 so far).
fn is_icp_brasil_root(name: &X509Name<'_>) -> bool {
    let organization = name
        .iter_organization()
        .filter_map(|a| a.as_str().ok())
        .any(|o| o.eq_ignore_ascii_case("ICP-Brasil"));
    let root = name
        .iter_common_name()
        .filter_map(|a| a.as_str().ok())
        .any(|cn| {
            cn.to_ascii_lowercase()
                .starts_with("autoridade certificadora raiz brasileira")
        });
    organization && root
}

/// The common name, else the whole distinguished name.
fn short_name(name: &X509Name<'_>) -> String {
    name.iter_common_name()
        .filter_map(|a| a.as_str().ok())
        .next()
        .map_or_else(|| name.to_string(), str::to_string)
}

#[cfg(test)]
mod tests;
