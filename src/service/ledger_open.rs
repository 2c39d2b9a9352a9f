//! Opening the ledger for `run` and `send`, and starting a new one on
//! purpose. A missing ledger is created only where nothing shows earlier
//! sends: a lock file that says a ledger was in use, files already taken
//! from an inbox, or `enviados.csv` reports in an outbox. Otherwise the
//! process stops (exit 3) instead of re-sending everything RNDS holds.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::ledger::{Ledger, LedgerError, LedgerLock};

use super::{prepare_ledger_dir, ServiceError};

/// Takes the ledger lock and opens the ledger, refusing to create one
/// where earlier sends are visible.
pub(crate) fn open_ledger(config: &Config) -> Result<(LedgerLock, Ledger), ServiceError> {
    let path = &config.ledger.path;
    let mut lock = prepare_ledger_dir(path)?;
    if !Ledger::file_exists(path) {
        if let Some(evidence) = earlier_sends(config, &lock) {
            return Err(LedgerError::Missing {
                path: path.clone(),
                evidence,
            }
            .into());
        }
    }
    let ledger = Ledger::open(path)?;
    mark(&mut lock, path)?;
    Ok((lock, ledger))
}

fn mark(lock: &mut LedgerLock, ledger: &Path) -> Result<(), ServiceError> {
    lock.mark().map_err(|source| ServiceError::Output {
        path: ledger.to_path_buf(),
        source,
    })
}

/// pt-BR description of the first trace of earlier sends, if any: the
/// facts come from `ledger` (the lock's mark), `watch` (files taken from
/// an inbox) and `report` (`enviados.csv` in an outbox).
fn earlier_sends(config: &Config, lock: &LedgerLock) -> Option<String> {
    if lock.was_marked() {
        return Some(format!(
            "o arquivo {} (criado junto com o registro)",
            lock.path().display()
        ));
    }
    for inbox in &config.inbox {
        if let Some((dir, file)) = crate::watch::any_taken_file(&inbox.path) {
            return Some(format!(
                "a pasta {} (arquivo {})",
                dir.display(),
                file.display()
            ));
        }
        if let Some(report) = crate::report::any_sent_report(&inbox.outbox) {
            return Some(format!(
                "a pasta de relatórios {} (arquivo {})",
                inbox.outbox.display(),
                report.display()
            ));
        }
    }
    None
}

/// `rnds-drop new-ledger`: the explicit fresh start. Takes the lock (the
/// service must be stopped), keeps whatever ledger files exist aside as
/// `<ledger>.descartado-<AAAAMMDDTHHMMSS>`, creates an empty ledger and
/// returns where the old one went.
pub fn start_new_ledger(config: &Config) -> Result<Option<PathBuf>, ServiceError> {
    let path = &config.ledger.path;
    let mut lock = prepare_ledger_dir(path)?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S").to_string();
    let aside = Ledger::start_fresh(path, &stamp)?;
    mark(&mut lock, path)?;
    Ok(aside)
}
