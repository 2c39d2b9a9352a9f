//! `status`, `/metrics` and `[alertas]` read the ledger `[ledger]` names
//! without writing it: a read-only SQLite connection
//! ([`SqliteReader`]) or a PostgreSQL read-only transaction
//! ([`super::postgres::snapshot`]).

use std::path::Path;

use chrono::{DateTime, Utc};

use super::postgres::PgTarget;
use super::snapshot::{stamp, LedgerSnapshot, SqliteReader};
use super::LedgerError;

/// A reader of either backend.
pub(crate) enum LedgerReader {
    Sqlite(SqliteReader),
    Postgres(Box<PgTarget>),
}

impl LedgerReader {
    /// The reader of the ledger `[ledger]` names.
    pub(crate) fn open_config(ledger: &crate::config::Ledger) -> Result<LedgerReader, LedgerError> {
        match &ledger.postgres {
            Some(settings) => Ok(LedgerReader::Postgres(Box::new(PgTarget::from_config(
                settings,
            )?))),
            None => LedgerReader::open(&ledger.path),
        }
    }

    /// The SQLite file at `path`, read-only; fails when it does not exist.
    pub(crate) fn open(path: &Path) -> Result<LedgerReader, LedgerError> {
        Ok(LedgerReader::Sqlite(SqliteReader::open(path)?))
    }

    /// The snapshot; "today" and "the last hour" start at the given instants.
    pub(crate) fn snapshot(
        &self,
        today_start: DateTime<Utc>,
        hour_start: DateTime<Utc>,
        recent_files: usize,
    ) -> Result<LedgerSnapshot, LedgerError> {
        match self {
            LedgerReader::Sqlite(reader) => reader.snapshot(today_start, hour_start, recent_files),
            LedgerReader::Postgres(target) => super::postgres::snapshot(
                target,
                &stamp(today_start),
                &stamp(hour_start),
                recent_files,
            ),
        }
    }
}
