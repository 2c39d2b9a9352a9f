//! Names that are never taken: hidden, temporary and lock files, and
//! anything that is not a spreadsheet.

use std::path::Path;

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

/// The extensions an inbox takes (any case): `.csv`, `.txt` (CSV text),
/// `.xlsx` and `.ods`, and spreadsheet names it may not read (`.xls`,
/// `.xlsm`, `.xlsb`, `.htm`, `.html`): `input` decides by content, so an
/// `.xlsm` reads as `.xlsx` while a legacy `.xls` or a web page a lab
/// system "exports to Excel" reaches `falhas/` with a report saying how to
/// save it. Anything else (a
/// `pfx.senha` copied by mistake, a key, a PDF, a zip, no extension) is
/// left where it is and never read: reading it would copy its first line,
/// as a "header", into reports and logs.
pub(crate) fn is_spreadsheet_name(name: &str) -> bool {
    const TAKEN: [&str; 9] = [
        "csv", "txt", "xlsx", "ods", "xls", "xlsm", "xlsb", "htm", "html",
    ];
    Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| TAKEN.contains(&e.to_ascii_lowercase().as_str()))
}

/// LibreOffice's lock file for `name` (`.~lock.<name>#`): while it exists
/// the file is open there and may be saved again.
pub(crate) fn libreoffice_lock_name(name: &str) -> String {
    format!(".~lock.{name}#")
}
