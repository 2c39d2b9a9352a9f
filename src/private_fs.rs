//! Folders and files that hold patient data or could (reports, the inbox's
//! work folders, logs) are readable by the service account only: folders
//! 0700 and files 0600 on unix, whatever the umask; inside a setgid folder
//! (how an outbox or a log folder is shared with staff, see the README)
//! folders are 0750 and files 0640, so that group reads them too. On
//! Windows they inherit their folder's ACL: these are no-ops there.

use std::fs;
use std::io;
use std::path::Path;

#[cfg(unix)]
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// 0640 in a setgid folder (shared with its group), else 0600.
#[cfg(unix)]
pub(crate) fn file_mode_in(dir: &Path) -> u32 {
    if shared_with_group(dir) {
        0o640
    } else {
        0o600
    }
}

#[cfg(unix)]
fn dir_mode_in(dir: &Path) -> u32 {
    if shared_with_group(dir) {
        0o750
    } else {
        0o700
    }
}

#[cfg(unix)]
fn shared_with_group(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o2000 != 0)
}

/// Creates folder `path` (its parent must exist) as private as the reports
/// it will hold: 0700, or 0750 inside a setgid folder (which passes its
/// setgid bit on). An existing folder is left as it is.
pub(crate) fn create_private_dir(path: &Path) -> io::Result<()> {
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(dir_mode_in(parent_of(path)));
    }
    match builder.create(path) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        other => other,
    }
}

/// Creates folder `path` and its missing parents, each as private as
/// [`create_private_dir`] makes one. Existing folders are left as they are.
pub(crate) fn create_private_dir_all(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_private_dir_all(parent)?;
    }
    create_private_dir(path)
}

/// `options` set to create a file as private as the rule above says for
/// a file in `dir` (unix; on Windows unchanged).
pub(crate) fn private_file_options(options: &mut fs::OpenOptions, dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(file_mode_in(dir));
    }
    #[cfg(not(unix))]
    let _ = (options, dir);
}

/// Takes away from an existing folder or file of ours what the rule above
/// does not allow (e.g. 0755 left by an older version or another umask).
/// Permissions only ever shrink; the setgid bit stays.
#[cfg(unix)]
pub(crate) fn restrict(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::metadata(path)?;
    let allowed = if meta.is_dir() {
        dir_mode_in(parent_of(path)) | 0o2000
    } else {
        file_mode_in(parent_of(path))
    };
    let mode = meta.permissions().mode() & 0o7777;
    if mode & !allowed == 0 {
        return Ok(());
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode & allowed))
}

/// Windows folders and files inherit their parent's ACL: nothing to take away.
#[cfg(windows)]
pub(crate) fn restrict(_path: &Path) -> io::Result<()> {
    Ok(())
}
