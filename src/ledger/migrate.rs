//! `rnds-drop migrate-ledger`: copies a SQLite ledger into a PostgreSQL
//! database, row for row with its ids and its key of the patient hashes,
//! in one transaction whose row counts are checked against the source
//! before it commits. A target that already holds any ledger row is
//! refused: merging two ledgers would make one lab id two results.

use std::path::Path;

use postgres::types::ToSql;
use rusqlite::{Connection, OpenFlags};

use super::postgres::{off_runtime, PgTarget};
use super::{Ledger, LedgerError};

/// How a column is carried over.
#[derive(Clone, Copy)]
enum Kind {
    Int8,
    Int4,
    Text,
}

/// The ledger's tables in foreign-key order, with their columns.
const TABLES: &[(&str, &[(&str, Kind)])] = &[
    (
        "files",
        &[
            ("id", Kind::Int8),
            ("sha256", Kind::Text),
            ("name", Kind::Text),
            ("inbox", Kind::Text),
            ("work_path", Kind::Text),
            ("stored_path", Kind::Text),
            ("claimed_at", Kind::Text),
            ("finished_at", Kind::Text),
            ("state", Kind::Text),
        ],
    ),
    (
        "file_reports",
        &[
            ("id", Kind::Int8),
            ("file_id", Kind::Int8),
            ("kind", Kind::Text),
            ("path", Kind::Text),
            ("written_at", Kind::Text),
            ("staging", Kind::Text),
        ],
    ),
    (
        "results",
        &[
            ("lab_id", Kind::Text),
            ("content_hash", Kind::Text),
            ("state", Kind::Text),
            ("rnds_id", Kind::Text),
            ("replaces", Kind::Text),
            ("accepted_hash", Kind::Text),
            ("attempts", Kind::Int4),
            ("last_error", Kind::Text),
            ("file_id", Kind::Int8),
            ("line", Kind::Int8),
            ("updated_at", Kind::Text),
            ("sent_at", Kind::Text),
            ("subject_hash", Kind::Text),
            ("exam_code", Kind::Text),
        ],
    ),
    (
        "result_history",
        &[
            ("id", Kind::Int8),
            ("lab_id", Kind::Text),
            ("content_hash", Kind::Text),
            ("rnds_id", Kind::Text),
            ("replaces", Kind::Text),
            ("file_id", Kind::Int8),
            ("line", Kind::Int8),
            ("accepted_at", Kind::Text),
        ],
    ),
    (
        "invalid_rows",
        &[
            ("lab_id", Kind::Text),
            ("file_id", Kind::Int8),
            ("line", Kind::Int8),
            ("since", Kind::Text),
        ],
    ),
    (
        "invalid_rows_without_id",
        &[
            ("file_id", Kind::Int8),
            ("line", Kind::Int8),
            ("since", Kind::Text),
        ],
    ),
    (
        "service_state",
        &[
            ("key", Kind::Text),
            ("value", Kind::Text),
            ("updated_at", Kind::Text),
        ],
    ),
];

/// Tables whose ids come from a sequence on PostgreSQL.
const SEQUENCED: [&str; 3] = ["files", "file_reports", "result_history"];

/// Rows copied, per table, in [`TABLES`] order.
pub(crate) type Copied = Vec<(&'static str, u64)>;

/// Copies the SQLite ledger at `from` into the empty database `to`. The
/// caller holds the SQLite ledger's lock (no service writes it meanwhile).
pub(crate) fn sqlite_to_postgres(from: &Path, to: &PgTarget) -> Result<Copied, LedgerError> {
    if !from.is_file() {
        return Err(LedgerError::Io {
            path: from.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "arquivo não encontrado"),
        });
    }
    // Opening it checks it (emptied, `-wal` lost) and brings it to the
    // latest schema, whose tables are the ones copied.
    drop(Ledger::open(from)?);
    let source =
        Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|source| {
            LedgerError::Open {
                path: from.to_path_buf(),
                source,
            }
        })?;
    let key: Vec<u8> =
        source.query_row("SELECT key FROM identity_key LIMIT 1", [], |r| r.get(0))?;
    let mut rows = Vec::with_capacity(TABLES.len());
    for (table, columns) in TABLES {
        rows.push(read_table(&source, table, columns)?);
    }
    // The target's tables exist (created empty when missing) before the
    // copy's own transaction checks they are empty; the open ledger holds
    // the process lock (busy when a service uses the database) until the
    // copy is over.
    let (ledger, _) = super::postgres::PgLedger::open(to)?;
    let copied = off_runtime(|| copy(to, &key, &rows))?;
    drop(ledger);
    record_migration(from, to)?;
    Ok(copied)
}

