//! Files that appear complete or not at all: written to a temporary file in
//! the destination folder, flushed to disk, then renamed over the target
//! (a rename within one folder is atomic), and the folder entry synced.
//!
//! A target name that cannot be replaced (on Windows: a report still open
//! in Excel) does not fail the write: the file goes to the first free
//! `<name> (2).<ext>`, `(3)`... beside it, and the caller gets that path to
//! tell the person.
//!
//! Reports hold patient data: on unix they are created readable by the
//! service account only (0600), or by its group too (0640) when their
//! folder has the setgid bit, which is how an outbox is shared with staff
//! (see the README). On Windows they inherit their folder's ACL.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

#[cfg(unix)]
use crate::private_fs::file_mode_in;
pub(crate) use crate::private_fs::{create_private_dir, create_private_dir_all};

/// Writes `bytes` to `path` atomically (readers see the old file or the new
/// one, never a partial one). Returns where it went (see [`AtomicFile::commit`]).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<PathBuf> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)?;
    file.commit()
}

/// A streaming atomic write. Dropped without [`AtomicFile::commit`], it
/// removes its temporary file and leaves the target untouched.
#[derive(Debug)]
pub(crate) struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    writer: Option<BufWriter<File>>,
    committed: bool,
}

/// Distinguishes temp files of concurrent writers in one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A new, empty temporary file in `path`'s folder, named
/// `.<name>.<pid>-<n>.tmp` so folder scanners skip it.
pub(super) fn create_temp_beside(path: &Path) -> io::Result<(PathBuf, File)> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("caminho sem nome de arquivo: {}", path.display()),
        )
    })?;
    let dir = parent_of(path);
    loop {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".{}-{n}.tmp", std::process::id()));
        let temp = dir.join(temp_name);
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(file_mode_in(dir));
        }
        match options.open(&temp) {
            Ok(file) => return Ok((temp, file)),
            // A leftover of a crashed run with the same pid: try the next name.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

impl AtomicFile {
    /// Creates the temporary file next to `path` (same folder, so the final
    /// rename never crosses file systems). Its name starts with a dot and
    /// ends in `.tmp`, so folder scanners can skip it.
    pub(crate) fn create(path: &Path) -> io::Result<AtomicFile> {
        let (temp, file) = create_temp_beside(path)?;
        Ok(AtomicFile {
            target: path.to_path_buf(),
            temp,
            writer: Some(BufWriter::with_capacity(64 * 1024, file)),
            committed: false,
        })
    }

    fn writer(&mut self) -> io::Result<&mut BufWriter<File>> {
        self.writer
            .as_mut()
            .ok_or_else(|| io::Error::other("arquivo temporário já fechado"))
    }

    /// Flushes, syncs the data to disk, renames over the target and syncs
    /// the folder so the rename itself survives a power cut. Returns the
    /// path written: the target, or a free numbered name beside it when
    /// the target exists and cannot be replaced.
    pub(crate) fn commit(mut self) -> io::Result<PathBuf> {
        let writer = self
            .writer
            .take()
            .ok_or_else(|| io::Error::other("arquivo temporário já fechado"))?;
        let file = writer
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        file.sync_all()?;
        drop(file);
        let written = match fs::rename(&self.temp, &self.target) {
            Ok(()) => self.target.clone(),
            Err(e)
                if crate::platform::is_in_use(&e) || fs::symlink_metadata(&self.target).is_ok() =>
            {
                self.rename_to_free_name(e)?
            }
            Err(e) => return Err(e),
        };
        self.committed = true;
        sync_dir(parent_of(&written))?;
        Ok(written)
    }

    /// The target is taken by something we may not replace: the first
    /// free `<name> (n).<ext>` beside it, or `error` when there is none.
    fn rename_to_free_name(&self, error: io::Error) -> io::Result<PathBuf> {
        let name = self
            .target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for n in 2..=MAX_NUMBERED {
            let candidate = self.target.with_file_name(crate::watch::numbered(&name, n));
            if fs::symlink_metadata(&candidate).is_ok() {
                continue;
            }
            match fs::rename(&self.temp, &candidate) {
                Ok(()) => return Ok(candidate),
                Err(e) if crate::platform::is_in_use(&e) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(error)
    }
}

/// How many numbered names are tried before giving up.
const MAX_NUMBERED: u32 = 99;

/// Whether `name` is a temporary file [`AtomicFile`] leaves behind when
/// the process is killed before committing: `.<name>.<pid>-<n>.tmp`.
pub(crate) fn is_temp_leftover(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) else {
        return false;
    };
    let Some((_, counters)) = rest.rsplit_once('.') else {
        return false;
    };
    let mut parts = counters.split('-');
    let digits =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    digits(parts.next()) && digits(parts.next()) && parts.next().is_none()
}

/// Syncs folder `dir` so that renames into it survive a power cut.
#[cfg(unix)]
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
pub(crate) fn sync_dir(_dir: &Path) -> io::Result<()> {
    // Windows cannot open a folder as a file; NTFS journals the rename.
    Ok(())
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer()?.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.writer()?.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer()?.flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            // Close before removing (Windows refuses to delete open files).
            drop(self.writer.take());
            let _ = fs::remove_file(&self.temp);
        }
    }
}
