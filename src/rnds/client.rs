//! The public [`Client`]: one bundle per `submit`, with the token handled,
//! transient failures retried within `max_retries`, and a bounded number
//! of requests on the wire at once: a gate (`gate.rs`) held per HTTP
//! attempt, not during back-off sleeps, so callers may spawn freely, whose
//! limit adapts between 1 and `max_in_flight` to RNDS' latency and
//! refusals (`concurrency.rs`), or stays at `fixed_in_flight`.
//!
//! Invariant: the client never decides exactly-once on its own: an
//! [`Outcome::Unknown`] is returned, never resent as new; the caller records
//! it and calls [`Client::resolve_unknown`].

use std::sync::Arc;
use std::time::Duration;

use super::concurrency::Limiter;
use super::gate::Gate;
use super::outcome::{
    classify_answer, classify_post_answer, classify_transport, transport_failure, Answer, Verdict,
};
use super::outcome::{diagnostics, lookup_refusal_halts, TransportFailure};
use super::outcome::{pressure_of_answer, pressure_of_failure, Exchange, Pressure};
use super::request::{self, Credentials};
use super::retry::Backoff;
use super::tls::{client_config, LiveIdentity};
use super::token::{Clock, TokenCache};
use super::{CertificateInfo, ClientError, Endpoints, Outcome};
use crate::config::Config;

/// Told about every exchange with RNDS (the service's metrics, health and
/// outage log). Must be cheap: it runs on the request path.
pub trait ExchangeObserver: Send + Sync {
    /// One HTTP exchange; `status` is `None` when no answer came.
    fn exchange(&self, elapsed: Duration, status: Option<u16>);
    /// No exchange was possible: RNDS could not be reached for a token.
    fn unreachable(&self);
}

/// Talks to RNDS. Cheap to clone (an `Arc` inside); `Send + Sync`.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    endpoints: Endpoints,
    tokens: TokenCache,
    credentials: Credentials,
    requester_id: String,
    backoff: Backoff,
    gate: Gate,
    max_in_flight: usize,
    identity: Arc<LiveIdentity>,
    observer: Option<Arc<dyn ExchangeObserver>>,
}

/// What became of a submission whose outcome was [`Outcome::Unknown`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// RNDS holds the document; `rnds_id` is `None` when only a resend's
    /// EHR-ERR866 proved it (the id itself was not learnt).
    Stored {
        /// The id from `Location`, when it was learnt.
        rnds_id: Option<String>,
    },
    /// RNDS does not hold it: send it again as new.
    NotStored,
}

/// A submission with the answer it got, for evidence (`homologacao`).
#[derive(Debug, Clone)]
pub struct Recorded {
    /// How the submission ended.
    pub outcome: Outcome,
    /// HTTP status of the final answer; `None` when none came.
    pub status: Option<u16>,
    /// Its body (an OperationOutcome for a refusal).
    pub body: Vec<u8>,
}

/// One HTTP exchange that ended in an answer worth reading.
struct Answered {
    status: u16,
    body: Vec<u8>,
    outcome: Outcome,
}

/// Where a driven request ended: an answer, or an outcome without one.
enum Driven {
    Answer(Answered),
    Stop(Outcome),
}

enum Attempt {
    Answered {
        status: u16,
        location: Option<String>,
        retry_after: Option<String>,
        body: Vec<u8>,
    },
    Failed(TransportFailure),
}

fn http_client(
    tls: rustls::ClientConfig,
    timeout: Duration,
    max_idle: usize,
) -> Result<reqwest::Client, ClientError> {
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .https_only(true)
        // A redirect is never followed: a 302 would turn the POST into
        // a GET whose 200 looks like success, and a 307 would re-post
        // the bundle and the bearer token to whatever host it names.
        // `outcome` classifies the 3xx itself.
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .pool_max_idle_per_host(max_idle)
        .user_agent(concat!("rnds-drop/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| {
            ClientError::Config(format!(
                "não foi possível criar o cliente HTTPS ({}); confira [rnds] extra_ca e o \
                 certificado",
                super::outcome::transport_reason(&e)
            ))
        })
}

impl Client {
    /// Loads the certificate and builds the TLS client; no network yet.
    pub fn new(config: &Config) -> Result<Client, ClientError> {
        Client::observed(config, None)
    }

