//! One chunk of a pass: settle unresolved rows, decide each valid row with
//! the ledger, record the intents in one transaction, submit with bounded
//! concurrency, record the outcomes in one transaction, then write the rows
//! to the reports in input order. `round` is one decide-send-record round,
//! `submit` the bounded-concurrency POSTs, `entries` the reports' rows.

mod entries;
mod first_rows;
mod round;
mod submit;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::fhir;
use crate::input::Row;
use crate::ledger::{FileId, Ledger, ResultRecord, ResultState};
use crate::mapping::ColumnMap;
use crate::model::{LabResult, RowIssue};
use crate::pipeline::{FileHeader, FileJob, RowOutcome};
use crate::report::{wording, Summary};
use crate::rnds::Client;

use self::first_rows::FirstRows;
use super::outputs::Outputs;
use super::paths::OutputPaths;
use super::resolve::{resolve_one, Resolved};
use super::rows::{Counts, PendingRow};
use super::{InternalFailure, ServiceError};

/// Rounds of sending within one chunk: a lab id repeated in the chunk, or
/// a lost answer proved not stored, goes again in the next round.
const MAX_ROUNDS: usize = 4;

/// What became of a valid row in this pass.
#[derive(Debug, Clone)]
enum Fate {
    Sent {
        rnds_id: Option<String>,
        replaced: bool,
    },
    AlreadySent {
        rnds_id: Option<String>,
        sent_at: String,
    },
    /// EHR-ERR866 for a lab id this ledger did not hold: RNDS already has
    /// it (sent before the ledger was lost, or by another installation).
    AlreadyAtRnds {
        /// The code RNDS answered (`EHR-ERR866`, `EHR-MSG010`, …).
        code: String,
    },
    Rejected {
        message: String,
    },
    Manual {
        message: String,
    },
    /// The lab id already appeared earlier in this file: never sent twice,
    /// never replaced by a sibling row.
    Repeated {
        message: String,
    },
    /// RNDS holds another patient's or exam's result under this lab id
    /// (or one whose identity is not recorded): never sent.
    IdentityRefused {
        message: String,
    },
    /// A file admitted later brought another version of this result (same
    /// patient and exam): that version prevails, this one is not sent.
    /// `sent_before`: RNDS accepted this row's version earlier (`rnds_id`).
    Superseded {
        later_file: String,
        sent_before: bool,
        rnds_id: Option<String>,
    },
    Pending {
        reason: String,
    },
}

struct ValidRow {
    line: u64,
    cells: Vec<String>,
    result: LabResult,
    hash: String,
    bundle: Vec<u8>,
    fate: Option<Fate>,
}

enum Entry {
    Valid(Box<ValidRow>),
    Invalid {
        cells: Vec<String>,
        issues: Vec<RowIssue>,
    },
}

/// One bundle about to go out.
struct Submission {
    index: usize,
    replaces: Option<String>,
    /// The decision was a retry of a row RNDS may already hold (an earlier
    /// attempt failed in a way that does not prove it was not stored).
    retry: bool,
    bundle: Vec<u8>,
}

pub(super) struct PassState<'a> {
    pub(super) job: FileJob,
    pub(super) file_id: FileId,
    pub(super) client: &'a Client,
    pub(super) ledger: &'a mut Ledger,
    pub(super) stop: watch::Receiver<bool>,
    pub(super) summary: Option<Summary>,
    pub(super) outputs: Option<Outputs>,
    pub(super) rows_seen: u64,
    /// The last line (or sheet row) of the rows handled so far.
    pub(super) last_line: u64,
    pub(super) pending: Vec<PendingRow>,
    pub(super) config_error: Option<String>,
    /// Why nothing more is sent in this pass (configuration error, or RNDS
    /// unreachable after the client's retries): the rest of the file is
    /// still read and reported, its rows pending.
    pub(super) halt: Option<String>,
    pub(super) counts: Counts,
    /// Lab id → (line, content) of its first row in this file.
    pub(super) first_rows: FirstRows,
    /// The file's column map, once its header is known.
    pub(super) columns: Option<ColumnMap>,
}

