//! What differs between Unix and Windows file systems, behind one small
//! seam each, so `watch` and `report` state their rule once:
//!
//! - [`file_identity`]: which file a directory entry names (inode on Unix,
//!   the NTFS file index on Windows), so a file replaced under the same
//!   name with the same size and mtime still counts as changed;
//! - [`volume_id`]: which volume a path is on (`st_dev` on Unix, the volume
//!   serial number on Windows), for the same-volume check of the claim rename;
//! - [`special_file_kind`]: names of non-regular entries (FIFOs, devices and
//!   sockets exist only on Unix);
//! - [`is_in_use`]: the error another program's open handle gives (Excel
//!   keeps a workbook open without delete sharing, so Windows refuses to
//!   rename or replace it); Unix has no such lock;
//! - [`random_unit`]: a uniform draw from std's OS-seeded hasher keys, the
//!   crate's one random source (retry jitter in `rnds`, the simulator's
//!   faults; neither may import the other).
//!
//! Invariant: no policy here, only facts about one OS; callers decide.

use std::collections::hash_map::RandomState;
use std::fs::{FileType, Metadata};
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::path::Path;

/// A number that stays the same while `path` names the same file (0 when
/// the OS cannot tell; then size and mtime alone decide).
#[cfg(unix)]
pub(crate) fn file_identity(_path: &Path, meta: &Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.ino()
}

/// A number that stays the same while `path` names the same file (0 when
/// the OS cannot tell; then size and mtime alone decide).
#[cfg(windows)]
pub(crate) fn file_identity(path: &Path, _meta: &Metadata) -> u64 {
    // Opened with read access and full sharing: works on a file Excel holds.
    winapi_util::Handle::from_path_any(path)
        .and_then(|h| winapi_util::file::information(&h))
        .map(|info| info.file_index())
        .unwrap_or(0)
}

/// The volume `path` (a file or a folder) is on.
#[cfg(unix)]
pub(crate) fn volume_id(path: &Path) -> io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata(path)?.dev())
}

/// The volume `path` (a file or a folder) is on.
#[cfg(windows)]
pub(crate) fn volume_id(path: &Path) -> io::Result<u64> {
    let handle = winapi_util::Handle::from_path_any(path)?;
    Ok(winapi_util::file::information(&handle)?.volume_serial_number())
}

/// The pt-BR name of a non-regular entry that only Unix has, if it is one.
#[cfg(unix)]
pub(crate) fn special_file_kind(file_type: FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_fifo() {
        Some("FIFO")
    } else if file_type.is_block_device() || file_type.is_char_device() {
        Some("dispositivo")
    } else if file_type.is_socket() {
        Some("socket")
    } else {
        None
    }
}

/// Windows has no FIFOs, devices or sockets in a folder listing.
#[cfg(windows)]
pub(crate) fn special_file_kind(_file_type: FileType) -> Option<&'static str> {
    None
}

/// Windows errors of a file another program holds open: access denied
/// (replacing a file open without delete sharing), sharing violation,
/// lock violation.
const WINDOWS_IN_USE: [i32; 3] = [5, 32, 33];

/// True when `error` says another program holds the file open (only on
/// Windows; on Unix an open file can always be renamed or replaced).
pub(crate) fn is_in_use(error: &io::Error) -> bool {
    cfg!(windows)
        && error
            .raw_os_error()
            .is_some_and(|code| WINDOWS_IN_USE.contains(&code))
}

/// A uniform draw in `[0, 1)` from std's randomly keyed hasher: good enough
/// for spreading retries and the simulator's faults (no crypto needed), and
/// no extra dependency. The crate's one random source.
pub(crate) fn random_unit() -> f64 {
    let bits = RandomState::new().build_hasher().finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_file_keeps_its_identity_and_a_replacement_gets_another() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exames.csv");
        std::fs::write(&path, "a").unwrap();
        let first = file_identity(&path, &std::fs::metadata(&path).unwrap());
        std::fs::write(&path, "b").unwrap(); // same file, rewritten in place
        assert_eq!(
            file_identity(&path, &std::fs::metadata(&path).unwrap()),
            first
        );
        // A new file (created while the old one exists, so it cannot reuse
        // its number) renamed over the name.
        let other = dir.path().join("novo.csv");
        std::fs::write(&other, "c").unwrap();
        std::fs::rename(&other, &path).unwrap();
        let second = file_identity(&path, &std::fs::metadata(&path).unwrap());
        assert_ne!(second, first);
    }

    #[test]
    fn a_folder_and_its_subfolder_are_on_one_volume() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        assert_eq!(volume_id(dir.path()).unwrap(), volume_id(&sub).unwrap());
        assert!(volume_id(&dir.path().join("não-existe")).is_err());
    }

    #[test]
    fn in_use_is_a_windows_error_only() {
        let sharing_violation = io::Error::from_raw_os_error(32);
        assert_eq!(is_in_use(&sharing_violation), cfg!(windows));
        assert!(!is_in_use(&io::Error::from(io::ErrorKind::NotFound)));
        assert!(!is_in_use(&io::Error::from_raw_os_error(2)));
    }
}
