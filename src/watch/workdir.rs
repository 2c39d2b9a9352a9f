//! The work folders under `<inbox>/.rnds-drop/` and moves that never
//! overwrite.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};

use super::attempts::Attempts;
use super::growth::FileLook;
use super::WatchError;
use crate::platform;
use crate::private_fs::{create_private_dir_all, restrict};

const WORK_ROOT: &str = ".rnds-drop";
const PROCESSING: &str = "processando";
const PROCESSED: &str = "processados";
const FAILED: &str = "falhas";
/// Per claimed file, the reads that produced no row (see `attempts`).
const ATTEMPTS: &str = "tentativas";

/// A file this inbox already handed over (in `processados/` or
/// `processando/`): `(folder, file)`. A trace of earlier sends, which the
/// ledger's guard uses before it creates a missing ledger.
pub(crate) fn any_taken_file(inbox: &Path) -> Option<(PathBuf, PathBuf)> {
    [PROCESSED, PROCESSING].into_iter().find_map(|name| {
        let dir = inbox.join(WORK_ROOT).join(name);
        any_file(&dir, 4).map(|file| (dir, file))
    })
}

/// Some regular file under `dir`, looking at most `depth` folders down.
fn any_file(dir: &Path, depth: usize) -> Option<PathBuf> {
    let entries = fs::read_dir(dir).ok()?;
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

/// Where a finished file goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disposition {
    /// Read and handled (whatever its rows' outcomes): `processados/AAAA/MM/DD/`.
    Processed,
    /// Could not be read: `falhas/`.
    Failed,
}

/// The work folders of one inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WorkDirs {
    root: PathBuf,
    /// `processando/`, or `processando/<instance>/` for one of several
    /// instances on the inbox (each claims into a folder of its own).
    processing: PathBuf,
}

impl WorkDirs {
    /// Creates `<inbox>/.rnds-drop/{processando,processados,falhas}` and
    /// refuses them when they are not on the inbox's volume (e.g. a
    /// symlink or mount point to another disk), where a rename would not
    /// be atomic.
    pub(crate) fn prepare(inbox: &Path, instance: Option<&str>) -> Result<WorkDirs, WatchError> {
        let missing = || WatchError::InboxMissing {
            path: inbox.to_path_buf(),
        };
        if !fs::metadata(inbox).is_ok_and(|m| m.is_dir()) {
            return Err(missing());
        }
        let inbox_volume = platform::volume_id(inbox).map_err(|_| missing())?;
        let root = inbox.join(WORK_ROOT);
        let mut processing = root.join(PROCESSING);
        if let Some(instance) = instance {
            processing.push(instance);
        }
        let work = WorkDirs { root, processing };
        for dir in [
            work.root.clone(),
            work.processing(),
            work.processed_root(),
            work.failed(),
            work.attempts_dir(),
        ] {
            let io_err = |source| WatchError::WorkDir {
                path: dir.clone(),
                source,
            };
            // They hold whole patient exports: private, and tightened when
            // an older version left them open (best effort: a folder another
            // account owns still works as before).
            create_private_dir_all(&dir).map_err(io_err)?;
            if let Err(e) = restrict(&dir) {
                tracing::warn!(pasta = %dir.display(), "não foi possível restringir as permissões: {e}");
            }
            if platform::volume_id(&dir).map_err(io_err)? != inbox_volume {
                return Err(WatchError::OtherVolume {
                    inbox: inbox.to_path_buf(),
                    work: dir,
                });
            }
        }
        Ok(work)
    }

    pub(crate) fn processing(&self) -> PathBuf {
        self.processing.clone()
    }

