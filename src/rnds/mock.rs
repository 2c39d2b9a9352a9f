//! A small scripted RNDS for the client's own tests (TLS on 127.0.0.1; a
//! client certificate is required on the token call only, as on RNDS,
//! CONTRACT.md:37-43, token with a chosen lifetime, bundles stored by identifier,
//! lookups, and a queue of faults: a status with `Retry-After`, or an answer
//! lost after the bundle was stored). The full simulator lives in
//! `crate::simulator`; this one lets each test script exact sequences.
//!
//! Invariant: used by tests only; knows the contract, not the client's types.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

use super::testutil::{server_identity, Pki};

/// One scripted answer to the next bundle `POST`.
#[derive(Debug, Clone)]
pub(crate) enum Fault {
    /// Answer with this status (and `Retry-After` seconds) without storing.
    Status(u16, Option<u64>),
    /// Store the bundle, then drop the answer (connection reset/stream error).
    LoseAnswer,
}

pub(crate) struct State {
    pub requester_id: String,
    pub cnes: String,
    pub linked_cns: String,
    pub token_lifetime: Duration,
    /// Decides token expiry; a test shares it with the client's token cache
    /// and moves both forward instead of sleeping.
    pub clock: super::Clock,
    pub tokens_issued: u32,
    valid_tokens: HashMap<String, Instant>,
    pub faults: VecDeque<Fault>,
    /// lab id → RNDS ids in order (the last is current).
    pub documents: BTreeMap<String, Vec<String>>,
    pub bundle_posts: u32,
    pub expired_token_refusals: u32,
    /// Whether `identifier?system=&value=` is served (else 404, like an
    /// RNDS without that lookup).
    pub identifier_lookup: bool,
    /// Whether `identifier?…` is refused with 400 `validation.type.param`
    /// (an RNDS whose lookup does not accept this search).
    pub identifier_lookup_refused: bool,
    /// Added before answering each bundle `POST`.
    pub latency: Duration,
    /// HTTP version of the last request (HTTP/2 is offered by ALPN).
    pub last_version: Option<hyper::Version>,
}

impl State {
    /// Every token issued so far stops being accepted (as after a key
    /// rotation on the server).
    pub(super) fn revoke_tokens(&mut self) {
        self.valid_tokens.clear();
    }

    pub(super) fn new(token_lifetime: Duration) -> State {
        State {
            requester_id: "98765".into(),
            cnes: "1234567".into(),
            linked_cns: "980016287385192".into(),
            token_lifetime,
            clock: super::Clock::default(),
            tokens_issued: 0,
            valid_tokens: HashMap::new(),
            faults: VecDeque::new(),
            documents: BTreeMap::new(),
            bundle_posts: 0,
            expired_token_refusals: 0,
            identifier_lookup: true,
            identifier_lookup_refused: false,
            latency: Duration::ZERO,
            last_version: None,
        }
    }
}

pub(crate) struct Mock {
    pub base_url: String,
    pub state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Mock {
    pub(super) fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }
}

