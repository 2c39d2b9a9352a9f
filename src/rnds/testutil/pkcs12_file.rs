//! PKCS#12 files in the encodings labs bring, written in-process (no
//! `openssl` CLI): `p12-keystore` writes each algorithm with one cipher for
//! the whole file, so the legacy mixes (RC2-40 for one safe, 3DES for the
//! other) are spliced from two such files and the SHA-1 MAC recomputed,
//! the same structure `openssl pkcs12 -export -legacy` writes (checked once
//! with `openssl pkcs12 -info`).
//!
//! Invariant: used by tests only; keys are the test PKI's, made per test.

use der::asn1::OctetString;
use der::{Any, Decode, Encode};
use hmac::{KeyInit, Mac};
use p12_keystore::{
    Certificate, EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm, PrivateKey,
    PrivateKeyChain,
};
use pkcs12::kdf::{derive_key_utf8, Pkcs12KeyType};
use pkcs12::{AuthenticatedSafe, Pfx};

use super::Encoding;

/// OpenSSL's iteration count for legacy files.
const LEGACY_ITERATIONS: u32 = 2048;

/// DER of the pbeWithSHAAnd40BitRC2-CBC OID (1.2.840.113549.1.12.1.6).
const RC2_40_OID: [u8; 12] = [
    0x06, 0x0A, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x0C, 0x01, 0x06,
];
/// Its last arc as pbeWithSHAAnd128BitRC4 (1.2.840.113549.1.12.1.1).
const RC4_128_LAST_ARC: u8 = 0x01;

/// `chain` (leaf first) and the PKCS#8 `key` as a PKCS#12 file in `encoding`.
pub(crate) fn write(chain: &[Vec<u8>], key: &[u8], encoding: Encoding, password: &str) -> Vec<u8> {
    let with_key = store(chain, Some(key));
    let legacy = |cipher| {
        with_key
            .writer(password)
            .encryption_algorithm(cipher)
            .encryption_iterations(LEGACY_ITERATIONS)
            .mac_algorithm(MacAlgorithm::HmacSha1)
            .mac_iterations(LEGACY_ITERATIONS)
            .write()
            .unwrap()
    };
    // p12-keystore's "40BitRc4Cbc" writes the RC2-40 OID (its name is wrong).
    let rc2_40 = || legacy(EncryptionAlgorithm::PbeWithShaAnd40BitRc4Cbc);
    let triple_des = || legacy(EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc);
    match encoding {
        Encoding::Legacy => splice(&triple_des(), &rc2_40(), password),
        Encoding::Openssl1Default => splice(&rc2_40(), &triple_des(), password),
        // AES-256-CBC with PBKDF2-HMAC-SHA256 and a SHA-256 MAC: the writer's default.
        Encoding::Modern => with_key.writer(password).write().unwrap(),
        Encoding::Rc4 => relabel_rc2_as_rc4(&rc2_40(), password),
        Encoding::NoKey => store(chain, None).writer(password).write().unwrap(),
    }
}

fn store(chain: &[Vec<u8>], key: Option<&[u8]>) -> KeyStore {
    let certs: Vec<Certificate> = chain
        .iter()
        .map(|der| Certificate::from_der(der).unwrap())
        .collect();
    let mut store = KeyStore::new();
    match key {
        Some(key) => {
            let key = PrivateKey::from_der(key).unwrap();
            let entry = PrivateKeyChain::new(b"lab-key".as_slice(), key, certs);
            store.add_entry("lab", KeyStoreEntry::PrivateKeyChain(entry));
        }
        None => {
            for (i, cert) in certs.into_iter().enumerate() {
                store.add_entry(&format!("cert-{i}"), KeyStoreEntry::Certificate(cert));
            }
        }
    }
    store
}

/// The certificates' safe of `certs_from` with the key's safe of `key_from`.
fn splice(certs_from: &[u8], key_from: &[u8], password: &str) -> Vec<u8> {
    let (pfx, mut safes) = open(certs_from);
    let (_, key_safes) = open(key_from);
    // p12-keystore writes [certificates, keys].
    assert_eq!((safes.len(), key_safes.len()), (2, 2));
    safes[1] = key_safes[1].clone();
    seal(pfx, &safes.to_der().unwrap(), password)
}

