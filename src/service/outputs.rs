//! The report files of one pass over a file, written as the rows come into
//! a hidden staging folder of the outbox and published only when the
//! caller decides the report is due; dropped unpublished, nothing appears
//! in the outbox.
//!
//! A pass's reports appear together or not at all, once: the complete set
//! waits in `<outbox>/.rnds-drop-staging/<name>/`, the ledger records it
//! ([`Ledger::begin_publish`]) before the first file is moved, and a
//! restart finishes an interrupted publication ([`settle_reports`]) instead
//! of writing a second set; the caller moves the source file only after.
//! Leftovers of a kill (staging folders, temporary files) are removed at
//! start. Moves are renames of files within one volume (Windows too).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::input::Format;
use crate::ledger::{FileId, FileRecord, Ledger};
use crate::model::RowIssue;
use crate::pipeline::FileHeader;
use crate::report::{
    create_private_dir, is_temp_leftover, sync_dir, AtomicFile, ErrorsCsv, ErrorsXlsx, IssueLog,
    ReportPaths, SentCsv, SentStatus, Summary,
};
use crate::watch::Disposition;

use super::ServiceError;

/// The hidden folder of an outbox where report sets wait to be published.
pub const STAGING_DIR: &str = ".rnds-drop-staging";

/// Report kinds that end a file's journey: once one is recorded, a
/// restart moves the source file on without another pass.
const KIND_DONE: [&str; 2] = ["resumo", "acompanhamento"];
/// The kind of the summary of a file that could not be read.
pub const KIND_UNREADABLE: &str = "ilegivel";

/// Where a file whose final report was already published goes, if it was.
pub(super) fn already_reported(record: &FileRecord) -> Option<Disposition> {
    record.reports.iter().rev().find_map(|(kind, _)| {
        if kind == KIND_UNREADABLE {
            Some(Disposition::Failed)
        } else if KIND_DONE.contains(&kind.as_str()) {
            Some(Disposition::Processed)
        } else {
            None
        }
    })
}

/// Test seam: with `RNDS_DROP_FAILPOINT=<name>` a debug build stops dead
/// at that point, like a SIGKILL (no destructor runs, nothing is cleaned),
/// so tests can kill the real binary at an exact step. Release builds do
/// not read the variable.
#[cfg(debug_assertions)]
pub(crate) fn failpoint(name: &str) {
    if std::env::var_os("RNDS_DROP_FAILPOINT").is_some_and(|v| v == name) {
        eprintln!("failpoint {name}");
        std::process::exit(FAILPOINT_EXIT);
    }
}

#[cfg(not(debug_assertions))]
pub(crate) fn failpoint(_name: &str) {}

/// Exit code of a process stopped by [`failpoint`].
pub const FAILPOINT_EXIT: i32 = 86;

/// Where reports named `<name>.<kind>` go: `name` is the file's stem, plus
/// a `.<AAAAMMDDTHHMMSS>` instant for the service.
#[derive(Debug, Clone)]
pub struct OutputPaths {
    pub reports: ReportPaths,
    /// `<name>.bundles.ndjson` (only `send` writes it, like `check`).
    pub bundles: Option<PathBuf>,
}

impl OutputPaths {
    /// The service's names: `<stem>.<AAAAMMDDTHHMMSS>.*`, with `_2`, `_3`…
    /// after the instant when a report of that second already exists (the
    /// same file dropped twice within a second must not overwrite).
    pub fn timestamped(outbox: &Path, stem: &str, instant: &str) -> OutputPaths {
        let mut n = 1u32;
        loop {
            let name = if n == 1 {
                format!("{stem}.{instant}")
            } else {
                format!("{stem}.{instant}_{n}")
            };
            let reports = ReportPaths::new(outbox, &name);
            if !reports.summary.exists() && !reports.sent_csv.exists() {
                return OutputPaths {
                    reports,
                    bundles: None,
                };
            }
            n += 1;
        }
    }

    /// `send`'s names: `<stem>.*` like `check`, plus the bundles file.
    pub fn plain(out_dir: &Path, stem: &str) -> OutputPaths {
        OutputPaths {
            reports: ReportPaths::new(out_dir, stem),
            bundles: Some(out_dir.join(format!("{stem}.bundles.ndjson"))),
        }
    }
}

fn output_error(path: &Path) -> impl FnOnce(std::io::Error) -> ServiceError {
    let path = path.to_path_buf();
    move |source| ServiceError::Output { path, source }
}

