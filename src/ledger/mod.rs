//! The durable record of what was sent: one SQLite file (WAL) holding the
//! files taken from the inboxes and, per lab identifier, the content hash,
//! state and RNDS id of its result. Intent is written before the side
//! effect (`sending` before the POST, in one transaction per batch) so a
//! crash at any instant leaves rows that [`Ledger::unresolved`] returns on
//! the next start; [`decide_from`] turns a stored row into the
//! exactly-once decision for a new occurrence of the same lab id.
//!
//! Invariant: this module knows nothing of HTTP, FHIR content or
//! `crate::rnds` types; it stores identifiers, hashes and paths only.

mod decision;
mod files;
mod guard;
mod lock;
mod results;
mod schema;
mod snapshot;
mod uncorrected;

#[cfg(test)]
mod guard_tests;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

pub(crate) use decision::{decide_from, Decision};
pub(crate) use decision::{identity_conflict, later_version, IdentityConflict};
pub(crate) use files::{FileId, FileRecord, FileState, NewFile};
pub(crate) use lock::{LedgerLock, LockError};
pub(crate) use results::{Identity, Intent, LedgerOutcome, ResultRecord, ResultState};
pub(crate) use snapshot::{LedgerReader, LedgerSnapshot, UncorrectedFile};

/// How long a statement waits for another connection's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("não foi possível abrir o registro de envios {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "o registro de envios {path} usa o esquema versão {found}, mais novo que o desta \
         versão do rnds-drop ({known}); atualize o rnds-drop"
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error(
        "o registro de envios {path} não pôde usar o modo WAL (modo obtido: {mode}); \
         coloque-o num disco local, não numa pasta de rede"
    )]
    NotWal { path: PathBuf, mode: String },
    #[error("falha ao migrar o registro de envios para a versão {version}: {source}")]
    Migration {
        version: i64,
        #[source]
        source: rusqlite::Error,
    },
    /// The file exists but is empty: a truncated ledger, never a new one.
    #[error(
        "o registro de envios {path} está vazio (0 bytes): o registro foi apagado ou truncado. \
         {}",
        reset_advice(path)
    )]
    Emptied { path: PathBuf },
    /// The file exists but has no schema version (no tables): typically
    /// its `-wal` was deleted after a crash, taking every record with it.
    #[error(
        "o registro de envios {path} existe mas não tem as tabelas do rnds-drop (o arquivo \
         {path}-wal foi apagado ou o registro foi danificado). {}",
        reset_advice(path)
    )]
    Incomplete { path: PathBuf },
    /// The process died and then the `-wal` (the latest records) was deleted.
    #[error(
        "o arquivo {path}-wal do registro de envios foi apagado depois de uma parada \
         inesperada: os envios mais recentes sumiram do registro. {}",
        reset_advice(path)
    )]
    WalLost { path: PathBuf },
    /// No ledger file, but there are traces of earlier sends.
    #[error(
        "o registro de envios {path} não existe, mas {evidence} mostra envios anteriores. \
         {}",
        reset_advice(path)
    )]
    Missing { path: PathBuf, evidence: String },
    #[error("não foi possível gravar {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("erro no registro de envios: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A programming error caught before it could cause a double send: the
    /// row is in flight or unresolved, or the intent would create a second
    /// document for a lab id RNDS already holds.
    #[error(
        "o exame {lab_id} não pode ser enviado agora (situação: {state}, substitui: {replaces:?})"
    )]
    NotSendable {
        lab_id: String,
        state: String,
        replaces: Option<String>,
    },
    /// Outcomes were given for lab ids with no row; the other outcomes of
    /// the batch were recorded.
    #[error("resultado de envio para exames sem registro de intenção: {0:?}")]
    OutcomeWithoutIntent(Vec<String>),
    #[error("valor inesperado no registro de envios: {0}")]
    Corrupt(String),
}

/// What every "ledger lost" message says to do. Never "renumber the exams"
/// nor "use another ledger": both would create duplicate notifications.
/// A restored copy must also lose the `.in-use` mark of the crashed
/// session, or it is refused as a ledger whose `-wal` was deleted.
fn reset_advice(path: &std::path::Path) -> String {
    format!(
        "Sem ele o rnds-drop não sabe o que já foi enviado e reenviaria exames que já estão na \
         RNDS, por isso nada foi enviado. Pare o serviço e restaure o registro de uma cópia de \
         segurança (o arquivo e, se houver, o -wal ao lado dele); depois da cópia restaurada, \
         apague o arquivo {}.in-use (a marca da execução interrompida), se existir. Só se não \
         houver cópia, comece um registro novo de forma explícita com `rnds-drop new-ledger \
         --config <arquivo> --confirm` (veja as consequências no README); não renumere os \
         exames.",
        path.display()
    )
}

