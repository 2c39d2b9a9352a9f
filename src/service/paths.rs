//! Where one pass's reports go: the service's timestamped names, `send`'s
//! plain ones, and the hidden staging folder both are prepared in.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};

use crate::report::{ReportPaths, Summary};

use super::ServiceError;

/// The hidden folder of an outbox where report sets wait to be published.
pub const STAGING_DIR: &str = ".rnds-drop-staging";

/// Where reports named `<name>.<kind>` go: `name` is the file's stem, plus
/// for the service the instant it was received and its extension.
#[derive(Debug, Clone)]
pub(crate) struct OutputPaths {
    pub reports: ReportPaths,
    /// `<name>.bundles.ndjson` (only `send` writes it, like `check`).
    pub bundles: Option<PathBuf>,
    /// The service's: which input the set belongs to.
    pub received: Option<Received>,
    /// Where sets are staged when not `<outbox>/.rnds-drop-staging/`: one
    /// of several instances on one inbox stages in a folder of its own
    /// there (see [`OutputPaths::for_instance`]).
    pub staging_root: Option<PathBuf>,
}

impl OutputPaths {
    /// The service's names: `<stem>.<AAAAMMDDTHHMMSS>_<extension>.*`, the
    /// instant the input was received (the lab's time) and its extension,
    /// so every report says which input it belongs to: `lote.csv` and
    /// `lote.xlsx` dropped together, or `lote.csv` dropped again later or
    /// into another inbox, never share a name. `_2`, `_3`… follow when a
    /// set of that name already exists (a later report of the same input,
    /// or a same-named file of another inbox received in the same second;
    /// its `resumo.json` names the inbox), so names sort in order.
    pub(crate) fn timestamped(
        outbox: &Path,
        stem: &str,
        input: &str,
        received: &Received,
    ) -> OutputPaths {
        let extension = Path::new(input)
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .filter(|e| !e.is_empty() && e.chars().all(|c| c.is_ascii_alphanumeric()))
            .map_or(String::new(), |e| format!("_{e}"));
        let instant = received.at.format("%Y%m%dT%H%M%S");
        let stem = bounded_stem(stem);
        let mut n = 1u32;
        loop {
            let name = if n == 1 {
                format!("{stem}.{instant}{extension}")
            } else {
                format!("{stem}.{instant}{extension}_{n}")
            };
            let reports = ReportPaths::new(outbox, &name);
            // A set still staged is taken too: the service holds a pass's
            // reports until its file is quiet, and another file of the same
            // stem may be read meanwhile.
            let staged = outbox.join(STAGING_DIR).join(&name);
            if !reports.taken() && !crate::report::is_staged(&staged) {
                return OutputPaths {
                    reports,
                    bundles: None,
                    received: Some(received.clone()),
                    staging_root: None,
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
            received: None,
            staging_root: None,
        }
    }

    /// Stages in `<outbox>/.rnds-drop-staging/<instance>/` for one of
    /// several instances: what each removes at start as leftovers of its
    /// own killed passes is then never another instance's set in progress.
    pub(crate) fn for_instance(mut self, instance: Option<&str>) -> OutputPaths {
        if let Some(instance) = instance {
            self.staging_root = Some(staging_root(self.outbox(), Some(instance)));
        }
        self
    }

    /// The folder the summary goes to.
    pub(crate) fn outbox(&self) -> &Path {
        self.reports.summary.parent().unwrap_or(Path::new("."))
    }

    /// `summary` as its `resumo.json` says it: with when and where the
    /// input was received, for the service's sets.
    pub(crate) fn summary_of<'a>(&self, summary: &'a Summary) -> Cow<'a, Summary> {
        match &self.received {
            None => Cow::Borrowed(summary),
            Some(received) => {
                let mut stamped = summary.clone();
                stamped.received_at = Some(received.at.to_rfc3339());
                stamped.inbox = Some(received.inbox.to_string_lossy().into_owned());
                Cow::Owned(stamped)
            }
        }
    }
}

/// Where an outbox's sets are staged: `<outbox>/.rnds-drop-staging/`, or
/// a folder of `instance`'s own in it.
pub(crate) fn staging_root(outbox: &Path, instance: Option<&str>) -> PathBuf {
    let root = outbox.join(STAGING_DIR);
    match instance {
        Some(instance) => root.join(instance),
        None => root,
    }
}

/// When and where the service received an input: its report names and
/// `resumo.json` say it.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    /// In the lab's time zone.
    pub at: DateTime<FixedOffset>,
    /// The inbox folder it was dropped in.
    pub inbox: PathBuf,
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
impl Received {
    /// Received at `rfc3339` into `/entrada`.
    pub(crate) fn example(rfc3339: &str) -> Received {
        Received {
            at: DateTime::parse_from_rfc3339(rfc3339).unwrap_or_default(),
            inbox: PathBuf::from("/entrada"),
        }
    }
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
            &Received::example("2026-11-03T16:40:00-03:00"),
        );
        for name in [&paths.reports.summary, &paths.reports.errors_xlsx] {
            let name = name.file_name().unwrap().to_string_lossy().into_owned();
            assert!(name.len() <= 160, "{} bytes: {name}", name.len());
            assert!(name.starts_with("ããã"), "{name}");
        }
    }
}
