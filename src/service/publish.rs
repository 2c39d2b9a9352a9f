//! Publishing a pass's report set: together or not at all, once. The
//! complete set waits in `<outbox>/.rnds-drop-staging/<name>/`, the ledger
//! records it ([`Ledger::begin_publish`]) before the first file is moved,
//! and a restart finishes an interrupted publication ([`settle_reports`])
//! instead of writing a second set; the caller moves the source file only
//! after. Leftovers of a kill (staging folders, temporary files) are
//! removed at start. Moves are renames of files within one volume, which
//! Windows does too.

use std::path::{Path, PathBuf};

use crate::ledger::{FileId, FileRecord, Ledger, ResultRecord};
use crate::report::{
    self, create_private_dir, sync_dir, ReportPaths, SentCsv, SentLookup, Summary,
};
use crate::watch::Disposition;

use super::paths::{output_error, OutputPaths, STAGING_DIR};
use super::rows::ledger_only_status;
use super::ServiceError;

/// Report kinds that end a file's journey: once one is recorded, a
/// restart moves the source file on without another pass.
const KIND_DONE: [&str; 2] = ["resumo", "acompanhamento"];
/// The kind of the summary of a file that could not be read.
pub(super) const KIND_UNREADABLE: &str = "ilegivel";

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

/// Test seam like [`failpoint`], for defects rather than kills: with
/// `RNDS_DROP_FAILPOINT=<name>` a debug build panics at that point (the
/// caller must survive it). Release builds do not read the variable.
#[cfg(debug_assertions)]
pub(crate) fn failpoint_panic(name: &str) {
    assert!(
        std::env::var_os("RNDS_DROP_FAILPOINT").is_none_or(|v| v != name),
        "failpoint {name}"
    );
}

#[cfg(not(debug_assertions))]
pub(crate) fn failpoint_panic(_name: &str) {}

/// Exit code of a process stopped by [`failpoint`].
pub const FAILPOINT_EXIT: i32 = 86;

/// The staging folder of a set, removed when dropped unless its files are
/// recorded for publication (then a restart finishes moving them).
pub(super) struct StagingDir {
    pub(super) path: PathBuf,
    keep: bool,
}

impl StagingDir {
    pub(super) fn new(path: PathBuf) -> StagingDir {
        StagingDir { path, keep: false }
    }
}

impl Drop for StagingDir {
    fn drop(&mut self) {
        if !self.keep {
            report::discard_dir(&self.path);
        }
    }
}

/// Publishes `summary` (a file that could not be read) the same way as
/// [`Outputs::publish`](super::outputs::Outputs::publish), with an `enviados.csv` of `earlier_rows` when
/// earlier passes of the file had rows reach RNDS.
pub(super) fn publish_summary(
    summary: &Summary,
    earlier_rows: &[ResultRecord],
    paths: &OutputPaths,
    ledger: &mut Ledger,
    file_id: FileId,
    kind: &str,
) -> Result<(), ServiceError> {
    let (staging, staged) = stage_for(paths)?;
    let mut staging = StagingDir::new(staging);
    if !earlier_rows.is_empty() {
        let path = &staged.reports.sent_csv;
        let mut sent = SentCsv::create(path).map_err(output_error(path))?;
        for row in earlier_rows {
            let status = ledger_only_status(row, false);
            // Rows of earlier passes: the ledger keeps ids, not the row's cells.
            let lookup = SentLookup::default();
            sent.write_row(
                row.line,
                &row.lab_id,
                row.rnds_id.as_deref(),
                &status,
                &lookup,
            )
            .map_err(output_error(path))?;
        }
        sent.commit().map_err(output_error(path))?;
    }
    paths
        .summary_of(summary)
        .write(&staged.reports.summary)
        .map_err(output_error(&staged.reports.summary))?;
    publish_staged(&mut staging, &paths.reports.summary, ledger, file_id, kind)
}

/// A fresh staging folder for the set named by `paths` and the paths of
/// its files in it.
pub(super) fn stage_for(paths: &OutputPaths) -> Result<(PathBuf, OutputPaths), ServiceError> {
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
    let root = paths
        .staging_root
        .clone()
        .unwrap_or_else(|| outbox.join(STAGING_DIR));
    if let Some(parent) = root.parent().filter(|_| paths.staging_root.is_some()) {
        create_private_dir(parent).map_err(output_error(parent))?;
    }
    create_private_dir(&root).map_err(output_error(&root))?;
    let staging = root.join(&name);
    report::fresh_private_dir(&staging).map_err(output_error(&staging))?;
    let bundles = paths
        .bundles
        .as_ref()
        .and_then(|b| b.file_name())
        .map(|n| staging.join(n));
    let staged = OutputPaths {
        reports: ReportPaths::new(&staging, &name),
        bundles,
        received: paths.received.clone(),
        staging_root: None,
    };
    Ok((staging, staged))
}

pub(super) fn publish_staged(
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
    report::discard_empty_dir(&dir);
    failpoint("relatorio-publicado");
    Ok(())
}

/// Moves every complete file of `staging` into `outbox`, summaries last.
fn move_staged(staging: &Path, outbox: &Path) -> Result<(), ServiceError> {
    let names = report::staged_files(staging).map_err(output_error(staging))?;
    for (i, name) in names.iter().enumerate() {
        report::move_staged_file(staging, name, outbox)
            .map_err(output_error(&outbox.join(name)))?;
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
pub(super) fn settle_reports(
    ledger: &mut Ledger,
    outboxes: &[&Path],
) -> Result<usize, ServiceError> {
    // One of several instances finishes only the sets of the files it
    // holds (the ledger gives only those) and removes only its own
    // leftovers: the others' staged sets are theirs.
    let instance = ledger.instance_name().map(str::to_owned);
    let unfinished = ledger.unpublished_reports()?;
    for report in &unfinished {
        let outbox = report.summary.parent().unwrap_or(Path::new("."));
        if crate::report::is_staged(&report.staging) {
            move_staged(&report.staging, outbox)?;
            crate::report::discard_dir(&report.staging);
        }
        ledger.end_publish(report.id)?;
    }
    for outbox in outboxes {
        match &instance {
            None => remove_leftovers(outbox),
            Some(instance) => {
                report::remove_staged_sets(&super::paths::staging_root(outbox, Some(instance)))
            }
        }
    }
    Ok(unfinished.len())
}

/// Best effort: a leftover that cannot be removed now is tried again at
/// the next start, and is hidden from staff meanwhile.
fn remove_leftovers(outbox: &Path) {
    report::remove_leftovers(outbox, &outbox.join(STAGING_DIR));
}
