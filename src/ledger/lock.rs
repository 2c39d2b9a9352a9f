//! One process per ledger: the service and `send` both settle rows left
//! `sending`, so two of them on one ledger could each "settle" the other's
//! request in flight and send it again. An exclusive lock on
//! `<ledger>.lock`, held for the life of the process (released by the OS
//! even on SIGKILL), rules that out. Once a ledger exists the lock file
//! also carries a mark, a trace of earlier use that survives the ledger
//! being deleted.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Written into `<ledger>.lock` once a ledger exists.
const LOCK_MARKER: &[u8] = b"rnds-drop: registro de envios em uso; nao apague o registro\n";

/// Why the lock could not be taken.
#[derive(Debug)]
pub(crate) enum LockError {
    /// Another process holds it.
    Busy,
    /// The lock file could not be opened or locked.
    Io { path: PathBuf, source: io::Error },
}

/// The exclusive lock on `<ledger>.lock`, held until dropped.
#[derive(Debug)]
pub(crate) struct LedgerLock {
    file: File,
    path: PathBuf,
    /// The lock file already said a ledger was in use before this process.
    marked: bool,
}

impl LedgerLock {
    /// `<ledger>.lock`.
    pub(crate) fn path_for(ledger: &Path) -> PathBuf {
        let mut name = ledger.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }

    /// Takes the lock without waiting.
    pub(crate) fn take(ledger: &Path) -> Result<LedgerLock, LockError> {
        let path = LedgerLock::path_for(ledger);
        let mut options = OpenOptions::new();
        options.create(true).truncate(false).read(true).write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&path).map_err(|source| LockError::Io {
            path: path.clone(),
            source,
        })?;
        match file.try_lock() {
            Ok(()) => {
                let marked = file.metadata().is_ok_and(|m| m.len() > 0);
                Ok(LedgerLock { file, path, marked })
            }
            Err(TryLockError::WouldBlock) => Err(LockError::Busy),
            Err(TryLockError::Error(source)) => Err(LockError::Io { path, source }),
        }
    }

    /// The lock file said a ledger was in use before this process took it.
    pub(crate) fn was_marked(&self) -> bool {
        self.marked
    }

    /// The lock file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Records, durably, that a ledger exists beside this lock.
    pub(crate) fn mark(&mut self) -> io::Result<()> {
        if self.marked {
            return Ok(());
        }
        self.file.write_all(LOCK_MARKER)?;
        self.file.sync_all()?;
        self.marked = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{LedgerLock, LockError};

    #[test]
    fn a_second_lock_on_the_same_ledger_is_busy_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("registro.sqlite");
        let first = LedgerLock::take(&ledger).unwrap();
        assert!(matches!(LedgerLock::take(&ledger), Err(LockError::Busy)));
        drop(first);
        assert!(LedgerLock::take(&ledger).is_ok());
    }

    #[test]
    fn the_mark_survives_the_process_that_wrote_it() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("registro.sqlite");
        let mut first = LedgerLock::take(&ledger).unwrap();
        assert!(!first.was_marked());
        first.mark().unwrap();
        drop(first);
        let second = LedgerLock::take(&ledger).unwrap();
        assert!(second.was_marked());
        assert_eq!(second.path(), dir.path().join("registro.sqlite.lock"));
    }
}
