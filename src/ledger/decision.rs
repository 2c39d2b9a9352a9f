//! The exactly-once decision for one lab id, pure given its stored row.

use super::files::FileId;
use super::results::{Identity, ResultRecord, ResultState};
use super::Ledger;
#[cfg(test)]
use super::LedgerError;

/// What to do with a result whose lab id and content hash are given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Never sent, or only rejected before (the lab fixed the row): send.
    New,
    /// RNDS holds this exact content: do not send; report it as already
    /// sent. `rnds_id` is `None` when it was proved only by EHR-ERR866.
    AlreadySent {
        rnds_id: Option<String>,
        sent_at: String,
    },
    /// RNDS holds another version: send a replacement of `current_rnds_id`.
    Replace { current_rnds_id: String },
    /// RNDS holds a version whose id is unknown (proved by EHR-ERR866) and
    /// the content changed: a replacement cannot target it; a person must
    /// reconcile it.
    NeedsManualReconciliation,
    /// The last attempt is `sending` or `unknown`: resolve it first
    /// (identifier lookup, or the EHR-ERR866 proof: re-POST the same
    /// content, see [`Ledger::begin_sending`]); never send other content.
    Unresolved,
    /// The last attempt failed transiently: send again (as a replacement of
    /// `replaces` when RNDS holds an earlier version).
    RetryPending { replaces: Option<String> },
}

impl Ledger {
    #[cfg(test)]
    /// The decision for `lab_id` carrying `content_hash`.
    pub(crate) fn decide(&self, lab_id: &str, content_hash: &str) -> Result<Decision, LedgerError> {
        Ok(decide_from(self.get(lab_id)?.as_ref(), content_hash))
    }
}

/// The exactly-once decision for a new occurrence of a lab id carrying
/// `content_hash`, given its stored row (from [`Ledger::get_many`]; `None` when
/// the lab id is new).
pub(crate) fn decide_from(row: Option<&ResultRecord>, content_hash: &str) -> Decision {
    let Some(row) = row else {
        return Decision::New;
    };
    match row.state {
        ResultState::Sending | ResultState::Unknown => Decision::Unresolved,
        ResultState::Pending => Decision::RetryPending {
            replaces: row.rnds_id.clone(),
        },
        // After a rejected attempt RNDS still holds what it accepted before
        // (if anything): compare with that version, not the rejected one.
        ResultState::Accepted | ResultState::AcceptedIdUnknown | ResultState::Rejected => {
            match (&row.accepted_hash, &row.rnds_id) {
                (None, _) => Decision::New,
                (Some(accepted), rnds_id) if accepted == content_hash => Decision::AlreadySent {
                    rnds_id: rnds_id.clone(),
                    sent_at: row.sent_at.clone().unwrap_or_default(),
                },
                (Some(_), Some(current)) => Decision::Replace {
                    current_rnds_id: current.clone(),
                },
                (Some(_), None) => Decision::NeedsManualReconciliation,
            }
        }
    }
}

/// Why a row may not be sent under a lab id RNDS already holds a result
/// for: that result is another patient's or another exam's (the lab reused
/// the id), or it was sent before the ledger stored identities and the
/// row's content differs from it (nothing proves it is the same result).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IdentityConflict {
    OtherPatient,
    OtherExam { sent: String },
    NotRecorded,
}

/// Whether a row of `identity` and `content_hash` conflicts with the
/// result `row` says RNDS holds. A correction (same patient, same exam;
/// result, dates or anything else changed) does not. Only what RNDS holds
/// binds a lab id: a first send that was refused or never arrived binds
/// nothing, and an unresolved one is decided after it is settled.
pub(crate) fn identity_conflict(
    row: Option<&ResultRecord>,
    identity: &Identity,
    content_hash: &str,
) -> Option<IdentityConflict> {
    let row = row?;
    let accepted = row.accepted_hash.as_deref()?;
    if matches!(row.state, ResultState::Sending | ResultState::Unknown) {
        return None;
    }
    match &row.identity {
        Some(held) if held.subject_hash != identity.subject_hash => {
            Some(IdentityConflict::OtherPatient)
        }
        Some(held) if held.exam_code != identity.exam_code => Some(IdentityConflict::OtherExam {
            sent: held.exam_code.clone(),
        }),
        Some(_) => None,
        None if accepted == content_hash => None,
        None => Some(IdentityConflict::NotRecorded),
    }
}

/// Whether a file admitted after `file_id` brought another version of the
/// same result (same patient, same exam) under this lab id: that version
/// is the lab's latest word. A file admitted earlier and processed only
/// now (resumed after a stop, retried after an outage) must not send its
/// older version, neither as a replacement of the correction RNDS holds nor
/// ahead of a correction still waiting. Admission order is the order of the
/// files' ledger ids. Another patient's or exam's row is not a version of
/// this result: [`identity_conflict`] decides those.
pub(crate) fn later_version(
    row: Option<&ResultRecord>,
    file_id: FileId,
    identity: &Identity,
    content_hash: &str,
) -> bool {
    row.is_some_and(|r| {
        r.file_id > file_id
            && r.content_hash != content_hash
            && r.identity.as_ref() == Some(identity)
    })
}
