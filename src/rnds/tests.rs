//! The client against a scripted RNDS over real mutual TLS on 127.0.0.1;
//! `simulator` runs the same paths against the project's simulator.

mod simulator;

use std::path::PathBuf;
use std::time::Duration;

use super::mock::{self, Fault, Mock, State};
use super::testutil::{self, pfx, pki, Encoding, Pki, PASSWORD};
use super::*;

struct Setup {
    _dir: tempfile::TempDir,
    pki: Pki,
    pfx: PathBuf,
    mock: Mock,
}

async fn setup(token_lifetime: Duration) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), "lab", None);
    let pfx = pfx(&pki, Encoding::Legacy);
    let mock = mock::start(&pki, State::new(token_lifetime)).await;
    Setup {
        _dir: dir,
        pki,
        pfx,
        mock,
    }
}

impl Setup {
    fn extra(&self, more: &str) -> String {
        format!(
            "extra_ca = \"{}\"\nbackoff_base_ms = 10\nbackoff_max_ms = 40\nmax_retries = 3\n{more}",
            self.pki.ca_pem.display()
        )
    }

    fn config(&self, more: &str) -> crate::config::Config {
        testutil::config_for(
            &self.pki.dir,
            &self.mock.base_url,
            &self.pfx,
            PASSWORD,
            &self.extra(more),
        )
    }

    fn client(&self) -> Client {
        Client::new(&self.config("")).unwrap()
    }

    /// Writes a config file for doctor; `password`, `certificate` overridable.
    fn config_file(&self, certificate: &std::path::Path, password: &str, more: &str) -> PathBuf {
        let text = testutil::config_text(
            &self.pki.dir,
            &self.mock.base_url,
            certificate,
            password,
            &self.extra(more),
        );
        let path = self.pki.dir.join("rnds-drop.toml");
        std::fs::write(&path, text).unwrap();
        path
    }
}

fn bundle(lab_id: &str) -> Vec<u8> {
    serde_json::json!({
        "resourceType": "Bundle",
        "type": "document",
        "identifier": {"system": "http://www.saude.gov.br/fhir/r4/NamingSystem/BRRNDS-98765",
                       "value": lab_id},
        "entry": [
            {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Composition"}},
            {"fullUrl": "urn:uuid:2", "resource": {"resourceType": "Observation"}},
            {"fullUrl": "urn:uuid:3", "resource": {"resourceType": "Specimen"}}
        ]
    })
    .to_string()
    .into_bytes()
}

fn stored_id(mock: &Mock, lab_id: &str) -> Option<String> {
    mock.with(|s| s.documents.get(lab_id).and_then(|ids| ids.last().cloned()))
}

/// Like RNDS, the mock demands a client certificate on the token call only:
/// without one, the token is refused over HTTP and an EHR call reaches the
/// token check (no failed handshake).
#[tokio::test]
async fn the_mock_demands_a_certificate_on_the_token_call_only() {
    use rustls::pki_types::pem::PemObject;
    let s = setup(Duration::from_secs(1800)).await;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_file(&s.pki.ca_pem).unwrap())
        .unwrap();
    let tls = rustls::ClientConfig::builder_with_provider(
        rustls::crypto::ring::default_provider().into(),
    )
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let http = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .unwrap();
    let token = http
        .get(format!("{}/api/token", s.mock.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 401);
    let lookup = http
        .get(format!("{}/api/fhir/r4/metadata", s.mock.base_url))
        .header("X-Authorization-Server", "Bearer none")
        .send()
        .await
        .unwrap();
    assert_eq!(lookup.status(), 401);
    assert!(lookup.text().await.unwrap().contains("EHR-ERR882"));
    // The lab's client, with its certificate, still gets its token.
    assert!(matches!(
        s.client().submit(bundle("CERT-1")).await,
        Outcome::Accepted { .. }
    ));
}

#[tokio::test]
async fn submit_is_accepted_with_the_stored_id() {
    let s = setup(Duration::from_secs(1800)).await;
    let client = s.client();
    match client.submit(bundle("EX-0001")).await {
        Outcome::Accepted { rnds_id } => {
            assert_eq!(Some(rnds_id), stored_id(&s.mock, "EX-0001"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        client.submit(bundle("EX-0001")).await,
        Outcome::DuplicateIdentifier {
            code: "EHR-ERR866".into()
        }
    );
    assert_eq!(
        s.mock.with(|st| st.last_version),
        Some(hyper::Version::HTTP_2)
    );
}

#[tokio::test]
async fn one_token_for_many_concurrent_requests() {
    let s = setup(Duration::from_secs(1800)).await;
    let client = s.client();
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.submit(bundle(&format!("EX-{i:04}"))).await })
        })
        .collect();
    for task in tasks {
        assert!(matches!(task.await.unwrap(), Outcome::Accepted { .. }));
    }
    assert_eq!(s.mock.with(|st| st.tokens_issued), 1);
    assert_eq!(s.mock.with(|st| st.documents.len()), 24);
}

