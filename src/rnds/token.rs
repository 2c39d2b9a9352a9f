//! The access token's life cycle: obtained with `GET <auth>/api/token` over
//! mutual TLS, reused for its whole life, refreshed a minute before it
//! expires (the server allows zero clock skew), and refreshed by one task at
//! a time however many requests wait: the write lock is held while fetching,
//! so waiters find the new token (or the fetch's error) when they get in.
//!
//! Invariant: the token's value never reaches a log or a message; this
//! module knows nothing of bundles or lookups; it reads the time only
//! through its [`Clock`], so tests move time forward instead of sleeping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::RwLock;
use tokio::time::Instant;

use super::outcome::{diagnostics, transport_failure, TransportFailure};
use super::tls::LiveIdentity;
use super::ClientError;

/// Refresh this long before expiry (capped at half the lifetime, so very
/// short-lived tokens, as in tests, are still reused).
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// "Now" for the token cache: the monotonic clock, plus however far a test
/// moved it forward (always zero in production, where nothing can move it).
#[derive(Clone, Default)]
pub(crate) struct Clock {
    ahead_ms: Arc<AtomicU64>,
}

impl Clock {
    fn now(&self) -> Instant {
        Instant::now() + Duration::from_millis(self.ahead_ms.load(Ordering::Relaxed))
    }

    /// Moves this clock (and every cache sharing it) `by` into the future.
    #[cfg(test)]
    pub(crate) fn advance(&self, by: Duration) {
        let by_ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.ahead_ms.fetch_add(by_ms, Ordering::Relaxed);
    }

    /// What this clock reads, as a `std` instant (for a test server's expiry).
    #[cfg(test)]
    pub(crate) fn now_std(&self) -> std::time::Instant {
        self.now().into_std()
    }
}

#[derive(Clone)]
struct Token {
    value: Arc<str>,
    refresh_at: Instant,
}

pub(crate) struct TokenCache {
    /// A client that keeps no connection: each token request's handshake
    /// presents the identity in use at that moment.
    http: reqwest::Client,
    identity: Arc<LiveIdentity>,
    url: String,
    /// The client's TLS configuration, for the handshake probe of a
    /// connection that broke (`handshake.rs`), and its time limit.
    probe_tls: Arc<rustls::ClientConfig>,
    probe_timeout: Duration,
    current: RwLock<Slot>,
    fetches: AtomicU64,
    clock: Clock,
}

#[derive(Default)]
struct Slot {
    token: Option<Token>,
    /// The last failed fetch: tasks that were already waiting when it
    /// failed share its error instead of each trying again in turn.
    failure: Option<(Instant, ClientError)>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    /// Milliseconds, per the contract (1 800 000 = 30 minutes).
    expires_in: u64,
}

impl TokenCache {
    pub(super) fn new(
        http: reqwest::Client,
        identity: Arc<LiveIdentity>,
        url: String,
        clock: Clock,
        probe_tls: Arc<rustls::ClientConfig>,
        probe_timeout: Duration,
    ) -> TokenCache {
        TokenCache {
            http,
            identity,
            url,
            probe_tls,
            probe_timeout,
            current: RwLock::new(Slot::default()),
            fetches: AtomicU64::new(0),
            clock,
        }
    }

    /// A token valid for at least the refresh margin.
    pub(super) async fn get(&self) -> Result<Arc<str>, ClientError> {
        let arrived = self.clock.now();
        if let Some(token) = self.current.read().await.token.as_ref() {
            if arrived < token.refresh_at {
                return Ok(token.value.clone());
            }
        }
        let mut slot = self.current.write().await;
        // Another task may have refreshed, or failed to, while this one waited.
        if let Some(token) = slot.token.as_ref() {
            if self.clock.now() < token.refresh_at {
                return Ok(token.value.clone());
            }
        }
        if let Some((failed_at, error)) = &slot.failure {
            if *failed_at >= arrived {
                return Err(error.clone());
            }
        }
        match self.fetch().await {
            Ok((token, _)) => {
                let value = token.value.clone();
                *slot = Slot {
                    token: Some(token),
                    failure: None,
                };
                Ok(value)
            }
            Err(error) => {
                slot.failure = Some((self.clock.now(), error.clone()));
                Err(error)
            }
        }
    }

