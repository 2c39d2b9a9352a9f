//! The service (`rnds-drop run`) and the one-shot `send`: files claimed from
//! the inboxes (or given on the command line) go through the pipeline; the
//! ledger decides per lab id what to send (new, replacement, already sent,
//! unresolved first); the client submits with bounded concurrency; the
//! outbox receives the reports. Rows left pending because RNDS is down keep
//! their source file in `processando/` and are retried until final, with a
//! pending report after `pending_report_after_s` and a follow-up when done.
//! `demo` runs all of it against the in-process simulator.
//!
//! Invariant: glue only. It knows the order of things (resolve before
//! deciding, intent before the POST, outcome before the report), not how
//! files are parsed, bundles built, answers classified or rows stored.

mod chunk;
mod clock;
mod daemon;
mod freshness;
mod ledger_open;
mod outputs;
mod pass;
mod paths;
mod publish;
mod resolve;
mod rows;
mod send;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use daemon::run;
pub use ledger_open::{init_ledger, migrate_ledger, start_new_ledger, LedgerInit};
pub use paths::STAGING_DIR;
pub use publish::FAILPOINT_EXIT;
pub use send::{send_files, SentFile};

use crate::ledger::{LedgerError, LedgerLock, LockError};
use crate::rnds::ClientError;
use crate::watch::WatchError;

