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
pub(crate) mod migrate;
pub(crate) mod postgres;
mod reader;
mod results;
mod schema;
mod snapshot;
mod uncorrected;

#[cfg(test)]
mod guard_tests;
#[cfg(test)]
mod sqlite_tests;

/// The ledger's test suite on a SQLite file per test folder.
#[cfg(test)]
mod on_sqlite {
    fn open(dir: &std::path::Path) -> super::Ledger {
        super::Ledger::open(&dir.join("ledger.sqlite")).unwrap()
    }

    fn skip() -> bool {
        false
    }

    include!("tests.rs");
}

/// The same suite on a PostgreSQL database per test folder (a throwaway
/// cluster, `crate::test_pg`; SKIPPED without a server, failed in CI).
#[cfg(test)]
mod on_postgres {
    fn open(dir: &std::path::Path) -> super::Ledger {
        use std::collections::HashMap;
        use std::sync::Mutex;
        static DATABASES: Mutex<Option<HashMap<std::path::PathBuf, String>>> = Mutex::new(None);
        let cluster = crate::test_pg::cluster().unwrap();
        let database = DATABASES
            .lock()
            .unwrap()
            .get_or_insert_with(HashMap::new)
            .entry(dir.to_path_buf())
            .or_insert_with(|| cluster.create_database().unwrap())
            .clone();
        let target = super::postgres::PgTarget::new(&cluster.url(&database), None).unwrap();
        // A second handle on the same database in one test (a reader
        // beside the writer) goes without the process lock.
        match super::Ledger::open_postgres(&target) {
            Err(super::LedgerError::PostgresBusy { .. }) => {
                let (backend, identity_key) =
                    super::postgres::PgLedger::open_beside(&target).unwrap();
                super::Ledger {
                    backend: super::Backend::Postgres(Box::new(backend)),
                    identity_key,
                }
            }
            opened => opened.unwrap(),
        }
    }

    fn skip() -> bool {
        !crate::test_pg::available()
    }

    include!("tests.rs");
}

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

