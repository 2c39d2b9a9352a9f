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
mod daemon;
pub mod demo;
mod freshness;
mod ledger_open;
mod outputs;
mod pass;
mod publish;
mod resolve;
mod send;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use daemon::run;
pub use demo::{run_demo, DemoError, DemoSummary};
pub use ledger_open::start_new_ledger;
pub use publish::{FAILPOINT_EXIT, STAGING_DIR};
pub use send::{send_files, SentFile};

use crate::ledger::LedgerError;
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
    #[error("falha interna: {0}")]
    /// A defect, not a condition of the input or the machine.
    Internal(String),
}

impl ServiceError {
    /// A configuration problem (certificate, client set-up, folders) rather
    /// than a failure at run time.
    pub fn is_configuration(&self) -> bool {
        matches!(
            self,
            ServiceError::Client(_)
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
    digest_on_blocking_thread(move || crate::pipeline::sha256_file(&path)).await
}

async fn digest_on_blocking_thread(
    digest: impl FnOnce() -> std::io::Result<String> + Send + 'static,
) -> Result<String, ServiceError> {
    match tokio::task::spawn_blocking(digest).await {
        Ok(Ok(hex)) => Ok(hex),
        Ok(Err(_unreadable)) => Ok(String::new()),
        Err(_) => Err(ServiceError::Internal(
            "o cálculo do SHA-256 do arquivo foi interrompido por um defeito; o arquivo não \
             foi registrado e será tentado de novo"
                .into(),
        )),
    }
}

#[cfg(test)]
mod digest_tests {
    #[tokio::test]
    async fn a_panicking_digest_is_an_error_not_an_empty_hash() {
        let result = super::digest_on_blocking_thread(|| panic!("simulated defect")).await;
        assert!(
            matches!(result, Err(super::ServiceError::Internal(_))),
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

/// `AAAAMMDDTHHMMSS` in the lab's time zone, for report names.
pub(crate) fn report_instant(config: &crate::config::Config) -> String {
    chrono::Utc::now()
        .with_timezone(&config.timezone())
        .format("%Y%m%dT%H%M%S")
        .to_string()
}

/// Creates the folder that holds the ledger file.
pub(crate) fn prepare_ledger_dir(path: &std::path::Path) -> Result<LedgerLock, ServiceError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        crate::report::create_private_dir_all(parent).map_err(|source| ServiceError::Output {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    LedgerLock::take(path)
}

/// One process per ledger: the service and `send` both settle rows left
/// `sending`, so two of them on one ledger could each "settle" the other's
/// request in flight and send it again. An exclusive lock on
/// `<ledger>.lock`, held for the life of the process (released by the OS
/// even on SIGKILL), rules that out.
#[derive(Debug)]
pub(crate) struct LedgerLock {
    file: std::fs::File,
    /// The lock file already said a ledger was in use before this process.
    marked: bool,
}

impl LedgerLock {
    fn take(ledger: &std::path::Path) -> Result<LedgerLock, ServiceError> {
        let mut name = ledger.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        let mut options = std::fs::OpenOptions::new();
        options.create(true).truncate(false).read(true).write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&path).map_err(|source| ServiceError::Output {
            path: path.clone(),
            source,
        })?;
        match file.try_lock() {
            Ok(()) => {
                let marked = file.metadata().is_ok_and(|m| m.len() > 0);
                Ok(LedgerLock { file, marked })
            }
            Err(std::fs::TryLockError::WouldBlock) => Err(ServiceError::LedgerBusy {
                path: ledger.to_path_buf(),
            }),
            Err(std::fs::TryLockError::Error(source)) => Err(ServiceError::Output { path, source }),
        }
    }
}
