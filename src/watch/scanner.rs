//! One inbox's listing and stability tracking, on an injected clock.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, FileType, Metadata};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::rules::{is_ignored_name, is_spreadsheet_name, libreoffice_lock_name};
use super::workdir::{display_name, move_without_overwrite, ClaimedFile, WorkDirs};
use super::WatchError;
use crate::platform;

/// What a scan found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// Files settled and readable, by name. An empty file is ready too: the
    /// service gives it a second look before failing it (it may be a file
    /// being created), so it never sits in the inbox unreported.
    pub ready: Vec<PathBuf>,
    /// When the earliest still-settling file could become ready: scan
    /// again then.
    pub next_check: Option<Instant>,
}

/// What identifies one version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Signature {
    len: u64,
    mtime: Option<SystemTime>,
    /// Inode on Unix, file index on Windows (see [`platform::file_identity`]).
    identity: u64,
}

impl Signature {
    fn of(path: &Path, meta: &Metadata) -> Signature {
        Signature {
            len: meta.len(),
            mtime: meta.modified().ok(),
            identity: platform::file_identity(path, meta),
        }
    }
}

#[derive(Debug)]
struct Tracked {
    signature: Signature,
    /// Our clock when `signature` was first seen: never the file's mtime,
    /// which comes from another machine's clock on a network share.
    unchanged_since: Instant,
}

/// Lists one inbox and tells which files finished arriving.
#[derive(Debug)]
pub struct Scanner {
    index: usize,
    inbox: PathBuf,
    settle: Duration,
    work: WorkDirs,
    tracked: HashMap<PathBuf, Tracked>,
    warned: HashSet<PathBuf>,
}

impl Scanner {
    /// Prepares the inbox's work folders (see [`WorkDirs::prepare`]).
    /// `index` is copied into the [`ClaimedFile`]s it returns.
    pub fn new(index: usize, inbox: &Path, settle: Duration) -> Result<Scanner, WatchError> {
        Scanner::for_instance(index, inbox, settle, None)
    }

    /// [`Scanner::new`] for one of several instances on the inbox: it
    /// claims into `processando/<instance>/`.
    pub(crate) fn for_instance(
        index: usize,
        inbox: &Path,
        settle: Duration,
        instance: Option<&str>,
    ) -> Result<Scanner, WatchError> {
        Ok(Scanner {
            index,
            inbox: inbox.to_path_buf(),
            settle,
            work: WorkDirs::prepare(inbox, instance)?,
            tracked: HashMap::new(),
            warned: HashSet::new(),
        })
    }

    pub(crate) fn inbox(&self) -> &Path {
        &self.inbox
    }

    /// This inbox's work folders (a take-over moves a file into them).
    pub(crate) fn work(&self) -> &WorkDirs {
        &self.work
    }

    /// Its index among the inboxes.
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// Files a previous run left in `processando/`, as claimed files.
    pub(crate) fn leftovers(&self) -> Result<Vec<ClaimedFile>, WatchError> {
        Ok(self
            .work
            .leftovers()?
            .into_iter()
            .map(|path| ClaimedFile::resumed(self.index, &self.work, path))
            .collect())
    }

    /// Lists the inbox at `now` (our monotonic clock). A file is ready when
    /// its size, mtime and identity (inode, or file index on Windows) have
    /// not changed since a scan at least `settle` earlier and it opens for
    /// reading.
    pub fn poll(&mut self, now: Instant) -> Result<Scan, WatchError> {
        let inbox = self.inbox.clone();
        let read_err = |source| WatchError::ReadInbox {
            path: inbox.clone(),
            source,
        };
        let entries = fs::read_dir(&self.inbox).map_err(read_err)?;
        let mut scan = Scan::default();
        let mut present = HashSet::new();
        for entry in entries {
            let entry = entry.map_err(read_err)?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_ignored_name(&name) {
                continue;
            }
            // `symlink_metadata`: a symlink is reported as such, not followed.
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue; // vanished between listing and stat
            };
            present.insert(path.clone());
            if meta.file_type().is_file() && !is_spreadsheet_name(&name) {
                self.warn_once(&path, || "ignorado: não é planilha".to_owned());
                continue;
            }
            if !meta.file_type().is_file() {
                self.warn_once(&path, || {
                    format!(
                        "não é um arquivo comum ({}); ignorado",
                        kind_of(meta.file_type())
                    )
                });
                continue;
            }
            let signature = Signature::of(&path, &meta);
            let tracked = self.tracked.entry(path.clone()).or_insert(Tracked {
                signature,
                unchanged_since: now,
            });
            if tracked.signature != signature {
                tracked.signature = signature;
                tracked.unchanged_since = now;
            }
            let settles_at = tracked.unchanged_since + self.settle;
            if now < settles_at {
                scan.next_check = Some(scan.next_check.map_or(settles_at, |t| t.min(settles_at)));
            } else if self.inbox.join(libreoffice_lock_name(&name)).exists() {
                self.warn_once(&path, || {
                    "está aberto no LibreOffice; será pego quando for fechado".to_owned()
                });
            } else if let Err(e) = File::open(&path) {
                self.warn_once(&path, || {
                    format!("não pode ser aberto para leitura ({e}); aguardando")
                });
            } else {
                scan.ready.push(path);
            }
        }
        self.tracked.retain(|path, _| present.contains(path));
        self.warned.retain(|path| present.contains(path));
        scan.ready.sort();
        Ok(scan)
    }

    /// Renames a ready file into `processando/`. `None` when it vanished
    /// or changed since the scan that found it ready, or another program
    /// holds it open (Windows refuses the rename): it settles again.
    pub fn claim(&mut self, path: &Path) -> Result<Option<ClaimedFile>, WatchError> {
        let Some(tracked) = self.tracked.remove(path) else {
            return Ok(None);
        };
        let Ok(meta) = fs::symlink_metadata(path) else {
            return Ok(None);
        };
        if !meta.file_type().is_file() || Signature::of(path, &meta) != tracked.signature {
            return Ok(None);
        }
        let original_name = display_name(path);
        let work_path = match move_without_overwrite(path, &self.work.processing(), &original_name)
        {
            Ok(work_path) => work_path,
            // Open in another program (Excel, on Windows): not yet. It is
            // no longer tracked, so it settles again and is retried.
            Err(WatchError::Move { source, .. }) if platform::is_in_use(&source) => {
                self.warn_once(path, || {
                    "está aberto em outro programa (Excel?); será pego quando for fechado"
                        .to_owned()
                });
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        Ok(Some(ClaimedFile {
            inbox_index: self.index,
            original_name,
            work_path,
            resumed: false,
            work: self.work.clone(),
        }))
    }

    fn warn_once(&mut self, path: &Path, message: impl FnOnce() -> String) {
        if self.warned.insert(path.to_path_buf()) {
            tracing::warn!(path = %path.display(), "{}", message());
        }
    }
}

fn kind_of(file_type: FileType) -> &'static str {
    if file_type.is_symlink() {
        "link simbólico"
    } else if file_type.is_dir() {
        "pasta"
    } else {
        platform::special_file_kind(file_type).unwrap_or("tipo desconhecido")
    }
}