pub(crate) use decision::{decide_from, Decision};
pub(crate) use decision::{identity_conflict, later_version, IdentityConflict};
pub(crate) use files::{FileId, FileRecord, FileState, NewFile};
pub(crate) use lock::{LedgerLock, LockError};
pub(crate) use reader::LedgerReader;
pub(crate) use results::{Identity, Intent, LedgerOutcome, ResultRecord, ResultState};
pub(crate) use snapshot::{InstanceStatus, LedgerSnapshot, UncorrectedFile};

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
    /// The SQLite file was copied into PostgreSQL by `migrate-ledger`:
    /// the ledger lives there now, and using this file too would be a
    /// second ledger.
    #[error(
        "o registro de envios {path} foi migrado para o PostgreSQL ({migrated}) e não é mais \
         usado: o registro agora fica no PostgreSQL. Troque [ledger] path por [ledger] url \
         apontando para esse banco (e password_env ou password_file); o arquivo fica só \
         como cópia de segurança. Nada foi enviado."
    )]
    Migrated {
        /// The SQLite file.
        path: PathBuf,
        /// Where it went and when, as `migrate-ledger` recorded it.
        migrated: String,
    },
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
    /// The PostgreSQL server could not be reached or refused the login.
    #[error("não foi possível conectar ao registro de envios {target}: {source}")]
    PostgresConnect {
        /// `user@host:port/database`, never the password.
        target: String,
        #[source]
        source: ::postgres::Error,
    },
    #[error("erro no registro de envios (PostgreSQL): {0}")]
    Postgres(#[from] ::postgres::Error),
    /// Another process holds the ledger's advisory lock (at opening, or
    /// taken while this process's connection was cut).
    #[error(
        "outro processo rnds-drop (o serviço ou um send) já usa o registro de envios {target}; \
         nada foi enviado. Pare-o antes (o registro é um só por laboratório: é ele que impede \
         envios em dobro)"
    )]
    PostgresBusy {
        /// `user@host:port/database`, never the password.
        target: String,
    },
    /// `[ledger] url` and its password cannot be used as given.
    #[error("registro de envios PostgreSQL: {0}")]
    PostgresSettings(String),
    /// No ledger in the database, but there are traces of earlier sends.
    #[error(
        "o registro de envios {target} não tem as tabelas do rnds-drop, mas {evidence} mostra \
         envios anteriores. Sem ele o rnds-drop não sabe o que já foi enviado e reenviaria \
         exames que já estão na RNDS, por isso nada foi enviado. Restaure o banco de uma cópia \
         de segurança (ou corrija a url, se ela aponta para o banco errado); não renumere os \
         exames."
    )]
    PostgresMissing { target: String, evidence: String },
    /// A database without the ledger's tables and no trace of earlier
    /// sends: made a ledger only by `init-ledger`, never by `run`/`send`
    /// (the url may name the wrong database).
    #[error(
        "o banco {target} não tem o registro de envios do rnds-drop, e o serviço não cria um \
         sozinho: nada foi enviado. Se o laboratório já enviou exames com o rnds-drop, este não \
         é o banco do registro: confira a url em [ledger] (servidor, porta, nome do banco) ou \
         restaure o banco de uma cópia de segurança (pg_restore); um registro novo aqui \
         reenviaria exames que já estão na RNDS. Se o registro atual é um arquivo SQLite, \
         copie-o com `rnds-drop migrate-ledger`. Só no primeiro uso do PostgreSQL pelo \
         laboratório, crie o registro de propósito com `rnds-drop init-ledger --config \
         <arquivo>` (ele explica antes o que conferir)."
    )]
    PostgresNotCreated { target: String },
    /// `migrate-ledger` into a database that already holds ledger rows.
    #[error(
        "o banco {target} já tem um registro de envios ({rows} linhas em {table}): nada foi \
         copiado. Copie para um banco novo e vazio (createdb); juntar dois registros faria de \
         um mesmo exame dois resultados"
    )]
    PostgresNotEmpty {
        target: String,
        table: String,
        rows: u64,
    },
    /// `new-ledger` on a PostgreSQL ledger.
    #[error(
        "o registro de envios {target} é um banco PostgreSQL e o new-ledger não o substitui: \
         um registro que não sabe o que já foi enviado reenviaria exames que já estão na RNDS. \
         Restaure o banco de uma cópia de segurança (pg_restore, com o serviço parado); só se \
         não houver cópia alguma, siga o procedimento \"Starting over on PostgreSQL\" do \
         README, decidido com o responsável pelo banco. Nada foi alterado."
    )]
    PostgresNoFreshStart { target: String },
    /// The database has the ledger's tables but not its identity row: it
    /// was emptied or damaged, never a new ledger.
    #[error(
        "o registro de envios {target} tem as tabelas do rnds-drop mas não a sua identidade \
         (a linha de rnds_drop_ledger foi apagada ou o banco foi danificado). Sem ele o \
         rnds-drop não sabe o que já foi enviado, por isso nada foi enviado. Restaure o banco \
         de uma cópia de segurança; não renumere os exames."
    )]
    PostgresIncomplete { target: String },
    /// The database was written by a newer rnds-drop.
    #[error(
        "o registro de envios {target} usa o esquema versão {found}, mais novo que o desta \
         versão do rnds-drop ({known}); atualize o rnds-drop"
    )]
    PostgresNewerSchema {
        target: String,
        found: i64,
        known: i64,
    },
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
    /// Another instance took the file over (this one was silent longer
    /// than `lease_s`): nothing more is written or sent for it here.
    #[error(
        "o arquivo {file_id} do registro de envios passou para outra instância (esta ficou sem \
         sinal de vida por mais de lease_s); ela continua o arquivo e nada mais é enviado \
         dele por esta"
    )]
    LeaseLost { file_id: i64 },
}

impl LedgerError {
    /// The PostgreSQL server could not be reached or cut the connection
    /// (stopped, restarted, network): nothing of the failed call was kept,
    /// and it passes like an RNDS outage (see `service::daemon`).
    pub(crate) fn is_connection_lost(&self) -> bool {
        match self {
            LedgerError::PostgresConnect { .. } => true,
            LedgerError::Postgres(e) => postgres::connection_lost(e),
            _ => false,
        }
    }
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

/// One open ledger: a SQLite file or a PostgreSQL database, behind the
/// same methods and the same invariants (intent before the POST, outcome
/// after, report set recorded before publication). `Send` but not `Sync`:
/// give each thread its own [`Ledger`]. Every call blocks on disk or
/// network I/O; from async code call it through `service::blocking` or a
/// dedicated thread, one call per batch (the PostgreSQL backend also moves
/// its calls off a runtime thread itself, see [`postgres`]).
pub(crate) struct Ledger {
    backend: Backend,
    /// Key of the patient hashes ([`Ledger::identity`]), random per ledger.
    identity_key: Vec<u8>,
}

enum Backend {
    Sqlite(SqliteLedger),
    Postgres(Box<postgres::PgLedger>),
}

/// One open ledger file.
pub(super) struct SqliteLedger {
    conn: Connection,
    /// Where the file is: tests count this ledger's reads under it.
    #[cfg(test)]
    path: std::path::PathBuf,
    /// Dropped after `conn` (field order): see [`guard::Session`].
    _session: guard::Session,
}

impl Ledger {
    /// Whether a ledger file lies at `path` (before [`Ledger::open`], which
    /// would create it).
    pub(crate) fn file_exists(path: &Path) -> bool {
        path.exists()
    }

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
        if let Some(migrated) = migrate::recorded_migration(&conn)? {
            return Err(LedgerError::Migrated {
                path: path.to_path_buf(),
                migrated,
            });
        }
        let identity_key: Vec<u8> =
            conn.query_row("SELECT key FROM identity_key LIMIT 1", [], |r| r.get(0))?;
        let session = guard::Session::begin(path)?;
        Ok(Ledger {
            backend: Backend::Sqlite(SqliteLedger {
                conn,
                #[cfg(test)]
                path: path.to_path_buf(),
                _session: session,
            }),
            identity_key,
        })
    }

