//! Finds files that finished arriving in the inboxes and claims them: a
//! [`Scanner`] per inbox lists candidate files and calls one ready when its
//! size, mtime and inode stayed unchanged for `settle_ms` on our own
//! monotonic clock; claiming renames it into `<inbox>/.rnds-drop/processando/`
//! (same volume, so the rename is atomic); [`ClaimedFile::finish`] moves it
//! to `processados/AAAA/MM/DD/` or `falhas/` without ever overwriting.
//! [`Inboxes`] drives all scanners: file events (`notify`) only wake a scan
//! early; full scans run on start, every `scan_interval_s`, every
//! `poll_period` for `poll` inboxes and after any watcher error or overflow.
//! Files left in `processando/` by a previous run are returned first.
//!
//! Invariant: this module knows nothing of file contents, the ledger or
//! RNDS; it only lists, stats, opens (to test readability) and renames.
//! One service instance per inbox, or several each claiming into its own
//! `processando/<instance>/`: the work folders are ours alone, and
//! private (`crate::private_fs`: they hold whole patient exports). Only
//! `.csv`, `.txt`, `.xlsx` and `.ods` names are candidates (`rules`).

mod attempts;
mod growth;
mod inboxes;
mod rules;
mod scanner;
mod workdir;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub(crate) use growth::{unterminated_tail, FileLook};
pub(crate) use inboxes::{Inboxes, WatchSettings};
pub use scanner::{Scan, Scanner};
pub(crate) use workdir::{any_taken_file, numbered, ClaimedFile, Disposition};

#[derive(Debug, thiserror::Error)]
/// Why an inbox or its work folder cannot be used; messages are pt-BR.
pub enum WatchError {
    #[error(
        "a pasta de entrada {path} não existe ou não é uma pasta: crie-a ou corrija [[inbox]] \
         path na configuração"
    )]
    /// The configured inbox is not a folder.
    InboxMissing {
        /// The configured inbox.
        path: PathBuf,
    },
    #[error(
        "não foi possível ler a pasta de entrada {path}: {}",
        crate::io_text::reason(source)
    )]
    /// The inbox could not be listed.
    ReadInbox {
        /// The inbox.
        path: PathBuf,
        #[source]
        /// The operating system's reason.
        source: std::io::Error,
    },
    #[error(
        "a pasta de trabalho {work} está em outro volume que a pasta de entrada {inbox}; \
         ela precisa ficar no mesmo disco para que a troca de pasta seja atômica"
    )]
    /// The work folder is on another volume, so a move would not be atomic.
    OtherVolume {
        /// The inbox.
        inbox: PathBuf,
        /// Its work folder.
        work: PathBuf,
    },
    #[error(
        "não foi possível preparar a pasta de trabalho {path}: {}",
        crate::io_text::reason(source)
    )]
    /// The work folder could not be created or used.
    WorkDir {
        /// The work folder.
        path: PathBuf,
        #[source]
        /// The operating system's reason.
        source: std::io::Error,
    },
    #[error(
        "não foi possível mover {from} para {to}: {}",
        crate::io_text::reason(source)
    )]
    /// A file could not be moved between folders.
    Move {
        /// Where it was.
        from: PathBuf,
        /// Where it was going.
        to: PathBuf,
        #[source]
        /// The operating system's reason.
        source: std::io::Error,
    },
}
