//! The work folders under `<inbox>/.rnds-drop/` and moves that never
//! overwrite.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};

use super::WatchError;
use crate::platform;

const WORK_ROOT: &str = ".rnds-drop";
const PROCESSING: &str = "processando";
const PROCESSED: &str = "processados";
const FAILED: &str = "falhas";

/// Where a finished file goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Read and handled (whatever its rows' outcomes): `processados/AAAA/MM/DD/`.
    Processed,
    /// Could not be read: `falhas/`.
    Failed,
}

/// The work folders of one inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkDirs {
    root: PathBuf,
}

impl WorkDirs {
    /// Creates `<inbox>/.rnds-drop/{processando,processados,falhas}` and
    /// refuses them when they are not on the inbox's volume (e.g. a
    /// symlink or mount point to another disk), where a rename would not
    /// be atomic.
    pub fn prepare(inbox: &Path) -> Result<WorkDirs, WatchError> {
        let missing = || WatchError::InboxMissing {
            path: inbox.to_path_buf(),
        };
        if !fs::metadata(inbox).is_ok_and(|m| m.is_dir()) {
            return Err(missing());
        }
        let inbox_volume = platform::volume_id(inbox).map_err(|_| missing())?;
        let work = WorkDirs {
            root: inbox.join(WORK_ROOT),
        };
        for dir in [
            work.root.clone(),
            work.processing(),
            work.processed_root(),
            work.failed(),
        ] {
            let io_err = |source| WatchError::WorkDir {
                path: dir.clone(),
                source,
            };
            fs::create_dir_all(&dir).map_err(io_err)?;
            if platform::volume_id(&dir).map_err(io_err)? != inbox_volume {
                return Err(WatchError::OtherVolume {
                    inbox: inbox.to_path_buf(),
                    work: dir,
                });
            }
        }
        Ok(work)
    }

    pub fn processing(&self) -> PathBuf {
        self.root.join(PROCESSING)
    }

    fn processed_root(&self) -> PathBuf {
        self.root.join(PROCESSED)
    }

    /// `processados/AAAA/MM/DD/` of `day`.
    pub fn processed(&self, day: NaiveDate) -> PathBuf {
        self.processed_root()
            .join(format!("{:04}", day.year()))
            .join(format!("{:02}", day.month()))
            .join(format!("{:02}", day.day()))
    }

    pub fn failed(&self) -> PathBuf {
        self.root.join(FAILED)
    }

    /// Regular files left in `processando/` by a previous run, by name.
    pub fn leftovers(&self) -> Result<Vec<PathBuf>, WatchError> {
        let dir = self.processing();
        let entries = fs::read_dir(&dir).map_err(|source| WatchError::ReadInbox {
            path: dir.clone(),
            source,
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.path())
            .collect();
        files.sort();
        Ok(files)
    }
}

/// A file renamed into `processando/`, to be read by the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedFile {
    /// Index of its inbox in the list given to [`super::Inboxes::new`].
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
    pub fn finish(&self, disposition: Disposition, day: NaiveDate) -> Result<PathBuf, WatchError> {
        let dir = match disposition {
            Disposition::Processed => self.work.processed(day),
            Disposition::Failed => self.work.failed(),
        };
        fs::create_dir_all(&dir).map_err(|source| WatchError::WorkDir {
            path: dir.clone(),
            source,
        })?;
        move_without_overwrite(&self.work_path, &dir, &self.original_name)
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
            _ => n += 1,
        }
    };
    fs::rename(from, &target).map_err(|source| WatchError::Move {
        from: from.to_path_buf(),
        to: target.clone(),
        source,
    })?;
    Ok(target)
}

/// `exames.csv` → `exames (2).csv`; `n = 1` keeps the name.
fn numbered(name: &str, n: u32) -> String {
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
    use super::numbered;

    #[test]
    fn numbered_names_keep_the_extension() {
        assert_eq!(numbered("exames.csv", 1), "exames.csv");
        assert_eq!(numbered("exames.csv", 2), "exames (2).csv");
        assert_eq!(numbered("lote.2026.xlsx", 3), "lote.2026 (3).xlsx");
        assert_eq!(numbered("LEIAME", 2), "LEIAME (2)");
    }
}