impl PassState<'_> {
    pub(super) fn header(
        &mut self,
        header: &FileHeader,
        paths: &OutputPaths,
    ) -> Result<(), ServiceError> {
        let mut summary = crate::check::summary_of(header);
        let mut outputs = Outputs::create(paths, header)?;
        for issue in &header.file_issues {
            outputs.file_issue(issue.clone(), &mut summary)?;
        }
        self.summary = Some(summary);
        self.outputs = Some(outputs);
        self.columns = Some(header.columns.clone());
        Ok(())
    }

    pub(super) async fn chunk(&mut self, outcomes: Vec<RowOutcome>) -> Result<(), ServiceError> {
        let mut entries: Vec<Entry> = Vec::with_capacity(outcomes.len());
        // Invalid rows by lab id (the ones a corrected drop can bring back).
        let mut invalid_ids: Vec<(String, u64)> = Vec::new();
        // Lines of invalid rows without a lab id (kept by file and line).
        let mut invalid_without_id: Vec<u64> = Vec::new();
        // (entry index, the lab id versions before the Excel-time fix derived)
        let mut legacy_ids: Vec<(usize, String)> = Vec::new();
        for outcome in outcomes {
            self.rows_seen += 1;
            let (RowOutcome::Valid { row, .. } | RowOutcome::Invalid { row, .. }) = &outcome;
            self.last_line = self.last_line.max(row.line);
            entries.push(match outcome {
                RowOutcome::Valid {
                    row,
                    result,
                    bundle,
                } => {
                    if let Some(legacy) = self.legacy_id(&row, &result) {
                        legacy_ids.push((entries.len(), legacy));
                    }
                    Entry::Valid(Box::new(ValidRow {
                        line: row.line,
                        cells: row.cells,
                        hash: fhir::content_hash(&result),
                        result: *result,
                        bundle,
                        fate: None,
                    }))
                }
                RowOutcome::Invalid { row, issues } => {
                    self.counts.invalid += 1;
                    if let Some(lab_id) = self
                        .columns
                        .as_ref()
                        .and_then(|c| c.cell(&row, crate::model::Field::LabId))
                        .map(str::trim)
                        .filter(|id| !id.is_empty())
                    {
                        invalid_ids.push((lab_id.to_string(), row.line));
                    } else {
                        invalid_without_id.push(row.line);
                    }
                    Entry::Invalid {
                        cells: row.cells,
                        issues,
                    }
                }
            });
        }
        // Every lab id of the chunk (and every legacy one) read once, in
        // one read transaction, off the async workers.
        let wanted = entries
            .iter()
            .filter_map(|e| match e {
                Entry::Valid(v) => Some(v.result.lab_id.as_str()),
                Entry::Invalid { .. } => None,
            })
            .chain(legacy_ids.iter().map(|(_, id)| id.as_str()));
        let known = super::blocking(|| self.ledger.get_many(wanted))?;
        for (index, legacy) in legacy_ids {
            if let Entry::Valid(v) = &mut entries[index] {
                self.adopt_legacy_id(v, legacy, &known)?;
            }
        }
        // Which lab ids wait in an errors report, and which came back valid
        // (after legacy adoption: the ids as they will be sent).
        let valid_ids: Vec<&str> = entries
            .iter()
            .filter_map(|e| match e {
                Entry::Valid(v) => Some(v.result.lab_id.as_str()),
                Entry::Invalid { .. } => None,
            })
            .collect();
        // A transaction with its fsync: off the async worker, like the
        // other ledger writes.
        super::blocking(|| {
            self.ledger.note_row_validity(
                self.file_id,
                &invalid_ids,
                &valid_ids,
                &invalid_without_id,
            )
        })?;
        self.mark_repeated(&mut entries);
        self.resolve_unresolved(&mut entries, &known).await?;
        let mut todo: Vec<usize> = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| matches!(e, Entry::Valid(v) if v.fate.is_none()))
            .map(|(i, _)| i)
            .collect();
        let mut round = 0;
        while !todo.is_empty() {
            round += 1;
            if round > MAX_ROUNDS {
                for i in todo.drain(..) {
                    if let Entry::Valid(v) = &mut entries[i] {
                        v.fate = Some(Fate::Pending {
                            reason: wording::RETRY_POSTPONED.into(),
                        });
                    }
                }
                break;
            }
            todo = self.send_round(&mut entries, todo).await?;
        }
        super::blocking(|| self.write_entries(entries))
    }

    /// The lab id versions before the Excel-time rounding fix derived for
    /// this row, when it differs from today's.
    fn legacy_id(&self, row: &Row, result: &LabResult) -> Option<String> {
        let columns = self.columns.as_ref()?;
        crate::validate::legacy_lab_id(row, columns, &self.job.validate, &result.lab_id)
    }

    /// Versions before the Excel-time rounding fix derived some lab ids
    /// from an instant one second early. A row whose id the ledger does not
    /// know, but knows the id those versions derived, is that same
    /// document: it keeps the old id, so the corrected instant goes out
    /// once as a replacement (then "já enviado"), never as a second document.
    fn adopt_legacy_id(
        &self,
        v: &mut ValidRow,
        legacy: String,
        known: &HashMap<String, ResultRecord>,
    ) -> Result<(), ServiceError> {
        if known.contains_key(&v.result.lab_id) || !known.contains_key(&legacy) {
            return Ok(());
        }
        v.result.lab_id = legacy;
        v.bundle = fhir::to_json_bytes(&v.result, &self.job.bundle, &self.job.timestamp, None)
            .map_err(InternalFailure::Bundle)?;
        v.hash = fhir::content_hash(&v.result);
        Ok(())
    }

    /// A lab id must appear once per file. A later row with the same
    /// content is a duplicate; with other content it contradicts the first.
    /// Either way it is reported, not sent: sending both would make the
    /// second a replacement of the first on every drop of the file.
    fn mark_repeated(&mut self, entries: &mut [Entry]) {
        for e in entries.iter_mut() {
            let Entry::Valid(v) = e else { continue };
            let lab_id = &v.result.lab_id;
            if let Some(earlier) = self.first_rows.note(lab_id, v.line, &v.hash) {
                let message = if earlier.same_content {
                    wording::repeated_same_content(v.line, lab_id, earlier.line)
                } else {
                    wording::repeated_other_content(v.line, lab_id, earlier.line)
                };
                v.fate = Some(Fate::Repeated { message });
            }
        }
    }

    /// Rows whose last attempt is `sending`/`unknown` are settled before
    /// any decision (identifier lookup, or the EHR-ERR866 proof when this
    /// row carries the very content of that attempt).
    async fn resolve_unresolved(
        &mut self,
        entries: &mut [Entry],
        known: &HashMap<String, ResultRecord>,
    ) -> Result<(), ServiceError> {
        let mut jobs = Vec::new();
        let mut seen = HashSet::new();
        for (i, e) in entries.iter_mut().enumerate() {
            let Entry::Valid(v) = e else { continue };
            if !seen.insert(v.result.lab_id.clone()) {
                continue;
            }
            let Some(record) = known.get(&v.result.lab_id).cloned() else {
                continue;
            };
            if !matches!(record.state, ResultState::Sending | ResultState::Unknown) {
                continue;
            }
            if let Some(reason) = &self.halt {
                // RNDS is down or refuses our configuration: no lookup now.
                v.fate = Some(Fate::Pending {
                    reason: reason.clone(),
                });
                continue;
            }
            let bundle = if record.content_hash == v.hash {
                match &record.replaces {
                    None => Some(v.bundle.clone()),
                    Some(r) => self.rebuild(&v.result, r).ok(),
                }
            } else {
                None
            };
            jobs.push((i, record, bundle));
        }
        if jobs.is_empty() {
            return Ok(());
        }
        let mut set = JoinSet::new();
        let limit = Arc::new(Semaphore::new(self.client.max_in_flight().max(1)));
        for (i, record, bundle) in jobs {
            let client = self.client.clone();
            let limit = limit.clone();
            set.spawn(async move {
                let _permit = limit.acquire_owned().await;
                (
                    i,
                    record.lab_id.clone(),
                    resolve_one(&client, &record, bundle).await,
                )
            });
        }
        let mut batch = Vec::new();
        while let Some(joined) = set.join_next().await {
            let (i, lab_id, resolved) = joined.map_err(InternalFailure::ResolutionInterrupted)?;
            match resolved {
                Resolved::Outcome(outcome) => batch.push((lab_id, outcome)),
                Resolved::StillUnknown(reason) => {
                    if let Entry::Valid(v) = &mut entries[i] {
                        v.fate = Some(Fate::Pending { reason });
                    }
                }
                Resolved::ConfigError(message) => {
                    self.config_error.get_or_insert(message.clone());
                    self.halt.get_or_insert(message.clone());
                    if let Entry::Valid(v) = &mut entries[i] {
                        v.fate = Some(Fate::Pending { reason: message });
                    }
                }
            }
        }
        super::blocking(|| self.ledger.record_outcomes(&batch))?;
        Ok(())
    }

    fn rebuild(&self, result: &LabResult, replaces: &str) -> Result<Vec<u8>, fhir::FhirError> {
        fhir::to_json_bytes(
            result,
            &self.job.bundle,
            &self.job.timestamp,
            Some(replaces),
        )
    }
}