/// Why the service (or `send`) could not go on. Messages are pt-BR.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    /// The ledger could not be opened or written.
    Ledger(#[from] LedgerError),
    /// Certificate or client set-up: a configuration error (exit code 3).
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    /// An inbox or work folder could not be used.
    Watch(#[from] WatchError),
    #[error(
        "não foi possível gravar em {path}: {}{}",
        crate::io_text::reason(source),
        output_advice(source)
    )]
    /// A report or outbox file could not be written.
    Output {
        /// The file.
        path: PathBuf,
        #[source]
        /// The operating system's reason.
        source: std::io::Error,
    },
    #[error(
        "outro processo rnds-drop (o serviço ou um send) já usa o registro de envios {path}; \
         pare-o antes (o registro é um só por laboratório: é ele que impede envios em dobro)"
    )]
    /// Another process holds the ledger lock.
    LedgerBusy {
        /// The ledger file.
        path: PathBuf,
    },
    #[error(
        "não foi possível abrir o endereço de métricas {addr} ([service] metrics_listen): {source}"
    )]
    /// The metrics endpoint could not listen.
    Metrics {
        /// `[service] metrics_listen`.
        addr: String,
        #[source]
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A defect of the connector itself (exit code 5), never the lab's data
    /// or configuration.
    #[error("falha interna: {0}")]
    Internal(#[from] InternalFailure),
}

/// Which defect stopped the service: callers tell a dead task from a bundle
/// the library could not build; the text is for the lab's IT.
#[derive(Debug, thiserror::Error)]
pub enum InternalFailure {
    /// A result read and validated from the file could not become a bundle.
    #[error("bundle não gerado: {0}")]
    Bundle(#[from] crate::fhir::FhirError),
    /// A task settling unknown outcomes died (panic or cancellation).
    #[error("resolução interrompida: {0}")]
    ResolutionInterrupted(#[source] tokio::task::JoinError),
    /// The task reading a file was cancelled (a panic is reported per file).
    #[error("leitura do arquivo interrompida: {0}")]
    ReadInterrupted(#[source] tokio::task::JoinError),
    /// The thread hashing a file died: the file is not recorded.
    #[error(
        "o cálculo do SHA-256 do arquivo foi interrompido por um defeito; o arquivo não \
         foi registrado e será tentado de novo"
    )]
    DigestInterrupted,
    /// The demo's service task died.
    #[error("{0}")]
    ServiceTask(#[source] tokio::task::JoinError),
}

impl ServiceError {
    /// A failure that passes on its own: the certificate's token (A3) is
    /// not connected at start, e.g. a reboot before the USB token shows up.
    /// The service manager starts the service again (exit 4, not 3).
    pub fn is_temporary(&self) -> bool {
        matches!(self, ServiceError::Client(ClientError::Unreachable(_)))
    }

    /// The PostgreSQL ledger's server could not be reached or cut the
    /// connection: the pass is retried backing off as in an RNDS outage.
    pub(crate) fn is_ledger_connection_lost(&self) -> bool {
        matches!(self, ServiceError::Ledger(e) if e.is_connection_lost())
    }

    /// A configuration problem (certificate, client set-up, folders) rather
    /// than a failure at run time. A token that is not connected is not one
    /// ([`ServiceError::is_temporary`]).
    pub fn is_configuration(&self) -> bool {
        matches!(
            self,
            ServiceError::Client(ClientError::Config(_))
                | ServiceError::Watch(
                    WatchError::InboxMissing { .. } | WatchError::OtherVolume { .. }
                )
                | ServiceError::Ledger(
                    LedgerError::Open { .. }
                        | LedgerError::NewerSchema { .. }
                        | LedgerError::NotWal { .. }
                        | LedgerError::Emptied { .. }
                        | LedgerError::Incomplete { .. }
                        | LedgerError::Missing { .. }
                        | LedgerError::WalLost { .. }
                        | LedgerError::PostgresSettings(_)
                        | LedgerError::PostgresNewerSchema { .. }
                        | LedgerError::PostgresIncomplete { .. }
                        | LedgerError::PostgresMissing { .. }
                        | LedgerError::PostgresNotCreated { .. }
                        | LedgerError::PostgresNoFreshStart { .. }
                        | LedgerError::PostgresNotEmpty { .. }
                        | LedgerError::PostgresBusy { .. }
                        | LedgerError::Migrated { .. }
                )
                | ServiceError::LedgerBusy { .. }
                | ServiceError::Metrics { .. }
        ) || matches!(self, ServiceError::Output { source, .. } if output_is_misconfigured(source))
    }
}

/// Runs blocking work (an fsync'ed SQLite commit, a report written and
/// synced) without stalling the runtime's other tasks: on a multi-threaded
/// runtime the worker hands its tasks to another thread first. A
/// current-thread runtime (unit tests) has no other worker to hand over to.
pub(crate) fn blocking<R>(work: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

#[cfg(test)]
mod blocking_tests {
    /// With one worker, a commit that blocks it must not stop other tasks
    /// (here, the one the commit itself waits for).
    #[test]
    fn blocking_work_leaves_the_worker_to_other_tasks() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let progressed = runtime.block_on(async {
            tokio::spawn(async {
                let (sender, receiver) = std::sync::mpsc::channel();
                tokio::spawn(async move {
                    let _ = sender.send(());
                });
                super::blocking(|| {
                    // A guard, not a timing assertion: without the hand-over
                    // the other task never runs and this gives up.
                    receiver
                        .recv_timeout(std::time::Duration::from_secs(30))
                        .is_ok()
                })
            })
            .await
            .unwrap()
        });
        assert!(progressed);
    }
}

/// The file's SHA-256 (hex), computed on a blocking thread. An unreadable
/// file gives `""` (the pass that follows reports it unreadable); a hashing
/// thread that panicked is an internal failure, never an empty digest.
pub(crate) async fn file_sha256(path: std::path::PathBuf) -> Result<String, ServiceError> {
    digest_on_blocking_thread(move || crate::input::sha256_file(&path)).await
}

pub(crate) async fn digest_on_blocking_thread(
    digest: impl FnOnce() -> std::io::Result<String> + Send + 'static,
) -> Result<String, ServiceError> {
    match tokio::task::spawn_blocking(digest).await {
        Ok(Ok(hex)) => Ok(hex),
        Ok(Err(_unreadable)) => Ok(String::new()),
        Err(_) => Err(InternalFailure::DigestInterrupted.into()),
    }
}

#[cfg(test)]
mod digest_tests {
    #[tokio::test]
    async fn a_panicking_digest_is_an_error_not_an_empty_hash() {
        let result = super::digest_on_blocking_thread(|| panic!("simulated defect")).await;
        assert!(
            matches!(
                result,
                Err(super::ServiceError::Internal(
                    super::InternalFailure::DigestInterrupted
                ))
            ),
            "{result:?}"
        );
    }
}

/// A folder that is a file, or that the service may not write, is the
/// configuration's fault (exit 3), not an internal failure.
fn output_is_misconfigured(error: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        error.kind(),
        K::AlreadyExists | K::NotADirectory | K::PermissionDenied | K::ReadOnlyFilesystem
    )
}

fn output_advice(error: &std::io::Error) -> &'static str {
    if output_is_misconfigured(error) {
        ". O que fazer: confira no arquivo de configuração se outbox e [ledger] path apontam \
         para pastas (não arquivos) em que a conta do serviço pode gravar"
    } else {
        ""
    }
}

/// Whether a stop was requested (the guard is not held across an await).
pub(crate) fn stopping(stop: &tokio::sync::watch::Receiver<bool>) -> bool {
    *stop.borrow()
}

/// Creates the folder that holds the ledger file and takes the ledger's
/// lock (one process per ledger, see `ledger::LedgerLock`).
pub(crate) fn prepare_ledger_dir(path: &std::path::Path) -> Result<LedgerLock, ServiceError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        crate::report::create_private_dir_all(parent).map_err(|source| ServiceError::Output {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    LedgerLock::take(path).map_err(|e| match e {
        LockError::Busy => ServiceError::LedgerBusy {
            path: path.to_path_buf(),
        },
        LockError::Io { path, source } => ServiceError::Output { path, source },
    })
}
