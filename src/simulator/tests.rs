//! The simulator through real HTTPS on loopback, with clients built from
//! the files it generates.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Client, StatusCode};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{json, Value};

use super::*;

/// reqwest is built without its `json` feature.
trait JsonValue {
    async fn json_value(self) -> Result<Value, reqwest::Error>;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> Result<Value, reqwest::Error> {
        Ok(serde_json::from_str(&self.text().await?).unwrap())
    }
}

type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn pfx_identity(files: &SimFiles) -> Identity {
    let password = std::fs::read_to_string(&files.lab_pfx_password_file).unwrap();
    let bytes = std::fs::read(&files.lab_pfx).unwrap();
    let store = p12_keystore::KeyStore::from_pkcs12(
        &bytes,
        password.trim(),
        p12_keystore::Pkcs12ImportPolicy::Strict,
    )
    .unwrap();
    let (_, chain) = store.private_key_chain().unwrap();
    let certs = chain
        .certs()
        .iter()
        .map(|c| CertificateDer::from(c.as_der().to_vec()))
        .collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec()));
    (certs, key)
}

fn client_with(files: &SimFiles, identity: Option<Identity>, alpn: &[&[u8]]) -> Client {
    Client::builder()
        .use_preconfigured_tls(tls_config(files, identity, alpn))
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

fn tls_config(
    files: &SimFiles,
    identity: Option<Identity>,
    alpn: &[&[u8]],
) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(&files.ca_pem).unwrap() {
        roots.add(ca.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match identity {
        Some((certs, key)) => builder.with_client_auth_cert(certs, key).unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config
}

fn lab_client(sim: &Simulator) -> Client {
    client_with(sim.files(), Some(pfx_identity(sim.files())), &[b"http/1.1"])
}

async fn sim_in(dir: &std::path::Path) -> Simulator {
    start(SimOptions::new(dir)).await.unwrap()
}

async fn get_token(sim: &Simulator, client: &Client) -> String {
    let answer: Value = client
        .get(format!("{}/api/token", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json_value()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_string()
}

/// The contract-shaped 2.0 bundle for this simulator's lab, with `lab_id`.
fn bundle(lab_id: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/conformance/bundle-2.0.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut b: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    b["identifier"]["value"] = json!(lab_id);
    b
}

fn replacing(mut b: Value, rnds_id: &str) -> Value {
    b["entry"][0]["resource"]["relatesTo"] = json!([{
        "code": "replaces",
        "targetReference": {"reference": format!("Composition/{rnds_id}")}
    }]);
    b
}

struct Sent {
    status: StatusCode,
    location: Option<String>,
    body: Value,
}

impl Sent {
    fn rnds_id(&self) -> String {
        let location = self.location.as_deref().unwrap();
        location.rsplit('/').next().unwrap().to_string()
    }

    fn diagnostics(&self) -> Vec<String> {
        self.body["issue"]
            .as_array()
            .map(|issues| {
                issues
                    .iter()
                    .map(|i| i["diagnostics"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

async fn post(
    sim: &Simulator,
    client: &Client,
    token: &str,
    authorization: &str,
    body: &Value,
) -> Sent {
    let reply = client
        .post(format!("{}/api/fhir/r4/Bundle", sim.base_url()))
        .header("Content-Type", "application/fhir+json")
        .header("X-Authorization-Server", format!("Bearer {token}"))
        .header("Authorization", authorization)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = reply.status();
    let location = reply
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    if let Some(l) = &location {
        assert_eq!(
            reply
                .headers()
                .get("content-location")
                .unwrap()
                .to_str()
                .unwrap(),
            l
        );
    }
    let text = reply.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Sent {
        status,
        location,
        body,
    }
}

async fn send(sim: &Simulator, client: &Client, token: &str, body: &Value) -> Sent {
    post(sim, client, token, &sim.identity().requester_cns, body).await
}

/// As on RNDS, mutual TLS guards the token only: a client without a
/// certificate (curl, the npm `rnds` package) is refused a token but can
/// post and look up with a token obtained elsewhere.
#[tokio::test]
async fn the_token_needs_a_client_certificate_and_ehr_calls_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim_in(dir.path()).await;
    let anonymous = client_with(sim.files(), None, &[]);
    let refused = anonymous
        .get(format!("{}/api/token", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let text = refused.text().await.unwrap();
    assert!(text.contains("autenticação mútua TLS"), "{text}");

    let token = get_token(&sim, &lab_client(&sim)).await;
    let sent = send(&sim, &anonymous, &token, &bundle("SEM-CERT-1")).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{:?}", sent.body);
    let cnes = &sim.identity().cnes;
    let found = anonymous
        .get(format!(
            "{}/api/fhir/r4/Organization/{cnes}",
            sim.base_url()
        ))
        .header("X-Authorization-Server", format!("Bearer {token}"))
        .header("Authorization", &sim.identity().requester_cns)
        .send()
        .await
        .unwrap();
    assert_eq!(found.status(), StatusCode::OK);
    sim.shutdown().await;
}

/// The npm `rnds` client sends `application/json`; a charset parameter is
/// fine; PUT and DELETE are not offered (405, not 404).
#[tokio::test]
async fn media_types_and_methods_as_real_clients_send_them() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim_in(dir.path()).await;
    let client = lab_client(&sim);
    let token = get_token(&sim, &client).await;
    for (i, media) in [
        "application/json",
        "application/fhir+json; charset=utf-8",
        "application/json;charset=UTF-8",
    ]
    .into_iter()
    .enumerate()
    {
        let reply = client
            .post(format!("{}/api/fhir/r4/Bundle", sim.base_url()))
            .header("Content-Type", media)
            .header("X-Authorization-Server", format!("Bearer {token}"))
            .header("Authorization", &sim.identity().requester_cns)
            .body(bundle(&format!("MIDIA-{i}")).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::CREATED, "{media}");
    }
    for method in [reqwest::Method::PUT, reqwest::Method::DELETE] {
        let reply = client
            .request(
                method.clone(),
                format!("{}/api/fhir/r4/Bundle", sim.base_url()),
            )
            .header("X-Authorization-Server", format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(reply.headers()["allow"], "POST");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_certificate_from_another_ca_fails_the_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim_in(dir.path()).await;
    let other = pki::new_ca("outra CA").unwrap();
    let (leaf, key) = pki::client_identity(&other, super::pki::LAB_SUBJECT).unwrap();
    let identity = (
        vec![CertificateDer::from(leaf), other.cert.clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
    );
    let client = client_with(sim.files(), Some(identity), &[]);
    let result = client
        .get(format!("{}/api/token", sim.base_url()))
        .send()
        .await;
    assert!(result.is_err(), "{result:?}");
    // The lab's own certificate still works on the same listener.
    assert!(!get_token(&sim, &lab_client(&sim)).await.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn token_answers_the_contract_json_over_http2_too() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim_in(dir.path()).await;
    let client = client_with(
        sim.files(),
        Some(pfx_identity(sim.files())),
        &[b"h2", b"http/1.1"],
    );
    let reply = client
        .get(format!("{}/api/token", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    assert_eq!(reply.version(), reqwest::Version::HTTP_2);
    let body: Value = reply.json_value().await.unwrap();
    assert_eq!(body["expires_in"], json!(1_800_000));
    assert_eq!(body["token_type"], "jwt");
    assert_eq!(body["scope"], "read write");
    assert!(body["access_token"].as_str().unwrap().len() >= 32);
    let post = client
        .post(format!("{}/api/token", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);

    let token = body["access_token"].as_str().unwrap();
    let sent = send(&sim, &client, token, &bundle("H2-1")).await;
    assert_eq!(sent.status, StatusCode::CREATED);
    assert!(sent
        .location
        .unwrap()
        .starts_with(&format!("https://{}/api/fhir/r4/Bundle/", sim.addr())));
    sim.shutdown().await;
}

/// The server certificate also names `*.saude.gov.br`: a client that
/// builds RNDS' own host names (the guide's npm client checks its version
/// at `<uf>-ehr-services.saude.gov.br`) reaches the simulator by name
/// resolution alone and still verifies it against the test CA.
#[tokio::test]
async fn rnds_host_names_verify_against_the_simulator_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim_in(dir.path()).await;
    let host = "go-ehr-services.saude.gov.br";
    let client = Client::builder()
        .use_preconfigured_tls(tls_config(
            sim.files(),
            Some(pfx_identity(sim.files())),
            &[b"http/1.1"],
        ))
        .resolve(host, sim.addr())
        .build()
        .unwrap();
    let answer = client
        .get(format!("https://{host}:{}/api/token", sim.addr().port()))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
}

/// The `answer_code` fault answers every bundle POST with that code of
/// RNDS' error list, after authentication; nothing is stored.
#[tokio::test]
async fn the_answer_code_fault_answers_every_post_with_its_code() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim_in(dir.path()).await;
    let client = lab_client(&sim);
    let token = get_token(&sim, &client).await;
    sim.set_faults(Faults {
        answer_code: Some("ERR880".into()),
        ..Faults::default()
    });
    let sent = send(&sim, &client, &token, &bundle("F-1")).await;
    assert_eq!(sent.status, StatusCode::FORBIDDEN);
    assert_eq!(
        sent.diagnostics(),
        vec!["(EHR-ERR880) Você não possui autorização para enviar documentos para esta UF."]
    );
    let sent = post(
        &sim,
        &client,
        "not-a-token",
        &sim.identity().requester_cns,
        &bundle("F-2"),
    )
    .await;
    assert_eq!(
        sent.status,
        StatusCode::UNAUTHORIZED,
        "the token is checked first"
    );
    sim.set_faults(Faults::default());
    assert_eq!(
        send(&sim, &client, &token, &bundle("F-1")).await.status,
        StatusCode::CREATED
    );
    assert_eq!(sim.documents().len(), 1);
}

/// The example bundles of the RNDS guide's sources are accepted, with the
/// simulator's requester id in place of the guide author's (EHR-ERR881 is
/// per credential).
#[tokio::test]
async fn the_guides_example_bundles_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim_in(dir.path()).await;
    let client = lab_client(&sim);
    let token = get_token(&sim, &client).await;
    let system = format!(
        "{}{}",
        reply::RNDS_SYSTEM_PREFIX,
        sim.identity().requester_id
    );
    for (n, (name, mut example)) in crate::conformance::tests::guide_examples()
        .into_iter()
        .enumerate()
    {
        example["identifier"]["system"] = json!(system);
        example["identifier"]["value"] = json!(format!("GUIA-{n}"));
        let sent = send(&sim, &client, &token, &example).await;
        assert_eq!(
            sent.status,
            StatusCode::CREATED,
            "{name}: {:?}",
            sent.diagnostics()
        );
    }
}

#[tokio::test]
async fn each_row_of_the_error_table() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim_in(dir.path()).await;
    let client = lab_client(&sim);
    let token = get_token(&sim, &client).await;
    let cns = sim.identity().requester_cns.clone();

    let sent = post(&sim, &client, "not-a-token", &cns, &bundle("E-1")).await;
    assert_eq!(sent.status, StatusCode::UNAUTHORIZED);
    let d = &sent.diagnostics()[0];
    assert!(d.starts_with("(EHR-ERR882) "), "{d}");
    assert!(d.contains("Allowed clock skew: 0 milliseconds"), "{d}");

    let sent = post(&sim, &client, &token, "", &bundle("E-1")).await;
    assert_eq!(sent.status, StatusCode::UNAUTHORIZED);
    assert!(sent.diagnostics()[0].starts_with("(EHR-ERR884) "));

    let unlinked = sim.identity().unlinked_cns.clone();
    let sent = post(&sim, &client, &token, &unlinked, &bundle("E-1")).await;
    assert_eq!(sent.status, StatusCode::FORBIDDEN);
    assert!(sent.diagnostics()[0].starts_with("(EHR-ERR906) "));

    let mut wrong_requester = bundle("E-1");
    wrong_requester["identifier"]["system"] =
        json!("http://www.saude.gov.br/fhir/r4/NamingSystem/BRRNDS-99999");
    let sent = send(&sim, &client, &token, &wrong_requester).await;
    assert_eq!(sent.status, StatusCode::FORBIDDEN);
    assert_eq!(
        sent.diagnostics()[0],
        "(EHR-ERR881) Não autorizado para o sistema de origem BRRNDS-99999."
    );

    let mut preliminary = bundle("E-1");
    preliminary["entry"][0]["resource"]["status"] = json!("preliminary");
    let sent = send(&sim, &client, &token, &preliminary).await;
    assert_eq!(sent.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(sent.diagnostics()[0].starts_with("(EHR-ERR924) "));

    assert_eq!(
        send(&sim, &client, &token, &bundle("E-1")).await.status,
        StatusCode::CREATED
    );
    let sent = send(&sim, &client, &token, &bundle("E-1")).await;
    assert_eq!(sent.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(sent.diagnostics()[0].starts_with("(EHR-ERR866) "));

    let wrong_type = client
        .post(format!("{}/api/fhir/r4/Bundle", sim.base_url()))
        .header("Content-Type", "application/json+xml")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    assert_eq!(sim.documents().len(), 1, "only the valid bundle is stored");
    let stats: Value = client
        .get(format!("{}/_sim/stats", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json_value()
        .await
        .unwrap();
    for code in [
        "EHR-ERR866",
        "EHR-ERR881",
        "EHR-ERR882",
        "EHR-ERR884",
        "EHR-ERR906",
        "EHR-ERR924",
    ] {
        assert_eq!(stats["by_error_code"][code], json!(1), "{code}: {stats}");
    }
    assert_eq!(stats["by_status"]["201"], json!(1));
    sim.shutdown().await;
}

#[tokio::test]
async fn an_expired_token_is_refused_with_zero_skew() {
    let dir = tempfile::tempdir().unwrap();
    let options = SimOptions {
        token_lifetime: Duration::ZERO,
        ..SimOptions::new(dir.path())
    };
    let sim = start(options).await.unwrap();
    let client = lab_client(&sim);
    let token = get_token(&sim, &client).await;
    let sent = send(&sim, &client, &token, &bundle("X-1")).await;
    assert_eq!(sent.status, StatusCode::UNAUTHORIZED);
    assert!(sent.diagnostics()[0].starts_with("(EHR-ERR882) "));
    sim.shutdown().await;
}

#[tokio::test]
async fn send_duplicate_replace_and_replace_the_replacement() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim_in(dir.path()).await;
    let client = lab_client(&sim);
    let token = get_token(&sim, &client).await;

    let first = send(&sim, &client, &token, &bundle("R-1")).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let location = first.location.clone().unwrap();
    assert!(location.starts_with(&format!("https://{}/api/fhir/r4/Bundle/", sim.addr())));
    let id1 = first.rnds_id();
    let (uuid_part, suffix) = id1.rsplit_once('-').unwrap();
    assert!(uuid::Uuid::try_parse(uuid_part).is_ok(), "{id1}");
    assert_eq!(suffix.len(), 4);

    assert_eq!(
        send(&sim, &client, &token, &bundle("R-1")).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let second = send(&sim, &client, &token, &replacing(bundle("R-1"), &id1)).await;
    assert_eq!(second.status, StatusCode::CREATED);
    let id2 = second.rnds_id();
    assert_ne!(id1, id2);

    // The original is no longer current: replacing it again is refused.
    let stale = send(&sim, &client, &token, &replacing(bundle("R-1"), &id1)).await;
    assert_eq!(stale.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(stale.diagnostics()[0].contains(&format!("Composition/{id1} não é o documento atual")));
    assert!(stale.diagnostics()[0].contains(&format!("o atual é Composition/{id2}")));

    let third = send(&sim, &client, &token, &replacing(bundle("R-1"), &id2)).await;
    assert_eq!(third.status, StatusCode::CREATED);
    let id3 = third.rnds_id();

    let unknown = send(&sim, &client, &token, &replacing(bundle("R-404"), &id3)).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unknown.diagnostics()[0].contains("não há documento com o identificador R-404"));

    let docs: Value = client
        .get(format!("{}/_sim/documents", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json_value()
        .await
        .unwrap();
    let docs = docs.as_array().unwrap();
    assert_eq!(docs.len(), 3);
    let keys: Vec<&String> = docs[0].as_object().unwrap().keys().collect();
    let mut expected = [
        "bundle",
        "lab_id",
        "profile",
        "received_at",
        "replaces",
        "rnds_id",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert_eq!(docs[0]["replaces"], Value::Null);
    assert_eq!(docs[1]["replaces"], json!(id1));
    assert_eq!(docs[2]["replaces"], json!(id2));
    assert_eq!(docs[2]["rnds_id"], json!(id3));
    assert_eq!(
        docs[0]["profile"],
        "http://www.saude.gov.br/fhir/r4/StructureDefinition/BRResultadoExameLaboratorial-2.0"
    );
    assert_eq!(docs[0]["bundle"], bundle("R-1"));

    let found: Value = client
        .get(format!("{}/api/fhir/r4/identifier", sim.base_url()))
        .query(&[
            (
                "system",
                "http://www.saude.gov.br/fhir/r4/NamingSystem/BRRNDS-31415",
            ),
            ("value", "R-1"),
        ])
        .header("X-Authorization-Server", format!("Bearer {token}"))
        .header("Authorization", &sim.identity().requester_cns)
        .send()
        .await
        .unwrap()
        .json_value()
        .await
        .unwrap();
    assert_eq!(found["total"], json!(1));
    assert_eq!(found["entry"][0]["resource"]["id"], json!(id3));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_lost_answer_still_stores_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim_in(dir.path()).await;
    let client = lab_client(&sim);
    let token = get_token(&sim, &client).await;
    sim.set_faults(Faults {
        lost_answer_rate: 1.0,
        ..Faults::default()
    });
    let result = client
        .post(format!("{}/api/fhir/r4/Bundle", sim.base_url()))
        .header("Content-Type", "application/fhir+json")
        .header("X-Authorization-Server", format!("Bearer {token}"))
        .header("Authorization", &sim.identity().requester_cns)
        .body(bundle("L-1").to_string())
        .send()
        .await;
    assert!(
        result.is_err(),
        "the client must see a broken connection: {result:?}"
    );
    let docs = sim.documents();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].lab_id, "L-1");

    sim.set_faults(Faults::default());
    let again = send(&sim, &client, &token, &bundle("L-1")).await;
    assert!(again.diagnostics()[0].starts_with("(EHR-ERR866) "));
    sim.shutdown().await;
}

#[tokio::test]
async fn an_injected_redirect_stores_nothing_and_points_at_a_fake_acceptance() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim_in(dir.path()).await;
    let client = lab_client(&sim);
    let token = get_token(&sim, &client).await;
    sim.set_faults(Faults {
        redirect_rate: 1.0,
        ..Faults::default()
    });
    let answer = client
        .post(format!("{}/api/fhir/r4/Bundle", sim.base_url()))
        .header("Content-Type", "application/fhir+json")
        .header("X-Authorization-Server", format!("Bearer {token}"))
        .header("Authorization", &sim.identity().requester_cns)
        .body(bundle("R-1").to_string())
        .send()
        .await
        .unwrap();
    // Whether or not this client follows redirects, nothing was stored.
    let followed = answer.url().path() == "/_sim/redirected";
    assert!(
        followed || answer.status() == reqwest::StatusCode::FOUND,
        "{answer:?}"
    );
    assert!(sim.documents().is_empty());
    let page = client
        .get(format!("{}/_sim/redirected", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), reqwest::StatusCode::OK);
    assert_eq!(
        page.json_value().await.unwrap()["id"],
        json!("fake-accepted")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn throttling_and_server_errors_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim_in(dir.path()).await;
    let client = lab_client(&sim);
    let token = get_token(&sim, &client).await;
    sim.set_faults(Faults {
        rate_429: 1.0,
        retry_after_s: 7,
        ..Faults::default()
    });
    let reply = client
        .post(format!("{}/api/fhir/r4/Bundle", sim.base_url()))
        .header("Content-Type", "application/fhir+json")
        .header("X-Authorization-Server", format!("Bearer {token}"))
        .header("Authorization", &sim.identity().requester_cns)
        .body(bundle("T-1").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.headers()["retry-after"], "7");

    sim.set_faults(Faults {
        error_5xx_rate: 1.0,
        ..Faults::default()
    });
    let sent = send(&sim, &client, &token, &bundle("T-1")).await;
    assert!(sent.status.is_server_error(), "{}", sent.status);
    sim.set_faults(Faults {
        rate_503: 1.0,
        ..Faults::default()
    });
    let sent = send(&sim, &client, &token, &bundle("T-1")).await;
    assert_eq!(sent.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(sim.documents().is_empty());
    sim.shutdown().await;
}

/// The capacity model over HTTPS: one worker and one place in the queue.
/// Six POSTs sent at once on one HTTP/2 connection (each holds the worker
/// 2 s, so all six arrive while the first is served): two are admitted
/// and stored one after the other, four are refused with 429 and a
/// `Retry-After`, and never two are served at once.
#[tokio::test]
async fn a_full_server_queues_then_refuses_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(SimOptions {
        faults: Faults {
            latency_ms: 2000,
            ..Faults::default()
        },
        capacity: Some(ServerCapacity {
            workers: 1,
            queue: 1,
        }),
        ..SimOptions::new(dir.path())
    })
    .await
    .unwrap();
    let client = client_with(sim.files(), Some(pfx_identity(sim.files())), &[b"h2"]);
    let token = get_token(&sim, &client).await;
    let url = format!("{}/api/fhir/r4/Bundle", sim.base_url());
    let posts: Vec<_> = (0..6)
        .map(|i| {
            client
                .post(&url)
                .header("Content-Type", "application/fhir+json")
                .header("X-Authorization-Server", format!("Bearer {token}"))
                .header("Authorization", &sim.identity().requester_cns)
                .body(bundle(&format!("CAP-{i}")).to_string())
                .send()
        })
        .map(tokio::spawn)
        .collect();
    let mut statuses = Vec::new();
    for post in posts {
        let reply = post.await.unwrap().unwrap();
        if reply.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(
                reply.headers()["retry-after"],
                "4",
                "(1 queued + 1 served) × 2 s"
            );
        }
        statuses.push(reply.status().as_u16());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 201, 429, 429, 429, 429]);
    assert_eq!(sim.documents().len(), 2);
    let load = &sim.stats()["capacity"];
    assert_eq!(load["peak_in_service"], 1, "{load}");
    assert_eq!(load["refused"], 4, "{load}");
    assert_eq!(
        (load["admitted"].as_u64(), load["in_service"].as_u64()),
        (Some(0), Some(0))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_profiles_are_enforced_with_precise_messages() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim_in(dir.path()).await;
    let client = lab_client(&sim);
    let token = get_token(&sim, &client).await;

    let mut with_display = bundle("C-1");
    with_display["entry"][0]["resource"]["subject"]["display"] = json!("Maria da Silva");
    let sent = send(&sim, &client, &token, &with_display).await;
    assert_eq!(sent.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        sent.diagnostics(),
        ["Bundle.entry[0].resource.subject.display: display não é permitido no perfil BRResultadoExameLaboratorial-2.0: remova o elemento"]
    );
    assert_eq!(
        sent.body["issue"][0]["expression"],
        json!(["Bundle.entry[0].resource.subject.display"])
    );

    let mut no_method = bundle("C-1");
    no_method["entry"][1]["resource"]
        .as_object_mut()
        .unwrap()
        .remove("method");
    let sent = send(&sim, &client, &token, &no_method).await;
    assert_eq!(
        sent.diagnostics(),
        ["Bundle.entry[1].resource.method: method é obrigatório no perfil BRDiagnosticoLaboratorioClinico-2.0"]
    );

    let mut not_loinc = bundle("C-1");
    not_loinc["entry"][1]["resource"]["code"]["coding"][0]["code"] = json!("12345-6");
    let sent = send(&sim, &client, &token, &not_loinc).await;
    assert_eq!(
        sent.diagnostics(),
        ["Bundle.entry[1].resource.code.coding[0].code: o código \"12345-6\" não pertence a BRNomeExameLOINC"]
    );

    assert!(sim.documents().is_empty());
    assert_eq!(
        send(&sim, &client, &token, &bundle("C-1")).await.status,
        StatusCode::CREATED
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_restart_keeps_documents_and_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim_in(dir.path()).await;
    let client = lab_client(&sim);
    let token = get_token(&sim, &client).await;
    let id = send(&sim, &client, &token, &bundle("P-1")).await.rnds_id();
    let ca_before = std::fs::read(&sim.files().ca_pem).unwrap();
    let pfx_before = std::fs::read(&sim.files().lab_pfx).unwrap();
    sim.shutdown().await;

    let sim = sim_in(dir.path()).await;
    assert_eq!(std::fs::read(&sim.files().ca_pem).unwrap(), ca_before);
    assert_eq!(std::fs::read(&sim.files().lab_pfx).unwrap(), pfx_before);
    let docs = sim.documents();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].rnds_id, id);
    let client = lab_client(&sim);
    let token = get_token(&sim, &client).await;
    let dup = send(&sim, &client, &token, &bundle("P-1")).await;
    assert!(dup.diagnostics()[0].starts_with("(EHR-ERR866) "));
    let replaced = send(&sim, &client, &token, &replacing(bundle("P-1"), &id)).await;
    assert_eq!(replaced.status, StatusCode::CREATED);
    sim.shutdown().await;
}

#[tokio::test]
async fn an_outage_refuses_connections_then_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim_in(dir.path()).await;
    let client = lab_client(&sim);
    assert!(!get_token(&sim, &client).await.is_empty());
    sim.outage(Duration::from_millis(400));
    let during = client
        .get(format!("{}/api/token", sim.base_url()))
        .send()
        .await;
    assert!(during.is_err(), "{during:?}");
    let mut recovered = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Ok(reply) = client
            .get(format!("{}/api/token", sim.base_url()))
            .send()
            .await
        {
            recovered = reply.status() == StatusCode::OK;
            break;
        }
    }
    assert!(recovered);
    sim.shutdown().await;
}

#[tokio::test]
async fn lookups_answer_what_the_simulator_knows() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim_in(dir.path()).await;
    let client = lab_client(&sim);
    let token = get_token(&sim, &client).await;
    let id = sim.identity().clone();
    let get = |path: String| {
        client
            .get(format!("{}/api/fhir/r4/{path}", sim.base_url()))
            .header("X-Authorization-Server", format!("Bearer {token}"))
            .header("Authorization", &id.requester_cns)
            .send()
    };
    assert_eq!(
        get(format!("Organization/{}", id.cnes))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let missing = get("Organization/0000000".into()).await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let body: Value = missing.json_value().await.unwrap();
    assert_eq!(
        body["issue"][0]["diagnostics"],
        "Resource Organization/0000000 is not known"
    );
    assert_eq!(
        get(format!("Practitioner/{}", id.requester_cns))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    let role = |cns: &str| {
        format!(
            "PractitionerRole?practitioner.identifier=http://rnds.saude.gov.br/fhir/r4/NamingSystem/cns%7C{cns}&organization.identifier=http://rnds.saude.gov.br/fhir/r4/NamingSystem/cnes%7C{}",
            id.cnes
        )
    };
    let linked: Value = get(role(&id.requester_cns))
        .await
        .unwrap()
        .json_value()
        .await
        .unwrap();
    assert_eq!(linked["total"], json!(1));
    let unlinked: Value = get(role(&id.unlinked_cns))
        .await
        .unwrap()
        .json_value()
        .await
        .unwrap();
    assert_eq!(unlinked["total"], json!(0));

    let patient: Value = get(
        "Patient?identifier=http://rnds.saude.gov.br/fhir/r4/NamingSystem/cns%7C123456789010000"
            .into(),
    )
    .await
    .unwrap()
    .json_value()
    .await
    .unwrap();
    assert_eq!(patient["total"], json!(1));
    let metadata: Value = get("metadata".into())
        .await
        .unwrap()
        .json_value()
        .await
        .unwrap();
    assert_eq!(metadata["resourceType"], "CapabilityStatement");

    let no_token = client
        .get(format!(
            "{}/api/fhir/r4/Practitioner/{}",
            sim.base_url(),
            id.requester_cns
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_generated_config_loads_and_points_at_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim_in(dir.path()).await;
    let config = crate::config::Config::load(&sim.files().config_toml).unwrap();
    assert_eq!(config.lab.cnes, sim.identity().cnes);
    assert_eq!(config.lab.requester_id, sim.identity().requester_id);
    assert_eq!(config.lab.requester_cns, sim.identity().requester_cns);
    assert_eq!(
        config.rnds.environment,
        crate::config::Environment::Simulador
    );
    assert_eq!(
        config.rnds.auth_url.as_deref(),
        Some(sim.base_url().as_str())
    );
    assert_eq!(
        config.rnds.ehr_url.as_deref(),
        Some(sim.base_url().as_str())
    );
    assert_eq!(
        config.rnds.certificate.file(),
        Some(sim.files().lab_pfx.as_path())
    );
    assert_eq!(config.rnds.extra_ca.as_ref(), Some(&sim.files().ca_pem));
    assert_eq!(
        config.rnds.certificate_password_file.as_ref(),
        Some(&sim.files().lab_pfx_password_file)
    );
    assert!(conformance_cns(&config.lab.requester_cns));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&sim.files().lab_pfx_password_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The PFX carries the leaf and the CA, with the e-CNPJ-like subject.
    let (certs, _) = pfx_identity(sim.files());
    assert_eq!(certs.len(), 2);
    let (_, leaf) = x509_parser::parse_x509_certificate(&certs[0]).unwrap();
    assert!(
        leaf.subject().to_string().contains(super::pki::LAB_SUBJECT),
        "{}",
        leaf.subject()
    );
    sim.shutdown().await;
}

fn conformance_cns(cns: &str) -> bool {
    crate::conformance::cns_is_valid(cns)
}

/// The PKCS#12 file the simulator hands the lab is the modern encoding
/// (what `openssl pkcs12 -info` reports as PBES2, AES-256-CBC, MAC sha256).
#[tokio::test]
async fn the_generated_pfx_is_aes_256_with_a_sha256_mac() {
    use der::{Decode, Encode};
    const PBES2: [u8; 11] = [
        0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0D,
    ];
    const AES_256_CBC: [u8; 11] = [
        0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2A,
    ];
    const HMAC_WITH_SHA256: [u8; 10] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x02, 0x09];
    /// 1.2.840.113549.1.12.1: every legacy PKCS#12 PBE lives under it.
    const LEGACY_PBE_ARC: [u8; 9] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x0C, 0x01];
    let count = |haystack: &[u8], needle: &[u8]| {
        haystack
            .windows(needle.len())
            .filter(|w| *w == needle)
            .count()
    };
    let dir = tempfile::tempdir().unwrap();
    let sim = sim_in(dir.path()).await;
    let bytes = std::fs::read(&sim.files().lab_pfx).unwrap();
    let pfx = pkcs12::Pfx::from_der(&bytes).unwrap();
    let mac = pfx.mac_data.as_ref().unwrap();
    assert_eq!(mac.mac.algorithm.oid.to_string(), "2.16.840.1.101.3.4.2.1");
    let safes = pfx.auth_safe.content.to_der().unwrap();
    // The certificates' safe and the key's bag: each PBES2 with AES-256-CBC.
    assert_eq!(count(&safes, &PBES2), 2);
    assert_eq!(count(&safes, &AES_256_CBC), 2);
    assert_eq!(count(&safes, &HMAC_WITH_SHA256), 2);
    assert_eq!(count(&safes, &LEGACY_PBE_ARC), 0);
    sim.shutdown().await;
}

/// The README's curl command, where curl is installed (a visible skip
/// elsewhere: the in-process clients above cover the simulator itself).
#[tokio::test]
async fn curl_gets_a_token_with_the_generated_pfx() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim_in(dir.path()).await;
    let files = sim.files().clone();
    let password = std::fs::read_to_string(&files.lab_pfx_password_file).unwrap();
    let url = format!("{}/api/token", sim.base_url());
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .arg("--silent")
            .arg("--show-error")
            .args(["--cert-type", "P12", "--cert"])
            .arg(format!("{}:{}", files.lab_pfx.display(), password.trim()))
            .arg("--cacert")
            .arg(&files.ca_pem)
            .arg(url)
            .output()
    })
    .await
    .unwrap();
    let output = match output {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            assert!(
                std::env::var("CI").is_err(),
                "curl not found in CI: .ci/run installs it"
            );
            crate::test_skip::skipped("curl is not installed");
            sim.shutdown().await;
            return;
        }
        Err(e) => panic!("curl did not run: {e}"),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let body: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(body["expires_in"], json!(1_800_000));
    sim.shutdown().await;
}
