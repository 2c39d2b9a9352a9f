//! Names that are never taken: hidden, temporary and lock files.

/// True for names an inbox ignores silently: hidden files (`.*`, which
/// covers LibreOffice's `.~lock*` and our `.rnds-drop/`), Office owner
/// files (`~$*`) and partial downloads or copies (`*.tmp`, `*.part`,
/// `*.crdownload`, any case).
pub(crate) fn is_ignored_name(name: &str) -> bool {
    let lower = name.to_lowercase();
    lower.starts_with('.')
        || lower.starts_with("~$")
        || [".tmp", ".part", ".crdownload"]
            .iter()
            .any(|suffix| lower.ends_with(suffix))
}
