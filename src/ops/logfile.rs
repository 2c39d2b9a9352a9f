//! An optional log file with rotation by size (`[service] log_file`): when
//! the file would pass `max_bytes` it is renamed `<name>.1` (older ones shift
//! to `.2`, … and the one past `keep` is deleted) and a new file starts. Needed
//! where nothing collects stderr (a Windows service); plain `std::fs`, so it
//! behaves the same on every platform.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

use crate::private_fs::{create_private_dir_all, private_file_options, restrict};

#[derive(Debug)]
struct State {
    file: File,
    written: u64,
}

/// `path` opened for appending, created private (0600, see `private_fs`).
fn open_append(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    private_file_options(
        &mut options,
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    );
    options.open(path)
}

/// A rotating log file; clones share the file.
#[derive(Debug, Clone)]
pub(crate) struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    keep: u32,
    state: Arc<Mutex<State>>,
}

impl RotatingFile {
    /// Opens (appending) `path`, creating its folder.
    pub(crate) fn open(path: &Path, max_bytes: u64, keep: u32) -> std::io::Result<RotatingFile> {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_private_dir_all(dir)?;
        }
        let file = open_append(path)?;
        // A log file an older version created 0644: the log names files.
        // Best effort: a file another account owns is still appended to.
        let _ = restrict(path);
        let written = file.metadata()?.len();
        Ok(RotatingFile {
            path: path.to_path_buf(),
            max_bytes: max_bytes.max(1024),
            keep,
            state: Arc::new(Mutex::new(State { file, written })),
        })
    }

    fn numbered(&self, n: u32) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn rotate(&self, state: &mut State) -> std::io::Result<()> {
        state.file.flush()?;
        if self.keep == 0 {
            state.file = open_append(&self.path)?;
            state.file.set_len(0)?;
        } else {
            let _ = std::fs::remove_file(self.numbered(self.keep));
            for n in (1..self.keep).rev() {
                let from = self.numbered(n);
                if from.exists() {
                    std::fs::rename(&from, self.numbered(n + 1))?;
                }
            }
            // On Windows an open file cannot be renamed over: reopen after.
            std::fs::rename(&self.path, self.numbered(1))?;
            state.file = open_append(&self.path)?;
        }
        state.written = 0;
        Ok(())
    }

    fn write_line(&self, buf: &[u8]) -> std::io::Result<()> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.written > 0 && state.written + buf.len() as u64 > self.max_bytes {
            // A failed rotation must not lose the line: keep appending.
            let _ = self.rotate(&mut state);
        }
        state.file.write_all(buf)?;
        state.written += buf.len() as u64;
        Ok(())
    }
}

/// The writer for one event.
pub(crate) struct LineWriter<'a>(&'a RotatingFile);

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write_line(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let mut state = self
            .0
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.file.flush()
    }
}

impl<'a> MakeWriter<'a> for RotatingFile {
    type Writer = LineWriter<'a>;
    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_keeps_the_newest_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs").join("rnds-drop.log");
        let log = RotatingFile::open(&path, 1024, 2).unwrap();
        let line = |n: usize| format!("{n:04} {}\n", "x".repeat(250));
        for n in 0..16 {
            log.make_writer().write_all(line(n).as_bytes()).unwrap();
        }
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap();
        // 4 lines of 256 bytes per file; 16 lines → current + .1 + .2, the
        // oldest file deleted.
        assert!(read(path.clone()).starts_with("0012 "));
        assert!(read(log.numbered(1)).starts_with("0008 "));
        assert!(read(log.numbered(2)).starts_with("0004 "));
        assert!(!log.numbered(3).exists());
        assert_eq!(read(path).lines().count(), 4);
    }
}
