//! The file operations of publishing a report set: a fresh staging
//! folder, the complete files moved into the outbox (summaries last), and
//! the leftovers of a killed pass removed. The order of these steps and
//! the ledger records around them are `service::publish`'s.

use std::fs;
use std::io;
use std::path::Path;

use super::atomic::{create_private_dir, is_temp_leftover};

/// Creates `dir` empty (a leftover of an earlier attempt is removed).
pub(crate) fn fresh_private_dir(dir: &Path) -> io::Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    create_private_dir(dir)
}

/// Best effort: removes `dir` and what it holds.
pub(crate) fn discard_dir(dir: &Path) {
    let _ = fs::remove_dir_all(dir);
}

/// Best effort: removes `dir` if it is empty.
pub(crate) fn discard_empty_dir(dir: &Path) {
    let _ = fs::remove_dir(dir);
}

/// Best effort: removes files that must not survive (a stale report).
pub(crate) fn discard_files<'a>(files: impl IntoIterator<Item = &'a Path>) {
    for file in files {
        let _ = fs::remove_file(file);
    }
}

/// Creates `dir` and its parents.
pub(crate) fn ensure_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

/// The complete files of `staging` (temporary leftovers skipped), in the
/// order they are published: summaries (`.resumo.json`) last, so a staff
/// member who sees a summary sees its whole set.
pub(crate) fn staged_files(staging: &Path) -> io::Result<Vec<String>> {
    let mut names: Vec<String> = fs::read_dir(staging)?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !is_temp_leftover(n))
        .collect();
    names.sort_by_key(|n| (n.ends_with(".resumo.json"), n.clone()));
    Ok(names)
}

/// Moves one staged file into `outbox` (a rename within one volume).
pub(crate) fn move_staged_file(staging: &Path, name: &str, outbox: &Path) -> io::Result<()> {
    fs::rename(staging.join(name), outbox.join(name))
}

/// Best effort: removes every staging folder under `staging_root` and
/// every temporary file in `outbox`. One that cannot be removed now is
/// tried again at the next start.
pub(crate) fn remove_leftovers(outbox: &Path, staging_root: &Path) {
    if let Ok(entries) = fs::read_dir(staging_root) {
        for entry in entries.filter_map(Result::ok) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
    if let Ok(entries) = fs::read_dir(outbox) {
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_temp_leftover(&name) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// Best effort: removes every staging folder under `staging_root` (one
/// instance's own, see `service::paths::staging_root`), nothing else.
pub(crate) fn remove_staged_sets(staging_root: &Path) {
    if let Ok(entries) = fs::read_dir(staging_root) {
        for entry in entries.filter_map(Result::ok) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// A staging folder holds a set (its publication not finished, or a pass's
/// reports held until its file is quiet).
pub(crate) fn is_staged(dir: &Path) -> bool {
    dir.is_dir()
}
