//! The ledger's methods on PostgreSQL: the SQLite statements of
//! `ledger::files`, `ledger::results` and `ledger::uncorrected`, each
//! documented there, with `$n` parameters, `IS NOT DISTINCT FROM` for
//! SQLite's null-safe `IS`, `RETURNING id` for `last_insert_rowid` and
//! typed casts where PostgreSQL cannot infer a parameter's type.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use postgres::types::ToSql;
use postgres::{GenericClient, Row};

use super::super::files::{path_text, FileId, FileRecord, FileState, NewFile};
use super::super::files::{ReportId, UnpublishedReport};
use super::super::results::RESULT_COLUMNS;
#[cfg(test)]
use super::super::results::{HistoryRow, StateCounts};
use super::super::results::{Identity, Intent, LedgerOutcome, ResultRecord, ResultState};
use super::super::uncorrected::CERTIFICATE_KEY;
use super::super::{now_text, LedgerError};
use super::{lease, PgLedger};

const FILE_COLUMNS: &str =
    "id, sha256, name, inbox, work_path, stored_path, claimed_at, finished_at, state";

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64, what: &str) -> Result<u64, LedgerError> {
    u64::try_from(n).map_err(|_| LedgerError::Corrupt(format!("{what} = {n}")))
}

fn result_from(row: &Row) -> Result<ResultRecord, LedgerError> {
    let state: String = row.try_get(2)?;
    let attempts: i32 = row.try_get(6)?;
    Ok(ResultRecord {
        lab_id: row.try_get(0)?,
        content_hash: row.try_get(1)?,
        state: ResultState::parse(&state)?,
        rnds_id: row.try_get(3)?,
        replaces: row.try_get(4)?,
        accepted_hash: row.try_get(5)?,
        attempts: u32::try_from(attempts)
            .map_err(|_| LedgerError::Corrupt(format!("results.attempts = {attempts}")))?,
        last_error: row.try_get(7)?,
        file_id: FileId(row.try_get(8)?),
        line: to_u64(row.try_get(9)?, "results.line")?,
        updated_at: row.try_get(10)?,
        sent_at: row.try_get(11)?,
        identity: match (row.try_get(12)?, row.try_get(13)?) {
            (Some(subject_hash), Some(exam_code)) => Some(Identity {
                subject_hash,
                exam_code,
            }),
            _ => None,
        },
    })
}

