use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::SigningKey;

use super::*;

const ROOT: &str = "Autoridade Certificadora Raiz Brasileira v5";
const INTERMEDIATE: &str = "AC TESTE RFB v5";
const LAB: &str = "LAB EXEMPLO LTDA:12345678000195";

struct Tree {
    root: CertificateDer<'static>,
    intermediate: CertificateDer<'static>,
    leaf: CertificateDer<'static>,
    leaf_key: KeyPair,
}

fn ca(name: &str, organization: Option<&str>) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    if let Some(o) = organization {
        params.distinguished_name.push(DnType::OrganizationName, o);
    }
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
}

/// Root → intermediate → leaf; the root is ICP-Brasil's by name when
/// `root_organization` is "ICP-Brasil".
fn tree(root_organization: Option<&str>) -> Tree {
    let root_key = KeyPair::generate().unwrap();
    let root_params = ca(ROOT, root_organization);
    let root = root_params.self_signed(&root_key).unwrap();
    let root_issuer = Issuer::new(root_params, root_key);
    let intermediate_key = KeyPair::generate().unwrap();
    let intermediate_params = ca(INTERMEDIATE, Some("ICP-Brasil"));
    let intermediate = intermediate_params
        .signed_by(&intermediate_key, &root_issuer)
        .unwrap();
    let intermediate_issuer = Issuer::new(intermediate_params, intermediate_key);
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    leaf_params.distinguished_name.push(DnType::CommonName, LAB);
    let leaf = leaf_params
        .signed_by(&leaf_key, &intermediate_issuer)
        .unwrap();
    Tree {
        root: root.der().clone(),
        intermediate: intermediate.der().clone(),
        leaf: leaf.der().clone(),
        leaf_key,
    }
}

fn signing_key(key: &KeyPair) -> Arc<dyn SigningKey> {
    rustls::crypto::ring::default_provider()
        .key_provider
        .load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            key.serialize_der(),
        )))
        .unwrap()
}

fn identity(chain: &[&CertificateDer<'static>], key: &KeyPair) -> Identity {
    let chain = chain.iter().map(|c| (*c).clone()).collect();
    Identity::new(chain, signing_key(key), Vec::new(), "teste").unwrap()
}

#[test]
fn a_full_icp_brasil_chain_in_any_order_ends_at_the_root() {
    let t = tree(Some("ICP-Brasil"));
    for order in [
        [&t.leaf, &t.intermediate, &t.root],
        [&t.leaf, &t.root, &t.intermediate],
    ] {
        let view = identity(&order, &t.leaf_key).chain_view().unwrap();
        assert_eq!(view.names, [LAB, INTERMEDIATE, ROOT]);
        assert_eq!(view.end, ChainEnd::IcpBrasilRoot);
        assert_eq!(view.unrelated, 0);
    }
}

#[test]
fn a_chain_without_its_root_still_names_the_root_as_issuer() {
    let t = tree(Some("ICP-Brasil"));
    let view = identity(&[&t.leaf, &t.intermediate], &t.leaf_key)
        .chain_view()
        .unwrap();
    assert_eq!(view.names, [LAB, INTERMEDIATE, ROOT]);
    assert_eq!(view.end, ChainEnd::IcpBrasilRoot);
}

#[test]
fn a_leaf_alone_is_an_incomplete_chain() {
    let t = tree(Some("ICP-Brasil"));
    let view = identity(&[&t.leaf], &t.leaf_key).chain_view().unwrap();
    assert_eq!(view.names, [LAB, INTERMEDIATE]);
    assert_eq!(view.end, ChainEnd::Incomplete);
}

#[test]
fn a_root_with_the_name_but_not_icp_brasil_is_another_root() {
    let t = tree(None);
    let view = identity(&[&t.leaf, &t.intermediate, &t.root], &t.leaf_key)
        .chain_view()
        .unwrap();
    assert_eq!(view.end, ChainEnd::OtherRoot);
    let other = tree(Some("ICP-Brasil"));
    let view = identity(&[&t.leaf, &other.root], &t.leaf_key)
        .chain_view()
        .unwrap();
    assert_eq!(view.unrelated, 1, "another tree's root is off the path");
}

#[test]
fn the_test_signature_verifies_only_with_the_certificates_own_key() {
    let t = tree(Some("ICP-Brasil"));
    assert_eq!(
        identity(&[&t.leaf], &t.leaf_key).test_signature(),
        Ok(SignatureScheme::ECDSA_NISTP256_SHA256)
    );
    let stranger = KeyPair::generate().unwrap();
    let message = identity(&[&t.leaf], &stranger)
        .test_signature()
        .unwrap_err();
    assert!(
        message.contains("não corresponde ao certificado") && message.contains("O que fazer"),
        "{message}"
    );
}