/// One open ledger file. `Send` but not `Sync`: give each thread its own
/// [`Ledger`] (WAL lets readers run while one writer commits). Every call
/// blocks on disk I/O; from async code use `tokio::task::spawn_blocking` or
/// a dedicated thread, one call per batch.
pub(crate) struct Ledger {
    conn: Connection,
    /// Key of the patient hashes ([`Ledger::identity`]), random per ledger.
    identity_key: Vec<u8>,
    /// Where the file is: tests count this ledger's reads under it.
    #[cfg(test)]
    path: std::path::PathBuf,
    /// Dropped after `conn` (field order): see [`guard::Session`].
    _session: guard::Session,
}

impl Ledger {
    /// Opens the ledger at `path`, switches it to WAL and applies pending
    /// migrations. When no file exists a complete new one is created
    /// atomically (mode 0600 on unix); callers that know of earlier sends
    /// must refuse before (see `service`). An empty file, or one without
    /// our schema version, is refused: it is a lost ledger, not a new one.
    ///
    /// `synchronous = FULL`: each commit fsyncs the WAL. With NORMAL a
    /// power loss could drop the last committed `accepted` outcome of a
    /// replacement, and the restarted service would replace the old RNDS id
    /// a second time; one fsync per batch transaction is cheap next to the
    /// HTTP round trips it protects (see the throughput test).
    pub(crate) fn open(path: &Path) -> Result<Ledger, LedgerError> {
        let open_err = |source| LedgerError::Open {
            path: path.to_path_buf(),
            source,
        };
        if let guard::Found::Nothing = guard::inspect(path)? {
            guard::create_atomically(path)?;
        }
        guard::Session::check(path)?;
        let mut conn = Connection::open_with_flags(path, guard::open_flags()).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        // Read before anything writes: a file whose `-wal` was deleted shows
        // version 0 here, and switching it to WAL must not make it look new.
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(open_err)?;
        if version == 0 {
            return Err(LedgerError::Incomplete {
                path: path.to_path_buf(),
            });
        }
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(LedgerError::NotWal {
                path: path.to_path_buf(),
                mode,
            });
        }
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(open_err)?;
        schema::migrate(&mut conn, path)?;
        let identity_key: Vec<u8> =
            conn.query_row("SELECT key FROM identity_key LIMIT 1", [], |r| r.get(0))?;
        let session = guard::Session::begin(path)?;
        Ok(Ledger {
            conn,
            identity_key,
            #[cfg(test)]
            path: path.to_path_buf(),
            _session: session,
        })
    }

    /// The identity stored for a result of patient `cns` and exam
    /// `exam_code`: the CNS only as SHA-256 of this ledger's random key
    /// and the number, so the ledger never holds the number and its hashes
    /// cannot be looked up in a table of all CNS.
    pub(crate) fn identity(&self, cns: &str, exam_code: &str) -> Identity {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(&self.identity_key);
        hasher.update(cns.as_bytes());
        let mut subject_hash = String::with_capacity(64);
        for b in hasher.finalize() {
            use std::fmt::Write;
            let _ = write!(subject_hash, "{b:02x}");
        }
        Identity {
            subject_hash,
            exam_code: exam_code.to_owned(),
        }
    }

    #[cfg(test)]
    /// The schema version this build writes.
    pub(crate) fn schema_version() -> i64 {
        schema::latest_version()
    }
}

/// Current time as stored in the ledger (RFC 3339, UTC, milliseconds).
fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// How a ledger file was read, per path (tests only; tests run in
/// parallel, each on its own ledger): point reads ([`Ledger::get`]) and
/// batched reads ([`Ledger::get_many`]).
#[cfg(test)]
pub(crate) mod read_counts {
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;

    static COUNTS: Mutex<Option<HashMap<PathBuf, (u64, u64)>>> = Mutex::new(None);

    pub(crate) fn add(path: &Path, point: u64, batched: u64) {
        let mut counts = COUNTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = counts
            .get_or_insert_with(HashMap::new)
            .entry(path.to_path_buf())
            .or_default();
        entry.0 += point;
        entry.1 += batched;
    }

    /// (point reads, batched reads) of the ledger at `path` so far.
    pub(crate) fn of(path: &Path) -> (u64, u64) {
        let counts = COUNTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        counts
            .as_ref()
            .and_then(|counts| counts.get(path).copied())
            .unwrap_or_default()
    }
}