fn rows_where(
    client: &mut impl GenericClient,
    condition: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<ResultRecord>, LedgerError> {
    let rows = client.query(
        &format!("SELECT {RESULT_COLUMNS} FROM results WHERE {condition} ORDER BY file_id, line"),
        params,
    )?;
    rows.iter().map(result_from).collect()
}

fn file_where(
    client: &mut impl GenericClient,
    condition: &str,
    param: &(dyn ToSql + Sync),
) -> Result<Option<FileRecord>, LedgerError> {
    let Some(row) = client.query_opt(
        &format!("SELECT {FILE_COLUMNS} FROM files WHERE {condition} ORDER BY id DESC LIMIT 1"),
        &[param],
    )?
    else {
        return Ok(None);
    };
    let state: String = row.try_get(8)?;
    let id: i64 = row.try_get(0)?;
    let reports = client
        .query(
            "SELECT kind, path FROM file_reports WHERE file_id = $1 ORDER BY id",
            &[&id],
        )?
        .iter()
        .map(|r| Ok((r.try_get(0)?, PathBuf::from(r.try_get::<_, String>(1)?))))
        .collect::<Result<_, LedgerError>>()?;
    Ok(Some(FileRecord {
        id: FileId(id),
        sha256: row.try_get(1)?,
        name: row.try_get(2)?,
        inbox: PathBuf::from(row.try_get::<_, String>(3)?),
        work_path: PathBuf::from(row.try_get::<_, String>(4)?),
        stored_path: row.try_get::<_, Option<String>>(5)?.map(PathBuf::from),
        claimed_at: row.try_get(6)?,
        finished_at: row.try_get(7)?,
        state: FileState::parse(&state)?,
        reports,
    }))
}

fn count(
    client: &mut impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, LedgerError> {
    to_u64(client.query_one(sql, params)?.try_get(0)?, "COUNT(*)")
}

/// Files.
impl PgLedger {
    /// An instance (`lease`) records the file as its own, leased.
    pub(crate) fn record_file(&mut self, file: &NewFile<'_>) -> Result<FileId, LedgerError> {
        let (owner, lease_s) = self.owner_and_lease();
        let id = self.call(|c| {
            let row = c.query_one(
                "INSERT INTO files (sha256, name, inbox, work_path, claimed_at, state, owner,
                                    lease_until)
                 VALUES ($1, $2, $3, $4, $5, 'processing', $6,
                         now() + make_interval(secs => $7::float8))
                 RETURNING id",
                &[
                    &file.sha256,
                    &file.name,
                    &path_text(file.inbox),
                    &path_text(file.work_path),
                    &now_text(),
                    &owner,
                    &lease_s,
                ],
            )?;
            Ok(FileId(row.try_get(0)?))
        })?;
        self.hold(id);
        Ok(id)
    }

    pub(crate) fn finish_file(
        &mut self,
        id: FileId,
        state: FileState,
        stored_path: &Path,
    ) -> Result<(), LedgerError> {
        self.call(|c| {
            c.execute(
                "UPDATE files SET state = $2, stored_path = $3, finished_at = $4 WHERE id = $1",
                &[&id.0, &state.as_str(), &path_text(stored_path), &now_text()],
            )?;
            Ok(())
        })?;
        self.release(id);
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn add_report(
        &mut self,
        id: FileId,
        kind: &str,
        path: &Path,
    ) -> Result<(), LedgerError> {
        self.call(|c| {
            c.execute(
                "INSERT INTO file_reports (file_id, kind, path, written_at) VALUES ($1, $2, $3, $4)",
                &[&id.0, &kind, &path_text(path), &now_text()],
            )?;
            Ok(())
        })
    }

    pub(crate) fn begin_publish(
        &mut self,
        id: FileId,
        kind: &str,
        path: &Path,
        staging: &Path,
    ) -> Result<ReportId, LedgerError> {
        let me = self.instance_name().map(str::to_owned);
        self.call(|c| {
            let mut c = c.transaction()?;
            lease::fence(&mut c, me.as_deref(), &[id.0])?;
            let row = c.query_one(
                "INSERT INTO file_reports (file_id, kind, path, written_at, staging)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[
                    &id.0,
                    &kind,
                    &path_text(path),
                    &now_text(),
                    &path_text(staging),
                ],
            )?;
            c.commit()?;
            Ok(ReportId(row.try_get(0)?))
        })
    }

    pub(crate) fn end_publish(&mut self, report: ReportId) -> Result<(), LedgerError> {
        self.call(|c| {
            c.execute(
                "UPDATE file_reports SET staging = NULL WHERE id = $1",
                &[&report.0],
            )?;
            Ok(())
        })
    }

    /// An instance (`lease`) finishes only the sets of files it holds.
    pub(crate) fn unpublished_reports(&self) -> Result<Vec<UnpublishedReport>, LedgerError> {
        let me = self.instance_name().map(str::to_owned);
        self.call(|c| {
            c.query(
                "SELECT r.id, r.file_id, r.kind, r.path, r.staging FROM file_reports r
                 JOIN files f ON f.id = r.file_id
                 WHERE r.staging IS NOT NULL
                   AND ($1::text IS NULL OR f.owner = $1 OR f.state <> 'processing')
                 ORDER BY r.id",
                &[&me],
            )?
            .iter()
            .map(|r| {
                Ok(UnpublishedReport {
                    id: ReportId(r.try_get(0)?),
                    file_id: FileId(r.try_get(1)?),
                    kind: r.try_get(2)?,
                    summary: PathBuf::from(r.try_get::<_, String>(3)?),
                    staging: PathBuf::from(r.try_get::<_, String>(4)?),
                })
            })
            .collect()
        })
    }

    #[cfg(test)]
    pub(crate) fn file_by_sha256(&self, sha256: &str) -> Result<Option<FileRecord>, LedgerError> {
        self.call(|c| file_where(c, "sha256 = $1", &sha256))
    }

    pub(crate) fn file(&self, id: FileId) -> Result<Option<FileRecord>, LedgerError> {
        self.call(|c| file_where(c, "id = $1", &id.0))
    }

    pub(crate) fn accepted_from_file(
        &self,
        lab_id: &str,
        file_id: FileId,
        content_hash: &str,
    ) -> Result<Option<Option<String>>, LedgerError> {
        self.call(|c| {
            Ok(c.query_opt(
                "SELECT rnds_id FROM result_history
                 WHERE lab_id = $1 AND file_id = $2 AND content_hash = $3
                 ORDER BY id DESC LIMIT 1",
                &[&lab_id, &file_id.0, &content_hash],
            )?
            .map(|r| r.try_get(0))
            .transpose()?)
        })
    }

    pub(crate) fn file_claimed_at(
        &self,
        id: FileId,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, LedgerError> {
        self.call(|c| {
            let text: Option<String> = c
                .query_opt("SELECT claimed_at FROM files WHERE id = $1", &[&id.0])?
                .map(|r| r.try_get(0))
                .transpose()?;
            Ok(text
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                .map(|at| at.to_utc()))
        })
    }

    pub(crate) fn earlier_file_named(
        &self,
        before: FileId,
        name: &str,
        inbox: &Path,
    ) -> Result<Option<FileRecord>, LedgerError> {
        self.call(|c| {
            let id: Option<i64> = c
                .query_opt(
                    "SELECT id FROM files WHERE name = $1 AND inbox = $2 AND id < $3
                     ORDER BY id DESC LIMIT 1",
                    &[&name, &path_text(inbox), &before.0],
                )?
                .map(|r| r.try_get(0))
                .transpose()?;
            match id {
                Some(id) => file_where(c, "id = $1", &id),
                None => Ok(None),
            }
        })
    }

    pub(crate) fn files_in_progress(&self) -> Result<Vec<FileRecord>, LedgerError> {
        self.call(|c| {
            let ids: Vec<i64> = c
                .query(
                    "SELECT id FROM files WHERE state = 'processing' ORDER BY id",
                    &[],
                )?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
            let mut files = Vec::with_capacity(ids.len());
            for id in ids {
                files.extend(file_where(c, "id = $1", &id)?);
            }
            Ok(files)
        })
    }
}

/// Results.
impl PgLedger {
    #[cfg(test)]
    pub(crate) fn get(&self, lab_id: &str) -> Result<Option<ResultRecord>, LedgerError> {
        self.call(|c| Ok(rows_where(c, "lab_id = $1", &[&lab_id])?.pop()))
    }

    /// One statement for the whole chunk (`lab_id = ANY($1)`).
    pub(crate) fn get_many<'a>(
        &mut self,
        lab_ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashMap<String, ResultRecord>, LedgerError> {
        let wanted: Vec<String> = lab_ids.into_iter().map(str::to_owned).collect();
        self.call(|c| {
            let rows = rows_where(c, "lab_id = ANY($1)", &[&wanted])?;
            Ok(rows.into_iter().map(|r| (r.lab_id.clone(), r)).collect())
        })
    }

    pub(crate) fn begin_sending(&mut self, batch: &[Intent]) -> Result<(), LedgerError> {
        let now = now_text();
        let me = self.instance_name().map(str::to_owned);
        let mut files: Vec<i64> = batch.iter().map(|i| i.file_id.0).collect();
        files.dedup();
        self.call(|c| {
            let mut tx = c.transaction()?;
            lease::fence(&mut tx, me.as_deref(), &files)?;
            let upsert = tx.prepare(
                "INSERT INTO results (lab_id, content_hash, state, replaces, file_id, line, updated_at,
                                      subject_hash, exam_code)
                 VALUES ($1, $2, 'sending', $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (lab_id) DO UPDATE SET
                    content_hash = excluded.content_hash, state = 'sending',
                    replaces = excluded.replaces, file_id = excluded.file_id,
                    line = excluded.line, updated_at = excluded.updated_at,
                    subject_hash = excluded.subject_hash, exam_code = excluded.exam_code
                 WHERE (results.state NOT IN ('sending', 'unknown')
                        AND ((results.accepted_hash IS NULL AND excluded.replaces IS NULL)
                          OR (results.rnds_id IS NOT NULL AND excluded.replaces = results.rnds_id
                              AND results.subject_hash IS NOT DISTINCT FROM excluded.subject_hash
                              AND results.exam_code IS NOT DISTINCT FROM excluded.exam_code)))
                    OR (results.state = 'unknown' AND results.accepted_hash IS NULL
                        AND results.replaces IS NULL AND excluded.replaces IS NULL
                        AND excluded.content_hash = results.content_hash)",
            )?;
            for intent in batch {
                let changed = tx.execute(
                    &upsert,
                    &[
                        &intent.lab_id,
                        &intent.content_hash,
                        &intent.replaces,
                        &intent.file_id.0,
                        &to_i64(intent.line),
                        &now,
                        &intent.identity.subject_hash,
                        &intent.identity.exam_code,
                    ],
                )?;
                if changed == 0 {
                    let state: String = tx
                        .query_one(
                            "SELECT state FROM results WHERE lab_id = $1",
                            &[&intent.lab_id],
                        )?
                        .try_get(0)?;
                    // Dropping `tx` rolls the whole batch back.
                    return Err(LedgerError::NotSendable {
                        lab_id: intent.lab_id.clone(),
                        state,
                        replaces: intent.replaces.clone(),
                    });
                }
            }
            tx.commit()?;
            Ok(())
        })
    }

    pub(crate) fn learn_identity(
        &mut self,
        lab_id: &str,
        accepted_hash: &str,
        identity: &Identity,
    ) -> Result<bool, LedgerError> {
        self.call(|c| {
            Ok(c.execute(
                "UPDATE results SET subject_hash = $3, exam_code = $4
                 WHERE lab_id = $1 AND accepted_hash = $2
                   AND (subject_hash IS NULL OR exam_code IS NULL)",
                &[
                    &lab_id,
                    &accepted_hash,
                    &identity.subject_hash,
                    &identity.exam_code,
                ],
            )? > 0)
        })
    }

    pub(crate) fn record_outcomes(
        &mut self,
        batch: &[(String, LedgerOutcome)],
    ) -> Result<(), LedgerError> {
        let now = now_text();
        let me = self.instance_name().map(str::to_owned);
        let lab_ids: Vec<String> = batch.iter().map(|(id, _)| id.clone()).collect();
        let missing = self.call(|c| {
            let mut missing = Vec::new();
            let mut tx = c.transaction()?;
            lease::fence_rows(&mut tx, me.as_deref(), &lab_ids)?;
            let accepted = tx.prepare(
                "UPDATE results SET
                    state = CASE WHEN $3::text IS NULL AND rnds_id IS NOT NULL
                                  AND accepted_hash = content_hash THEN 'accepted' ELSE $2::text END,
                    rnds_id = CASE WHEN $3::text IS NULL AND rnds_id IS NOT NULL
                                  AND accepted_hash = content_hash THEN rnds_id ELSE $3::text END,
                    accepted_hash = content_hash,
                    sent_at = CASE WHEN $3::text IS NULL AND rnds_id IS NOT NULL
                                  AND accepted_hash = content_hash THEN sent_at ELSE $4::text END,
                    last_error = NULL, updated_at = $4::text
                 WHERE lab_id = $1
                 RETURNING content_hash, replaces, file_id, line, rnds_id",
            )?;
            let history = tx.prepare(
                "INSERT INTO result_history (lab_id, content_hash, rnds_id, replaces, file_id, line, accepted_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )?;
            let failed = tx.prepare(
                "UPDATE results SET state = $2, last_error = $3, updated_at = $4,
                    attempts = attempts + $5
                 WHERE lab_id = $1",
            )?;
            for (lab_id, outcome) in batch {
                let (state, rnds_id, message, extra_attempt): (_, Option<&str>, Option<&str>, i32) =
                    match outcome {
                        LedgerOutcome::Accepted { rnds_id } => {
                            (ResultState::Accepted, Some(rnds_id.as_str()), None, 0)
                        }
                        LedgerOutcome::AcceptedIdUnknown => {
                            (ResultState::AcceptedIdUnknown, None, None, 0)
                        }
                        LedgerOutcome::Rejected { message } => {
                            (ResultState::Rejected, None, Some(message.as_str()), 0)
                        }
                        LedgerOutcome::Pending { message } => {
                            (ResultState::Pending, None, Some(message.as_str()), 1)
                        }
                        LedgerOutcome::Unknown { message } => {
                            (ResultState::Unknown, None, Some(message.as_str()), 0)
                        }
                    };
                let found = match state {
                    ResultState::Accepted | ResultState::AcceptedIdUnknown => {
                        let row =
                            tx.query_opt(&accepted, &[lab_id, &state.as_str(), &rnds_id, &now])?;
                        if let Some(row) = &row {
                            let stored_id: Option<String> = row.try_get(4)?;
                            // Not a new version when a late EHR-ERR866 kept a known id.
                            if stored_id.as_deref() == rnds_id {
                                let hash: String = row.try_get(0)?;
                                let replaces: Option<String> = row.try_get(1)?;
                                let file_id: i64 = row.try_get(2)?;
                                let line: i64 = row.try_get(3)?;
                                tx.execute(
                                    &history,
                                    &[lab_id, &hash, &rnds_id, &replaces, &file_id, &line, &now],
                                )?;
                            }
                        }
                        row.is_some()
                    }
                    _ => {
                        tx.execute(
                            &failed,
                            &[lab_id, &state.as_str(), &message, &now, &extra_attempt],
                        )? > 0
                    }
                };
                if !found {
                    missing.push(lab_id.clone());
                }
            }
            tx.commit()?;
            Ok(missing)
        })?;
        if missing.is_empty() {
            Ok(())
        } else {
            Err(LedgerError::OutcomeWithoutIntent(missing))
        }
    }

    #[cfg(test)]
    pub(crate) fn mark_interrupted_unknown(&mut self) -> Result<usize, LedgerError> {
        self.call(|c| {
            Ok(c.execute(
                "UPDATE results SET state = 'unknown', updated_at = $1,
                    last_error = 'interrompido antes da resposta'
                 WHERE state = 'sending'",
                &[&now_text()],
            )? as usize)
        })
    }

    /// An instance (`lease`) gets only the rows of finished files: those
    /// of a file in progress are settled by the pass of its holder.
    pub(crate) fn unresolved(&self) -> Result<Vec<ResultRecord>, LedgerError> {
        let instance = self.instance_name().is_some();
        self.call(|c| {
            rows_where(
                c,
                "state IN ('sending', 'unknown') AND (NOT $1 OR file_id IN
                   (SELECT id FROM files WHERE state <> 'processing'))",
                &[&instance],
            )
        })
    }

    pub(crate) fn final_rows_of_file(&self, file_id: FileId) -> Result<u64, LedgerError> {
        self.call(|c| {
            count(
                c,
                "SELECT COUNT(*) FROM results WHERE file_id = $1
                 AND state IN ('accepted', 'accepted_id_unknown', 'rejected')",
                &[&file_id.0],
            )
        })
    }

    pub(crate) fn unresolved_rows_of_file(&self, file_id: FileId) -> Result<u64, LedgerError> {
        self.call(|c| {
            count(
                c,
                "SELECT COUNT(*) FROM results WHERE file_id = $1
                 AND state IN ('sending', 'unknown')",
                &[&file_id.0],
            )
        })
    }

    pub(crate) fn recorded_rows_of_file(&self, file_id: FileId) -> Result<u64, LedgerError> {
        self.call(|c| {
            count(
                c,
                "SELECT COUNT(*) FROM results WHERE file_id = $1",
                &[&file_id.0],
            )
        })
    }

    #[cfg(test)]
    pub(crate) fn pending(&self) -> Result<Vec<ResultRecord>, LedgerError> {
        self.call(|c| rows_where(c, "state = 'pending'", &[]))
    }

    /// The rows are read on the client's thread, then filtered here
    /// (`seen` need not be `Send`).
    pub(crate) fn results_of_file_except(
        &self,
        file_id: FileId,
        seen: impl Fn(&str) -> bool,
    ) -> Result<Vec<ResultRecord>, LedgerError> {
        let rows = self.call(|c| {
            let rows = c.query(
                &format!("SELECT {RESULT_COLUMNS} FROM results WHERE file_id = $1 ORDER BY line"),
                &[&file_id.0],
            )?;
            rows.iter().map(result_from).collect::<Result<Vec<_>, _>>()
        })?;
        Ok(rows.into_iter().filter(|r| !seen(&r.lab_id)).collect())
    }

    #[cfg(test)]
    pub(crate) fn results_of_file(
        &self,
        file_id: FileId,
    ) -> Result<Vec<ResultRecord>, LedgerError> {
        self.call(|c| rows_where(c, "file_id = $1", &[&file_id.0]))
    }

    #[cfg(test)]
    pub(crate) fn history(&self, lab_id: &str) -> Result<Vec<HistoryRow>, LedgerError> {
        self.call(|c| {
            c.query(
                "SELECT content_hash, rnds_id, replaces, accepted_at FROM result_history
                 WHERE lab_id = $1 ORDER BY id",
                &[&lab_id],
            )?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
            .collect()
        })
    }

    #[cfg(test)]
    pub(crate) fn counts(&self, file_id: Option<FileId>) -> Result<StateCounts, LedgerError> {
        let file_id = file_id.map(|f| f.0);
        self.call(|c| {
            let mut counts = StateCounts::default();
            for row in c.query(
                "SELECT state, COUNT(*) FROM results
                 WHERE $1::bigint IS NULL OR file_id = $1 GROUP BY state",
                &[&file_id],
            )? {
                let state: String = row.try_get(0)?;
                let n = to_u64(row.try_get(1)?, "COUNT(*)")?;
                let slot = match ResultState::parse(&state)? {
                    ResultState::Sending => &mut counts.sending,
                    ResultState::Accepted => &mut counts.accepted,
                    ResultState::AcceptedIdUnknown => &mut counts.accepted_id_unknown,
                    ResultState::Rejected => &mut counts.rejected,
                    ResultState::Pending => &mut counts.pending,
                    ResultState::Unknown => &mut counts.unknown,
                };
                *slot = n;
            }
            Ok(counts)
        })
    }
}

/// Invalid rows waiting for a correction, and the certificate.
impl PgLedger {
    pub(crate) fn note_row_validity(
        &mut self,
        file: FileId,
        invalid: &[(String, u64)],
        valid: &[&str],
        without_id: &[u64],
    ) -> Result<(), LedgerError> {
        if invalid.is_empty() && valid.is_empty() && without_id.is_empty() {
            return Ok(());
        }
        let now = now_text();
        self.call(|c| {
            let mut tx = c.transaction()?;
            let corrected: Vec<String> = valid.iter().map(|s| (*s).to_owned()).collect();
            tx.execute(
                "DELETE FROM invalid_rows WHERE lab_id = ANY($1)",
                &[&corrected],
            )?;
            let waiting = tx.prepare(
                "INSERT INTO invalid_rows (lab_id, file_id, line, since) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (lab_id) DO UPDATE SET file_id = excluded.file_id,
                                                    line = excluded.line",
            )?;
            for (lab_id, line) in invalid {
                tx.execute(&waiting, &[lab_id, &file.0, &to_i64(*line), &now])?;
            }
            let unmatched = tx.prepare(
                "INSERT INTO invalid_rows_without_id (file_id, line, since) VALUES ($1, $2, $3)
                 ON CONFLICT (file_id, line) DO NOTHING",
            )?;
            for line in without_id {
                tx.execute(&unmatched, &[&file.0, &to_i64(*line), &now])?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    pub(crate) fn drop_rows_without_id_replaced_by(
        &mut self,
        file: FileId,
        replaces: impl Fn(&str) -> bool,
    ) -> Result<(), LedgerError> {
        // `replaces` stays on this thread (`call` may run on another one).
        let earlier: Vec<(i64, String)> = self.call(|c| {
            let rows = c.query(
                "SELECT DISTINCT u.file_id, f.name FROM invalid_rows_without_id u
                 JOIN files f ON f.id = u.file_id WHERE u.file_id <> $1",
                &[&file.0],
            )?;
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<_, LedgerError>>()
        })?;
        let replaced: Vec<i64> = earlier
            .into_iter()
            .filter(|(_, name)| replaces(name))
            .map(|(id, _)| id)
            .collect();
        if replaced.is_empty() {
            return Ok(());
        }
        self.call(|c| {
            c.execute(
                "DELETE FROM invalid_rows_without_id WHERE file_id = ANY($1)",
                &[&replaced],
            )?;
            Ok(())
        })
    }

    pub(crate) fn record_certificate(&mut self, public_part: &str) -> Result<(), LedgerError> {
        self.call(|c| {
            c.execute(
                "INSERT INTO service_state (key, value, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value,
                                                 updated_at = excluded.updated_at",
                &[&CERTIFICATE_KEY, &public_part, &now_text()],
            )?;
            Ok(())
        })
    }
}
