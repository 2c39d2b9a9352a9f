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
