//! A local RNDS for tests, the demo and the benchmarks: one HTTPS listener
//! with mutual TLS for the token (a client certificate from its own test
//! CA; EHR calls need only the token, as on RNDS), the token
//! service, bundle submission with the contract's checks and error codes,
//! the lookups, fault injection (latency, 429, 5xx, lost answers, stalls,
//! redirects, outages), a capacity model (`capacity`: workers, a queue,
//! 429 beyond it)
//! and inspection endpoints (`/_sim/documents`, `/_sim/stats`). Documents
//! are kept in its folder, so a restart keeps them. Bundles are checked
//! with [`crate::conformance`] against the profile rules kept as data.
//!
//! Invariant: knows the contract and JSON only; no `fhir::` or `rnds::`
//! types, so a builder or client bug cannot hide behind the same bug here.

mod capacity;
pub mod cli;
mod handlers;
mod lookups;
mod pki;
pub use pki::renewed_lab_pfx;
mod reply;
mod server;
mod shared;
mod store;
mod submit;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How to start a simulator.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Folder for credentials, the config snippet and stored documents.
    pub dir: PathBuf,
    /// Where to listen; `127.0.0.1:0` picks a free port.
    pub listen: SocketAddr,
    /// Faults injected from the start (see [`Faults`]; unit tests change them
    /// later with `Simulator::set_faults`).
    pub faults: Faults,
    /// Lifetime of the tokens `GET /api/token` issues (RNDS: 30 minutes).
    pub token_lifetime: Duration,
    /// How many FHIR requests are served at once and how many may wait;
    /// `None`: every request is served at once (no capacity model).
    pub capacity: Option<ServerCapacity>,
}

/// The capacity model (see `capacity.rs`): `workers` FHIR requests served
/// at once, each for its latency; up to `queue` more wait their turn; any
/// more are answered `429` with `Retry-After`. Latency so grows with load
/// (time in the queue), and throughput stays below `workers / latency`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerCapacity {
    /// Requests served at once (at least 1).
    pub workers: usize,
    /// Requests that may wait for a worker; more are refused with 429.
    pub queue: usize,
}

impl SimOptions {
    /// A simulator on a free loopback port, no faults, 30-minute tokens.
    pub fn new(dir: impl Into<PathBuf>) -> SimOptions {
        SimOptions {
            dir: dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            faults: Faults::default(),
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            capacity: None,
        }
    }
}

pub(crate) const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// Injected faults. Rates are probabilities in `0.0..=1.0`; the default
/// injects nothing. 429 and 5xx answers and lost answers apply to bundle
/// POSTs; latency applies to every `/api/` request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Fixed delay before answering, in milliseconds.
    pub latency_ms: u64,
    /// Extra uniform random delay `0..=jitter_ms`.
    pub jitter_ms: u64,
    /// Share of bundle POSTs answered 500 or 503 (nothing stored).
    pub error_5xx_rate: f64,
    /// Share of bundle POSTs answered 429 with `Retry-After` (nothing stored).
    pub rate_429: f64,
    /// Share of bundle POSTs answered 503 (refused before any work, nothing
    /// stored: a brown-out, retryable without a lookup).
    pub rate_503: f64,
    /// `Retry-After` of the 429 answers, in seconds.
    pub retry_after_s: u64,
    /// Share of accepted bundles whose answer is lost: the document is
    /// stored, then the connection is dropped before the reply.
    pub lost_answer_rate: f64,
    /// A code of `schemas/rnds_errors.toml` (`ERR880`) every bundle POST is
    /// answered with, after authentication. A bundle whose identifier value
    /// is `SIMULAR-<code>` gets that answer without this flag.
    pub answer_code: Option<String>,
    /// Share of bundle POSTs held for `stall_ms` before they are checked
    /// (a client with a shorter time-out gives up; if it stays, the bundle
    /// is then processed as usual).
    pub stall_rate: f64,
    /// How long a stalled POST is held, in milliseconds.
    pub stall_ms: u64,
    /// Share of bundle POSTs answered `302 Found` to `/_sim/redirected`,
    /// which answers `200 {"id":"fake-accepted"}` to a GET: nothing is
    /// stored. A client that follows redirects believes it was accepted.
    pub redirect_rate: f64,
}

/// The files a simulator works with, all inside its folder.
#[derive(Debug, Clone)]
pub struct SimFiles {
    /// The test CA (PEM): trust it as `extra_ca`.
    pub ca_pem: PathBuf,
    /// The test CA's key (PEM, mode 0600): issues renewed lab certificates.
    pub ca_key: PathBuf,
    /// The lab's identity: key, certificate and CA chain in PKCS#12.
    pub lab_pfx: PathBuf,
    /// The PFX password on one line (mode 0600).
    pub lab_pfx_password_file: PathBuf,
    /// A config snippet pointing a lab at this simulator.
    pub config_toml: PathBuf,
    /// Server certificate chain (PEM).
    pub server_cert: PathBuf,
    /// Server private key (PEM, mode 0600).
    pub server_key: PathBuf,
    /// Stored documents, one JSON object per line.
    pub documents: PathBuf,
}

/// Who the simulator's data knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabIdentity {
    /// The lab's CNES.
    pub cnes: String,
    /// The requester id accepted in `BRRNDS-<id>`.
    pub requester_id: String,
    /// A professional's CNS linked to the CNES (`Authorization`).
    pub requester_cns: String,
    /// A valid CNS with no link to the CNES (answers EHR-ERR906).
    pub unlinked_cns: String,
    /// The CNPJ in the lab certificate's subject.
    pub cnpj: String,
}