    /// A free name in this process's `processando/` for a file another
    /// instance claimed and this one takes over (`from`, in any folder of
    /// this inbox's `processando/`).
    pub(crate) fn adoption_target(&self, from: &Path) -> Result<PathBuf, WatchError> {
        let name = display_name(from);
        for n in 1..MAX_NUMBERED {
            let candidate = self.processing.join(numbered(&name, n));
            if candidate == from {
                return Ok(candidate);
            }
            match fs::symlink_metadata(&candidate) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(candidate),
                Ok(_) => {}
                Err(source) => {
                    return Err(WatchError::Move {
                        from: from.to_path_buf(),
                        to: candidate,
                        source,
                    })
                }
            }
        }
        Err(WatchError::Move {
            from: from.to_path_buf(),
            to: self.processing.join(name),
            source: std::io::Error::from(std::io::ErrorKind::AlreadyExists),
        })
    }

    fn processed_root(&self) -> PathBuf {
        self.root.join(PROCESSED)
    }

    /// `processados/AAAA/MM/DD/` of `day`.
    pub(crate) fn processed(&self, day: NaiveDate) -> PathBuf {
        self.processed_root()
            .join(format!("{:04}", day.year()))
            .join(format!("{:02}", day.month()))
            .join(format!("{:02}", day.day()))
    }

    pub(crate) fn failed(&self) -> PathBuf {
        self.root.join(FAILED)
    }

    fn attempts_dir(&self) -> PathBuf {
        self.root.join(ATTEMPTS)
    }

    /// Regular files left in `processando/` by a previous run, by name. A
    /// process alone on its inbox also takes those left in the folders of
    /// instances (`processando/<instance>/`): after going back from several
    /// instances to one, nobody else would ever finish them (review
    /// finding 1).
    pub(crate) fn leftovers(&self) -> Result<Vec<PathBuf>, WatchError> {
        let dir = self.processing();
        let lone = dir == self.root.join(PROCESSING);
        let entries = fs::read_dir(&dir).map_err(|source| WatchError::ReadInbox {
            path: dir.clone(),
            source,
        })?;
        let mut files = Vec::new();
        for entry in entries.filter_map(Result::ok) {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_file() {
                files.push(entry.path());
            } else if lone && kind.is_dir() {
                if let Ok(inner) = fs::read_dir(entry.path()) {
                    files.extend(
                        inner
                            .filter_map(Result::ok)
                            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                            .map(|e| e.path()),
                    );
                }
            }
        }
        files.sort();
        Ok(files)
    }
}

/// Moves a file taken over from `from` to `to` (see
/// [`WorkDirs::adoption_target`]) and returns it as a resumed claim.
pub(crate) fn adopt(
    inbox_index: usize,
    work: &WorkDirs,
    from: &Path,
    to: PathBuf,
) -> Result<ClaimedFile, WatchError> {
    if from != to {
        fs::rename(from, &to).map_err(|source| WatchError::Move {
            from: from.to_path_buf(),
            to: to.clone(),
            source,
        })?;
    }
    Ok(ClaimedFile::resumed(inbox_index, work, to))
}

/// A file renamed into `processando/`, to be read by the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedFile {
    /// Index of its inbox in the list given to [`super::Inboxes::for_instance`].
    pub inbox_index: usize,
    /// The name it had in the inbox (for a resumed file: its name in
    /// `processando/`, which differs only after a name clash).
    pub original_name: String,
    /// Where it is now; read it from here.
    pub work_path: PathBuf,
    /// Claimed by a previous run and found in `processando/` on start.
    pub resumed: bool,
    pub(super) work: WorkDirs,
}

impl ClaimedFile {
    pub(super) fn resumed(inbox_index: usize, work: &WorkDirs, work_path: PathBuf) -> ClaimedFile {
        ClaimedFile {
            inbox_index,
            original_name: display_name(&work_path),
            work_path,
            resumed: true,
            work: work.clone(),
        }
    }

    /// Moves the file out of `processando/` (`day` names the
    /// `processados/AAAA/MM/DD/` folder; pass the lab's local date) and
    /// returns where it went. A name already taken there gets ` (2)`,
    /// ` (3)`... before the extension.
    pub(crate) fn finish(
        &self,
        disposition: Disposition,
        day: NaiveDate,
    ) -> Result<PathBuf, WatchError> {
        let dir = match disposition {
            Disposition::Processed => self.work.processed(day),
            Disposition::Failed => self.work.failed(),
        };
        create_private_dir_all(&dir).map_err(|source| WatchError::WorkDir {
            path: dir.clone(),
            source,
        })?;
        let stored = move_without_overwrite(&self.work_path, &dir, &self.original_name)?;
        // A leftover marker only costs a few bytes; never fail a finished
        // file over it.
        let _ = self.attempts().clear();
        Ok(stored)
    }

    /// Size and modification time of the claimed file now.
    pub fn look(&self) -> std::io::Result<FileLook> {
        FileLook::of(&self.work_path)
    }

    #[cfg(test)]
    /// Reads of this version of the file (`look`) that got nowhere (at
    /// `progress`, see [`ClaimedFile::begin_read`]): the process died
    /// while reading it, or the reader refused it.
    pub(crate) fn reads_without_rows(&self, look: &FileLook, progress: u64) -> u32 {
        self.attempts().count(look, progress)
    }