#[tokio::test]
async fn token_is_refreshed_a_minute_before_it_expires() {
    // The contract's 30-minute token; the mock judges expiry by the same
    // clock as the client, which the test moves instead of sleeping.
    let s = setup(Duration::from_secs(1800)).await;
    let clock = s.mock.with(|st| st.clock.clone());
    let client = Client::with_clock(&s.config(""), clock.clone()).unwrap();
    for round in 0..3 {
        for i in 0..3 {
            let outcome = client.submit(bundle(&format!("EX-{round}-{i}"))).await;
            assert!(matches!(outcome, Outcome::Accepted { .. }), "{outcome:?}");
        }
        assert_eq!(client.tokens_fetched(), round + 1, "round {round}");
        // Inside the last minute: still valid for the server, due for the client.
        clock.advance(Duration::from_secs(29 * 60 + 30));
    }
    // Refreshed early every round, never refused by the server.
    assert_eq!(s.mock.with(|st| st.expired_token_refusals), 0);
    assert_eq!(s.mock.with(|st| st.tokens_issued), 3);
}

#[tokio::test]
async fn token_is_reused_until_its_refresh_time() {
    let s = setup(Duration::from_secs(1800)).await;
    let clock = s.mock.with(|st| st.clock.clone());
    let client = Client::with_clock(&s.config(""), clock.clone()).unwrap();
    for round in 0..3 {
        let outcome = client.submit(bundle(&format!("EX-{round}"))).await;
        assert!(matches!(outcome, Outcome::Accepted { .. }), "{outcome:?}");
        clock.advance(Duration::from_secs(9 * 60));
    }
    // 27 minutes in: the first token is still well within its life.
    assert_eq!(client.tokens_fetched(), 1);
}

#[tokio::test]
async fn refused_token_is_refreshed_once_and_the_bundle_sent() {
    let s = setup(Duration::from_secs(1800)).await;
    let client = s.client();
    assert!(matches!(
        client.submit(bundle("EX-1")).await,
        Outcome::Accepted { .. }
    ));
    s.mock.with(State::revoke_tokens);
    assert!(matches!(
        client.submit(bundle("EX-2")).await,
        Outcome::Accepted { .. }
    ));
    assert_eq!(s.mock.with(|st| st.tokens_issued), 2);
    assert_eq!(s.mock.with(|st| st.expired_token_refusals), 1);
}

#[tokio::test]
async fn throttling_and_unavailability_are_retried() {
    let s = setup(Duration::from_secs(1800)).await;
    s.mock.with(|st| {
        st.faults.extend([
            Fault::Status(503, None),
            Fault::Status(429, Some(1)),
            Fault::Status(503, None),
        ])
    });
    let client = s.client();
    let started = std::time::Instant::now();
    let outcome = client.submit(bundle("EX-1")).await;
    assert!(matches!(outcome, Outcome::Accepted { .. }), "{outcome:?}");
    assert_eq!(s.mock.with(|st| st.bundle_posts), 4);
    // Retry-After: 1 was honoured (a lower bound, not a timing assertion).
    assert!(started.elapsed() >= Duration::from_secs(1));
}