    /// Opens the PostgreSQL ledger `target` names; creates its tables
    /// (in one transaction: all or nothing) when the database has none.
    /// Only for the explicit creation (`init-ledger`) and tests; callers
    /// that know of earlier sends must refuse a database without tables
    /// before (see `service`), as for a missing SQLite file.
    pub(crate) fn open_postgres(target: &postgres::PgTarget) -> Result<Ledger, LedgerError> {
        let (backend, identity_key) = postgres::PgLedger::open(target)?;
        Ok(Ledger {
            backend: Backend::Postgres(Box::new(backend)),
            identity_key,
        })
    }

    /// Opens the PostgreSQL ledger `target` names, refusing a database
    /// without its tables ([`LedgerError::PostgresNotCreated`]): `run` and
    /// `send` never make a ledger of an empty database (a mistyped url, a
    /// database restored empty), which would send again what RNDS holds.
    pub(crate) fn open_postgres_existing(
        target: &postgres::PgTarget,
    ) -> Result<Ledger, LedgerError> {
        let (backend, identity_key) = postgres::PgLedger::open_existing(target)?;
        Ok(Ledger {
            backend: Backend::Postgres(Box::new(backend)),
            identity_key,
        })
    }

    /// [`Ledger::open_postgres`] for one of several instances on one inbox
    /// (`[ledger] instance`): its name's process lock, its row in
    /// `instances`, and leases on the files it holds.
    pub(crate) fn open_postgres_instance(
        target: &postgres::PgTarget,
        settings: &crate::config::InstanceSettings,
    ) -> Result<Ledger, LedgerError> {
        let (backend, identity_key) =
            postgres::PgLedger::open_instance(target, postgres::Instance::new(settings))?;
        Ok(Ledger {
            backend: Backend::Postgres(Box::new(backend)),
            identity_key,
        })
    }

    /// This process's instance name (`None`: alone on its ledger, always
    /// so on SQLite).
    pub(crate) fn instance_name(&self) -> Option<&str> {
        match &self.backend {
            Backend::Sqlite(_) => None,
            Backend::Postgres(b) => b.instance_name(),
        }
    }

    /// Starts the heartbeat of an instance (`None` otherwise).
    pub(crate) fn start_heartbeat(&self) -> Option<postgres::Heartbeat> {
        match &self.backend {
            Backend::Sqlite(_) => None,
            Backend::Postgres(b) => b.start_heartbeat(),
        }
    }

    /// A file resumed from this process's `processando/`: still its own?
    /// Always on SQLite and for a lone process (nobody else takes files).
    pub(crate) fn renew_own(&mut self, id: FileId) -> Result<bool, LedgerError> {
        match &mut self.backend {
            Backend::Sqlite(_) => Ok(true),
            Backend::Postgres(b) => b.renew_own(id),
        }
    }

    /// The oldest file whose holder's lease ran out, now this instance's.
    /// PostgreSQL instances only: `None` on SQLite and for a lone process.
    pub(crate) fn take_over(&mut self) -> Result<Option<FileRecord>, LedgerError> {
        match &mut self.backend {
            Backend::Sqlite(_) => Ok(None),
            Backend::Postgres(b) => b.take_over(),
        }
    }

    /// The service stopped working on file `id` without finishing it (lost
    /// to another instance, or gone): its lease is no longer renewed.
    /// Nothing to do on SQLite.
    pub(crate) fn release(&mut self, id: FileId) {
        match &mut self.backend {
            Backend::Sqlite(_) => {}
            Backend::Postgres(b) => b.release(id),
        }
    }

