//! Results per lab id: intents before the POSTs, outcomes after, queries.

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension, Row};

use super::files::FileId;
use super::{now_text, LedgerError, SqliteLedger};

/// Where a lab id stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ResultState {
    /// Intent recorded; the POST may or may not have happened.
    Sending,
    /// RNDS created the document; its id is known.
    Accepted,
    /// RNDS holds the document (EHR-ERR866 after a lost answer); id unknown.
    AcceptedIdUnknown,
    /// RNDS refused the content; the lab must fix the row.
    Rejected,
    /// Transient failure (429, 5xx, connection): send again later.
    Pending,
    /// The answer was lost: it must be resolved before anything else.
    Unknown,
}

impl ResultState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ResultState::Sending => "sending",
            ResultState::Accepted => "accepted",
            ResultState::AcceptedIdUnknown => "accepted_id_unknown",
            ResultState::Rejected => "rejected",
            ResultState::Pending => "pending",
            ResultState::Unknown => "unknown",
        }
    }

    pub(super) fn parse(text: &str) -> Result<ResultState, LedgerError> {
        Ok(match text {
            "sending" => ResultState::Sending,
            "accepted" => ResultState::Accepted,
            "accepted_id_unknown" => ResultState::AcceptedIdUnknown,
            "rejected" => ResultState::Rejected,
            "pending" => ResultState::Pending,
            "unknown" => ResultState::Unknown,
            other => return Err(LedgerError::Corrupt(format!("results.state = {other:?}"))),
        })
    }
}

/// Which result a lab id names: the patient (a keyed hash of the CNS,
/// [`Ledger::identity`](super::Ledger::identity)) and the exam code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    pub subject_hash: String,
    pub exam_code: String,
}

/// One row about to be POSTed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Intent {
    pub lab_id: String,
    pub content_hash: String,
    /// The patient and exam of this content: stored with the intent, the
    /// result the lab id names once RNDS holds it.
    pub identity: Identity,
    pub file_id: FileId,
    /// Line (1-based, as the lab sees it) of the row in its file.
    pub line: u64,
    /// RNDS id of the version this one replaces (from [`super::Decision`]).
    pub replaces: Option<String>,
}

/// What became of a send (or of the resolution of an unresolved row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LedgerOutcome {
    Accepted {
        rnds_id: String,
    },
    /// EHR-ERR866 proved RNDS holds the document; its id is unknown.
    AcceptedIdUnknown,
    Rejected {
        message: String,
    },
    /// Transient failure; counts one more attempt. Also the outcome of a
    /// resolution that proved the document was never created.
    Pending {
        message: String,
    },
    /// The answer was lost.
    Unknown {
        message: String,
    },
}

/// A stored row of `results`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResultRecord {
    pub lab_id: String,
    /// Hash of the latest attempt's content.
    pub content_hash: String,
    pub state: ResultState,
    /// RNDS id of the version RNDS currently holds (the one to replace).
    pub rnds_id: Option<String>,
    /// What the latest attempt replaces.
    pub replaces: Option<String>,
    /// Hash of the version RNDS currently holds, if any.
    pub accepted_hash: Option<String>,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub file_id: FileId,
    pub line: u64,
    pub updated_at: String,
    /// When RNDS accepted the version it holds.
    pub sent_at: Option<String>,
    /// Patient and exam of the latest attempt; `None` for rows written
    /// before schema 4 (not yet learned).
    pub identity: Option<Identity>,
}

#[cfg(test)]
/// An accepted version: `(content_hash, rnds_id, replaces, accepted_at)`.
pub(crate) type HistoryRow = (String, Option<String>, Option<String>, String);

#[cfg(test)]
/// Rows per state (of one file, or of the whole ledger).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StateCounts {
    pub sending: u64,
    pub accepted: u64,
    pub accepted_id_unknown: u64,
    pub rejected: u64,
    pub pending: u64,
    pub unknown: u64,
}

pub(super) const RESULT_COLUMNS: &str =
    "lab_id, content_hash, state, rnds_id, replaces, accepted_hash, \
     attempts, last_error, file_id, line, updated_at, sent_at, subject_hash, exam_code";

fn result_from_row(row: &Row<'_>) -> rusqlite::Result<(ResultRecord, String)> {
    let state: String = row.get(2)?;
    Ok((
        ResultRecord {
            lab_id: row.get(0)?,
            content_hash: row.get(1)?,
            state: ResultState::Sending, // replaced by the caller after parsing `state`
            rnds_id: row.get(3)?,
            replaces: row.get(4)?,
            accepted_hash: row.get(5)?,
            attempts: row.get(6)?,
            last_error: row.get(7)?,
            file_id: FileId(row.get(8)?),
            line: row.get(9)?,
            updated_at: row.get(10)?,
            sent_at: row.get(11)?,
            identity: match (row.get(12)?, row.get(13)?) {
                (Some(subject_hash), Some(exam_code)) => Some(Identity {
                    subject_hash,
                    exam_code,
                }),
                _ => None,
            },
        },
        state,
    ))
}

