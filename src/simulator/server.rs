//! The listener: TLS that asks for a client certificate from the test CA
//! (required by the token handler only, as RNDS uses mutual TLS for the
//! token alone),
//! HTTP/1.1 and HTTP/2 on each connection, a per-connection kill switch
//! (for lost answers) and outages (listener dropped, live connections
//! closed, same port bound again later).
//!
//! Invariant: transport only; what a request means is `handlers`' business.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Notify};
use tokio_rustls::TlsAcceptor;

use super::pki::ServerCredentials;
use super::store::Store;
use super::{Faults, LabIdentity, SimError, StoredDocument};

pub(super) enum Command {
    Outage(Duration),
    Shutdown,
}

/// Requests answered, by HTTP status and by RNDS error code.
#[derive(Debug, Default, serde::Serialize)]
pub(super) struct Stats {
    pub requests: u64,
    /// Requests received, by HTTP method (`doctor` in production: no POST).
    pub by_method: BTreeMap<String, u64>,
    pub by_status: BTreeMap<String, u64>,
    pub by_error_code: BTreeMap<String, u64>,
}

/// State every connection shares.
pub(super) struct Shared {
    pub identity: LabIdentity,
    faults: Mutex<Faults>,
    pub token_lifetime: Duration,
    tokens: Mutex<HashMap<String, Instant>>,
    store: Mutex<Store>,
    stats: Mutex<Stats>,
    rng: AtomicU64,
    outage_until: Mutex<Option<Instant>>,
    /// Bumped to close every live connection (outage, shutdown).
    epoch: watch::Sender<u64>,
}

/// A poisoned lock only means another request panicked mid-update; the
/// simulator keeps serving with what is there.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    pub(super) fn new(
        identity: LabIdentity,
        faults: Faults,
        token_lifetime: Duration,
        store: Store,
    ) -> Shared {
        let seed = u64::from_le_bytes(
            uuid::Uuid::new_v4().as_bytes()[..8]
                .try_into()
                .unwrap_or([7; 8]),
        );
        Shared {
            identity,
            faults: Mutex::new(faults),
            token_lifetime,
            tokens: Mutex::new(HashMap::new()),
            store: Mutex::new(store),
            stats: Mutex::new(Stats::default()),
            rng: AtomicU64::new(seed),
            outage_until: Mutex::new(None),
            epoch: watch::channel(0).0,
        }
    }

    pub(super) fn faults(&self) -> Faults {
        lock(&self.faults).clone()
    }

    #[cfg(test)]
    pub(super) fn set_faults(&self, faults: Faults) {
        *lock(&self.faults) = faults;
    }

    pub(super) fn begin_outage(&self, until: Instant) {
        *lock(&self.outage_until) = Some(until);
        self.epoch.send_modify(|e| *e += 1);
    }

    fn in_outage(&self) -> bool {
        lock(&self.outage_until).is_some_and(|until| Instant::now() < until)
    }

    /// A uniform random number in `0..1` (splitmix64; no crypto needed).
    pub(super) fn random(&self) -> f64 {
        let mut z = self
            .rng
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Issues a token valid for the configured lifetime.
    pub(super) fn issue_token(&self) -> String {
        let token = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let now = Instant::now();
        let mut tokens = lock(&self.tokens);
        if tokens.len() > 10_000 {
            tokens.retain(|_, expiry| *expiry > now);
        }
        tokens.insert(token.clone(), now + self.token_lifetime);
        token
    }

    /// Zero clock skew: a token is valid strictly before its expiry.
    pub(super) fn token_is_valid(&self, token: &str) -> bool {
        lock(&self.tokens)
            .get(token)
            .is_some_and(|expiry| Instant::now() < *expiry)
    }

    pub(super) fn with_store<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        f(&mut lock(&self.store))
    }

    pub(super) fn documents(&self) -> Vec<StoredDocument> {
        lock(&self.store).documents()
    }

    pub(super) fn documents_json(&self) -> String {
        lock(&self.store).documents_json()
    }

    pub(super) fn count(&self, status: &str, code: Option<&str>) {
        let mut stats = lock(&self.stats);
        stats.requests += 1;
        *stats.by_status.entry(status.to_string()).or_default() += 1;
        if let Some(code) = code {
            *stats.by_error_code.entry(code.to_string()).or_default() += 1;
        }
    }

    pub(super) fn count_method(&self, method: &hyper::Method) {
        *lock(&self.stats)
            .by_method
            .entry(method.as_str().to_string())
            .or_default() += 1;
    }

    pub(super) fn stats_json(&self) -> serde_json::Value {
        serde_json::to_value(&*lock(&self.stats)).unwrap_or_default()
    }
}

/// TLS that asks for a client certificate chaining to the test CA. A client
/// may send none (RNDS' EHR calls need only the token); a certificate that
/// is sent must chain to the CA. The token handler requires one.
pub(super) fn acceptor(credentials: ServerCredentials) -> Result<TlsAcceptor, SimError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for ca in credentials.ca {
        roots.add(ca)?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| SimError::Credentials(e.to_string()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(credentials.chain, credentials.key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accepts connections until shut down; an outage drops the listener and
/// binds the same address again after its duration.
pub(super) async fn serve(
    listener: TcpListener,
    addr: SocketAddr,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let mut listener = Some(listener);
    loop {
        let Some(current) = listener.as_ref() else {
            return;
        };
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Outage(duration)) => {
                    drop(listener.take());
                    shared.epoch.send_modify(|e| *e += 1);
                    tokio::select! {
                        () = tokio::time::sleep(duration) => {}
                        Some(Command::Shutdown) | None = commands.recv() => return,
                    }
                    listener = rebind(addr).await;
                }
                Some(Command::Shutdown) | None => {
                    shared.epoch.send_modify(|e| *e += 1);
                    return;
                }
            },
            accepted = current.accept() => {
                let Ok((tcp, _peer)) = accepted else { continue };
                if shared.in_outage() {
                    drop(tcp);
                    continue;
                }
                let _ = tcp.set_nodelay(true);
                tokio::spawn(connection(tcp, acceptor.clone(), shared.clone()));
            }
        }
    }
}

/// The port was ours a moment ago; retry briefly while the OS releases it.
async fn rebind(addr: SocketAddr) -> Option<TcpListener> {
    for _ in 0..200 {
        if let Ok(listener) = TcpListener::bind(addr).await {
            return Some(listener);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    None
}

async fn connection(tcp: tokio::net::TcpStream, acceptor: TlsAcceptor, shared: Arc<Shared>) {
    let mut epoch = shared.epoch.subscribe();
    let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp));
    let tls = tokio::select! {
        biased;
        _ = epoch.changed() => return,
        result = handshake => match result {
            Ok(Ok(tls)) => tls,
            _ => return,
        },
    };
    let kill = Arc::new(Notify::new());
    let client_certificate = tls
        .get_ref()
        .1
        .peer_certificates()
        .is_some_and(|chain| !chain.is_empty());
    let service = {
        let kill = kill.clone();
        service_fn(move |request| {
            super::handlers::handle(request, shared.clone(), kill.clone(), client_certificate)
        })
    };
    let builder = auto::Builder::new(TokioExecutor::new());
    let serving = builder.serve_connection(TokioIo::new(tls), service);
    // Biased: a kill or an outage wins over a request that arrives in
    // the same wake-up, so nothing is answered after either.
    tokio::select! {
        biased;
        () = kill.notified() => {}
        _ = epoch.changed() => {}
        _ = serving => {}
    }
}
