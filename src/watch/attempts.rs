//! A durable count of the reads of a claimed file that did not get
//! anywhere: the process killed while reading it (out of memory on a
//! hostile workbook, a crash), or the reader refusing it (from its first
//! byte or part-way). Without it a file that kills the service, or that
//! fails at the same place on every read, is read again forever.
//!
//! One small JSON marker per file in `.rnds-drop/tentativas/`, named after
//! its name in `processando/` (bounded, see [`bounded_name`]), written
//! atomically (temp file, fsync, rename) and versioned. The count belongs
//! to one version of the file: when its size or modification time
//! changed, it starts again at zero (a file still being written is not a
//! failing file). It also starts again when the caller's progress figure
//! changed since the last read began (rows of the file recorded in the
//! ledger, in any state): a read killed while its rows were being sent,
//! or while they waited for RNDS, got somewhere, and is not a read
//! without rows.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use super::growth::FileLook;

const VERSION: u32 = 2;

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct Marker {
    version: u32,
    /// Reads begun on this version of the file without progress since.
    reads_without_rows: u32,
    /// The caller's progress figure when the last read began.
    progress: u64,
    len: u64,
    /// Modification time in nanoseconds since the Unix epoch (0: unknown).
    modified_ns: u64,
}

fn modified_ns(look: &FileLook) -> u64 {
    look.modified
        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The marker of one claimed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Attempts {
    path: PathBuf,
}

impl Attempts {
    pub(super) fn new(dir: &Path, work_name: &str) -> Attempts {
        Attempts {
            path: dir.join(format!("{}.json", bounded_name(work_name))),
        }
    }

    /// Reads begun on `look`'s version without progress since (0 without a
    /// marker, with an unreadable one, for another version of the file, or
    /// when `progress` differs from the figure recorded at the last read).
    pub(super) fn count(&self, look: &FileLook, progress: u64) -> u32 {
        let Ok(bytes) = fs::read(&self.path) else {
            return 0;
        };
        match serde_json::from_slice::<Marker>(&bytes) {
            Ok(m)
                if m.version == VERSION
                    && m.len == look.len
                    && m.modified_ns == modified_ns(look)
                    && m.progress == progress =>
            {
                m.reads_without_rows
            }
            _ => 0,
        }
    }

    /// Records one more read begun on `look`'s version at `progress`;
    /// returns the count before it. Durable before it returns: a kill
    /// during the read still counts.
    pub(super) fn begin(&self, look: &FileLook, progress: u64) -> io::Result<u32> {
        let before = self.count(look, progress);
        let marker = Marker {
            version: VERSION,
            reads_without_rows: before.saturating_add(1),
            progress,
            len: look.len,
            modified_ns: modified_ns(look),
        };
        let bytes = serde_json::to_vec(&marker).map_err(io::Error::other)?;
        write_durably(&self.path, &bytes)?;
        Ok(before)
    }

    /// The read produced rows (or the file is gone from `processando/`):
    /// forget the count.
    pub(super) fn clear(&self) -> io::Result<()> {
        match fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// Names longer than this many bytes are shortened for the marker (with
/// its `.json` and temp suffixes it must stay under the 255 bytes most file
/// systems allow).
const MAX_NAME_BYTES: usize = 120;

fn bounded_name(name: &str) -> String {
    crate::io_text::bounded_name(name, MAX_NAME_BYTES)
}

/// Temp file beside `path`, fsync, rename over it.
fn write_durably(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut temp_name = path.as_os_str().to_owned();
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = PathBuf::from(temp_name);
    let written = (|| {
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        crate::private_fs::private_file_options(
            &mut options,
            path.parent().unwrap_or(Path::new(".")),
        );
        let mut file = options.open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn look(len: u64, secs: u64) -> FileLook {
        FileLook {
            len,
            modified: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs)),
        }
    }

    #[test]
    fn counts_reads_of_one_version_and_restarts_for_another() {
        let dir = tempfile::tempdir().unwrap();
        let attempts = Attempts::new(dir.path(), "bomba.xlsx");
        let v1 = look(100, 1_700_000_000);
        assert_eq!(attempts.begin(&v1, 0).unwrap(), 0);
        assert_eq!(attempts.begin(&v1, 0).unwrap(), 1);
        assert_eq!(attempts.count(&v1, 0), 2);
        // Survives a new process: it is only a file.
        assert_eq!(Attempts::new(dir.path(), "bomba.xlsx").count(&v1, 0), 2);
        // The file grew: a new version, counted from zero.
        let v2 = look(150, 1_700_000_005);
        assert_eq!(attempts.count(&v2, 0), 0);
        assert_eq!(attempts.begin(&v2, 0).unwrap(), 0);
        attempts.clear().unwrap();
        assert_eq!(attempts.count(&v2, 0), 0);
        attempts.clear().unwrap();
        // No temp file is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_damaged_marker_counts_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let attempts = Attempts::new(dir.path(), "x.csv");
        fs::write(dir.path().join("x.csv.json"), b"{not json").unwrap();
        assert_eq!(attempts.count(&look(1, 1), 0), 0);
        assert_eq!(attempts.begin(&look(1, 1), 0).unwrap(), 0);
        assert_eq!(attempts.count(&look(1, 1), 0), 1);
    }

    #[test]
    fn progress_since_the_last_read_starts_the_count_again() {
        let dir = tempfile::tempdir().unwrap();
        let attempts = Attempts::new(dir.path(), "lote.csv");
        let v = look(100, 1_700_000_000);
        assert_eq!(attempts.begin(&v, 0).unwrap(), 0);
        // Killed while sending: 500 rows reached RNDS meanwhile.
        assert_eq!(attempts.begin(&v, 500).unwrap(), 0);
        // Killed again without any new row: that one counts.
        assert_eq!(attempts.begin(&v, 500).unwrap(), 1);
    }

    #[test]
    fn long_names_are_bounded_and_kept_apart() {
        let long_a = format!("{}a.csv", "ã".repeat(110));
        let long_b = format!("{}b.csv", "ã".repeat(110));
        let (a, b) = (bounded_name(&long_a), bounded_name(&long_b));
        assert!(a.len() <= MAX_NAME_BYTES, "{}", a.len());
        assert_ne!(a, b);
        assert_eq!(bounded_name("curto.csv"), "curto.csv");
        let dir = tempfile::tempdir().unwrap();
        let attempts = Attempts::new(dir.path(), &long_a);
        assert_eq!(attempts.begin(&look(1, 1), 0).unwrap(), 0);
        assert_eq!(attempts.count(&look(1, 1), 0), 1);
    }
}