    /// As [`Client::new`], telling `observer` about every exchange.
    pub(crate) fn observed(
        config: &Config,
        observer: Option<Arc<dyn ExchangeObserver>>,
    ) -> Result<Client, ClientError> {
        Client::build(config, observer, Clock::default())
    }

    /// As [`Client::new`], with the token cache reading `clock` (tests move
    /// it forward to expire tokens without sleeping).
    #[cfg(test)]
    pub(crate) fn with_clock(config: &Config, clock: Clock) -> Result<Client, ClientError> {
        Client::build(config, None, clock)
    }

    fn build(
        config: &Config,
        observer: Option<Arc<dyn ExchangeObserver>>,
        clock: Clock,
    ) -> Result<Client, ClientError> {
        let identity = LiveIdentity::load(&config.rnds)?;
        let tls = client_config(identity.clone(), config.rnds.extra_ca.as_deref())?;
        let timeout = Duration::from_secs(config.rnds.timeout_s.max(1));
        let probe_tls = Arc::new(tls.clone());
        let http = http_client(tls.clone(), timeout, config.rnds.in_flight_ceiling())?;
        // Each token request opens its own connection and resumes no
        // earlier session, so its full handshake presents the identity in
        // use now (a renewed certificate, a token's signature): one
        // handshake per ~30 minutes.
        let mut token_tls = tls;
        token_tls.resumption = rustls::client::Resumption::disabled();
        let token_http = http_client(token_tls, timeout, 0)?;
        let endpoints = Endpoints::resolve(&config.rnds, &config.lab.uf);
        let tokens = TokenCache::new(
            token_http,
            identity.clone(),
            endpoints.token_url(),
            clock,
            probe_tls,
            timeout.min(Duration::from_secs(10)),
        );
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                endpoints,
                tokens,
                credentials: Credentials {
                    requester_cns: config.lab.requester_cns.clone(),
                },
                requester_id: config.lab.requester_id.clone(),
                backoff: Backoff::from_config(&config.rnds),
                gate: Gate::new(match config.rnds.fixed_in_flight {
                    Some(n) => Limiter::fixed(n),
                    None => Limiter::adaptive(config.rnds.max_in_flight),
                }),
                max_in_flight: config.rnds.in_flight_ceiling(),
                identity,
                observer,
            }),
        })
    }

    /// The most requests ever in flight at once (the adaptive ceiling or
    /// the fixed number): callers size their own task bounds by it.
    pub(crate) fn max_in_flight(&self) -> usize {
        self.inner.max_in_flight
    }

    /// Requests allowed in flight now (`/metrics`).
    pub(crate) fn concurrency_limit(&self) -> usize {
        self.inner.gate.limit()
    }

    /// Requests in flight now (`/metrics`).
    pub(crate) fn requests_in_flight(&self) -> usize {
        self.inner.gate.in_flight()
    }

    pub(crate) fn endpoints(&self) -> &Endpoints {
        &self.inner.endpoints
    }

    /// The certificate in use (a renewed one from its first token on).
    pub(crate) fn certificate(&self) -> CertificateInfo {
        self.inner.identity.info()
    }

    /// What the service records for `status` (which runs without the
    /// password or PIN): the certificate in use and, while a renewed one
    /// could not be used, why.
    pub(crate) fn certificate_record(&self) -> String {
        let mut record: serde_json::Value =
            serde_json::from_str(&self.certificate().public_part_json()).unwrap_or_default();
        if let (Some(fields), Some(problem)) =
            (record.as_object_mut(), self.certificate_renewal_problem())
        {
            fields.insert("renewal_problem".into(), problem.into());
        }
        record.to_string()
    }

    /// Why a renewed certificate is not in use, while that lasts (pt-BR).
    pub(crate) fn certificate_renewal_problem(&self) -> Option<String> {
        self.inner.identity.renewal_problem()
    }

    /// What lab IT should act on soon (pt-BR): the certificate expiring
    /// within 30 days of `now`, a renewed certificate that could not be
    /// used, certificate or password files other accounts can read.
    /// `doctor` prints them; `run` logs them daily.
    pub(crate) fn warnings(&self, now: chrono::DateTime<chrono::Utc>) -> Vec<String> {
        let identity = &self.inner.identity;
        let mut warnings: Vec<String> = identity.info().expiry_warning(now).into_iter().collect();
        warnings.extend(identity.renewal_problem());
        warnings.extend(identity.file_warnings());
        warnings
    }

    /// Tokens fetched so far (for tests and the service's status line).
    pub(crate) fn tokens_fetched(&self) -> u64 {
        self.inner.tokens.fetches()
    }

    /// One bundle `POST`, with the token handled and transient failures
    /// retried within `max_retries`. See `outcome.rs` for the classes.
    pub async fn submit(&self, bundle_json: Vec<u8>) -> Outcome {
        // The answer's body is read either way (the outcome is decided from
        // it); the evidence caller keeps it, this one drops it.
        self.submit_recorded(bundle_json).await.outcome
    }

    /// One bundle `POST` as [`Client::submit`], keeping the final answer's
    /// status and body (homologation evidence).
    pub(crate) async fn submit_recorded(&self, bundle_json: Vec<u8>) -> Recorded {
        let inner = &self.inner;
        let driven = self
            .drive(false, |token| {
                request::bundle_post(
                    &inner.http,
                    &inner.endpoints,
                    token,
                    &inner.credentials,
                    bundle_json.clone(),
                )
            })
            .await;
        match driven {
            Driven::Answer(a) => Recorded {
                outcome: a.outcome,
                status: Some(a.status),
                body: a.body,
            },
            Driven::Stop(outcome) => Recorded {
                outcome,
                status: None,
                body: Vec::new(),
            },
        }
    }

    /// The current RNDS id of the document with this lab identifier, via
    /// `identifier?system=…BRRNDS-<requester id>&value=<lab id>`; `Ok(None)`
    /// when the search found nothing, an error when the lookup is unavailable.
    pub(crate) async fn find_document(&self, lab_id: &str) -> Result<Option<String>, ClientError> {
        let url = request::identifier_url(&self.inner.endpoints, &self.inner.requester_id, lab_id)
            .map_err(ClientError::Config)?;
        // A search answers 200 with an empty searchset when nothing matches;
        // a 404 means this RNDS does not offer the lookup at all.
        // The lookup is unconfirmed for lab results (CONTRACT.md:134-136):
        // only a refused credential stops the service, not a refused search.
        let Some(body) = self.lookup(url, lookup_refusal_halts).await? else {
            return Err(ClientError::Answer {
                status: 404,
                message: "esta RNDS não oferece a consulta por identificador".into(),
            });
        };
        current_document_id(&body).ok_or_else(|| ClientError::Answer {
            status: 200,
            message: "resposta da consulta por identificador sem o formato esperado".into(),
        })
    }

    /// Whether `Organization/<cnes>` exists; its `name` when it does.
    pub(crate) async fn organization(&self, cnes: &str) -> Result<Option<String>, ClientError> {
        let url =
            request::organization_url(&self.inner.endpoints, cnes).map_err(ClientError::Config)?;
        Ok(self.lookup(url, always).await?.map(|body| {
            serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("name")?.as_str().map(str::to_string))
                .unwrap_or_default()
        }))
    }

    /// Whether the professional `cns` holds a role at `cnes`.
    pub(crate) async fn practitioner_role(
        &self,
        cns: &str,
        cnes: &str,
    ) -> Result<bool, ClientError> {
        let url = request::practitioner_role_url(&self.inner.endpoints, cns, cnes)
            .map_err(ClientError::Config)?;
        Ok(self
            .lookup(url, always)
            .await?
            .is_some_and(|body| search_has_entries(&body)))
    }

    /// Fetches a fresh token now and returns its lifetime (the value stays
    /// inside the client).
    pub(crate) async fn token(&self) -> Result<Duration, ClientError> {
        self.inner.tokens.refresh_now().await
    }

    /// Settles an [`Outcome::Unknown`]. First the identifier lookup: a
    /// current id different from `previous_rnds_id` (the id this bundle
    /// replaces, if any) means stored. When the lookup is unavailable,
    /// resends `bundle_json`: `Accepted` means it is stored now, EHR-ERR866
    /// means the lost attempt was stored (id unknown). The resend fallback is
    /// only sound for a first send, so it is not used for a replacement.
    pub(crate) async fn resolve_unknown(
        &self,
        lab_id: &str,
        previous_rnds_id: Option<&str>,
        bundle_json: Vec<u8>,
    ) -> Result<Resolution, ClientError> {
        match self.find_document(lab_id).await {
            Ok(Some(current)) if Some(current.as_str()) != previous_rnds_id => {
                return Ok(Resolution::Stored {
                    rnds_id: Some(current),
                })
            }
            // A replaced document cannot vanish: "not found" is no proof.
            Ok(None) if previous_rnds_id.is_some() => {
                return Err(ClientError::Answer {
                    status: 200,
                    message: "a consulta não encontrou o documento substituído".into(),
                })
            }
            Ok(_) => return Ok(Resolution::NotStored),
            Err(ClientError::Config(m)) => return Err(ClientError::Config(m)),
            Err(lookup_error) if previous_rnds_id.is_some() => return Err(lookup_error),
            Err(lookup_error) => {
                tracing::info!("consulta por identificador indisponível ({lookup_error}); reenviando para confirmar");
            }
        }
        match self.submit(bundle_json).await {
            Outcome::Accepted { rnds_id } => Ok(Resolution::Stored {
                rnds_id: Some(rnds_id),
            }),
            Outcome::DuplicateIdentifier { .. } => Ok(Resolution::Stored { rnds_id: None }),
            other => Err(outcome_error(other)),
        }
    }

    /// Posts a document bundle with this requester's identifier system and
    /// no entries: it can never be stored. The simulator (and, as far as the
    /// contract tells, RNDS) checks the requester (EHR-ERR881) before the
    /// content, so `Rejected` means the requester id was not refused.
    pub(crate) async fn probe_requester(&self) -> Outcome {
        let probe = serde_json::json!({
            "resourceType": "Bundle",
            "type": "document",
            "identifier": {
                "system": request::requester_system(&self.inner.requester_id),
                "value": format!("rnds-drop-doctor-{}", uuid::Uuid::new_v4()),
            },
            "entry": [],
        });
        self.submit(probe.to_string().into_bytes()).await
    }

    /// A GET lookup: `Some(body)` for 2xx, `None` for 404. An answer
    /// classified as a configuration error is [`ClientError::Config`] when
    /// `halts(status, body)`, else [`ClientError::Answer`] (the lookup is
    /// unavailable, the service is not misconfigured).
    async fn lookup(
        &self,
        url: reqwest::Url,
        halts: fn(u16, &[u8]) -> bool,
    ) -> Result<Option<Vec<u8>>, ClientError> {
        let inner = &self.inner;
        let driven = self
            .drive(true, |token| {
                request::lookup_get(&inner.http, url.clone(), token, &inner.credentials)
            })
            .await;
        match driven {
            Driven::Answer(Answered { status, body, .. }) if (200..300).contains(&status) => {
                Ok(Some(body))
            }
            Driven::Answer(Answered { status: 404, .. }) => Ok(None),
            Driven::Answer(Answered {
                status,
                body,
                outcome,
            }) => Err(match outcome {
                Outcome::ConfigurationError { message } if halts(status, &body) => {
                    ClientError::Config(message)
                }
                _ => ClientError::Answer {
                    status,
                    message: diagnostics(&body),
                },
            }),
            Driven::Stop(outcome) => Err(outcome_error(outcome)),
        }
    }

    /// Runs one logical request through the token, at most one refresh on
    /// EHR-ERR882, and bounded back-off on transient failures. `idempotent`
    /// requests (GETs) also retry when the answer was lost after sending.
    async fn drive(
        &self,
        idempotent: bool,
        make: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Driven {
        let inner = &self.inner;
        // Only a bundle POST is not idempotent (see `submit_recorded`).
        let kind = if idempotent {
            Exchange::Lookup
        } else {
            Exchange::BundlePost
        };
        let mut refreshed = false;
        let mut retries = 0u32;
        loop {
            let (message, retry_after) = match inner.tokens.get().await {
                Err(ClientError::Config(message)) => {
                    return Driven::Stop(Outcome::ConfigurationError { message })
                }
                Err(other) => {
                    // A lab token (A3) that could not sign is not RNDS
                    // being down: the identity logs that itself.
                    if let (ClientError::Unreachable(_), Some(o)) = (&other, &inner.observer) {
                        if !inner.tokens.failed_on_lab_token() {
                            o.unreachable();
                        }
                    }
                    (other.to_string(), None)
                }
                Ok(token) => {
                    let verdict = match self.attempt(kind, make(&token)).await {
                        Attempt::Failed(TransportFailure::AfterSending(m)) if idempotent => {
                            classify_transport(TransportFailure::BeforeSending(m))
                        }
                        Attempt::Failed(failure) => classify_transport(failure),
                        Attempt::Answered {
                            status,
                            location,
                            retry_after,
                            body,
                        } => {
                            let answer = Answer {
                                status,
                                location: location.as_deref(),
                                retry_after: retry_after.as_deref(),
                                body: &body,
                            };
                            let classify = if idempotent {
                                classify_answer
                            } else {
                                classify_post_answer
                            };
                            match classify(&answer, chrono::Utc::now()) {
                                Verdict::Final(outcome) => {
                                    return Driven::Answer(Answered {
                                        status,
                                        body,
                                        outcome,
                                    })
                                }
                                other => other,
                            }
                        }
                    };
                    match verdict {
                        Verdict::Final(outcome) => return Driven::Stop(outcome),
                        Verdict::RefreshToken { message } if refreshed => {
                            return Driven::Stop(Outcome::ConfigurationError {
                                message: format!(
                                    "token recusado mesmo após renovação ({message}); confira o \
                                     relógio deste computador e o certificado"
                                ),
                            })
                        }
                        Verdict::RefreshToken { .. } => {
                            refreshed = true;
                            inner.tokens.invalidate(&token).await;
                            continue;
                        }
                        Verdict::Retry {
                            message,
                            retry_after,
                        } => (message, retry_after),
                    }
                }
            };
            let Some(delay) = inner.backoff.next_delay(retries, retry_after) else {
                return Driven::Stop(Outcome::Transient {
                    message: format!(
                        "{message} (após {} tentativas)",
                        inner.backoff.max_retries + 1
                    ),
                });
            };
            retries += 1;
            tracing::debug!(
                retry = retries,
                delay_ms = delay.as_millis() as u64,
                "{message}"
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// One HTTP exchange under the in-flight gate; what it said about
    /// RNDS' load goes back to the gate's limiter.
    async fn attempt(&self, kind: Exchange, request: reqwest::RequestBuilder) -> Attempt {
        let permit = self.inner.gate.acquire().await;
        let (attempt, pressure) = self.exchange(kind, request).await;
        permit.finish(pressure);
        attempt
    }

    async fn exchange(
        &self,
        kind: Exchange,
        request: reqwest::RequestBuilder,
    ) -> (Attempt, Pressure) {
        let started = std::time::Instant::now();
        let sent = request.send().await;
        if let Some(observer) = &self.inner.observer {
            let status = sent.as_ref().ok().map(|r| r.status().as_u16());
            observer.exchange(started.elapsed(), status);
        }
        let response = match sent {
            Ok(response) => response,
            Err(e) => {
                let failure = transport_failure(&e);
                let pressure = pressure_of_failure(&failure);
                return (Attempt::Failed(failure), pressure);
            }
        };
        let header = |name: reqwest::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let status = response.status().as_u16();
        let location =
            header(reqwest::header::LOCATION).or_else(|| header(reqwest::header::CONTENT_LOCATION));
        let retry_after = header(reqwest::header::RETRY_AFTER);
        match read_capped(response).await {
            Ok(body) => {
                let pressure = pressure_of_answer(kind, status, &body);
                let attempt = Attempt::Answered {
                    status,
                    location,
                    retry_after,
                    body,
                };
                (attempt, pressure)
            }
            Err(reason) => {
                let failure = TransportFailure::AfterSending(format!(
                    "HTTP {status}, corpo da resposta perdido: {reason}"
                ));
                let pressure = pressure_of_failure(&failure);
                (Attempt::Failed(failure), pressure)
            }
        }
    }
}

/// The most of an answer body kept: RNDS answers are small JSON documents;
/// a proxy's endless page must not fill the memory.
pub(crate) const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Reads at most [`MAX_ANSWER_BYTES`]; the rest is dropped unread (the
/// status and headers already say what happened).
pub(crate) async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_ANSWER_BYTES - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= MAX_ANSWER_BYTES {
                    return Ok(body);
                }
            }
            Ok(None) => return Ok(body),
            Err(e) => return Err(super::outcome::transport_reason(&e)),
        }
    }
}

