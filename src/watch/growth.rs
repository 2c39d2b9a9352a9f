//! Telling whether a claimed file is still being written: its outside
//! look (size, modification time) and whether its last line is finished.
//!
//! A writer that pauses longer than `settle_ms` gets its file claimed
//! mid-write, and on POSIX (and on Windows with `FILE_SHARE_DELETE`) its
//! open handle follows the rename: it keeps appending to the claimed file.
//! The service therefore compares [`FileLook`]s before and after each pass
//! and never reads a last line without a line terminator while the file is
//! young. Both functions only stat and read bytes; they know no CSV rule.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::time::SystemTime;

/// What a file looks like from outside: enough to tell that it changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileLook {
    pub len: u64,
    pub modified: Option<SystemTime>,
}

impl FileLook {
    /// The file at `path` now (follows no symlink: work folders hold only
    /// regular files we renamed there).
    pub(crate) fn of(path: &Path) -> io::Result<FileLook> {
        let meta = fs::symlink_metadata(path)?;
        Ok(FileLook {
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }
}

/// How many of the first `len` bytes of the file come after its last line
/// terminator (LF or CR): 0 when the text ends with one, `len` when it has
/// none at all. Only text has lines: a workbook (by name, or ZIP/CFB
/// content), UTF-16 or binary content (a NUL byte near the start) gives 0;
/// the reader refuses or opens it whole, and a half-written one is retried.
pub(crate) fn unterminated_tail(path: &Path, len: u64) -> io::Result<u64> {
    const BLOCK: u64 = 64 * 1024;
    const HEAD: u64 = 8 * 1024;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if len == 0
        // Not `.xls`: the reader takes a text file of that name as CSV.
        || [".xlsx", ".xlsm"].iter().any(|ext| name.ends_with(ext))
    {
        return Ok(0);
    }
    let mut file = File::open(path)?;
    let mut head = Vec::with_capacity(HEAD as usize);
    (&mut file).take(HEAD.min(len)).read_to_end(&mut head)?;
    let not_text = [
        &b"PK\x03\x04"[..],
        b"\xD0\xCF\x11\xE0",
        b"\xFF\xFE",
        b"\xFE\xFF",
    ]
    .iter()
    .any(|magic| head.starts_with(magic))
        || head.contains(&0);
    if not_text {
        return Ok(0);
    }
    let mut end = len;
    let mut block = Vec::with_capacity(BLOCK as usize);
    while end > 0 {
        let start = end.saturating_sub(BLOCK);
        file.seek(SeekFrom::Start(start))?;
        block.clear();
        (&mut file).take(end - start).read_to_end(&mut block)?;
        if let Some(last) = block.iter().rposition(|&b| b == b'\n' || b == b'\r') {
            return Ok(len - (start + last as u64 + 1));
        }
        if (block.len() as u64) < end - start {
            // The file shrank under us: what is left counts as unfinished.
            return Ok(len);
        }
        end = start;
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail_of(bytes: &[u8]) -> u64 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.csv");
        fs::write(&path, bytes).unwrap();
        unterminated_tail(&path, bytes.len() as u64).unwrap()
    }

    #[test]
    fn the_unfinished_last_line_is_measured() {
        assert_eq!(tail_of(b""), 0);
        assert_eq!(tail_of(b"a;b\n1;2\n"), 0);
        assert_eq!(tail_of(b"a;b\r\n1;2\r\n"), 0);
        assert_eq!(tail_of(b"a;b\r1;2\r"), 0);
        assert_eq!(tail_of(b"a;b\n1;2\n3;RT-P"), 6);
        assert_eq!(tail_of(b"a;b"), 3);
        assert_eq!(tail_of(b"PK\x03\x04 no lines in a zip"), 0);
        assert_eq!(tail_of(b"\xFF\xFEa\x00;\x00"), 0);
        assert_eq!(tail_of(b"isto nao e texto\n\x00\x01"), 0);
    }

    /// LIS "Excel" exports are often text under a `.xls` name, and the
    /// reader takes such a file as CSV: its half last line must be seen.
    #[test]
    fn a_text_export_named_xls_has_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lote.xls");
        let bytes = b"id;resultado\n1;DETECT\xc1VEL\n2;N\xc3O DET";
        fs::write(&path, bytes).unwrap();
        let table = crate::input::open(&path, &crate::input::ReadOptions::default());
        assert!(table.is_ok(), "read as CSV: {:?}", table.err());
        assert_eq!(unterminated_tail(&path, bytes.len() as u64).unwrap(), 9);
    }

    #[test]
    fn a_workbook_by_name_has_no_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("planilha.XLSX");
        fs::write(&path, b"isto nao e uma planilha").unwrap();
        assert_eq!(unterminated_tail(&path, 23).unwrap(), 0);
    }

    #[test]
    fn a_last_line_longer_than_a_block_is_found() {
        let mut bytes = b"cabecalho\n".to_vec();
        bytes.extend(std::iter::repeat_n(b'x', 200_000));
        assert_eq!(tail_of(&bytes), 200_000);
        bytes.push(b'\n');
        assert_eq!(tail_of(&bytes), 0);
    }

    #[test]
    fn a_snapshot_shorter_than_the_file_is_measured_on_its_own_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.csv");
        fs::write(&path, b"a;b\n1;2\n3;4\n").unwrap();
        // The first 10 bytes end in the middle of "3;4".
        assert_eq!(unterminated_tail(&path, 10).unwrap(), 2);
        assert_eq!(FileLook::of(&path).unwrap().len, 12);
    }
}
