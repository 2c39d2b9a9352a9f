//! The PostgreSQL ledger's tables: those of the SQLite schema at its
//! latest version (see `ledger::schema`), plus `rnds_drop_ledger`, the
//! identity row. Versioned by `rnds_drop_ledger.schema_version`; each
//! later change is a new entry of [`MIGRATIONS`] applied in one
//! transaction with its version bump (DDL is transactional here).

use postgres::{Client, GenericClient};

use super::super::{now_text, LedgerError};

/// Ordered migrations; index + 1 is the version they bring the database to.
/// Never edit a released entry: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: what SQLite schema 5 holds.
    "CREATE TABLE files (
        id          BIGSERIAL PRIMARY KEY,
        sha256      TEXT NOT NULL,
        name        TEXT NOT NULL,
        inbox       TEXT NOT NULL,
        work_path   TEXT NOT NULL,
        stored_path TEXT,
        claimed_at  TEXT NOT NULL,
        finished_at TEXT,
        state       TEXT NOT NULL CHECK (state IN ('processing', 'processed', 'failed'))
    );
    CREATE INDEX files_by_sha256 ON files (sha256);
    CREATE TABLE file_reports (
        id         BIGSERIAL PRIMARY KEY,
        file_id    BIGINT NOT NULL REFERENCES files (id),
        kind       TEXT NOT NULL,
        path       TEXT NOT NULL,
        written_at TEXT NOT NULL,
        staging    TEXT
    );
    CREATE INDEX file_reports_by_file ON file_reports (file_id);
    CREATE TABLE results (
        lab_id        TEXT PRIMARY KEY,
        content_hash  TEXT NOT NULL,
        state         TEXT NOT NULL CHECK (state IN
                      ('sending', 'accepted', 'accepted_id_unknown', 'rejected', 'pending', 'unknown')),
        rnds_id       TEXT,
        replaces      TEXT,
        accepted_hash TEXT,
        attempts      INTEGER NOT NULL DEFAULT 0,
        last_error    TEXT,
        file_id       BIGINT NOT NULL REFERENCES files (id),
        line          BIGINT NOT NULL,
        updated_at    TEXT NOT NULL,
        sent_at       TEXT,
        subject_hash  TEXT,
        exam_code     TEXT
    );
    CREATE INDEX results_open ON results (state) WHERE state IN ('sending', 'unknown', 'pending');
    CREATE INDEX results_by_file ON results (file_id);
    CREATE INDEX results_by_state_file ON results (state, file_id);
    CREATE TABLE result_history (
        id           BIGSERIAL PRIMARY KEY,
        lab_id       TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        rnds_id      TEXT,
        replaces     TEXT,
        file_id      BIGINT NOT NULL REFERENCES files (id),
        line         BIGINT NOT NULL,
        accepted_at  TEXT NOT NULL
    );
    CREATE INDEX result_history_by_lab_id ON result_history (lab_id);
    CREATE INDEX result_history_by_accepted_at ON result_history (accepted_at);
    CREATE TABLE invalid_rows (
        lab_id  TEXT PRIMARY KEY,
        file_id BIGINT NOT NULL REFERENCES files (id),
        line    BIGINT NOT NULL,
        since   TEXT NOT NULL
    );
    CREATE INDEX invalid_rows_by_file ON invalid_rows (file_id);
    CREATE TABLE service_state (
        key        TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );",
    // 2: SQLite schema 6, the invalid rows without a lab id by file and line.
    "CREATE TABLE invalid_rows_without_id (
        file_id BIGINT NOT NULL REFERENCES files (id),
        line    BIGINT NOT NULL,
        since   TEXT NOT NULL,
        PRIMARY KEY (file_id, line)
    );",
    // 3: several instances on one inbox (`lease`): who holds a file until
    // when, and the instances' heartbeats. Times are the server's.
    "ALTER TABLE files ADD COLUMN owner TEXT;
    ALTER TABLE files ADD COLUMN lease_until TIMESTAMPTZ;
    CREATE INDEX files_processing ON files (lease_until) WHERE state = 'processing';
    CREATE TABLE instances (
        name         TEXT PRIMARY KEY,
        started_at   TIMESTAMPTZ NOT NULL,
        heartbeat_at TIMESTAMPTZ NOT NULL,
        lease_s      BIGINT NOT NULL
    );",
];

/// The tables a ledger has; any of them present means a ledger was here.
pub(crate) const TABLES: [&str; 8] = [
    "rnds_drop_ledger",
    "files",
    "file_reports",
    "results",
    "result_history",
    "invalid_rows",
    "invalid_rows_without_id",
    "service_state",
];

/// Serialises the creation of a ledger by two processes at once.
const CREATE_LOCK_KEY: i64 = 0x726e_6473_6e65_7721; // "rndsnew!"

fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Whether any ledger table exists in the connection's schema.
pub(super) fn any_table(client: &mut impl GenericClient) -> Result<bool, LedgerError> {
    let names: Vec<String> = TABLES.iter().map(|t| (*t).to_owned()).collect();
    let row = client.query_one(
        "SELECT COUNT(*) FROM pg_catalog.pg_tables
         WHERE schemaname = current_schema() AND tablename = ANY($1)",
        &[&names],
    )?;
    Ok(row.try_get::<_, i64>(0)? > 0)
}

/// Creates the ledger when no table of it exists and `create` allows it
/// (else [`LedgerError::PostgresNotCreated`]), applies pending
/// migrations, and returns the key of the patient hashes.
pub(super) fn open_or_create(
    client: &mut Client,
    shown: &str,
    create: bool,
) -> Result<Vec<u8>, LedgerError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CREATE_LOCK_KEY])?;
    if !any_table(&mut tx)? {
        if !create {
            return Err(LedgerError::PostgresNotCreated {
                target: shown.to_owned(),
            });
        }
        tx.batch_execute(
            "CREATE TABLE rnds_drop_ledger (
                ledger_id      TEXT NOT NULL,
                schema_version BIGINT NOT NULL,
                identity_key   BYTEA NOT NULL,
                created_at     TEXT NOT NULL
            )",
        )?;
        let mut key = uuid::Uuid::new_v4().as_bytes().to_vec();
        key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        tx.execute(
            "INSERT INTO rnds_drop_ledger (ledger_id, schema_version, identity_key, created_at)
             VALUES ($1, 0, $2, $3)",
            &[&uuid::Uuid::new_v4().to_string(), &key, &now_text()],
        )?;
    }
    let Some(row) = tx.query_opt(
        "SELECT schema_version, identity_key FROM rnds_drop_ledger",
        &[],
    )?
    else {
        return Err(LedgerError::PostgresIncomplete {
            target: shown.to_owned(),
        });
    };
    let found: i64 = row.try_get(0)?;
    let key: Vec<u8> = row.try_get(1)?;
    let known = latest_version();
    if found > known {
        return Err(LedgerError::PostgresNewerSchema {
            target: shown.to_owned(),
            found,
            known,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        tx.batch_execute(sql)?;
        tx.execute(
            "UPDATE rnds_drop_ledger SET schema_version = $1",
            &[&(index as i64 + 1)],
        )?;
    }
    tx.commit()?;
    Ok(key)
}