/// For the doctor's lookups: every configuration verdict is one.
fn always(_status: u16, _body: &[u8]) -> bool {
    true
}

/// An outcome that ends a lookup or a resolution without an answer to use.
fn outcome_error(outcome: Outcome) -> ClientError {
    match outcome {
        Outcome::ConfigurationError { message } => ClientError::Config(message),
        Outcome::Rejected { message } => ClientError::Refused(message),
        Outcome::Transient { message } | Outcome::Unknown { message } => {
            ClientError::Unreachable(message)
        }
        Outcome::Accepted { rnds_id } => {
            ClientError::Refused(format!("resposta inesperada: documento {rnds_id} aceito"))
        }
        Outcome::DuplicateIdentifier { code } => ClientError::Refused(format!(
            "resposta inesperada: identificador duplicado ({code})"
        )),
    }
}

/// The id in an identifier lookup's answer: `Some(None)` for an empty
/// searchset, `Some(Some(id))` for a searchset's last entry (the most recent
/// version) or the resource itself, `None` when the body is neither (a
/// proxy's HTML page is no proof that nothing was stored).
fn current_document_id(body: &[u8]) -> Option<Option<String>> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    if value.get("type").and_then(|t| t.as_str()) == Some("searchset") {
        let Some(entries) = value.get("entry").and_then(|e| e.as_array()) else {
            return Some(None);
        };
        if entries.is_empty() {
            return Some(None);
        }
        return entries.iter().rev().find_map(|entry| {
            entry
                .pointer("/resource/id")
                .and_then(|id| id.as_str())
                .filter(|id| super::outcome::is_rnds_id(id))
                .map(str::to_string)
                .or_else(|| {
                    entry
                        .get("fullUrl")
                        .and_then(|u| u.as_str())
                        .and_then(super::outcome::id_from_location)
                })
                .map(Some)
        });
    }
    value
        .get("id")?
        .as_str()
        .filter(|id| super::outcome::is_rnds_id(id))
        .map(|id| Some(id.to_string()))
}