pub(crate) async fn start(pki: &Pki, state: State) -> Mock {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&pki.ca_pem).unwrap())
        .unwrap();
    // A certificate, when presented, must chain to the CA; the token call
    // alone demands one (`handle`).
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .unwrap();
    let (chain, key) = server_identity(pki);
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("https://{}", listener.local_addr().unwrap());
    let state = Arc::new(Mutex::new(state));
    let shared = state.clone();
    let base = base_url.clone();
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, state, base) = (acceptor.clone(), shared.clone(), base.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let certificate = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .is_some_and(|chain| !chain.is_empty());
                let service = hyper::service::service_fn(move |request| {
                    handle(state.clone(), base.clone(), request, certificate)
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    Mock {
        base_url,
        state,
        task,
    }
}

type Answer = Result<Response<Full<Bytes>>, std::io::Error>;

fn json(status: u16, value: serde_json::Value) -> Answer {
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/fhir+json")
        .body(Full::new(Bytes::from(value.to_string())))
        .unwrap())
}

fn operation_outcome(status: u16, text: &str) -> Answer {
    json(
        status,
        serde_json::json!({"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "processing", "diagnostics": text}]}),
    )
}

async fn handle(
    state: Arc<Mutex<State>>,
    base: String,
    request: Request<Incoming>,
    certificate: bool,
) -> Answer {
    let method = request.method().clone();
    let version = request.version();
    // HTTP/2 requests carry an absolute URI; keep only path and query.
    let path_and_query = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let url = reqwest::Url::parse(&format!("https://mock{path_and_query}")).unwrap();
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (token, professional) = (header("x-authorization-server"), header("authorization"));
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
    let path = url.path().to_string();
    let latency = state.lock().unwrap().latency;
    if method == hyper::Method::POST && !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut s = state.lock().unwrap();
    s.last_version = Some(version);
    if path == "/api/token" {
        if method != hyper::Method::GET {
            return operation_outcome(405, "Method Not Allowed");
        }
        if !certificate {
            return operation_outcome(401, "client certificate required");
        }
        s.tokens_issued += 1;
        let value = format!("tok-{}", s.tokens_issued);
        let expiry = s.clock.now_std() + s.token_lifetime;
        s.valid_tokens.insert(value.clone(), expiry);
        return json(
            200,
            serde_json::json!({"access_token": value, "scope": "read write",
                "token_type": "jwt", "expires_in": s.token_lifetime.as_millis() as u64}),
        );
    }
    let token_ok = token
        .strip_prefix("Bearer ")
        .and_then(|t| s.valid_tokens.get(t))
        .is_some_and(|expiry| s.clock.now_std() < *expiry);
    if !token_ok {
        s.expired_token_refusals += 1;
        return operation_outcome(
            401,
            "(EHR-ERR882) Token inválido ou expirado. Allowed clock skew: 0 milliseconds",
        );
    }
    if professional.is_empty() {
        return operation_outcome(422, "(EHR-ERR884) Dados de autenticação inválidos");
    }
    let system = format!(
        "http://www.saude.gov.br/fhir/r4/NamingSystem/BRRNDS-{}",
        s.requester_id
    );
    match (method, path.as_str()) {
        (hyper::Method::POST, "/api/fhir/r4/Bundle") => {
            s.bundle_posts += 1;
            let fault = s.faults.pop_front();
            if let Some(Fault::Status(status, retry_after)) = fault {
                let mut answer = operation_outcome(status, "Serviço indisponível")?;
                if let Some(seconds) = retry_after {
                    answer
                        .headers_mut()
                        .insert("retry-after", seconds.to_string().parse().unwrap());
                }
                return Ok(answer);
            }
            let bundle: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            if bundle
                .pointer("/identifier/system")
                .and_then(|v| v.as_str())
                != Some(&system)
            {
                return operation_outcome(
                    422,
                    "(EHR-ERR881) Não autorizado para o sistema de origem informado",
                );
            }
            if professional != s.linked_cns {
                return operation_outcome(422, "(EHR-ERR906) Profissional sem vínculo");
            }
            let value = bundle
                .pointer("/identifier/value")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string();
            let entries = bundle
                .get("entry")
                .and_then(|e| e.as_array())
                .map_or(0, Vec::len);
            if entries == 0 {
                return operation_outcome(422, "Bundle do tipo document sem entradas");
            }
            if s.documents.contains_key(&value) {
                return operation_outcome(
                    422,
                    "(EHR-ERR866) Identificador já utilizado por outro documento",
                );
            }
            let id = format!("{}-r{}", uuid::Uuid::new_v4(), s.bundle_posts);
            s.documents.insert(value, vec![id.clone()]);
            if matches!(fault, Some(Fault::LoseAnswer)) {
                return Err(std::io::Error::other("answer lost on purpose"));
            }
            let location = format!("{base}/api/fhir/r4/Bundle/{id}");
            Ok(Response::builder()
                .status(201)
                .header("location", &location)
                .header("content-location", &location)
                .body(Full::new(Bytes::new()))
                .unwrap())
        }
        (hyper::Method::GET, "/api/fhir/r4/identifier") if s.identifier_lookup_refused => {
            operation_outcome(
                400,
                "(validation.type.param) Parâmetro de pesquisa inválido",
            )
        }
        (hyper::Method::GET, "/api/fhir/r4/identifier") if s.identifier_lookup => {
            let ids = (query.get("system") == Some(&system))
                .then(|| query.get("value").and_then(|v| s.documents.get(v)))
                .flatten()
                .cloned()
                .unwrap_or_default();
            let entries: Vec<_> = ids
                .iter()
                .map(|id| serde_json::json!({"resource": {"resourceType": "Bundle", "id": id}}))
                .collect();
            json(
                200,
                serde_json::json!({"resourceType": "Bundle", "type": "searchset",
                    "total": entries.len(), "entry": entries}),
            )
        }
        (hyper::Method::GET, p) if p == format!("/api/fhir/r4/Organization/{}", s.cnes) => json(
            200,
            serde_json::json!({"resourceType": "Organization", "id": s.cnes,
                "name": "LAB EXEMPLO ANALISES CLINICAS"}),
        ),
        (hyper::Method::GET, "/api/fhir/r4/PractitionerRole") => {
            let linked = query
                .get("practitioner.identifier")
                .is_some_and(|v| v.ends_with(&format!("|{}", s.linked_cns)))
                && query
                    .get("organization.identifier")
                    .is_some_and(|v| v.ends_with(&format!("|{}", s.cnes)));
            let entries: Vec<serde_json::Value> = if linked {
                vec![serde_json::json!({"resource": {"resourceType": "PractitionerRole"}})]
            } else {
                vec![]
            };
            json(
                200,
                serde_json::json!({"resourceType": "Bundle", "type": "searchset",
                    "total": entries.len(), "entry": entries}),
            )
        }
        _ => operation_outcome(404, "Resource not known"),
    }
}