/// One accepted document, as `/_sim/documents` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredDocument {
    /// `Bundle.identifier.value`.
    pub lab_id: String,
    /// The id the simulator assigned (`<uuid>-<4 chars>`).
    pub rnds_id: String,
    /// The RNDS id this document replaced, if it is a replacement.
    pub replaces: Option<String>,
    /// The Composition's declared profile.
    pub profile: String,
    /// When it was accepted (RFC 3339, UTC).
    pub received_at: String,
    /// The bundle as received.
    pub bundle: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
/// Why the simulator could not start; messages are pt-BR.
pub enum SimError {
    #[error("não foi possível usar {path}: {}", crate::io_text::reason(source))]
    /// A simulator file or folder could not be used.
    Io {
        /// The file or folder.
        path: PathBuf,
        #[source]
        /// The operating system's reason.
        source: std::io::Error,
    },
    #[error("não foi possível escutar em {addr}: {}", bind_reason(source))]
    /// The listen address could not be bound.
    Bind {
        /// The address.
        addr: SocketAddr,
        #[source]
        /// The operating system's reason.
        source: std::io::Error,
    },
    #[error("falha ao gerar os certificados de teste: {0}")]
    /// The test certificates could not be generated.
    Certificate(#[from] rcgen::Error),
    #[error("falha ao gravar o arquivo PKCS#12: {0}")]
    /// The lab PKCS#12 file could not be written.
    Pkcs12(#[from] p12_keystore::error::Error),
    #[error("credenciais do simulador inválidas: {0}")]
    /// The generated credentials could not be loaded.
    Credentials(String),
    #[error("configuração TLS inválida: {0}")]
    /// The TLS configuration was refused.
    Tls(#[from] rustls::Error),
    #[error("não foi possível iniciar o runtime: {0}")]
    /// The async runtime could not start.
    Runtime(#[source] std::io::Error),
}

fn bind_reason(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::AddrInUse => {
            "a porta já está em uso por outro programa: escolha outra com --listen".into()
        }
        std::io::ErrorKind::AddrNotAvailable => {
            "este endereço não pertence a este computador: use 127.0.0.1".into()
        }
        _ => crate::io_text::reason(error),
    }
}

/// A running simulator. Dropping it stops the listener too, without
/// waiting; [`Simulator::shutdown`] waits until it is closed.
pub struct Simulator {
    addr: SocketAddr,
    files: SimFiles,
    shared: Arc<shared::Shared>,
    commands: mpsc::UnboundedSender<server::Command>,
    task: JoinHandle<()>,
}

/// Starts a simulator: creates or reuses the credentials in `options.dir`,
/// reloads stored documents, binds, and writes the config snippet with the
/// actual URL.
pub async fn start(options: SimOptions) -> Result<Simulator, SimError> {
    std::fs::create_dir_all(&options.dir).map_err(|source| SimError::Io {
        path: options.dir.clone(),
        source,
    })?;
    let files = SimFiles::in_dir(&options.dir);
    pki::ensure_credentials(&files)?;
    let credentials = pki::load_server(&files)?;
    let acceptor = server::acceptor(credentials)?;
    let store = store::Store::open(&files.documents)?;
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| SimError::Bind {
            addr: options.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| SimError::Bind {
        addr: options.listen,
        source,
    })?;
    let identity = pki::lab_identity();
    pki::write_config(&files, &identity, &format!("https://{addr}"))?;
    let shared = Arc::new(shared::Shared::new(
        identity,
        options.faults,
        options.token_lifetime,
        store,
        options.capacity,
    ));
    let (commands, receiver) = mpsc::unbounded_channel();
    let task = tokio::spawn(server::serve(
        listener,
        addr,
        acceptor,
        shared.clone(),
        receiver,
    ));
    Ok(Simulator {
        addr,
        files,
        shared,
        commands,
        task,
    })
}

impl Simulator {
    #[cfg(test)]
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:PORT`, the auth and EHR base URL.
    pub fn base_url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The certificates and keys the simulator generated.
    pub fn files(&self) -> &SimFiles {
        &self.files
    }

    /// The lab identity the simulator accepts.
    pub fn identity(&self) -> &LabIdentity {
        &self.shared.identity
    }

    /// Replaces the injected faults; applies to requests that start
    /// afterwards (tests, and the benchmarks' fault schedules).
    pub fn set_faults(&self, faults: Faults) {
        self.shared.set_faults(faults);
    }

    /// Refuses connections for `duration`: closes live connections and the
    /// listener at once, then listens again on the same port.
    pub fn outage(&self, duration: Duration) {
        self.shared.begin_outage(Instant::now() + duration);
        let _ = self.commands.send(server::Command::Outage(duration));
    }

    /// What `/_sim/stats` shows: requests by status, RNDS code and method,
    /// the capacity model's load (`capacity`) and tokens by the client
    /// certificate's subject.
    pub fn stats(&self) -> serde_json::Value {
        self.shared.stats_json()
    }

    /// Every stored document, oldest first.
    pub fn documents(&self) -> Vec<StoredDocument> {
        self.shared.documents()
    }

    /// Stops listening, closes live connections and waits for the server task.
    pub async fn shutdown(self) {
        let _ = self.commands.send(server::Command::Shutdown);
        let _ = self.task.await;
    }
}
