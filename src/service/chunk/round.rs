//! One round of a chunk: decide the first occurrence of each lab id with
//! the ledger, record the intents, submit, record the outcomes (lost
//! answers settled first). The order is the exactly-once contract: the
//! decision reads the ledger after `resolve_unresolved`, the intent is
//! durable before the POST, the outcome before the report.

use std::collections::HashSet;

use crate::ledger::{
    decide_from, identity_conflict, later_version, Decision, IdentityConflict, Intent, LedgerError,
    LedgerOutcome, ResultRecord, ResultState,
};
use crate::report::wording;
use crate::rnds::{ClientError, Outcome, Resolution};

use super::submit::submit_all;
use super::{Entry, Fate, PassState, ServiceError, Submission, ValidRow};

/// A lost answer to settle before anything else is decided.
struct LostAnswer {
    index: usize,
    lab_id: String,
    replaces: Option<String>,
    bundle: Vec<u8>,
    message: String,
}

/// What a round sends, and the rows left for the next round.
#[derive(Default)]
struct RoundPlan {
    next: Vec<usize>,
    intents: Vec<Intent>,
    sends: Vec<Submission>,
}

impl PassState<'_> {
    /// Decides the first occurrence of each lab id in `todo`, sends what
    /// must go, records the outcomes; returns the rows for another round.
    pub(super) async fn send_round(
        &mut self,
        entries: &mut [Entry],
        todo: Vec<usize>,
    ) -> Result<Vec<usize>, ServiceError> {
        let RoundPlan {
            mut next,
            intents,
            sends,
        } = self.plan_round(entries, todo)?;
        if sends.is_empty() {
            return Ok(next);
        }
        if !self.record_intents(entries, &intents, &sends)? {
            return Ok(next);
        }
        let answers = submit_all(self.client, &self.stop, &sends).await;
        let (mut batch, lost) = self.apply_answers(entries, &sends, answers);
        self.settle_lost_answers(entries, lost, &mut batch, &mut next)
            .await;
        super::super::blocking(|| self.ledger.record_outcomes(&batch))?;
        next.sort_unstable();
        Ok(next)
    }

    /// The ledger's decision for the first row of each lab id; a later row
    /// of the same lab id waits for the next round.
    fn plan_round(
        &mut self,
        entries: &mut [Entry],
        todo: Vec<usize>,
    ) -> Result<RoundPlan, ServiceError> {
        let mut plan = RoundPlan::default();
        // The ledger as the previous round left it: every lab id of this
        // round read once, in one read transaction.
        let wanted: Vec<&str> = todo
            .iter()
            .filter_map(|&i| match &entries[i] {
                Entry::Valid(v) => Some(v.result.lab_id.as_str()),
                Entry::Invalid { .. } => None,
            })
            .collect();
        let mut known = super::super::blocking(|| self.ledger.get_many(wanted))?;
        let mut seen = HashSet::new();
        for i in todo {
            let Entry::Valid(v) = &mut entries[i] else {
                continue;
            };
            if !seen.insert(v.result.lab_id.clone()) {
                plan.next.push(i);
                continue;
            }
            let record = known.remove(&v.result.lab_id);
            if let Some((intent, send)) = self.decide_row(i, v, record)? {
                plan.intents.push(intent);
                plan.sends.push(send);
            }
        }
        Ok(plan)
    }

    /// What to send for one row, or `None` with its fate set (already
    /// sent, refused before, pending, manual).
    fn decide_row(
        &mut self,
        index: usize,
        v: &mut ValidRow,
        record: Option<ResultRecord>,
    ) -> Result<Option<(Intent, Submission)>, ServiceError> {
        let identity = self
            .ledger
            .identity(&v.result.patient_cns, &v.result.exam.code);
        // A reused lab id never replaces another patient's or exam's result.
        if let Some(conflict) = identity_conflict(record.as_ref(), &identity, &v.hash) {
            let (line, lab_id) = (v.line, v.result.lab_id.as_str());
            let message = match conflict {
                IdentityConflict::OtherPatient => {
                    wording::lab_id_reused(line, lab_id, wording::OTHER_PATIENT)
                }
                IdentityConflict::OtherExam { sent } => {
                    wording::lab_id_reused(line, lab_id, &wording::other_exam(&sent))
                }
                IdentityConflict::NotRecorded => wording::lab_id_without_identity(line, lab_id),
            };
            v.fate = Some(Fate::IdentityRefused { message });
            return Ok(None);
        }
        // Refused on an earlier pass over this very file, same content:
        // another pass (retrying its pending rows) must not resend it.
        if let Some(r) = record.as_ref().filter(|r| {
            r.state == ResultState::Rejected
                && r.file_id == self.file_id
                && r.content_hash == v.hash
        }) {
            v.fate = Some(Fate::Rejected {
                message: r.last_error.clone().unwrap_or_default(),
            });
            return Ok(None);
        }
        // A file admitted after this one brought another version of this
        // result: it prevails, this older one is not sent.
        if later_version(record.as_ref(), self.file_id, &identity, &v.hash) {
            v.fate = Some(self.superseded(v, record.as_ref())?);
            return Ok(None);
        }
        let (replaces, retry) = match decide_from(record.as_ref(), &v.hash) {
            Decision::New => (None, false),
            Decision::RetryPending { replaces } => (replaces, true),
            Decision::Replace { current_rnds_id } => (Some(current_rnds_id), false),
            Decision::AlreadySent { rnds_id, sent_at } => {
                // The exact content RNDS holds: its patient and exam, for
                // a row an older version stored without them.
                if record.as_ref().is_some_and(|r| r.identity.is_none()) {
                    super::super::blocking(|| {
                        self.ledger
                            .learn_identity(&v.result.lab_id, &v.hash, &identity)
                    })?;
                }
                // Sent on behalf of this very file (an earlier pass):
                // it counts as sent here, not as already sent.
                let ours = record.as_ref().filter(|r| r.file_id == self.file_id);
                v.fate = Some(match ours {
                    Some(r) => Fate::Sent {
                        rnds_id,
                        replaced: r.replaces.is_some(),
                    },
                    None => Fate::AlreadySent { rnds_id, sent_at },
                });
                return Ok(None);
            }
            Decision::NeedsManualReconciliation => {
                v.fate = Some(Fate::Manual {
                    message: wording::needs_manual_reconciliation(v.line, &v.result.lab_id),
                });
                return Ok(None);
            }
            Decision::Unresolved => {
                v.fate = Some(Fate::Pending {
                    reason: wording::EARLIER_SEND_UNCONFIRMED.into(),
                });
                return Ok(None);
            }
        };
        if let Some(reason) = &self.halt {
            v.fate = Some(Fate::Pending {
                reason: reason.clone(),
            });
            return Ok(None);
        }
        let bundle = match &replaces {
            None => v.bundle.clone(),
            Some(r) => match self.rebuild(&v.result, r) {
                Ok(b) => b,
                Err(e) => {
                    v.fate = Some(Fate::Rejected {
                        message: wording::replacement_not_built(&e),
                    });
                    return Ok(None);
                }
            },
        };
        let intent = Intent {
            lab_id: v.result.lab_id.clone(),
            content_hash: v.hash.clone(),
            file_id: self.file_id,
            line: v.line,
            replaces: replaces.clone(),
            identity,
        };
        let send = Submission {
            index,
            replaces,
            retry,
            bundle,
        };
        Ok(Some((intent, send)))
    }

    /// The fate of a row a later file's version supersedes: which file,
    /// and whether RNDS accepted this row's version before (its RNDS id).
    fn superseded(
        &self,
        v: &ValidRow,
        record: Option<&ResultRecord>,
    ) -> Result<Fate, ServiceError> {
        let later_file = match record {
            Some(r) => self.ledger.file(r.file_id)?.map(|f| f.name),
            None => None,
        };
        let sent_before =
            self.ledger
                .accepted_from_file(&v.result.lab_id, self.file_id, &v.hash)?;
        Ok(Fate::Superseded {
            later_file: later_file.unwrap_or_default(),
            sent_before: sent_before.is_some(),
            rnds_id: sent_before.flatten(),
        })
    }

    /// Makes the intents durable before the first byte goes out. `false`
    /// when another process is sending one of these lab ids right now:
    /// nothing was written, nothing is sent, the rows wait for the next
    /// pass.
    fn record_intents(
        &mut self,
        entries: &mut [Entry],
        intents: &[Intent],
        sends: &[Submission],
    ) -> Result<bool, ServiceError> {
        match super::super::blocking(|| self.ledger.begin_sending(intents)) {
            Ok(()) => Ok(true),
            Err(LedgerError::NotSendable { lab_id, state, .. }) => {
                tracing::warn!(
                    lab_id,
                    state,
                    "exame em envio por outro processo; nova tentativa depois"
                );
                for send in sends {
                    if let Entry::Valid(v) = &mut entries[send.index] {
                        v.fate = Some(Fate::Pending {
                            reason: wording::SENDING_ELSEWHERE.into(),
                        });
                    }
                }
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Each answer becomes the row's fate and the ledger's outcome; a lost
    /// answer is set aside to be settled.
    fn apply_answers(
        &mut self,
        entries: &mut [Entry],
        sends: &[Submission],
        answers: Vec<Outcome>,
    ) -> (Vec<(String, LedgerOutcome)>, Vec<LostAnswer>) {
        let mut batch = Vec::with_capacity(sends.len());
        let mut lost = Vec::new();
        for (send, outcome) in sends.iter().zip(answers) {
            let Entry::Valid(v) = &mut entries[send.index] else {
                continue;
            };
            let lab_id = v.result.lab_id.clone();
            match self.answer_fate(send, v.line, &lab_id, outcome) {
                Ok((ledger_outcome, fate)) => {
                    v.fate = Some(fate);
                    batch.push((lab_id, ledger_outcome));
                }
                Err(message) => lost.push(LostAnswer {
                    index: send.index,
                    lab_id,
                    replaces: send.replaces.clone(),
                    bundle: send.bundle.clone(),
                    message,
                }),
            }
        }
        (batch, lost)
    }

    /// The ledger outcome and the fate of one answer; `Err` with the
    /// message when the answer was lost (`Outcome::Unknown`).
    fn answer_fate(
        &mut self,
        send: &Submission,
        line: u64,
        lab_id: &str,
        outcome: Outcome,
    ) -> Result<(LedgerOutcome, Fate), String> {
        let replaced = send.replaces.is_some();
        Ok(match outcome {
            Outcome::Accepted { rnds_id } => (
                LedgerOutcome::Accepted {
                    rnds_id: rnds_id.clone(),
                },
                Fate::Sent {
                    rnds_id: Some(rnds_id),
                    replaced,
                },
            ),
            Outcome::DuplicateIdentifier { .. } if send.retry && !replaced => (
                // An earlier attempt of ours did reach RNDS.
                LedgerOutcome::AcceptedIdUnknown,
                Fate::Sent {
                    rnds_id: None,
                    replaced: false,
                },
            ),
            // Never "renumber the exam": that would notify it twice.
            Outcome::DuplicateIdentifier { code } if !replaced => (
                LedgerOutcome::AcceptedIdUnknown,
                Fate::AlreadyAtRnds { code },
            ),
            Outcome::DuplicateIdentifier { code } => {
                let message = wording::replacement_refused_as_duplicate(line, lab_id, &code);
                (
                    LedgerOutcome::Rejected {
                        message: message.clone(),
                    },
                    Fate::Manual { message },
                )
            }
            Outcome::Rejected { message } => (
                LedgerOutcome::Rejected {
                    message: message.clone(),
                },
                Fate::Rejected { message },
            ),
            Outcome::ConfigurationError { message } => {
                self.config_error.get_or_insert(message.clone());
                self.halt.get_or_insert(message.clone());
                (
                    LedgerOutcome::Pending {
                        message: message.clone(),
                    },
                    Fate::Pending { reason: message },
                )
            }
            Outcome::Transient { message } => {
                self.halt
                    .get_or_insert_with(|| wording::rnds_unreachable(&message));
                (
                    LedgerOutcome::Pending {
                        message: message.clone(),
                    },
                    Fate::Pending { reason: message },
                )
            }
            Outcome::Unknown { message } => return Err(message),
        })
    }

    /// Lost answers are settled now, before anything else is decided: a
    /// row proved not stored goes again in the next round. They are settled
    /// at once, up to `max_in_flight` (each may take lookups with back-offs
    /// and a re-POST); once one cannot be settled (RNDS does not answer the
    /// lookups either) or a stop is requested, the rest are not tried now:
    /// they stay unknown in the ledger and are settled before anything else
    /// on the next pass.
    async fn settle_lost_answers(
        &mut self,
        entries: &mut [Entry],
        lost: Vec<LostAnswer>,
        batch: &mut Vec<(String, LedgerOutcome)>,
        next: &mut Vec<usize>,
    ) {
        let resolutions = settle_concurrently(self.client, &self.stop, &lost).await;
        for (answer, resolution) in lost.into_iter().zip(resolutions) {
            let Entry::Valid(v) = &mut entries[answer.index] else {
                continue;
            };
            let replaced = answer.replaces.is_some();
            let outcome = match resolution {
                Ok(Resolution::Stored { rnds_id }) => {
                    v.fate = Some(Fate::Sent {
                        rnds_id: rnds_id.clone(),
                        replaced,
                    });
                    match rnds_id {
                        Some(rnds_id) => LedgerOutcome::Accepted { rnds_id },
                        None => LedgerOutcome::AcceptedIdUnknown,
                    }
                }
                Ok(Resolution::NotStored) => {
                    next.push(answer.index);
                    LedgerOutcome::Pending {
                        message: answer.message,
                    }
                }
                Err(ClientError::Refused(message)) => {
                    v.fate = Some(Fate::Rejected {
                        message: message.clone(),
                    });
                    LedgerOutcome::Rejected { message }
                }
                Err(ClientError::Config(m)) => {
                    self.config_error.get_or_insert(m.clone());
                    self.halt.get_or_insert(m.clone());
                    v.fate = Some(Fate::Pending { reason: m.clone() });
                    LedgerOutcome::Unknown { message: m }
                }
                Err(e) => {
                    let message = wording::lost_answer_unconfirmed(&e);
                    v.fate = Some(Fate::Pending {
                        reason: message.clone(),
                    });
                    LedgerOutcome::Unknown { message }
                }
            };
            batch.push((answer.lab_id, outcome));
        }
    }
}

/// Settles every lost answer, at most `max_in_flight` at once, in the order
/// given; after the first one the lookups could not settle (or a stop),
/// the rest are not tried (an `Unreachable` error saying so).
async fn settle_concurrently(
    client: &crate::rnds::Client,
    stop: &tokio::sync::watch::Receiver<bool>,
    lost: &[LostAnswer],
) -> Vec<Result<Resolution, ClientError>> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let limit = Arc::new(tokio::sync::Semaphore::new(client.max_in_flight().max(1)));
    let gave_up = Arc::new(AtomicBool::new(false));
    let mut set = tokio::task::JoinSet::new();
    let mut results: Vec<Option<Result<Resolution, ClientError>>> =
        (0..lost.len()).map(|_| None).collect();
    for (k, answer) in lost.iter().enumerate() {
        let permit = limit.clone().acquire_owned().await;
        if gave_up.load(Ordering::SeqCst) || super::super::stopping(stop) {
            results[k] = Some(Err(ClientError::Unreachable(
                wording::SETTLING_POSTPONED.into(),
            )));
            continue;
        }
        let client = client.clone();
        let gave_up = gave_up.clone();
        let (lab_id, replaces, bundle) = (
            answer.lab_id.clone(),
            answer.replaces.clone(),
            answer.bundle.clone(),
        );
        set.spawn(async move {
            let _permit = permit;
            let resolution = client
                .resolve_unknown(&lab_id, replaces.as_deref(), bundle)
                .await;
            // RNDS did not answer (time-outs, 5xx after the retries): the
            // others would wait as long. An answer about one document (a
            // replaced one not found) says nothing about the others.
            if matches!(resolution, Err(ClientError::Unreachable(_))) {
                gave_up.store(true, Ordering::SeqCst);
            }
            (k, resolution)
        });
    }
    while let Some(joined) = set.join_next().await {
        if let Ok((k, resolution)) = joined {
            results[k] = Some(resolution);
        }
    }
    results
        .into_iter()
        .map(|r| {
            // A settling task that panicked: still unknown, never resent.
            r.unwrap_or_else(|| Err(ClientError::Unreachable(wording::SEND_INTERRUPTED.into())))
        })
        .collect()
}
