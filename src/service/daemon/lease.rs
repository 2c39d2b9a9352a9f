//! One of several instances on one inbox (`[ledger] instance`): taking
//! over the files of an instance whose lease ran out, and letting go of a
//! file another instance took over. The leases themselves (heartbeat,
//! fencing) are the ledger's (`ledger::postgres::lease`).

use std::time::{Duration, Instant};

use crate::ledger::LedgerError;
use crate::watch::Inboxes;

use super::super::publish::settle_reports;
use super::super::{blocking, ServiceError};
use super::admit::Unadmitted;
use super::{Active, Service};

/// When the next look for files to take over is due.
pub(super) struct TakeOver {
    every: Duration,
    next: Instant,
}

impl TakeOver {
    /// Every `heartbeat_s` of `[ledger]`, for an instance; `None` otherwise.
    pub(super) fn of(config: &crate::config::Config, now: Instant) -> Option<TakeOver> {
        let instance = config.ledger.postgres.as_ref()?.instance.as_ref()?;
        Some(TakeOver {
            every: Duration::from_secs(instance.heartbeat_s.max(1)),
            next: now,
        })
    }

    pub(super) fn next(&self) -> Instant {
        self.next
    }
}

/// Whether `error` says another instance holds `file` now (a row of
/// another file held elsewhere, met by this file's pass, is an ordinary
/// error: the pass is retried, the file stays this instance's).
pub(super) fn lease_lost(error: &ServiceError, file: crate::ledger::FileId) -> bool {
    matches!(error, ServiceError::Ledger(LedgerError::LeaseLost { file_id }) if *file_id == file.0)
}

impl Service {
    /// When due, takes over the oldest file whose lease ran out: it is
    /// moved into this instance's `processando/` (the new path recorded
    /// first), the report sets its holder left half-published are
    /// finished, and it is admitted like a file resumed after a restart
    /// (rows already sent are "já enviado", unresolved rows settled by the
    /// pass before any new send).
    pub(super) async fn take_over_due(&mut self, inboxes: &Inboxes) -> Option<Active> {
        let now = self.clock.now();
        let take_over = self.take_over.as_mut()?;
        if now < take_over.next {
            return None;
        }
        take_over.next = now + take_over.every;
        let record = match blocking(|| self.ledger.take_over()) {
            Ok(Some(record)) => record,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!("não foi possível procurar arquivos de instâncias paradas: {e}");
                return None;
            }
        };
        let id = record.id;
        let ledger = &mut self.ledger;
        let adopted = blocking(|| {
            inboxes.adopt(&record.inbox, &record.work_path, |to| {
                ledger.set_work_path(id, to).map_err(|e| e.to_string())
            })
        });
        let claimed = match adopted {
            Some(Ok(claimed)) => claimed,
            Some(Err(e)) => {
                tracing::error!(
                    arquivo = %record.name,
                    "o arquivo de uma instância parada não pôde ser assumido: {e}"
                );
                self.ledger.release(id);
                return None;
            }
            None => {
                tracing::warn!(
                    arquivo = %record.name,
                    pasta = %record.inbox.display(),
                    "arquivo de uma instância parada numa pasta de entrada que esta instância \
                     não conhece; fica para outra"
                );
                self.ledger.release(id);
                return None;
            }
        };
        tracing::info!(
            arquivo = %claimed.original_name,
            "arquivo assumido de uma instância sem sinal de vida; continua de onde ela parou"
        );
        if let Err(e) = blocking(|| settle_reports(&mut self.ledger, &[])) {
            tracing::warn!("relatórios interrompidos do arquivo assumido não concluídos: {e}");
        }
        match self.admit(claimed.clone(), false).await {
            Ok(active) => Some(active),
            Err(e) => {
                self.admission_failed(Unadmitted::new(claimed, false, now), &e);
                None
            }
        }
    }
}
