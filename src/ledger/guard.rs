//! A ledger is never silently (re)created where one existed. A new ledger
//! file appears complete or not at all (built under a temporary name in
//! rollback-journal mode, then renamed), so a file that exists but is empty
//! or has no schema version can only be a damaged ledger (e.g. its `-wal`
//! deleted after a kill, or truncated): it is refused, never taken as new.
//! Starting over is the explicit [`Ledger::start_fresh`], which keeps the
//! old files aside instead of deleting them.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::{schema, Ledger, LedgerError};

/// The companion files beside the ledger: SQLite's, and our session mark.
const COMPANIONS: [&str; 4] = ["-wal", "-shm", "-journal", IN_USE];

/// `<ledger>.in-use` exists while a connection is open (removed after a
/// clean close, when SQLite has folded the `-wal` back into the file and
/// deleted it). Found at open with no `-wal` beside the ledger, it means
/// the process died and the `-wal`, holding the latest records, was then
/// deleted: the ledger is behind what was sent.
const IN_USE: &str = ".in-use";

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> LedgerError {
    let path = path.to_path_buf();
    move |source| LedgerError::Io { path, source }
}

/// Creates `path` (which must not exist) readable by the service account
/// only on unix; on Windows it inherits its folder's ACL.
pub(super) fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// What is at `path` before it is opened.
pub(super) enum Found {
    /// No file: a new ledger may be created (the caller checked that no
    /// earlier send is known).
    Nothing,
    /// A non-empty file: open it, then check its schema version.
    File,
}

/// Refuses an empty ledger file; says whether one exists.
pub(super) fn inspect(path: &Path) -> Result<Found, LedgerError> {
    match fs::metadata(path) {
        Ok(meta) if meta.len() == 0 => Err(LedgerError::Emptied {
            path: path.to_path_buf(),
        }),
        Ok(_) => Ok(Found::File),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Found::Nothing),
        Err(e) => Err(io_error(path)(e)),
    }
}

/// Flags that open an existing file only: SQLite must never create one.
pub(super) fn open_flags() -> OpenFlags {
    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX
}

/// Builds a complete ledger (every migration applied) under a temporary
/// name beside `path` and renames it into place. A crash leaves either no
/// ledger or a complete one, plus at most a hidden temporary file.
pub(super) fn create_atomically(path: &Path) -> Result<(), LedgerError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| "registro".into(), |n| n.to_string_lossy().into_owned());
    let temp = dir.join(format!(".{name}.novo-{}.tmp", std::process::id()));
    for leftover in
        std::iter::once(temp.clone()).chain(COMPANIONS.iter().map(|s| with_suffix(&temp, s)))
    {
        let _ = fs::remove_file(leftover);
    }
    drop(create_private(&temp).map_err(io_error(&temp))?);
    let built = (|| {
        let open_err = |source| LedgerError::Open {
            path: path.to_path_buf(),
            source,
        };
        // Rollback journal while building: on commit everything is in the
        // main file, which can then be renamed alone.
        let mut conn = Connection::open_with_flags(&temp, open_flags()).map_err(open_err)?;
        conn.execute_batch("PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL;")
            .map_err(open_err)?;
        schema::migrate(&mut conn, path)?;
        conn.close().map_err(|(_, e)| open_err(e))?;
        fs::OpenOptions::new()
            .write(true)
            .open(&temp)
            .and_then(|f| f.sync_all())
            .map_err(io_error(&temp))?;
        fs::rename(&temp, path).map_err(io_error(path))?;
        sync_dir(&dir).map_err(io_error(&dir))
    })();
    if built.is_err() {
        let _ = fs::remove_file(&temp);
    }
    built
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    // Windows cannot open a folder as a file; NTFS journals the rename.
    Ok(())
}

/// Marks the ledger in use for the life of a [`Ledger`]; declared after
/// the connection, so it is dropped after the connection closed.
#[derive(Debug)]
pub(super) struct Session {
    mark: PathBuf,
    wal: PathBuf,
}

impl Session {
    /// Refuses a ledger whose `-wal` disappeared after a crash. Call before
    /// opening the connection.
    pub(super) fn check(path: &Path) -> Result<(), LedgerError> {
        if with_suffix(path, IN_USE).exists() && !with_suffix(path, "-wal").exists() {
            return Err(LedgerError::WalLost {
                path: path.to_path_buf(),
            });
        }
        Ok(())
    }

    /// Marks the ledger in use. Call once the connection is in WAL mode
    /// (its `-wal` exists), so a crash never leaves the mark without it.
    pub(super) fn begin(path: &Path) -> Result<Session, LedgerError> {
        let session = Session {
            mark: with_suffix(path, IN_USE),
            wal: with_suffix(path, "-wal"),
        };
        if !session.mark.exists() {
            match create_private(&session.mark) {
                Ok(file) => file.sync_all().map_err(io_error(&session.mark))?,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_error(&session.mark)(e)),
            }
        }
        Ok(session)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Another connection (or process) still open keeps the `-wal`.
        if !self.wal.exists() {
            let _ = fs::remove_file(&self.mark);
        }
    }
}

impl Ledger {
    /// Starts a new, empty ledger at `path` on purpose (`rnds-drop
    /// new-ledger`). An existing ledger file and its `-wal`/`-shm` are not
    /// deleted but renamed to `<path>.descartado-<stamp>[-wal|-shm]`, whose
    /// main path is returned. The caller holds the ledger lock.
    pub(crate) fn start_fresh(path: &Path, stamp: &str) -> Result<Option<PathBuf>, LedgerError> {
        // A name none of whose files exists: a rename over an earlier
        // set-aside ledger (two fresh starts in one second) would destroy it.
        let taken = |aside: &Path| {
            std::iter::once("")
                .chain(COMPANIONS)
                .any(|s| fs::symlink_metadata(with_suffix(aside, s)).is_ok())
        };
        let mut aside = with_suffix(path, &format!(".descartado-{stamp}"));
        let mut n = 1u32;
        while taken(&aside) {
            n += 1;
            aside = with_suffix(path, &format!(".descartado-{stamp}-{n}"));
        }
        let mut moved = None;
        for suffix in std::iter::once("").chain(COMPANIONS) {
            let from = with_suffix(path, suffix);
            if fs::symlink_metadata(&from).is_ok() {
                let to = with_suffix(&aside, suffix);
                fs::rename(&from, &to).map_err(io_error(&from))?;
                if suffix.is_empty() {
                    moved = Some(to);
                }
            }
        }
        create_atomically(path)?;
        Ok(moved)
    }
}
