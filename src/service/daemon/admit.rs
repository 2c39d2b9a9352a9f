//! Taking a claimed file on: its ledger record (new, or found for a file
//! resumed from `processando/`) and what is known of its writer.

use std::time::{Duration, Instant};

use crate::ledger::NewFile;
use crate::watch::ClaimedFile;

use super::super::freshness::Freshness;
use super::super::publish::already_reported;
use super::super::ServiceError;
use super::{retry_delay, Active, Service};

impl Service {
    /// Records a newly claimed file, or finds the ledger record of one
    /// resumed from `processando/`. `changed_after_finish`: taken back from
    /// `processados/` or `falhas/` because a writer kept writing to it.
    pub(super) async fn admit(
        &mut self,
        mut claimed: ClaimedFile,
        changed_after_finish: bool,
    ) -> Result<Active, ServiceError> {
        let mut known = None;
        if claimed.resumed {
            known = self
                .ledger
                .files_in_progress()?
                .into_iter()
                .rfind(|f| f.work_path == claimed.work_path);
            // One of several instances: a file of its own folder may have
            // been taken over while it was down (`renew_own`).
            if let Some(record) = &known {
                if !self.ledger.renew_own(record.id)? {
                    return Err(crate::ledger::LedgerError::LeaseLost {
                        file_id: record.id.0,
                    }
                    .into());
                }
            }
        }
        let (file_id, pending_reported, reported, received) = if let Some(record) = known {
            let pending = record.reports.iter().any(|(kind, _)| kind == "pendentes");
            // Its name in the inbox, not the clash name it may have in
            // `processando/` (`x (2).csv`): reports, and the rest of a file
            // reopened by name, are found by it (chaos seed 44).
            claimed.original_name.clone_from(&record.name);
            tracing::info!(arquivo = %claimed.original_name, "retomando arquivo de uma execução anterior");
            // Its report names keep the instant of its first admission.
            let received = chrono::DateTime::parse_from_rfc3339(&record.claimed_at)
                .map_or_else(|_| chrono::Utc::now(), |at| at.to_utc());
            (record.id, pending, already_reported(&record), received)
        } else {
            let sha = self.digest_for_admission(&claimed).await?;
            let inbox = &self.config.inbox[claimed.inbox_index].path;
            let id = super::super::blocking(|| {
                self.ledger.record_file(&NewFile {
                    sha256: &sha,
                    name: &claimed.original_name,
                    inbox,
                    work_path: &claimed.work_path,
                })
            })?;
            // Rows without a lab id of an earlier file of this name (or of
            // the file whose errors report this is) stop waiting: this file
            // is their correction.
            let stem = crate::check::stem(std::path::Path::new(&claimed.original_name));
            super::super::blocking(|| {
                self.ledger.drop_rows_without_id_replaced_by(id, |earlier| {
                    let earlier = crate::check::stem(std::path::Path::new(earlier));
                    earlier == stem || stem.starts_with(&format!("{earlier}."))
                })
            })?;
            tracing::info!(arquivo = %claimed.original_name, "arquivo recebido");
            let received = self
                .ledger
                .file_claimed_at(id)?
                .unwrap_or_else(chrono::Utc::now);
            (id, false, None, received)
        };
        let now = self.clock.now();
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
            received,
            since: now,
            pending_reported,
            reported,
            passes: 0,
            failed_passes: 0,
            next_try: now,
            fresh,
            awaiting_quiet: None,
        })
    }

    /// The file's SHA-256 for its ledger record. A hashing thread that died
    /// on this file ([`MAX_DIGEST_FAILURES`] times) is a defect met on its
    /// content: the file is recorded without a digest (like one that could
    /// not be opened) so the pass that follows reports it, never left in
    /// `processando/` without a report.
    async fn digest_for_admission(
        &mut self,
        claimed: &ClaimedFile,
    ) -> Result<String, ServiceError> {
        let path = claimed.work_path.clone();
        let digest = super::super::digest_on_blocking_thread(move || {
            super::super::publish::failpoint_panic("sha256-admissao");
            crate::input::sha256_file(&path)
        })
        .await;
        match digest {
            Err(e) => {
                let failures = self
                    .digest_failures
                    .entry(claimed.work_path.clone())
                    .or_default();
                *failures += 1;
                if *failures < MAX_DIGEST_FAILURES {
                    return Err(e);
                }
                tracing::error!(
                    arquivo = %claimed.original_name,
                    "o SHA-256 do arquivo não pôde ser calculado ({e}); ele segue sem ele"
                );
                self.digest_failures.remove(&claimed.work_path);
                Ok(String::new())
            }
            Ok(sha) => {
                self.digest_failures.remove(&claimed.work_path);
                Ok(sha)
            }
        }
    }

    /// A file whose admission failed (the ledger could not record it, its
    /// digest died) is tried again after a growing delay, without waiting
    /// for a restart.
    pub(super) fn admission_failed(&mut self, unadmitted: Unadmitted, error: &ServiceError) {
        // Taken over while this instance was down (`renew_own` said so).
        if matches!(
            error,
            ServiceError::Ledger(crate::ledger::LedgerError::LeaseLost { .. })
        ) {
            tracing::info!(
                arquivo = %unadmitted.claimed.original_name,
                "arquivo assumido por outra instância enquanto esta estava parada; fica com ela"
            );
            return;
        }
        let failures = unadmitted.failures + 1;
        let delay = retry_delay(failures);
        tracing::error!(
            arquivo = %unadmitted.claimed.original_name,
            nova_tentativa_em_s = delay.as_secs(),
            "{error}; o arquivo fica em processando/ e será registrado de novo"
        );
        self.unadmitted.push(Unadmitted {
            failures,
            next_try: self.clock.now() + delay,
            ..unadmitted
        });
    }
}

/// Digests that died on one file before it is recorded without one.
const MAX_DIGEST_FAILURES: u32 = 3;

impl Unadmitted {
    /// Due at `now` (the daemon's clock).
    pub(super) fn new(
        claimed: ClaimedFile,
        changed_after_finish: bool,
        now: Instant,
    ) -> Unadmitted {
        Unadmitted {
            claimed,
            changed_after_finish,
            failures: 0,
            next_try: now,
        }
    }
}

/// A claimed file not admitted yet (see [`Service::admission_failed`]).
pub(super) struct Unadmitted {
    pub(super) claimed: ClaimedFile,
    /// Taken back from `processados/` or `falhas/` (see [`Service::admit`]).
    pub(super) changed_after_finish: bool,
    pub(super) failures: u32,
    pub(super) next_try: Instant,
}
