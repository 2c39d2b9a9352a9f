//! Taking a claimed file on: its ledger record (new, or found for a file
//! resumed from `processando/`) and what is known of its writer.

use std::time::{Duration, Instant};

use crate::ledger::NewFile;
use crate::watch::ClaimedFile;

use super::super::freshness::Freshness;
use super::super::publish::already_reported;
use super::super::ServiceError;
use super::{Active, Service};

impl Service {
    /// Records a newly claimed file, or finds the ledger record of one
    /// resumed from `processando/`. `changed_after_finish`: taken back from
    /// `processados/` or `falhas/` because a writer kept writing to it.
    pub(super) async fn admit(
        &mut self,
        claimed: ClaimedFile,
        changed_after_finish: bool,
    ) -> Result<Active, ServiceError> {
        let mut known = None;
        if claimed.resumed {
            known = self
                .ledger
                .files_in_progress()?
                .into_iter()
                .rfind(|f| f.work_path == claimed.work_path);
        }
        let (file_id, pending_reported, reported) = if let Some(record) = known {
            let pending = record.reports.iter().any(|(kind, _)| kind == "pendentes");
            tracing::info!(arquivo = %claimed.original_name, "retomando arquivo de uma execução anterior");
            (record.id, pending, already_reported(&record))
        } else {
            let sha = super::super::file_sha256(claimed.work_path.clone()).await?;
            let inbox = &self.config.inbox[claimed.inbox_index].path;
            let id = super::super::blocking(|| {
                self.ledger.record_file(&NewFile {
                    sha256: &sha,
                    name: &claimed.original_name,
                    inbox,
                    work_path: &claimed.work_path,
                })
            })?;
            tracing::info!(arquivo = %claimed.original_name, "arquivo recebido");
            (id, false, None)
        };
        let now = Instant::now();
        // A fresh claim was unchanged for settle_ms already; a resumed file
        // may have changed while the service was down: start counting now.
        let settle = Duration::from_millis(self.config.inbox[claimed.inbox_index].settle_ms);
        let quiet_since = if claimed.resumed || changed_after_finish {
            now
        } else {
            now.checked_sub(settle).unwrap_or(now)
        };
        let fresh = Freshness::new(claimed.look().ok(), quiet_since);
        Ok(Active {
            claimed,
            file_id,
            since: now,
            pending_reported,
            reported,
            passes: 0,
            next_try: now,
            fresh,
            awaiting_quiet: None,
        })
    }
}