    /// Drops `stale` (refused by RNDS) unless another task already replaced it.
    pub(super) async fn invalidate(&self, stale: &Arc<str>) {
        let mut slot = self.current.write().await;
        if slot.token.as_ref().is_some_and(|t| t.value == *stale) {
            slot.token = None;
        }
    }

    /// Fetches a fresh token now (doctor) and returns its lifetime.
    pub(super) async fn refresh_now(&self) -> Result<Duration, ClientError> {
        let mut slot = self.current.write().await;
        let (token, lifetime) = self.fetch().await?;
        *slot = Slot {
            token: Some(token),
            failure: None,
        };
        Ok(lifetime)
    }

    /// Whether the last fetch failed because the lab's token (A3) could
    /// not sign, not because RNDS was unreachable.
    pub(super) fn failed_on_lab_token(&self) -> bool {
        self.identity.token_trouble()
    }

    /// How many tokens were fetched so far (tests, diagnostics).
    pub(super) fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The token request failed before an answer. A connection that broke
    /// after it was set up may be the server refusing the certificate
    /// (TLS 1.3): a bare handshake tells, so the same certificate always
    /// gets the same answer.
    async fn request_failed(&self, error: &reqwest::Error) -> ClientError {
        // The token (A3) could not sign our side of the handshake: its own
        // words (unplugged: retry later; PIN refused: configuration).
        if let Some(signing) = self.identity.take_signing_failure() {
            return signing;
        }
        let refused =
            |m: String| ClientError::Config(format!("serviço de token {}: {m}", self.url));
        match transport_failure(error) {
            TransportFailure::Certificate(m) => refused(m),
            TransportFailure::Invalid(m) => ClientError::Config(format!(
                "endereço do serviço de token inválido ({m}); confira auth_url (https://)"
            )),
            TransportFailure::AfterSending(m) => {
                match super::handshake::certificate_refusal(
                    self.probe_tls.clone(),
                    &self.url,
                    self.probe_timeout,
                )
                .await
                {
                    Some(words) => refused(words),
                    None => self.unreachable(&m),
                }
            }
            TransportFailure::BeforeSending(m) => self.unreachable(&m),
        }
    }

    fn unreachable(&self, reason: &str) -> ClientError {
        ClientError::Unreachable(format!(
            "não foi possível obter o token em {}: {reason}",
            self.url
        ))
    }

    async fn fetch(&self) -> Result<(Token, Duration), ClientError> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        // A renewed certificate is adopted here, before the handshake.
        self.identity.refresh();
        let asked_at = self.clock.now();
        let answer = match self.http.get(&self.url).send().await {
            Ok(answer) => answer,
            Err(error) => return Err(self.request_failed(&error).await),
        };
        let status = answer.status().as_u16();
        let body = answer.bytes().await.map_err(|e| {
            ClientError::Unreachable(format!(
                "a resposta do token se perdeu: {}",
                super::outcome::transport_reason(&e)
            ))
        })?;
        match status {
            200 => {}
            401 | 403 => {
                return Err(ClientError::Config(format!(
                    "o servidor de autenticação recusou o certificado (HTTP {status}: {}); \
                     confira se é o certificado credenciado no DATASUS para este ambiente",
                    diagnostics(&body)
                )))
            }
            404 | 405 => {
                return Err(ClientError::Config(format!(
                    "{} não é o serviço de token (HTTP {status}); confira auth_url",
                    self.url
                )))
            }
            _ => {
                return Err(ClientError::Unreachable(format!(
                    "o servidor de autenticação respondeu HTTP {status}: {}",
                    diagnostics(&body)
                )))
            }
        }
        let parsed: TokenAnswer = serde_json::from_slice(&body).map_err(|_| {
            ClientError::Unreachable(format!(
                "a resposta de {} não é um token (JSON com access_token e expires_in); \
                     confira auth_url",
                self.url
            ))
        })?;
        self.identity.token_obtained();
        let lifetime = Duration::from_millis(parsed.expires_in);
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        Ok((
            Token {
                value: Arc::from(parsed.access_token),
                // Counted from the request, not the answer: errs on the early side.
                refresh_at: asked_at + lifetime.saturating_sub(margin),
            },
            lifetime,
        ))
    }
}