/// A 502 may come from a gateway after RNDS stored the bundle: the POST is
/// not repeated (that could create a second document); the caller settles it.
#[tokio::test]
async fn a_bad_gateway_after_a_post_is_an_unknown_outcome_not_a_resend() {
    let s = setup(Duration::from_secs(1800)).await;
    s.mock
        .with(|st| st.faults.extend([Fault::Status(502, None)]));
    let client = s.client();
    let outcome = client.submit(bundle("EX-1")).await;
    assert!(matches!(outcome, Outcome::Unknown { .. }), "{outcome:?}");
    assert_eq!(s.mock.with(|st| st.bundle_posts), 1);
}

#[tokio::test]
async fn retries_are_bounded_then_transient() {
    let s = setup(Duration::from_secs(1800)).await;
    s.mock.with(|st| {
        st.faults
            .extend(std::iter::repeat_n(Fault::Status(503, None), 10))
    });
    let outcome = s.client().submit(bundle("EX-1")).await;
    assert!(matches!(outcome, Outcome::Transient { .. }), "{outcome:?}");
    assert_eq!(s.mock.with(|st| st.bundle_posts), 4, "1 + max_retries");
    assert_eq!(stored_id(&s.mock, "EX-1"), None);
}

#[tokio::test]
async fn lost_answer_is_unknown_then_resolved_by_lookup() {
    let s = setup(Duration::from_secs(1800)).await;
    s.mock.with(|st| st.faults.push_back(Fault::LoseAnswer));
    let client = s.client();
    let outcome = client.submit(bundle("EX-LOST")).await;
    assert!(matches!(outcome, Outcome::Unknown { .. }), "{outcome:?}");
    assert_eq!(s.mock.with(|st| st.bundle_posts), 1, "never resent as new");
    let resolution = client
        .resolve_unknown("EX-LOST", None, bundle("EX-LOST"))
        .await
        .unwrap();
    assert_eq!(
        resolution,
        Resolution::Stored {
            rnds_id: stored_id(&s.mock, "EX-LOST")
        }
    );
    assert_eq!(
        client
            .resolve_unknown("EX-NEVER", None, bundle("EX-NEVER"))
            .await,
        Ok(Resolution::NotStored)
    );
    assert_eq!(s.mock.with(|st| st.bundle_posts), 1);
}

#[tokio::test]
async fn without_the_lookup_a_resend_proves_storage() {
    let s = setup(Duration::from_secs(1800)).await;
    s.mock.with(|st| {
        st.identifier_lookup = false;
        st.faults.push_back(Fault::LoseAnswer);
    });
    let client = s.client();
    assert!(matches!(
        client.submit(bundle("EX-LOST")).await,
        Outcome::Unknown { .. }
    ));
    // The lookup answers 404 here; the resend's EHR-ERR866 proves storage.
    let resolution = client
        .resolve_unknown("EX-LOST", None, bundle("EX-LOST"))
        .await;
    assert_eq!(resolution, Ok(Resolution::Stored { rnds_id: None }));
    assert_eq!(s.mock.with(|st| st.documents.len()), 1, "stored once");
    assert_eq!(s.mock.with(|st| st.bundle_posts), 2);
}

#[tokio::test]
async fn a_refused_lookup_falls_back_to_the_resend_not_a_configuration_halt() {
    let s = setup(Duration::from_secs(1800)).await;
    s.mock.with(|st| {
        st.identifier_lookup_refused = true;
        st.faults.push_back(Fault::LoseAnswer);
    });
    let client = s.client();
    assert!(matches!(
        client.submit(bundle("EX-LOST")).await,
        Outcome::Unknown { .. }
    ));
    // 400 validation.type.param: the lookup is unavailable, not a wrong
    // configuration; the resend's EHR-ERR866 proves storage.
    let resolution = client
        .resolve_unknown("EX-LOST", None, bundle("EX-LOST"))
        .await;
    assert_eq!(resolution, Ok(Resolution::Stored { rnds_id: None }));
    assert_eq!(s.mock.with(|st| st.documents.len()), 1, "stored once");
    assert_eq!(s.mock.with(|st| st.bundle_posts), 2);
}