    /// Records where a file taken over is moved to. PostgreSQL only (no
    /// take-over on SQLite): an error there.
    pub(crate) fn set_work_path(
        &mut self,
        id: FileId,
        work_path: &Path,
    ) -> Result<(), LedgerError> {
        match &mut self.backend {
            Backend::Sqlite(_) => Err(LedgerError::Corrupt(
                "troca de instância num registro SQLite".into(),
            )),
            Backend::Postgres(b) => b.set_work_path(id, work_path),
        }
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

    #[cfg(test)]
    /// The SQLite connection (tests of SQLite-only behaviour).
    pub(crate) fn sqlite_conn(&self) -> &Connection {
        match &self.backend {
            Backend::Sqlite(s) => &s.conn,
            Backend::Postgres(_) => panic!("not a SQLite ledger"),
        }
    }

    #[cfg(test)]
    /// Runs `sql` (valid on both backends) as is: tests that set up a state
    /// the methods never write.
    pub(crate) fn execute_sql(&mut self, sql: &str) {
        match &mut self.backend {
            Backend::Sqlite(s) => {
                s.conn.execute_batch(sql).unwrap();
            }
            Backend::Postgres(p) => p.execute_sql(sql),
        }
    }

    #[cfg(test)]
    /// What `status` reads of this ledger, on either backend.
    pub(crate) fn reader(&self) -> LedgerReader {
        match &self.backend {
            Backend::Sqlite(s) => LedgerReader::open(&s.path).unwrap(),
            Backend::Postgres(p) => LedgerReader::Postgres(Box::new(p.target().clone())),
        }
    }

    /// Rows read in one transaction (see `SqliteLedger::get_many`).
    pub(crate) fn get_many<'a>(
        &mut self,
        lab_ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashMap<String, ResultRecord>, LedgerError> {
        match &mut self.backend {
            Backend::Sqlite(b) => b.get_many(lab_ids),
            Backend::Postgres(b) => b.get_many(lab_ids),
        }
    }

    /// A file just recorded as `file` replaces the earlier files for which
    /// `replaces(name)` holds: their invalid rows without a lab id no
    /// longer wait (see `SqliteLedger::drop_rows_without_id_replaced_by`).
    pub(crate) fn drop_rows_without_id_replaced_by(
        &mut self,
        file: FileId,
        replaces: impl Fn(&str) -> bool,
    ) -> Result<(), LedgerError> {
        match &mut self.backend {
            Backend::Sqlite(b) => b.drop_rows_without_id_replaced_by(file, replaces),
            Backend::Postgres(b) => b.drop_rows_without_id_replaced_by(file, replaces),
        }
    }

    /// Rows whose latest attempt came from `file_id` and that `seen` does
    /// not know.
    pub(crate) fn results_of_file_except(
        &self,
        file_id: FileId,
        seen: impl Fn(&str) -> bool,
    ) -> Result<Vec<ResultRecord>, LedgerError> {
        match &self.backend {
            Backend::Sqlite(b) => b.results_of_file_except(file_id, seen),
            Backend::Postgres(b) => b.results_of_file_except(file_id, seen),
        }
    }
}

/// The rest of the ledger's methods, one per backend: each is documented
/// on [`SqliteLedger`] (and implemented the same way in [`postgres`]).
macro_rules! delegate {
    ($( $(#[$meta:meta])* fn $name:ident(&mut self $(, $arg:ident: $ty:ty)*) -> $ret:ty; )*) => {
        impl Ledger {
            $(
                $(#[$meta])*
                pub(crate) fn $name(&mut self $(, $arg: $ty)*) -> $ret {
                    match &mut self.backend {
                        Backend::Sqlite(b) => b.$name($($arg),*),
                        Backend::Postgres(b) => b.$name($($arg),*),
                    }
                }
            )*
        }
    };
}

macro_rules! delegate_reads {
    ($( $(#[$meta:meta])* fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty; )*) => {
        impl Ledger {
            $(
                $(#[$meta])*
                pub(crate) fn $name(&self $(, $arg: $ty)*) -> $ret {
                    match &self.backend {
                        Backend::Sqlite(b) => b.$name($($arg),*),
                        Backend::Postgres(b) => b.$name($($arg),*),
                    }
                }
            )*
        }
    };
}

delegate! {
    /// Records a claimed file (state `processing`).
    fn record_file(&mut self, file: &NewFile<'_>) -> Result<FileId, LedgerError>;
    /// Marks a file finished and records where it was moved.
    fn finish_file(&mut self, id: FileId, state: FileState, stored_path: &Path) -> Result<(), LedgerError>;
    #[cfg(test)]
    /// Records a report written for a file.
    fn add_report(&mut self, id: FileId, kind: &str, path: &Path) -> Result<(), LedgerError>;
    /// Records a report set about to be moved into place (before the first move).
    fn begin_publish(&mut self, id: FileId, kind: &str, path: &Path, staging: &Path) -> Result<files::ReportId, LedgerError>;
    /// Every file of the set is in place.
    fn end_publish(&mut self, report: files::ReportId) -> Result<(), LedgerError>;
    /// Records `sending` for every intent in one transaction, before the POSTs.
    fn begin_sending(&mut self, batch: &[Intent]) -> Result<(), LedgerError>;
    /// Stores the identity of a row written before schema 4.
    fn learn_identity(&mut self, lab_id: &str, accepted_hash: &str, identity: &Identity) -> Result<bool, LedgerError>;
    /// Records the outcomes of a batch in one transaction.
    fn record_outcomes(&mut self, batch: &[(String, LedgerOutcome)]) -> Result<(), LedgerError>;
    #[cfg(test)]
    /// Turns every `sending` row into `unknown`.
    fn mark_interrupted_unknown(&mut self) -> Result<usize, LedgerError>;
    /// One chunk's verdicts on invalid and valid rows.
    fn note_row_validity(&mut self, file: FileId, invalid: &[(String, u64)], valid: &[&str], without_id: &[u64]) -> Result<(), LedgerError>;
    /// Keeps what the service read from the certificate.
    fn record_certificate(&mut self, public_part: &str) -> Result<(), LedgerError>;
}

delegate_reads! {
    /// Report sets whose publication a crash interrupted, oldest first.
    fn unpublished_reports(&self) -> Result<Vec<files::UnpublishedReport>, LedgerError>;
    #[cfg(test)]
    /// The most recent file with these bytes.
    fn file_by_sha256(&self, sha256: &str) -> Result<Option<FileRecord>, LedgerError>;
    /// The file recorded under `id`.
    fn file(&self, id: FileId) -> Result<Option<FileRecord>, LedgerError>;
    /// Whether RNDS accepted this content of `lab_id` on behalf of `file_id`
    /// (`Some` with the RNDS id it got, `None` inside when proved only by EHR-ERR866).
    fn accepted_from_file(&self, lab_id: &str, file_id: FileId, content_hash: &str) -> Result<Option<Option<String>>, LedgerError>;
    /// When file `id` was claimed (`None`: no such file, or an unreadable time).
    fn file_claimed_at(&self, id: FileId) -> Result<Option<chrono::DateTime<chrono::Utc>>, LedgerError>;
    /// The latest file recorded before `before` with the same name from the same inbox.
    fn earlier_file_named(&self, before: FileId, name: &str, inbox: &Path) -> Result<Option<FileRecord>, LedgerError>;
    /// Files still `processing`, oldest first.
    fn files_in_progress(&self) -> Result<Vec<FileRecord>, LedgerError>;
    #[cfg(test)]
    /// The stored row of `lab_id`.
    fn get(&self, lab_id: &str) -> Result<Option<ResultRecord>, LedgerError>;
    /// Rows in `sending` or `unknown`.
    fn unresolved(&self) -> Result<Vec<ResultRecord>, LedgerError>;
    /// Rows of `file_id` in a final state at RNDS.
    fn final_rows_of_file(&self, file_id: FileId) -> Result<u64, LedgerError>;
    /// Rows of `file_id` in any state.
    fn recorded_rows_of_file(&self, file_id: FileId) -> Result<u64, LedgerError>;
    /// Rows of `file_id` whose POST may be under way (`sending`, `unknown`).
    fn unresolved_rows_of_file(&self, file_id: FileId) -> Result<u64, LedgerError>;
    #[cfg(test)]
    /// Rows left `pending`.
    fn pending(&self) -> Result<Vec<ResultRecord>, LedgerError>;
    #[cfg(test)]
    /// Rows whose latest attempt came from `file_id`.
    fn results_of_file(&self, file_id: FileId) -> Result<Vec<ResultRecord>, LedgerError>;
    #[cfg(test)]
    /// Accepted versions of `lab_id`, oldest first.
    fn history(&self, lab_id: &str) -> Result<Vec<results::HistoryRow>, LedgerError>;
    #[cfg(test)]
    /// Rows per state of one file or of the whole ledger.
    fn counts(&self, file_id: Option<FileId>) -> Result<results::StateCounts, LedgerError>;
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