/// The streaming writers of one pass, writing into its staging folder.
pub struct Outputs {
    /// Final paths in the outbox.
    paths: OutputPaths,
    /// The same names in the staging folder, where the writers write.
    staged: OutputPaths,
    errors: ErrorsCsv,
    xlsx: Option<ErrorsXlsx>,
    sent: SentCsv,
    bundles: Option<AtomicFile>,
    issues: IssueLog,
    /// Last: removed after the writers above dropped their temporary files.
    staging: StagingDir,
}

/// The staging folder of a set, removed when dropped unless its files are
/// recorded for publication (then a restart finishes moving them).
struct StagingDir {
    path: PathBuf,
    keep: bool,
}

impl Drop for StagingDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

impl Outputs {
    pub fn create(paths: &OutputPaths, header: &FileHeader) -> Result<Outputs, ServiceError> {
        let (staging, staged) = stage_for(paths)?;
        let staging = StagingDir {
            path: staging,
            keep: false,
        };
        let r = &staged.reports;
        let headers = &header.info.headers;
        let xlsx = if header.info.format == Format::Xlsx {
            Some(
                ErrorsXlsx::new(headers, header.info.sheet.as_deref())
                    .map_err(output_error(&r.errors_xlsx))?,
            )
        } else {
            None
        };
        let bundles = match &staged.bundles {
            Some(p) => Some(AtomicFile::create(p).map_err(output_error(p))?),
            None => None,
        };
        Ok(Outputs {
            errors: ErrorsCsv::create(&r.errors_csv, headers)
                .map_err(output_error(&r.errors_csv))?,
            sent: SentCsv::create(&r.sent_csv).map_err(output_error(&r.sent_csv))?,
            issues: IssueLog::create(&r.summary).map_err(output_error(&r.summary))?,
            xlsx,
            bundles,
            paths: paths.clone(),
            staged,
            staging,
        })
    }

    /// A row that failed (invalid, or refused by RNDS): original cells first.
    pub fn failed(&mut self, cells: &[String], issues: &[RowIssue]) -> Result<(), ServiceError> {
        let r = &self.staged.reports;
        self.errors
            .write_row(cells, issues)
            .map_err(output_error(&r.errors_csv))?;
        if let Some(x) = self.xlsx.as_mut() {
            x.write_row(cells, issues)
                .map_err(output_error(&r.errors_xlsx))?;
        }
        Ok(())
    }

    /// One issue for `resumo.json` (spooled; `summary` keeps the first ones).
    pub fn issue(&mut self, issue: RowIssue, summary: &mut Summary) -> Result<(), ServiceError> {
        self.issues
            .push(issue, summary)
            .map_err(output_error(&self.staged.reports.summary))
    }

    /// A valid row's line in `enviados.csv`.
    pub fn sent(
        &mut self,
        line: u64,
        lab_id: &str,
        rnds_id: Option<&str>,
        status: &SentStatus,
    ) -> Result<(), ServiceError> {
        self.sent
            .write_row(line, lab_id, rnds_id, status)
            .map_err(output_error(&self.staged.reports.sent_csv))?;
        if self.sent.rows() == 1 {
            failpoint("relatorio-parcial");
        }
        Ok(())
    }

    pub fn bundle(&mut self, json: &[u8]) -> Result<(), ServiceError> {
        if let (Some(file), Some(path)) = (self.bundles.as_mut(), self.staged.bundles.as_ref()) {
            file.write_all(json)
                .and_then(|_| file.write_all(b"\n"))
                .map_err(output_error(path))?;
        }
        Ok(())
    }

    /// Publishes the set: completes every file in the staging folder,
    /// records it in the ledger as report `kind` of `file_id`, moves the
    /// files into the outbox (the summary last: a reader polling for
    /// `resumo.json` then finds the others complete), then marks it done.
    pub fn publish(
        self,
        summary: &Summary,
        ledger: &mut Ledger,
        file_id: FileId,
        kind: &str,
    ) -> Result<ReportPaths, ServiceError> {
        let Outputs {
            paths,
            staged,
            mut staging,
            errors,
            xlsx,
            sent,
            bundles,
            issues,
        } = self;
        let r = &staged.reports;
        if let (Some(file), Some(path)) = (bundles, staged.bundles.as_ref()) {
            file.commit().map_err(output_error(path))?;
        }
        errors.commit().map_err(output_error(&r.errors_csv))?;
        if let Some(x) = xlsx {
            x.save(&r.errors_xlsx)
                .map_err(output_error(&r.errors_xlsx))?;
        }
        sent.commit().map_err(output_error(&r.sent_csv))?;
        issues
            .write_summary(summary, &r.summary)
            .map_err(output_error(&r.summary))?;
        publish_staged(&mut staging, &paths.reports.summary, ledger, file_id, kind)?;
        Ok(paths.reports)
    }
}