    /// Records, durably, that a read of this version begins; returns the
    /// reads that got nowhere before this one. `progress` is the caller's
    /// measure of what earlier reads achieved (rows of the file recorded
    /// in the ledger): when it changed since the last read began, that read got
    /// somewhere and the count starts again.
    pub fn begin_read(&self, look: &FileLook, progress: u64) -> Result<u32, WatchError> {
        self.attempts()
            .begin(look, progress)
            .map_err(|source| WatchError::WorkDir {
                path: self.work.attempts_dir(),
                source,
            })
    }

    /// The read finished (or was stopped, or failed through no fault of
    /// the file): forget the count.
    pub(crate) fn clear_failed_reads(&self) {
        if let Err(e) = self.attempts().clear() {
            tracing::warn!(arquivo = %self.original_name, "não foi possível apagar o marcador de tentativas: {e}");
        }
    }

    /// Takes back a file this service already moved to `processados/` or
    /// `falhas/` (at `stored`) because it changed there: a writer still
    /// held it open. It goes back into `processando/` as a new claim.
    pub(crate) fn reclaim(&self, stored: &Path) -> Result<ClaimedFile, WatchError> {
        let work_path =
            move_without_overwrite(stored, &self.work.processing(), &self.original_name)?;
        Ok(ClaimedFile {
            inbox_index: self.inbox_index,
            original_name: self.original_name.clone(),
            work_path,
            resumed: false,
            work: self.work.clone(),
        })
    }

    fn attempts(&self) -> Attempts {
        Attempts::new(&self.work.attempts_dir(), &display_name(&self.work_path))
    }
}

pub(super) fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Renames `from` into `dir` as `name`, or `name (2)`, `name (3)`... when
/// taken. Checking then renaming is race-free here because only this
/// service writes into its work folders.
pub(super) fn move_without_overwrite(
    from: &Path,
    dir: &Path,
    name: &str,
) -> Result<PathBuf, WatchError> {
    let mut n = 1u32;
    let target = loop {
        let candidate = dir.join(numbered(name, n));
        match fs::symlink_metadata(&candidate) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => break candidate,
            Ok(_) if n < MAX_NUMBERED => n += 1,
            // Only "taken" moves on to the next number: any other error
            // (not a folder, no permission, name too long) would recur for
            // every number, and a loop over it never ends.
            Ok(_) => {
                return Err(WatchError::Move {
                    from: from.to_path_buf(),
                    to: candidate,
                    source: std::io::Error::from(std::io::ErrorKind::AlreadyExists),
                })
            }
            Err(source) => {
                return Err(WatchError::Move {
                    from: from.to_path_buf(),
                    to: candidate,
                    source,
                })
            }
        }
    };
    fs::rename(from, &target).map_err(|source| WatchError::Move {
        from: from.to_path_buf(),
        to: target.clone(),
        source,
    })?;
    Ok(target)
}

/// Numbered names tried before giving up on a folder.
const MAX_NUMBERED: u32 = 100_000;

/// `exames.csv` → `exames (2).csv`; `n = 1` keeps the name. Also the rule
/// for a report whose name is taken (`report::atomic`).
pub(crate) fn numbered(name: &str, n: u32) -> String {
    if n <= 1 {
        return name.to_owned();
    }
    let path = Path::new(name);
    match (
        path.file_stem().and_then(OsStr::to_str),
        path.extension().and_then(OsStr::to_str),
    ) {
        (Some(stem), Some(ext)) if !stem.is_empty() => format!("{stem} ({n}).{ext}"),
        _ => format!("{name} ({n})"),
    }
}

#[cfg(test)]
mod tests {
    use super::{move_without_overwrite, numbered};

    #[test]
    fn a_destination_that_is_not_a_folder_is_an_error_not_a_loop() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("exames.csv");
        std::fs::write(&from, "a;b\n").unwrap();
        // `processados` exists as a file: every candidate fails with
        // "not a directory", which is not "name taken".
        let not_a_folder = dir.path().join("processados");
        std::fs::write(&not_a_folder, "").unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        let (from_, to_) = (from.clone(), not_a_folder.clone());
        std::thread::spawn(move || {
            let _ = sender.send(move_without_overwrite(&from_, &to_, "exames.csv").is_err());
        });
        // A generous guard so a regression fails instead of hanging the suite.
        let failed = receiver
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("move_without_overwrite returned");
        assert!(failed);
        assert!(from.exists(), "the file stays where it was");
    }

    #[test]
    fn numbered_names_keep_the_extension() {
        assert_eq!(numbered("exames.csv", 1), "exames.csv");
        assert_eq!(numbered("exames.csv", 2), "exames (2).csv");
        assert_eq!(numbered("lote.2026.xlsx", 3), "lote.2026 (3).xlsx");
        assert_eq!(numbered("LEIAME", 2), "LEIAME (2)");
    }
}