/// Every RC2-40 algorithm identifier renamed RC4-128 (a cipher p12-keystore
/// cannot read), the MAC recomputed so only the cipher is wrong.
fn relabel_rc2_as_rc4(file: &[u8], password: &str) -> Vec<u8> {
    let (pfx, safes) = open(file);
    let mut content = safes.to_der().unwrap();
    let mut renamed = 0;
    let mut at = 0;
    while let Some(found) = content[at..]
        .windows(RC2_40_OID.len())
        .position(|w| w == RC2_40_OID)
    {
        let end = at + found + RC2_40_OID.len();
        content[end - 1] = RC4_128_LAST_ARC;
        renamed += 1;
        at = end;
    }
    assert_eq!(renamed, 2, "one identifier per safe");
    seal(pfx, &content, password)
}

fn open(file: &[u8]) -> (Pfx, AuthenticatedSafe<'static>) {
    let pfx = Pfx::from_der(file).unwrap();
    let content = OctetString::from_der(&pfx.auth_safe.content.to_der().unwrap()).unwrap();
    let safes = AuthenticatedSafe::from_der(content.as_bytes()).unwrap();
    (pfx, safes)
}

/// `pfx` carrying `content` as its authenticated safe, its SHA-1 MAC
/// recomputed with the original salt and iterations.
fn seal(mut pfx: Pfx, content: &[u8], password: &str) -> Vec<u8> {
    let wrapped = OctetString::new(content.to_vec()).unwrap();
    pfx.auth_safe.content = Any::from_der(&wrapped.to_der().unwrap()).unwrap();
    let mac_data = pfx.mac_data.as_mut().unwrap();
    let key = derive_key_utf8::<sha1::Sha1>(
        password,
        mac_data.mac_salt.as_bytes(),
        Pkcs12KeyType::Mac,
        mac_data.iterations,
        20,
    )
    .unwrap();
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(&key).unwrap();
    mac.update(content);
    mac_data.mac.digest = OctetString::new(mac.finalize().into_bytes().to_vec()).unwrap();
    pfx.to_der().unwrap()
}

#[test]
fn each_encoding_carries_the_ciphers_it_is_named_for() {
    const TRIPLE_DES_LAST_ARC: u8 = 0x03;
    const PBES2: [u8; 11] = [
        0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0D,
    ];
    let oid = |last_arc| {
        let mut oid = RC2_40_OID;
        oid[11] = last_arc;
        oid
    };
    let has = |der: &[u8], oid: &[u8]| der.windows(oid.len()).any(|w| w == oid);
    let dir = tempfile::tempdir().unwrap();
    let pki = super::pki(dir.path(), "lab", None);
    // (encoding, certificates' safe, key's safe): OpenSSL's -certpbe/-keypbe.
    let expected: [(Encoding, &[u8], &[u8]); 4] = [
        (Encoding::Legacy, &oid(TRIPLE_DES_LAST_ARC), &RC2_40_OID),
        (
            Encoding::Openssl1Default,
            &RC2_40_OID,
            &oid(TRIPLE_DES_LAST_ARC),
        ),
        (Encoding::Modern, &PBES2, &PBES2),
        (
            Encoding::Rc4,
            &oid(RC4_128_LAST_ARC),
            &oid(RC4_128_LAST_ARC),
        ),
    ];
    for (encoding, certs_cipher, key_cipher) in expected {
        let (_, safes) = open(&write(&pki.chain_der, &pki.key_der, encoding, "x"));
        let (certs, key) = (safes[0].to_der().unwrap(), safes[1].to_der().unwrap());
        assert!(has(&certs, certs_cipher), "{encoding:?} certificates");
        assert!(has(&key, key_cipher), "{encoding:?} key");
        assert_eq!(
            has(&certs, key_cipher),
            certs_cipher == key_cipher,
            "{encoding:?}"
        );
    }
}
