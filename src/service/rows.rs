//! What a pass tallies as it goes: the counts of each row outcome and the
//! rows still pending. Shared by `pass` (which reports them) and `chunk`
//! (which fills them).

use crate::report::Summary;

/// A valid row still waiting (pending) after the pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRow {
    pub line: u64,
    pub lab_id: String,
    pub reason: String,
}

#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Counts {
    pub(super) invalid: u64,
    pub(super) sent: u64,
    pub(super) replaced: u64,
    pub(super) already_sent: u64,
    pub(super) rejected: u64,
    pub(super) pending: u64,
}

impl Counts {
    pub(super) fn fill(&self, s: &mut Summary) {
        s.rows_sent = Some(self.sent);
        s.rows_replaced = Some(self.replaced);
        s.rows_already_sent = Some(self.already_sent);
        s.rows_rejected = Some(self.rejected);
        s.rows_pending = Some(self.pending);
    }

    /// The progress of a pass after `read` rows.
    pub(super) fn progress(&self, read: u64) -> crate::ops::PassProgress {
        crate::ops::PassProgress {
            read,
            sent: self.sent + self.replaced,
            already_sent: self.already_sent,
            invalid: self.invalid,
            rejected: self.rejected,
            pending: self.pending,
        }
    }
}

/// The `enviados.csv` status of a row known only from the ledger (an
/// earlier pass handled it; the file no longer holds it, or the file is
/// set aside): what RNDS holds, never more. `gone`: the writer rewrote the
/// file and the row is no longer in it.
pub(super) fn ledger_only_status(
    record: &crate::ledger::ResultRecord,
    gone: bool,
) -> crate::report::SentStatus {
    use crate::ledger::ResultState;
    use crate::report::SentStatus;
    // An earlier version RNDS holds (a refused or pending correction keeps it).
    let held = record.accepted_hash.is_some();
    match record.state {
        ResultState::Accepted | ResultState::AcceptedIdUnknown if gone => {
            SentStatus::GoneFromFile { sent: true }
        }
        ResultState::Accepted | ResultState::AcceptedIdUnknown => SentStatus::Sent,
        ResultState::Sending | ResultState::Unknown => SentStatus::Unconfirmed,
        _ if gone => SentStatus::GoneFromFile { sent: held },
        ResultState::Rejected => {
            SentStatus::Rejected(record.last_error.clone().unwrap_or_default())
        }
        ResultState::Pending => SentStatus::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::ledger_only_status;
    use crate::ledger::{FileId, ResultRecord, ResultState};
    use crate::report::SentStatus;

    fn record(state: ResultState, accepted_hash: Option<&str>) -> ResultRecord {
        ResultRecord {
            lab_id: "P-1".into(),
            content_hash: "h2".into(),
            state,
            rnds_id: accepted_hash.map(|_| "rnds-1".into()),
            replaces: None,
            accepted_hash: accepted_hash.map(Into::into),
            attempts: 1,
            last_error: Some("HTTP 422: campo inválido".into()),
            file_id: FileId(1),
            line: 2,
            updated_at: String::new(),
            sent_at: None,
            identity: None,
        }
    }

    #[test]
    fn a_row_known_only_from_the_ledger_says_what_rnds_holds() {
        let unknown = record(ResultState::Unknown, None);
        let sending = record(ResultState::Sending, None);
        for gone in [false, true] {
            // A lost answer may have been stored: never "não enviado".
            assert_eq!(ledger_only_status(&unknown, gone), SentStatus::Unconfirmed);
            assert_eq!(ledger_only_status(&sending, gone), SentStatus::Unconfirmed);
        }
        let refused_correction = record(ResultState::Rejected, Some("h1"));
        assert_eq!(
            ledger_only_status(&refused_correction, true),
            SentStatus::GoneFromFile { sent: true }
        );
        let refused = record(ResultState::Rejected, None);
        assert_eq!(
            ledger_only_status(&refused, true),
            SentStatus::GoneFromFile { sent: false }
        );
        assert_eq!(
            ledger_only_status(&refused, false),
            SentStatus::Rejected("HTTP 422: campo inválido".into())
        );
        let accepted = record(ResultState::Accepted, Some("h2"));
        assert_eq!(ledger_only_status(&accepted, false), SentStatus::Sent);
        assert_eq!(
            ledger_only_status(&accepted, true),
            SentStatus::GoneFromFile { sent: true }
        );
        let pending = record(ResultState::Pending, None);
        assert_eq!(ledger_only_status(&pending, false), SentStatus::Pending);
    }
}
