//! Files that appear complete or not at all: written to a temporary file in
//! the destination folder, flushed to disk, then renamed over the target
//! (a rename within one folder is atomic), and the folder entry synced.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes `bytes` to `path` atomically (readers see the old file or the new
/// one, never a partial one).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)?;
    file.commit()
}

/// A streaming atomic write. Dropped without [`AtomicFile::commit`], it
/// removes its temporary file and leaves the target untouched.
#[derive(Debug)]
pub struct AtomicFile {
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
        match OpenOptions::new().write(true).create_new(true).open(&temp) {
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
    pub fn create(path: &Path) -> io::Result<AtomicFile> {
        let (temp, file) = create_temp_beside(path)?;
        Ok(AtomicFile {
            target: path.to_path_buf(),
            temp,
            writer: Some(BufWriter::with_capacity(64 * 1024, file)),
            committed: false,
        })
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.target
    }

    fn writer(&mut self) -> io::Result<&mut BufWriter<File>> {
        self.writer
            .as_mut()
            .ok_or_else(|| io::Error::other("arquivo temporário já fechado"))
    }

    /// Flushes, syncs the data to disk, renames over the target and syncs
    /// the folder so the rename itself survives a power cut.
    pub fn commit(mut self) -> io::Result<()> {
        let writer = self
            .writer
            .take()
            .ok_or_else(|| io::Error::other("arquivo temporário já fechado"))?;
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&self.temp, &self.target)?;
        self.committed = true;
        sync_dir(parent_of(&self.target))
    }
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
