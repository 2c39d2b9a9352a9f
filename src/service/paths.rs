//! Where one pass's reports go: the service's timestamped names, `send`'s
//! plain ones, and the hidden staging folder both are prepared in.

use std::path::{Path, PathBuf};

use crate::report::ReportPaths;

use super::ServiceError;

/// The hidden folder of an outbox where report sets wait to be published.
pub const STAGING_DIR: &str = ".rnds-drop-staging";

/// Where reports named `<name>.<kind>` go: `name` is the file's stem, plus
/// a `.<AAAAMMDDTHHMMSS>` instant for the service.
#[derive(Debug, Clone)]
pub(crate) struct OutputPaths {
    pub reports: ReportPaths,
    /// `<name>.bundles.ndjson` (only `send` writes it, like `check`).
    pub bundles: Option<PathBuf>,
}

impl OutputPaths {
    /// The service's names: `<stem>.<AAAAMMDDTHHMMSS>.*`, with `_2`, `_3`…
    /// after the instant when a report of that second already exists (the
    /// same file dropped twice within a second must not overwrite). The
    /// suffix also carries the extension of `input` (the file's name), so
    /// twins dropped together say which report is whose:
    /// `exames_fev.<instant>.*` and `exames_fev.<instant>_2_xlsx.*`.
    pub(crate) fn timestamped(
        outbox: &Path,
        stem: &str,
        input: &str,
        instant: &str,
    ) -> OutputPaths {
        let extension = Path::new(input)
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .filter(|e| !e.is_empty() && e.chars().all(|c| c.is_ascii_alphanumeric()))
            .map_or(String::new(), |e| format!("_{e}"));
        let stem = bounded_stem(stem);
        let mut n = 1u32;
        loop {
            let name = if n == 1 {
                format!("{stem}.{instant}")
            } else {
                format!("{stem}.{instant}_{n}{extension}")
            };
            let reports = ReportPaths::new(outbox, &name);
            // A set still staged is taken too: the service holds a pass's
            // reports until its file is quiet, and another file of the same
            // stem may be read meanwhile.
            let staged = outbox.join(STAGING_DIR).join(&name);
            if !reports.summary.exists() && !reports.sent_csv.exists() && !staged.exists() {
                return OutputPaths {
                    reports,
                    bundles: None,
                };
            }
            n += 1;
        }
    }

    /// `send`'s names: `<stem>.*` like `check`, plus the bundles file.
    pub(crate) fn plain(out_dir: &Path, stem: &str) -> OutputPaths {
        let stem = bounded_stem(stem);
        OutputPaths {
            reports: ReportPaths::new(out_dir, &stem),
            bundles: Some(out_dir.join(format!("{stem}.bundles.ndjson"))),
        }
    }
}

/// Longest report stem, in bytes: with the instant, a `_N`, the longest
/// kind (`.enviados.csv`) and a temporary file's prefix and suffix, a name
/// stays well under the 255 bytes file systems allow. A longer file name
/// (110 accented characters are 220 bytes) is cut, with a digest of the
/// whole stem so two long names stay apart; `resumo.json` still names the
/// file in full.
const MAX_STEM_BYTES: usize = 120;

fn bounded_stem(stem: &str) -> String {
    crate::io_text::bounded_name(stem, MAX_STEM_BYTES)
}

pub(super) fn output_error(path: &Path) -> impl FnOnce(std::io::Error) -> ServiceError {
    let path = path.to_path_buf();
    move |source| ServiceError::Output { path, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_names_of_a_long_file_name_are_bounded() {
        let stem = "ã".repeat(110);
        let paths = OutputPaths::timestamped(
            Path::new("/saida"),
            &stem,
            &format!("{stem}.csv"),
            "20261103T164000",
        );
        for name in [&paths.reports.summary, &paths.reports.errors_xlsx] {
            let name = name.file_name().unwrap().to_string_lossy().into_owned();
            assert!(name.len() <= 160, "{} bytes: {name}", name.len());
            assert!(name.starts_with("ããã"), "{name}");
        }
    }
}