fn with_state((mut record, state): (ResultRecord, String)) -> Result<ResultRecord, LedgerError> {
    record.state = ResultState::parse(&state)?;
    Ok(record)
}

impl SqliteLedger {
    /// The stored row of `lab_id` (tests; the service reads a chunk's rows
    /// at once through [`Ledger::get_many`](super::Ledger::get_many)).
    #[cfg(test)]
    pub(crate) fn get(&self, lab_id: &str) -> Result<Option<ResultRecord>, LedgerError> {
        #[cfg(test)]
        super::read_counts::add(&self.path, 1, 0);
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {RESULT_COLUMNS} FROM results WHERE lab_id = ?1"
        ))?;
        stmt.query_row([lab_id], result_from_row)
            .optional()?
            .map(with_state)
            .transpose()
    }

    /// The stored rows of `lab_ids` (those the ledger has), read in one
    /// read transaction: one lock and one consistent snapshot for a whole
    /// chunk instead of a point read per row.
    pub(crate) fn get_many<'a>(
        &mut self,
        lab_ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashMap<String, ResultRecord>, LedgerError> {
        let tx = self.conn.transaction()?;
        let mut found = HashMap::new();
        {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {RESULT_COLUMNS} FROM results WHERE lab_id = ?1"
            ))?;
            for lab_id in lab_ids {
                if found.contains_key(lab_id) {
                    continue;
                }
                if let Some(row) = stmt.query_row([lab_id], result_from_row).optional()? {
                    found.insert(lab_id.to_owned(), with_state(row)?);
                }
            }
        }
        tx.commit()?;
        #[cfg(test)]
        super::read_counts::add(&self.path, 0, 1);
        Ok(found)
    }

    /// Records `sending` for every intent in one transaction, before the
    /// POSTs. Refuses the whole batch (nothing written) when a lab id is
    /// already in flight (also: twice in `batch`), or when an intent would
    /// create a second document: a lab id RNDS holds may only be sent as a
    /// replacement of its current RNDS id, and only for the same patient
    /// and exam (a row without a stored identity is never replaced).
    ///
    /// One unresolved case may be sent again: an `unknown` first document
    /// (no replacement, nothing accepted before) with the same content
    /// hash. That re-POST is the EHR-ERR866 proof: RNDS either creates it
    /// (it was never created) or refuses the lab id because it already
    /// holds it ([`LedgerOutcome::AcceptedIdUnknown`]). A `sending` row is
    /// never re-sent: after a restart `service::resolve` settles it first
    /// (lookup by identifier, or the EHR-ERR866 proof) through
    /// [`Ledger::unresolved`](super::Ledger::unresolved).
    pub(crate) fn begin_sending(&mut self, batch: &[Intent]) -> Result<(), LedgerError> {
        let now = now_text();
        let tx = self.conn.transaction()?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO results (lab_id, content_hash, state, replaces, file_id, line, updated_at,
                                      subject_hash, exam_code)
                 VALUES (?1, ?2, 'sending', ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (lab_id) DO UPDATE SET
                    content_hash = excluded.content_hash, state = 'sending',
                    replaces = excluded.replaces, file_id = excluded.file_id,
                    line = excluded.line, updated_at = excluded.updated_at,
                    subject_hash = excluded.subject_hash, exam_code = excluded.exam_code
                 WHERE (results.state NOT IN ('sending', 'unknown')
                        AND ((results.accepted_hash IS NULL AND excluded.replaces IS NULL)
                          OR (results.rnds_id IS NOT NULL AND excluded.replaces = results.rnds_id
                              AND results.subject_hash IS excluded.subject_hash
                              AND results.exam_code IS excluded.exam_code)))
                    OR (results.state = 'unknown' AND results.accepted_hash IS NULL
                        AND results.replaces IS NULL AND excluded.replaces IS NULL
                        AND excluded.content_hash = results.content_hash)",
            )?;
            for intent in batch {
                let changed = upsert.execute(params![
                    intent.lab_id,
                    intent.content_hash,
                    intent.replaces,
                    intent.file_id.0,
                    intent.line,
                    now,
                    intent.identity.subject_hash,
                    intent.identity.exam_code
                ])?;
                if changed == 0 {
                    let state: String = tx.query_row(
                        "SELECT state FROM results WHERE lab_id = ?1",
                        [&intent.lab_id],
                        |r| r.get(0),
                    )?;
                    // Dropping `tx` rolls the whole batch back.
                    return Err(LedgerError::NotSendable {
                        lab_id: intent.lab_id.clone(),
                        state,
                        replaces: intent.replaces.clone(),
                    });
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Stores the identity of a row written before schema 4, once a row
    /// with its exact accepted content (so the same patient and exam)
    /// shows it. `false` when there was nothing to learn.
    pub(crate) fn learn_identity(
        &mut self,
        lab_id: &str,
        accepted_hash: &str,
        identity: &Identity,
    ) -> Result<bool, LedgerError> {
        Ok(self.conn.execute(
            "UPDATE results SET subject_hash = ?3, exam_code = ?4
             WHERE lab_id = ?1 AND accepted_hash = ?2
               AND (subject_hash IS NULL OR exam_code IS NULL)",
            params![
                lab_id,
                accepted_hash,
                identity.subject_hash,
                identity.exam_code
            ],
        )? > 0)
    }

    /// Records the outcomes of a batch in one transaction. Outcomes are
    /// facts about RNDS, so every known lab id is recorded whatever its
    /// state; ids without a row are returned as an error after the others
    /// are committed.
    pub(crate) fn record_outcomes(
        &mut self,
        batch: &[(String, LedgerOutcome)],
    ) -> Result<(), LedgerError> {
        let now = now_text();
        let mut missing = Vec::new();
        let tx = self.conn.transaction()?;
        {
            // A late EHR-ERR866 for content whose id is already known keeps
            // the id (and the `accepted` state).
            let mut accepted = tx.prepare_cached(
                "UPDATE results SET
                    state = CASE WHEN ?3 IS NULL AND rnds_id IS NOT NULL
                                  AND accepted_hash = content_hash THEN 'accepted' ELSE ?2 END,
                    rnds_id = CASE WHEN ?3 IS NULL AND rnds_id IS NOT NULL
                                  AND accepted_hash = content_hash THEN rnds_id ELSE ?3 END,
                    accepted_hash = content_hash,
                    sent_at = CASE WHEN ?3 IS NULL AND rnds_id IS NOT NULL
                                  AND accepted_hash = content_hash THEN sent_at ELSE ?4 END,
                    last_error = NULL, updated_at = ?4
                 WHERE lab_id = ?1
                 RETURNING content_hash, replaces, file_id, line, rnds_id",
            )?;
            let mut history = tx.prepare_cached(
                "INSERT INTO result_history (lab_id, content_hash, rnds_id, replaces, file_id, line, accepted_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            let mut failed = tx.prepare_cached(
                "UPDATE results SET state = ?2, last_error = ?3, updated_at = ?4,
                    attempts = attempts + ?5
                 WHERE lab_id = ?1",
            )?;
            for (lab_id, outcome) in batch {
                let (state, rnds_id, message, extra_attempt) = match outcome {
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
                        let row = accepted
                            .query_row(params![lab_id, state.as_str(), rnds_id, now], |r| {
                                Ok((
                                    r.get::<_, String>(0)?,
                                    r.get::<_, Option<String>>(1)?,
                                    r.get::<_, i64>(2)?,
                                    r.get::<_, i64>(3)?,
                                    r.get::<_, Option<String>>(4)?,
                                ))
                            })
                            .optional()?;
                        if let Some((hash, replaces, file_id, line, stored_id)) = &row {
                            // Not a new version when a late EHR-ERR866 kept a known id.
                            if stored_id.as_deref() == rnds_id {
                                history.execute(params![
                                    lab_id, hash, rnds_id, replaces, file_id, line, now
                                ])?;
                            }
                        }
                        row.is_some()
                    }
                    _ => {
                        failed.execute(params![
                            lab_id,
                            state.as_str(),
                            message,
                            now,
                            extra_attempt
                        ])? > 0
                    }
                };
                if !found {
                    missing.push(lab_id.clone());
                }
            }
        }
        tx.commit()?;
        if missing.is_empty() {
            Ok(())
        } else {
            Err(LedgerError::OutcomeWithoutIntent(missing))
        }
    }

    /// Test-only: turns every `sending` row into `unknown`, the state a lost
    /// answer leaves (production settles `sending` rows directly, see
    /// `service::resolve`).
    #[cfg(test)]
    pub(crate) fn mark_interrupted_unknown(&mut self) -> Result<usize, LedgerError> {
        Ok(self.conn.execute(
            "UPDATE results SET state = 'unknown', updated_at = ?1,
                last_error = 'interrompido antes da resposta'
             WHERE state = 'sending'",
            [now_text()],
        )?)
    }

    /// Whether RNDS accepted this content of `lab_id` on behalf of
    /// `file_id` (a version a later file then changed): `Some` with the
    /// RNDS id it got (`None` when proved only by EHR-ERR866).
    pub(crate) fn accepted_from_file(
        &self,
        lab_id: &str,
        file_id: FileId,
        content_hash: &str,
    ) -> Result<Option<Option<String>>, LedgerError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT rnds_id FROM result_history
             WHERE lab_id = ?1 AND file_id = ?2 AND content_hash = ?3
             ORDER BY id DESC LIMIT 1",
        )?;
        Ok(stmt
            .query_row(params![lab_id, file_id.0, content_hash], |r| r.get(0))
            .optional()?)
    }

    /// Rows in `sending` or `unknown`: resolve them before any new work
    /// (at start-up and after lost answers).
    pub(crate) fn unresolved(&self) -> Result<Vec<ResultRecord>, LedgerError> {
        self.rows_where("state IN ('sending', 'unknown')", [])
    }

    /// Rows whose latest attempt came from `file_id` and reached a final
    /// state at RNDS (stored or refused): what passes over the file have
    /// achieved so far, whatever happened to the processes that ran them.
    pub(crate) fn final_rows_of_file(&self, file_id: FileId) -> Result<u64, LedgerError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT COUNT(*) FROM results WHERE file_id = ?1
             AND state IN ('accepted', 'accepted_id_unknown', 'rejected')",
        )?;
        Ok(stmt.query_row([file_id.0], |r| r.get(0))?)
    }

    /// Rows whose latest attempt came from `file_id` and whose POST may be
    /// under way (`sending`, `unknown`): a pass killed while sending leaves
    /// them, so a change in their number is progress too.
    pub(crate) fn unresolved_rows_of_file(&self, file_id: FileId) -> Result<u64, LedgerError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT COUNT(*) FROM results WHERE file_id = ?1
             AND state IN ('sending', 'unknown')",
        )?;
        Ok(stmt.query_row([file_id.0], |r| r.get(0))?)
    }

    /// Rows whose latest attempt came from `file_id`, in any state
    /// (pending, sending and unknown included): the rows passes over the
    /// file have recorded so far. A pass killed while RNDS was down got
    /// somewhere too: its rows wait in the ledger.
    pub(crate) fn recorded_rows_of_file(&self, file_id: FileId) -> Result<u64, LedgerError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM results WHERE file_id = ?1")?;
        Ok(stmt.query_row([file_id.0], |r| r.get(0))?)
    }

    #[cfg(test)]
    /// Rows left `pending` by transient failures: send them again.
    pub(crate) fn pending(&self) -> Result<Vec<ResultRecord>, LedgerError> {
        self.rows_where("state = 'pending'", [])
    }

    /// Rows whose latest attempt came from `file_id` and that `seen` does
    /// not know (streamed: a file of a million rows is not held in memory).
    pub(crate) fn results_of_file_except(
        &self,
        file_id: FileId,
        seen: impl Fn(&str) -> bool,
    ) -> Result<Vec<ResultRecord>, LedgerError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {RESULT_COLUMNS} FROM results WHERE file_id = ?1 ORDER BY line"
        ))?;
        let mut found = Vec::new();
        for row in stmt.query_map([file_id.0], result_from_row)? {
            let row = row?;
            if !seen(&row.0.lab_id) {
                found.push(with_state(row)?);
            }
        }
        Ok(found)
    }

    #[cfg(test)]
    /// Rows whose latest attempt came from `file_id`.
    pub(crate) fn results_of_file(
        &self,
        file_id: FileId,
    ) -> Result<Vec<ResultRecord>, LedgerError> {
        self.rows_where("file_id = ?1", [file_id.0])
    }

    #[cfg(test)]
    /// Accepted versions of `lab_id`, oldest first, as
    /// `(content_hash, rnds_id, replaces, accepted_at)`.
    pub(crate) fn history(&self, lab_id: &str) -> Result<Vec<HistoryRow>, LedgerError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT content_hash, rnds_id, replaces, accepted_at FROM result_history
             WHERE lab_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([lab_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    #[cfg(test)]
    /// Rows per state whose latest attempt came from `file_id`, or of the
    /// whole ledger with `None`. Rows found already sent are not touched,
    /// so the caller counts those.
    pub(crate) fn counts(&self, file_id: Option<FileId>) -> Result<StateCounts, LedgerError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT state, COUNT(*) FROM results WHERE ?1 IS NULL OR file_id = ?1 GROUP BY state",
        )?;
        let mut counts = StateCounts::default();
        let rows = stmt.query_map([file_id.map(|f| f.0)], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?))
        })?;
        for row in rows {
            let (state, n) = row?;
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
    }

    fn rows_where<P: rusqlite::Params>(
        &self,
        condition: &str,
        params: P,
    ) -> Result<Vec<ResultRecord>, LedgerError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {RESULT_COLUMNS} FROM results WHERE {condition} ORDER BY file_id, line"
        ))?;
        let rows = stmt.query_map(params, result_from_row)?;
        rows.map(|r| with_state(r?)).collect()
    }
}