fn search_has_entries(body: &[u8]) -> bool {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    let total = value
        .get("total")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    let entries = value
        .get("entry")
        .and_then(|e| e.as_array())
        .map_or(0, std::vec::Vec::len);
    total > 0 || entries > 0
}

#[cfg(test)]
mod lookup_body_tests {
    use super::{current_document_id, read_capped, MAX_ANSWER_BYTES};

    /// A proxy's endless page costs at most 1 MiB of memory.
    #[tokio::test]
    async fn an_answer_body_is_read_up_to_the_cap() {
        let huge = hyper::Response::new(vec![b'x'; 3 * MAX_ANSWER_BYTES]);
        let body = read_capped(reqwest::Response::from(huge)).await.unwrap();
        assert_eq!(body.len(), MAX_ANSWER_BYTES);
        let small = hyper::Response::new(b"{}".to_vec());
        assert_eq!(
            read_capped(reqwest::Response::from(small)).await.unwrap(),
            b"{}"
        );
    }

    #[test]
    fn only_a_well_formed_answer_says_anything_about_the_document() {
        let empty = br#"{"resourceType":"Bundle","type":"searchset","total":0}"#;
        assert_eq!(current_document_id(empty), Some(None));
        let found = br#"{"resourceType":"Bundle","type":"searchset","entry":[
            {"resource":{"id":"old-r1"}},{"resource":{"id":"new-r2"}}]}"#;
        assert_eq!(current_document_id(found), Some(Some("new-r2".into())));
        // A proxy's page is not "nothing stored".
        assert_eq!(current_document_id(b"<html>Gateway</html>"), None);
        assert_eq!(current_document_id(br#"{"resourceType":"Bundle"}"#), None);
    }
}