#[tokio::test]
async fn find_document_returns_the_current_id() {
    let s = setup(Duration::from_secs(1800)).await;
    let client = s.client();
    let Outcome::Accepted { rnds_id } = client.submit(bundle("EX-9")).await else {
        panic!("not accepted")
    };
    assert_eq!(client.find_document("EX-9").await, Ok(Some(rnds_id)));
    assert_eq!(client.find_document("EX-10").await, Ok(None));
}

#[tokio::test]
async fn wrong_requester_id_stops_with_a_configuration_error() {
    let s = setup(Duration::from_secs(1800)).await;
    s.mock.with(|st| st.requester_id = "11111".into());
    match s.client().submit(bundle("EX-1")).await {
        Outcome::ConfigurationError { message } => {
            assert!(
                message.contains("EHR-ERR881") && message.contains("requester_id"),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn untrusted_server_certificate_is_a_configuration_error() {
    let s = setup(Duration::from_secs(1800)).await;
    let config = testutil::config_for(
        &s.pki.dir,
        &s.mock.base_url,
        &s.pfx,
        PASSWORD,
        "max_retries = 1\nbackoff_base_ms = 1",
    );
    let outcome = Client::new(&config).unwrap().submit(bundle("EX-1")).await;
    match outcome {
        Outcome::ConfigurationError { message } => assert!(
            message.contains("este computador recusou o certificado apresentado pelo servidor"),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn plain_http_is_refused_as_configuration() {
    let s = setup(Duration::from_secs(1800)).await;
    let http_url = s.mock.base_url.replace("https://", "http://");
    let config = testutil::config_for(&s.pki.dir, &http_url, &s.pfx, PASSWORD, &s.extra(""));
    let outcome = Client::new(&config).unwrap().submit(bundle("EX-1")).await;
    match outcome {
        Outcome::ConfigurationError { message } => {
            assert!(message.contains("auth_url"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.mock.with(|st| st.bundle_posts), 0);
}

#[tokio::test]
async fn waiters_share_one_failed_token_fetch() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), "lab", None);
    let config = testutil::config_for(
        dir.path(),
        "https://127.0.0.1:9",
        &pfx(&pki, Encoding::Modern),
        PASSWORD,
        "max_retries = 0",
    );
    let client = Client::new(&config).unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.submit(bundle(&format!("EX-{i}"))).await })
        })
        .collect();
    for task in tasks {
        assert!(matches!(task.await.unwrap(), Outcome::Transient { .. }));
    }
    assert_eq!(client.tokens_fetched(), 1, "one attempt for the whole wave");
}

#[tokio::test]
async fn nothing_listening_is_transient() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), "lab", None);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("https://{}", listener.local_addr().unwrap());
    drop(listener);
    let config = testutil::config_for(
        dir.path(),
        &base,
        &pfx(&pki, Encoding::Modern),
        PASSWORD,
        "max_retries = 2\nbackoff_base_ms = 1\nbackoff_max_ms = 2",
    );
    let outcome = Client::new(&config).unwrap().submit(bundle("EX-1")).await;
    assert!(matches!(outcome, Outcome::Transient { .. }), "{outcome:?}");
}

mod doctor_checks {
    use super::*;
    use crate::rnds::doctor::{names, CheckStatus};

    async fn doctor(path: &std::path::Path) -> (DoctorReport, String) {
        let mut out = Vec::new();
        let report = run_doctor(path, &mut out).await;
        (report, String::from_utf8(out).unwrap())
    }