/// `service_state` key that marks a SQLite ledger copied into PostgreSQL.
const MIGRATED_KEY: &str = "migrated_to";

/// Marks the SQLite file migrated (after the copy committed), so that
/// [`Ledger::open`] refuses it from now on: one ledger, never two.
fn record_migration(from: &Path, to: &PgTarget) -> Result<(), LedgerError> {
    let conn = Connection::open(from).map_err(|source| LedgerError::Open {
        path: from.to_path_buf(),
        source,
    })?;
    let now = super::now_text();
    conn.execute(
        "INSERT INTO service_state (key, value, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value,
                                         updated_at = excluded.updated_at",
        rusqlite::params![MIGRATED_KEY, format!("{} em {now}", to.shown()), now],
    )?;
    Ok(())
}

/// Where the SQLite ledger of `conn` was migrated to and when, if it was.
pub(super) fn recorded_migration(conn: &Connection) -> Result<Option<String>, LedgerError> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .query_row(
            "SELECT value FROM service_state WHERE key = ?1",
            [MIGRATED_KEY],
            |r| r.get(0),
        )
        .optional()?)
}

/// Every row of `table`, each value typed for PostgreSQL.
fn read_table(
    source: &Connection,
    table: &str,
    columns: &[(&str, Kind)],
) -> Result<Vec<Vec<Value>>, LedgerError> {
    let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
    let mut stmt = source.prepare(&format!("SELECT {} FROM {table}", names.join(", ")))?;
    let rows = stmt.query_map([], |row| {
        columns
            .iter()
            .enumerate()
            .map(|(i, (_, kind))| {
                Ok(match kind {
                    Kind::Int8 => Value::Int8(row.get(i)?),
                    Kind::Int4 => Value::Int4(row.get(i)?),
                    Kind::Text => Value::Text(row.get(i)?),
                })
            })
            .collect::<rusqlite::Result<Vec<_>>>()
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// One value as PostgreSQL takes it.
#[derive(Debug)]
enum Value {
    Int8(Option<i64>),
    Int4(Option<i32>),
    Text(Option<String>),
}

impl Value {
    fn as_param(&self) -> &(dyn ToSql + Sync) {
        match self {
            Value::Int8(v) => v,
            Value::Int4(v) => v,
            Value::Text(v) => v,
        }
    }
}

/// The copy, in one transaction committed only when every table holds
/// exactly the source's row count.
fn copy(to: &PgTarget, key: &[u8], rows: &[Vec<Vec<Value>>]) -> Result<Copied, LedgerError> {
    let mut client = to.connect()?;
    let mut tx = client.transaction()?;
    let names: Vec<&str> = TABLES.iter().map(|(t, _)| *t).collect();
    tx.batch_execute(&format!(
        "LOCK TABLE {} IN EXCLUSIVE MODE",
        names.join(", ")
    ))?;
    for table in &names {
        let n: i64 = tx
            .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])?
            .try_get(0)?;
        if n > 0 {
            return Err(LedgerError::PostgresNotEmpty {
                target: to.shown().to_owned(),
                table: (*table).to_owned(),
                rows: u64::try_from(n).unwrap_or(0),
            });
        }
    }
    tx.execute("UPDATE rnds_drop_ledger SET identity_key = $1", &[&key])?;
    let mut copied = Vec::with_capacity(TABLES.len());
    for ((table, columns), table_rows) in TABLES.iter().zip(rows) {
        let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
        let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
        let insert = tx.prepare(&format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            names.join(", "),
            placeholders.join(", ")
        ))?;
        for row in table_rows {
            let params: Vec<&(dyn ToSql + Sync)> = row.iter().map(Value::as_param).collect();
            tx.execute(&insert, &params)?;
        }
        let n: i64 = tx
            .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])?
            .try_get(0)?;
        let expected = table_rows.len() as u64;
        if u64::try_from(n).ok() != Some(expected) {
            return Err(LedgerError::Corrupt(format!(
                "cópia de {table}: {n} linhas no destino, {expected} na origem; nada foi gravado"
            )));
        }
        copied.push((*table, expected));
    }
    for table in SEQUENCED {
        // The next id after the copied ones (`false`: 1 when empty).
        tx.batch_execute(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                           COALESCE((SELECT MAX(id) FROM {table}), 1),
                           (SELECT COUNT(*) > 0 FROM {table}))"
        ))?;
    }
    tx.commit()?;
    Ok(copied)
}
