//! `rnds-drop send`: the `check` outputs plus submission, once per file,
//! through the same ledger decisions as the service (so a file sent twice,
//! or sent by `send` and then dropped in an inbox, goes out once).

use std::path::{Path, PathBuf};

use tokio::sync::watch;

use crate::check;
use crate::config::Config;
use crate::ledger::{FileState, NewFile};
use crate::pipeline::FileJob;
use crate::report::{ReportPaths, Summary};
use crate::rnds::Client;

use super::ledger_open::open_ledger;
use super::pass::{run_pass, PassContext};
use super::paths::OutputPaths;
use super::rows::PendingRow;
use super::ServiceError;

/// How one file went.
#[derive(Debug)]
pub struct SentFile {
    /// The counts written to `resumo.json`.
    pub summary: Summary,
    /// Where the reports went.
    pub paths: ReportPaths,
    /// Whether the file could not be read at all.
    pub unreadable: bool,
    /// Rows left waiting, for a later `send`.
    pub pending: Vec<PendingRow>,
    /// A configuration error RNDS reported; sending stopped.
    pub config_error: Option<String>,
}

/// Checks and sends each file, writing its outputs into `out_dir`.
/// `progress(file_index, rows)` is called after each chunk. A configuration
/// error stops before the next file (its rows are left pending).
pub async fn send_files(
    config: &Config,
    files: &[PathBuf],
    out_dir: &Path,
    progress: &mut (dyn FnMut(usize, u64) + Send),
) -> Result<Vec<SentFile>, ServiceError> {
    crate::report::ensure_dir(out_dir).map_err(|source| ServiceError::Output {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let (_ledger_lock, mut ledger) = open_ledger(config)?;
    super::publish::settle_reports(&mut ledger, &[out_dir])?;
    let client = Client::new(config)?;
    // `send` has no shutdown signal of its own: Ctrl-C ends the process and
    // the ledger's intents are resolved on the next start.
    let (_stop_sender, stop) = watch::channel(false);
    let (settled, left) = super::resolve::resolve_ledger(&client, &mut ledger).await?;
    if settled + left > 0 {
        tracing::info!(
            resolvidas = settled,
            sem_resposta = left,
            "envios anteriores sem confirmação verificados"
        );
    }
    let mut results = Vec::with_capacity(files.len());
    let names = check::report_names(files);
    for (index, (file, stem)) in files.iter().zip(&names).enumerate() {
        let mut job = FileJob::from_config(config, config.inbox.first(), chrono::Utc::now());
        // What goes to RNDS is checked in full; the network dominates anyway.
        job.self_check_every = 1;
        let paths = OutputPaths::plain(out_dir, stem);
        let sha = super::file_sha256(file.clone()).await?;
        let absolute = std::path::absolute(file).unwrap_or_else(|_| file.clone());
        let inbox = absolute.parent().unwrap_or(Path::new(".")).to_path_buf();
        let name = absolute
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let file_id = ledger.record_file(&NewFile {
            sha256: &sha,
            name: &name,
            inbox: &inbox,
            work_path: &absolute,
        })?;
        let mut file_progress = |p: &crate::ops::PassProgress| progress(index, p.read);
        let mut report = run_pass(
            file,
            job,
            file_id,
            &paths,
            PassContext {
                client: &client,
                ledger: &mut ledger,
                stop: stop.clone(),
                progress: &mut file_progress,
            },
        )
        .await?;
        let reports = paths.reports.clone();
        match (report.unreadable, report.outputs.take()) {
            // Unreadable part-way: the rows handled before (some at RNDS)
            // are reported with the summary saying from where it failed.
            (true, Some(outputs)) => {
                outputs.publish(
                    &report.summary,
                    &mut ledger,
                    file_id,
                    super::publish::KIND_UNREADABLE,
                )?;
                ledger.finish_file(file_id, FileState::Failed, &absolute)?;
            }
            (true, None) => {
                crate::report::discard_files(
                    [&reports.errors_csv, &reports.errors_xlsx, &reports.sent_csv]
                        .into_iter()
                        .chain(paths.bundles.as_ref())
                        .map(PathBuf::as_path),
                );
                report
                    .summary
                    .write(&reports.summary)
                    .map_err(|source| ServiceError::Output {
                        path: reports.summary.clone(),
                        source,
                    })?;
                ledger.finish_file(file_id, FileState::Failed, &absolute)?;
            }
            (false, Some(outputs)) => {
                outputs.publish(&report.summary, &mut ledger, file_id, "resumo")?;
                ledger.finish_file(file_id, FileState::Processed, &absolute)?;
            }
            (false, None) => {}
        }
        let stop_now = report.config_error.is_some();
        results.push(SentFile {
            summary: report.summary,
            paths: reports,
            unreadable: report.unreadable,
            pending: report.pending,
            config_error: report.config_error,
        });
        if stop_now {
            break;
        }
    }
    Ok(results)
}