    #[tokio::test]
    async fn passes_against_a_healthy_rnds() {
        let s = setup(Duration::from_secs(1800)).await;
        let (report, out) = doctor(&s.config_file(&s.pfx, PASSWORD, "")).await;
        assert_eq!(report.exit_code(), 0, "{out}");
        assert_eq!(
            out.lines().filter(|l| l.starts_with('✓')).count(),
            8,
            "{out}"
        );
        assert!(out.contains("CNPJ 12345678000195"), "{out}");
        assert!(out.contains("Organization/1234567 existe"), "{out}");
        assert!(!out.contains(PASSWORD), "{out}");
        assert!(!out.contains("tok-"), "the token never shows: {out}");
        assert!(
            s.mock.with(|st| st.documents.is_empty()),
            "the probe stored nothing"
        );
    }

    #[tokio::test]
    async fn wrong_password_fails_the_certificate_check() {
        let s = setup(Duration::from_secs(1800)).await;
        let (report, out) = doctor(&s.config_file(&s.pfx, "errada", "")).await;
        assert_eq!(report.exit_code(), 3, "{out}");
        let check = report.check(names::CERTIFICATE).unwrap();
        assert_eq!(check.status, CheckStatus::ConfigurationProblem);
        assert!(out.contains("✗ certificado: senha incorreta"), "{out}");
        assert_eq!(
            report.check(names::TOKEN).unwrap().status,
            CheckStatus::NotVerified
        );
    }

    #[tokio::test]
    async fn expired_certificate_fails_with_its_dates() {
        let s = setup(Duration::from_secs(1800)).await;
        let old = pki(&s.pki.dir, "vencido", Some((2018, 2020)));
        let expired = pfx(&old, Encoding::Legacy);
        let (report, out) = doctor(&s.config_file(&expired, PASSWORD, "")).await;
        assert_eq!(report.exit_code(), 3, "{out}");
        assert!(out.contains("expirou em 01/01/2020"), "{out}");
    }

    #[tokio::test]
    async fn wrong_requester_id_fails_the_probe() {
        let s = setup(Duration::from_secs(1800)).await;
        s.mock.with(|st| st.requester_id = "55555".into());
        let (report, out) = doctor(&s.config_file(&s.pfx, PASSWORD, "")).await;
        assert_eq!(report.exit_code(), 3, "{out}");
        let check = report.check(names::REQUESTER).unwrap();
        assert_eq!(check.status, CheckStatus::ConfigurationProblem, "{out}");
        assert!(check.detail.contains("EHR-ERR881"), "{out}");
        assert!(check.detail.contains("requester_id"), "{out}");
    }

    #[tokio::test]
    async fn unlinked_professional_fails_the_link_check() {
        let s = setup(Duration::from_secs(1800)).await;
        s.mock.with(|st| st.linked_cns = "700000000000005".into());
        let (report, out) = doctor(&s.config_file(&s.pfx, PASSWORD, "")).await;
        assert_eq!(report.exit_code(), 3, "{out}");
        let check = report.check(names::LINK).unwrap();
        assert_eq!(check.status, CheckStatus::ConfigurationProblem, "{out}");
        assert!(check.detail.contains("não tem vínculo"), "{out}");
    }

    #[tokio::test]
    async fn unreachable_rnds_exits_4() {
        let s = setup(Duration::from_secs(1800)).await;
        let path = s.config_file(&s.pfx, PASSWORD, "");
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace(&s.mock.base_url, "https://127.0.0.1:9");
        std::fs::write(&path, text).unwrap();
        let (report, out) = doctor(&path).await;
        assert_eq!(report.exit_code(), 4, "{out}");
        assert!(out.contains("✗ token"), "{out}");
        assert!(out.contains("firewall"), "{out}");
    }

    #[tokio::test]
    async fn unreadable_configuration_exits_3() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rnds-drop.toml");
        std::fs::write(&path, "[lab]\ncnes = 12\n").unwrap();
        let (report, out) = doctor(&path).await;
        assert_eq!(report.exit_code(), 3, "{out}");
        assert!(out.starts_with("✗ configuração"), "{out}");
    }
}

#[test]
fn client_is_shareable_across_tasks() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    shareable::<Client>();
}
