//! A read-only look at the ledger for `status` and `/metrics`: its own
//! connection opened `SQLITE_OPEN_READ_ONLY`, so it never writes, never
//! migrates and never takes `<ledger>.lock`; in WAL mode it reads the last
//! committed state while the service writes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::LedgerError;

/// A reader never waits long: `status` must answer within a second.
const READ_BUSY_TIMEOUT: Duration = Duration::from_millis(500);

/// One of the most recent files.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecentFile {
    pub name: String,
    /// `processing`, `processed` or `failed`.
    pub state: String,
    pub claimed_at: String,
    pub finished_at: Option<String>,
    /// Rows whose latest attempt came from this file, per state.
    pub accepted: u64,
    pub rejected: u64,
    pub pending: u64,
}

/// A file whose errors report still holds rows not brought back valid.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UncorrectedFile {
    pub name: String,
    /// Its rows still waiting for a correction.
    pub rows: u64,
    /// When the oldest of them was first refused.
    pub since: String,
}

/// One of several instances on one inbox (PostgreSQL `[ledger] instance`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InstanceStatus {
    pub name: String,
    /// Its last heartbeat (RFC 3339, UTC, the database server's clock).
    pub heartbeat_at: String,
    /// Seconds since then, by the server's clock.
    pub heartbeat_age_s: i64,
    /// Heard from within its `lease_s`: its files are still its own.
    pub alive: bool,
    /// The files it holds (leases not run out).
    pub files_in_hand: Vec<String>,
}

/// What the ledger says at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LedgerSnapshot {
    /// Most recent files first.
    pub recent_files: Vec<RecentFile>,
    /// Versions RNDS accepted (new results and replacements) since `today_start`.
    pub accepted_today: u64,
    /// Versions RNDS accepted since `hour_start`.
    pub accepted_last_hour: u64,
    /// Rows waiting for RNDS (`pending`), or whose answer is not known yet
    /// (`sending`, `unknown`).
    pub rows_pending: u64,
    pub rows_unresolved: u64,
    /// Rows RNDS refused and nobody has fixed yet.
    pub rows_rejected: u64,
    pub rows_accepted: u64,
    /// Files claimed and not finished.
    pub files_processing: u64,
    pub files_processed: u64,
    pub files_failed: u64,
    /// Files that failed since `today_start`.
    pub files_failed_today: u64,
    /// When the oldest file with rows still waiting was claimed.
    pub oldest_pending_since: Option<String>,
    /// When RNDS last accepted a document.
    pub last_accepted_at: Option<String>,
    /// Invalid rows (by lab id) listed in an errors report and not yet
    /// brought back valid by a later file.
    pub rows_uncorrected: u64,
    /// When the oldest of them was first refused.
    pub uncorrected_since: Option<String>,
    /// The files they wait in, oldest first (at most the recent-files count).
    pub uncorrected_files: Vec<UncorrectedFile>,
    /// The certificate's public part as the service last read it (JSON),
    /// with when; `None` before a service of this version ran.
    pub recorded_certificate: Option<(String, String)>,
    /// Every instance that ran on this ledger, by name (empty on SQLite
    /// and for a lone process).
    pub instances: Vec<InstanceStatus>,
}

/// A read-only connection to a ledger file.
pub(crate) struct SqliteReader {
    conn: Connection,
}

