//! Opening the ledger for `run` and `send`, and starting a new one on
//! purpose. A missing ledger is created only where nothing shows earlier
//! sends: a lock file that says a ledger was in use, files already taken
//! from an inbox, or `enviados.csv` reports in an outbox. Otherwise the
//! process stops (exit 3) instead of re-sending everything RNDS holds.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::ledger::{Ledger, LedgerError};

use super::{prepare_ledger_dir, LedgerLock, ServiceError};

/// Written into `<ledger>.lock` once a ledger exists: a lock file that
/// says so is a trace of earlier use even if the ledger is deleted.
const LOCK_MARKER: &[u8] = b"rnds-drop: registro de envios em uso; nao apague o registro\n";

/// The inbox work folders that hold files already taken (the names
/// `watch` gives them).
const TAKEN_DIRS: [&str; 2] = [".rnds-drop/processados", ".rnds-drop/processando"];

/// Takes the ledger lock and opens the ledger, refusing to create one
/// where earlier sends are visible.
pub(crate) fn open_ledger(config: &Config) -> Result<(LedgerLock, Ledger), ServiceError> {
    let path = &config.ledger.path;
    let mut lock = prepare_ledger_dir(path)?;
    if !path.exists() {
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
    if lock.marked {
        return Ok(());
    }
    lock.file
        .write_all(LOCK_MARKER)
        .and_then(|()| lock.file.sync_all())
        .map_err(|source| ServiceError::Output {
            path: ledger.to_path_buf(),
            source,
        })?;
    lock.marked = true;
    Ok(())
}

/// pt-BR description of the first trace of earlier sends, if any.
fn earlier_sends(config: &Config, lock: &LedgerLock) -> Option<String> {
    if lock.marked {
        let mut name = config.ledger.path.as_os_str().to_owned();
        name.push(".lock");
        return Some(format!(
            "o arquivo {} (criado junto com o registro)",
            Path::new(&name).display()
        ));
    }
    for inbox in &config.inbox {
        for dir in TAKEN_DIRS {
            let dir = inbox.path.join(dir);
            if let Some(file) = any_file(&dir, 4) {
                return Some(format!(
                    "a pasta {} (arquivo {})",
                    dir.display(),
                    file.display()
                ));
            }
        }
        if let Ok(entries) = std::fs::read_dir(&inbox.outbox) {
            for entry in entries.filter_map(Result::ok) {
                if entry
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".enviados.csv")
                {
                    return Some(format!(
                        "a pasta de relatórios {} (arquivo {})",
                        inbox.outbox.display(),
                        entry.path().display()
                    ));
                }
            }
        }
    }
    None
}

/// Some regular file under `dir`, looking at most `depth` folders down.
fn any_file(dir: &Path, depth: usize) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    for entry in entries.filter_map(Result::ok) {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_file() {
            return Some(entry.path());
        }
        if kind.is_dir() && depth > 0 {
            if let Some(found) = any_file(&entry.path(), depth - 1) {
                return Some(found);
            }
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