/// Publishes `summary` alone (a file that could not be read) the same way
/// as [`Outputs::publish`].
pub fn publish_summary(
    summary: &Summary,
    paths: &OutputPaths,
    ledger: &mut Ledger,
    file_id: FileId,
    kind: &str,
) -> Result<(), ServiceError> {
    let (staging, staged) = stage_for(paths)?;
    let mut staging = StagingDir {
        path: staging,
        keep: false,
    };
    summary
        .write(&staged.reports.summary)
        .map_err(output_error(&staged.reports.summary))?;
    publish_staged(&mut staging, &paths.reports.summary, ledger, file_id, kind)
}

/// A fresh staging folder for the set named by `paths` and the paths of
/// its files in it.
fn stage_for(paths: &OutputPaths) -> Result<(PathBuf, OutputPaths), ServiceError> {
    let summary = &paths.reports.summary;
    let outbox = summary.parent().unwrap_or(Path::new("."));
    let file_name = summary
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = file_name
        .strip_suffix(".resumo.json")
        .unwrap_or(&file_name)
        .to_owned();
    let root = outbox.join(STAGING_DIR);
    create_private_dir(&root).map_err(output_error(&root))?;
    let staging = root.join(&name);
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(output_error(&staging))?;
    }
    create_private_dir(&staging).map_err(output_error(&staging))?;
    let bundles = paths
        .bundles
        .as_ref()
        .and_then(|b| b.file_name())
        .map(|n| staging.join(n));
    let staged = OutputPaths {
        reports: ReportPaths::new(&staging, &name),
        bundles,
    };
    Ok((staging, staged))
}

fn publish_staged(
    staging: &mut StagingDir,
    summary: &Path,
    ledger: &mut Ledger,
    file_id: FileId,
    kind: &str,
) -> Result<(), ServiceError> {
    failpoint("relatorio-preparado");
    let dir = staging.path.clone();
    sync_dir(&dir).map_err(output_error(&dir))?;
    let report = ledger.begin_publish(file_id, kind, summary, &dir)?;
    // From here on the set is the ledger's: an error leaves it for
    // `settle_reports` to finish.
    staging.keep = true;
    let outbox = summary.parent().unwrap_or(Path::new("."));
    move_staged(&dir, outbox)?;
    ledger.end_publish(report)?;
    let _ = std::fs::remove_dir(&dir);
    failpoint("relatorio-publicado");
    Ok(())
}

/// Moves every complete file of `staging` into `outbox`, summaries last.
fn move_staged(staging: &Path, outbox: &Path) -> Result<(), ServiceError> {
    let mut names: Vec<String> = std::fs::read_dir(staging)
        .map_err(output_error(staging))?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !is_temp_leftover(n))
        .collect();
    names.sort_by_key(|n| (n.ends_with(".resumo.json"), n.clone()));
    for (i, name) in names.iter().enumerate() {
        let target = outbox.join(name);
        std::fs::rename(staging.join(name), &target).map_err(output_error(&target))?;
        if i == 0 {
            failpoint("relatorio-meio");
        }
    }
    sync_dir(outbox).map_err(output_error(outbox))
}

/// At start: finishes the publications a crash interrupted (moving what is
/// left of each set into place), then removes the leftovers of killed
/// passes (staging folders, temporary files) from `outboxes`. Returns how
/// many sets were finished.
pub fn settle_reports(ledger: &mut Ledger, outboxes: &[&Path]) -> Result<usize, ServiceError> {
    let unfinished = ledger.unpublished_reports()?;
    for report in &unfinished {
        let outbox = report.summary.parent().unwrap_or(Path::new("."));
        if report.staging.is_dir() {
            move_staged(&report.staging, outbox)?;
            let _ = std::fs::remove_dir_all(&report.staging);
        }
        ledger.end_publish(report.id)?;
    }
    for outbox in outboxes {
        remove_leftovers(outbox);
    }
    Ok(unfinished.len())
}

/// Best effort: a leftover that cannot be removed now is tried again at
/// the next start, and is hidden from staff meanwhile.
fn remove_leftovers(outbox: &Path) {
    let staging_root = outbox.join(STAGING_DIR);
    if let Ok(entries) = std::fs::read_dir(&staging_root) {
        for entry in entries.filter_map(Result::ok) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    if let Ok(entries) = std::fs::read_dir(outbox) {
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_temp_leftover(&name) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}