impl SqliteReader {
    /// Opens `path` read-only; fails (never creates) when it does not exist.
    pub(crate) fn open(path: &Path) -> Result<SqliteReader, LedgerError> {
        let open_err = |source| LedgerError::Open {
            path: path.to_path_buf(),
            source,
        };
        if !path.is_file() {
            return Err(LedgerError::Open {
                path: PathBuf::from(path),
                source: rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                    Some("arquivo não encontrado".into()),
                ),
            });
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_err)?;
        conn.busy_timeout(READ_BUSY_TIMEOUT).map_err(open_err)?;
        Ok(SqliteReader { conn })
    }

    /// The snapshot; "today" and "the last hour" start at the given instants.
    pub(crate) fn snapshot(
        &self,
        today_start: DateTime<Utc>,
        hour_start: DateTime<Utc>,
        recent_files: usize,
    ) -> Result<LedgerSnapshot, LedgerError> {
        let tx = self.conn.unchecked_transaction()?;
        let count = |sql: &str, param: &str| -> Result<u64, LedgerError> {
            Ok(tx.query_row(sql, [param], |r| r.get::<_, u64>(0))?)
        };
        let mut s = LedgerSnapshot {
            accepted_today: count(
                "SELECT COUNT(*) FROM result_history WHERE accepted_at >= ?1",
                &stamp(today_start),
            )?,
            accepted_last_hour: count(
                "SELECT COUNT(*) FROM result_history WHERE accepted_at >= ?1",
                &stamp(hour_start),
            )?,
            files_failed_today: count(
                "SELECT COUNT(*) FROM files WHERE state = 'failed' AND finished_at >= ?1",
                &stamp(today_start),
            )?,
            ..LedgerSnapshot::default()
        };
        count_states(&tx, &mut s)?;
        // A file still `processing` holds rows not final yet, some of which
        // may never have reached the ledger (RNDS down before their intent).
        s.oldest_pending_since = tx
            .query_row(
                "SELECT MIN(claimed_at) FROM files WHERE id IN (
                    SELECT id FROM files WHERE state = 'processing'
                    UNION SELECT DISTINCT file_id FROM results
                          WHERE state IN ('pending', 'sending', 'unknown'))",
                [],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten();
        s.last_accepted_at = tx
            .query_row("SELECT MAX(accepted_at) FROM result_history", [], |r| {
                r.get::<_, Option<String>>(0)
            })
            .optional()?
            .flatten();
        let limit = i64::try_from(recent_files).unwrap_or(i64::MAX);
        s.recent_files = recent_files_of(&tx, limit)?;
        // Schema 5 (`invalid_rows`, `service_state`): a ledger a service
        // of this version has not opened yet lacks these tables; it has
        // nothing to say about them.
        let has_table = |name: &str| -> rusqlite::Result<bool> {
            tx.query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [name],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
        };
        if has_table("invalid_rows")? {
            // Schema 6 adds the rows without a lab id, by file and line.
            let waiting = if has_table("invalid_rows_without_id")? {
                "(SELECT file_id, since FROM invalid_rows
                  UNION ALL SELECT file_id, since FROM invalid_rows_without_id)"
            } else {
                "invalid_rows"
            };
            let (rows, since) = tx.query_row(
                &format!("SELECT COUNT(*), MIN(since) FROM {waiting}"),
                [],
                |r| Ok((r.get::<_, u64>(0)?, r.get::<_, Option<String>>(1)?)),
            )?;
            s.rows_uncorrected = rows;
            s.uncorrected_since = since;
            let mut stmt = tx.prepare(&format!(
                "SELECT f.name, COUNT(*), MIN(i.since) FROM {waiting} i
                 JOIN files f ON f.id = i.file_id
                 GROUP BY i.file_id ORDER BY MIN(i.since), i.file_id LIMIT ?1"
            ))?;
            let files = stmt.query_map([limit], |r| {
                Ok(UncorrectedFile {
                    name: r.get(0)?,
                    rows: r.get(1)?,
                    since: r.get(2)?,
                })
            })?;
            s.uncorrected_files = files.collect::<rusqlite::Result<_>>()?;
        }
        if has_table("service_state")? {
            s.recorded_certificate = tx
                .query_row(
                    "SELECT value, updated_at FROM service_state WHERE key = ?1",
                    [super::uncorrected::CERTIFICATE_KEY],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
                )
                .optional()?;
        }
        Ok(s)
    }
}

/// Results and files counted by state.
fn count_states(tx: &Connection, s: &mut LedgerSnapshot) -> Result<(), LedgerError> {
    let mut stmt = tx.prepare("SELECT state, COUNT(*) FROM results GROUP BY state")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))?;
    for row in rows {
        let (state, n) = row?;
        match state.as_str() {
            "pending" => s.rows_pending += n,
            "sending" | "unknown" => s.rows_unresolved += n,
            "rejected" => s.rows_rejected += n,
            _ => s.rows_accepted += n,
        }
    }
    let mut stmt = tx.prepare("SELECT state, COUNT(*) FROM files GROUP BY state")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))?;
    for row in rows {
        let (state, n) = row?;
        match state.as_str() {
            "processing" => s.files_processing = n,
            "processed" => s.files_processed = n,
            _ => s.files_failed += n,
        }
    }
    Ok(())
}

/// The last `limit` files, newest first, with their rows by outcome.
fn recent_files_of(tx: &Connection, limit: i64) -> Result<Vec<RecentFile>, LedgerError> {
    // Per file and state through `results_by_state_file` (schema 3):
    // index seeks, not a walk over a large file's rows.
    let per_state = |states: &str| {
        format!("(SELECT COUNT(*) FROM results r WHERE r.state IN ({states}) AND r.file_id = f.id)")
    };
    let mut stmt = tx.prepare(&format!(
        "SELECT f.name, f.state, f.claimed_at, f.finished_at, {}, {}, {}
         FROM files f ORDER BY f.id DESC LIMIT ?1",
        per_state("'accepted', 'accepted_id_unknown'"),
        per_state("'rejected'"),
        per_state("'pending', 'sending', 'unknown'"),
    ))?;
    let rows = stmt.query_map([limit], |r| {
        Ok(RecentFile {
            name: r.get(0)?,
            state: r.get(1)?,
            claimed_at: r.get(2)?,
            finished_at: r.get(3)?,
            accepted: r.get(4)?,
            rejected: r.get(5)?,
            pending: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The ledger's own timestamp format, so text comparison orders instants.
pub(super) fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}
