//! `status` and `/metrics` on a PostgreSQL ledger: the statements of
//! `ledger::snapshot`, in one read-only repeatable-read transaction (one
//! consistent instant, as SQLite's read transaction gives), on a
//! connection of its own that never takes the process lock.

use postgres::{GenericClient, IsolationLevel};

use super::super::snapshot::{LedgerSnapshot, RecentFile, UncorrectedFile};
use super::super::uncorrected::CERTIFICATE_KEY;
use super::super::LedgerError;
use super::{off_runtime, PgTarget};

fn count(tx: &mut impl GenericClient, sql: &str, param: &str) -> Result<u64, LedgerError> {
    let n: i64 = tx.query_one(sql, &[&param])?.try_get(0)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The snapshot; `today_start` and `hour_start` are ledger timestamps.
pub(crate) fn snapshot(
    target: &PgTarget,
    today_start: &str,
    hour_start: &str,
    recent_files: usize,
) -> Result<LedgerSnapshot, LedgerError> {
    off_runtime(|| {
        let mut client = target.connect()?;
        let mut tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        // A database `init-ledger` has not made a ledger yet: say so,
        // not "relation does not exist".
        if !super::schema::any_table(&mut tx)? {
            return Err(LedgerError::PostgresNotCreated {
                target: target.shown().to_owned(),
            });
        }
        let mut s = LedgerSnapshot {
            accepted_today: count(
                &mut tx,
                "SELECT COUNT(*) FROM result_history WHERE accepted_at >= $1",
                today_start,
            )?,
            accepted_last_hour: count(
                &mut tx,
                "SELECT COUNT(*) FROM result_history WHERE accepted_at >= $1",
                hour_start,
            )?,
            files_failed_today: count(
                &mut tx,
                "SELECT COUNT(*) FROM files WHERE state = 'failed' AND finished_at >= $1",
                today_start,
            )?,
            ..LedgerSnapshot::default()
        };
        for row in tx.query("SELECT state, COUNT(*) FROM results GROUP BY state", &[])? {
            let state: String = row.try_get(0)?;
            let n = to_u64(row.try_get(1)?);
            match state.as_str() {
                "pending" => s.rows_pending += n,
                "sending" | "unknown" => s.rows_unresolved += n,
                "rejected" => s.rows_rejected += n,
                _ => s.rows_accepted += n,
            }
        }
        for row in tx.query("SELECT state, COUNT(*) FROM files GROUP BY state", &[])? {
            let state: String = row.try_get(0)?;
            let n = to_u64(row.try_get(1)?);
            match state.as_str() {
                "processing" => s.files_processing = n,
                "processed" => s.files_processed = n,
                _ => s.files_failed += n,
            }
        }
        s.oldest_pending_since = tx
            .query_one(
                "SELECT MIN(claimed_at) FROM files WHERE id IN (
                    SELECT id FROM files WHERE state = 'processing'
                    UNION SELECT DISTINCT file_id FROM results
                          WHERE state IN ('pending', 'sending', 'unknown'))",
                &[],
            )?
            .try_get(0)?;
        s.last_accepted_at = tx
            .query_one("SELECT MAX(accepted_at) FROM result_history", &[])?
            .try_get(0)?;
        let limit = i64::try_from(recent_files).unwrap_or(i64::MAX);
        files_and_uncorrected(&mut tx, limit, &mut s)?;
        s.recorded_certificate = tx
            .query_opt(
                "SELECT value, updated_at FROM service_state WHERE key = $1",
                &[&CERTIFICATE_KEY],
            )?
            .map(|r| Ok::<_, postgres::Error>((r.try_get(0)?, r.try_get(1)?)))
            .transpose()?;
        s.instances = super::lease::instances(&mut tx)?;
        tx.commit()?;
        Ok(s)
    })
}

/// The most recent files and the rows still waiting for a correction.
fn files_and_uncorrected(
    tx: &mut impl GenericClient,
    limit: i64,
    s: &mut LedgerSnapshot,
) -> Result<(), LedgerError> {
    let per_state = |states: &str| {
        format!("(SELECT COUNT(*) FROM results r WHERE r.state IN ({states}) AND r.file_id = f.id)")
    };
    let sql = format!(
        "SELECT f.name, f.state, f.claimed_at, f.finished_at, {}, {}, {}
         FROM files f ORDER BY f.id DESC LIMIT $1",
        per_state("'accepted', 'accepted_id_unknown'"),
        per_state("'rejected'"),
        per_state("'pending', 'sending', 'unknown'"),
    );
    for row in tx.query(&sql, &[&limit])? {
        s.recent_files.push(RecentFile {
            name: row.try_get(0)?,
            state: row.try_get(1)?,
            claimed_at: row.try_get(2)?,
            finished_at: row.try_get(3)?,
            accepted: to_u64(row.try_get(4)?),
            rejected: to_u64(row.try_get(5)?),
            pending: to_u64(row.try_get(6)?),
        });
    }
    // Rows waiting by lab id, and (SQLite schema 6) by file and line.
    let waiting = "(SELECT file_id, since FROM invalid_rows
                    UNION ALL SELECT file_id, since FROM invalid_rows_without_id)";
    let row = tx.query_one(
        &format!("SELECT COUNT(*), MIN(since) FROM {waiting} w"),
        &[],
    )?;
    s.rows_uncorrected = to_u64(row.try_get(0)?);
    s.uncorrected_since = row.try_get(1)?;
    for row in tx.query(
        &format!(
            "SELECT f.name, COUNT(*), MIN(i.since) FROM {waiting} i
             JOIN files f ON f.id = i.file_id
             GROUP BY i.file_id, f.name ORDER BY MIN(i.since), i.file_id LIMIT $1"
        ),
        &[&limit],
    )? {
        s.uncorrected_files.push(UncorrectedFile {
            name: row.try_get(0)?,
            rows: to_u64(row.try_get(1)?),
            since: row.try_get(2)?,
        });
    }
    Ok(())
}
