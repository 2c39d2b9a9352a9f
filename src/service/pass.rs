//! One pass over a file: the pipeline (on a blocking thread) feeds chunks;
//! per chunk the ledger decides each valid row (new, already sent,
//! replacement, unresolved), intents are recorded in one transaction, the
//! bundles are submitted with bounded concurrency, and the outcomes are
//! recorded in one transaction before the rows are written to the reports.
//! A pass is idempotent: running it again on the same file sends only what
//! is not final yet.

use std::path::Path;

use tokio::sync::{mpsc, watch};

use crate::ledger::{FileId, Ledger, ResultState};
use crate::pipeline::{self, FileHeader, FileJob, FileTotals, PipelineError, RowOutcome};
use crate::report::{wording, SentLookup, SentStatus, Summary};
use crate::rnds::Client;

use super::chunk::PassState;
use super::outputs::Outputs;
use super::paths::OutputPaths;
use super::rows::{ledger_only_status, Counts, PendingRow};
use super::stopping;
use super::{InternalFailure, ServiceError};

/// What a pass needs from its caller.
pub(super) struct PassContext<'a> {
    pub client: &'a Client,
    pub ledger: &'a mut Ledger,
    /// Becomes `true` when the service is asked to stop: no new chunk, no
    /// new request; requests already on the wire finish.
    pub stop: watch::Receiver<bool>,
    /// Called after each chunk with what the pass has done so far.
    pub progress: &'a mut (dyn FnMut(&crate::ops::PassProgress) + Send),
}

/// What one pass produced. `outputs` are uncommitted: the caller commits
/// them when the report is due, or drops them.
pub(super) struct PassReport {
    pub summary: Summary,
    pub outputs: Option<Outputs>,
    pub pending: Vec<PendingRow>,
    /// A configuration error RNDS reported (or the certificate): sending
    /// stopped; the remaining rows are pending.
    pub config_error: Option<String>,
    /// The file could not be read; `summary.error` says why.
    pub unreadable: bool,
    /// Stopped by the shutdown signal before the end of the file.
    pub interrupted: bool,
}

enum Message {
    Header(Box<FileHeader>),
    Chunk(Vec<RowOutcome>),
}

struct ChannelSink(mpsc::Sender<Message>);

impl pipeline::Sink for ChannelSink {
    type Error = ();
    fn header(&mut self, header: &FileHeader) -> Result<(), ()> {
        self.0
            .blocking_send(Message::Header(Box::new(header.clone())))
            .map_err(|_| ())
    }
    fn chunk(&mut self, outcomes: Vec<RowOutcome>) -> Result<(), ()> {
        self.0
            .blocking_send(Message::Chunk(outcomes))
            .map_err(|_| ())
    }
}

/// Runs one pass over `path` (already recorded in the ledger as `file_id`):
/// the pipeline reads on a blocking thread while the chunks are decided
/// and sent here, then the pass is summed up.
pub(super) async fn run_pass(
    path: &Path,
    job: FileJob,
    file_id: FileId,
    paths: &OutputPaths,
    ctx: PassContext<'_>,
) -> Result<PassReport, ServiceError> {
    let (receiver, reader) = start_reader(path, &job);
    let mut state = PassState {
        job,
        file_id,
        client: ctx.client,
        ledger: ctx.ledger,
        stop: ctx.stop,
        summary: None,
        outputs: None,
        rows_seen: 0,
        last_line: 0,
        pending: Vec::new(),
        config_error: None,
        halt: None,
        counts: Counts::default(),
        first_rows: Default::default(),
        columns: None,
    };
    let interrupted = drive(&mut state, receiver, paths, ctx.progress).await?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let totals = match reader.await {
        Ok(totals) => totals,
        Err(e) if e.is_panic() => {
            // A defect met on this file's content (a hostile workbook, say):
            // the file is unreadable, so the service's retry limit applies
            // instead of a retry every minute forever.
            tracing::error!(arquivo = %name, "falha interna ao ler o arquivo: {e}");
            return Ok(unreadable(
                &mut state,
                path,
                name,
                "o rnds-drop falhou ao ler este arquivo (erro interno). O arquivo foi \
                 guardado em falhas/: avise o suporte do rnds-drop e envie-lhe o arquivo"
                    .into(),
            ));
        }
        Err(e) => return Err(InternalFailure::ReadInterrupted(e).into()),
    };
    Ok(match totals {
        Ok(totals) if !interrupted => {
            rows_gone_from_file(&mut state).await?;
            complete(&mut state, name, totals)
        }
        Ok(_) | Err(PipelineError::Sink(())) => stopped(&mut state, name),
        Err(PipelineError::Input(e)) => unreadable(&mut state, path, name, e.to_string()),
    })
}

type Reader = tokio::task::JoinHandle<Result<FileTotals, PipelineError<()>>>;

/// The pipeline over `path` on a blocking thread, feeding a channel of two
/// chunks (the reader waits while the sender is busy).
fn start_reader(path: &Path, job: &FileJob) -> (mpsc::Receiver<Message>, Reader) {
    let (sender, receiver) = mpsc::channel::<Message>(2);
    let owned_path = path.to_path_buf();
    let pipeline_job = job.clone();
    let reader = tokio::task::spawn_blocking(move || {
        pipeline::process_file(&owned_path, &pipeline_job, &mut ChannelSink(sender))
    });
    (receiver, reader)
}

/// Handles the header and each chunk as they come; `true` when a stop
/// request ended the pass before the end of the file.
async fn drive(
    state: &mut PassState<'_>,
    mut receiver: mpsc::Receiver<Message>,
    paths: &OutputPaths,
    progress: &mut (dyn FnMut(&crate::ops::PassProgress) + Send),
) -> Result<bool, ServiceError> {
    while let Some(message) = receiver.recv().await {
        match message {
            Message::Header(header) => state.header(&header, paths)?,
            Message::Chunk(outcomes) => {
                if stopping(&state.stop) {
                    // Dropping the receiver stops the reader at its next chunk.
                    return Ok(true);
                }
                state.chunk(outcomes).await?;
                progress(&state.counts.progress(state.rows_seen));
            }
        }
    }
    Ok(false)
}

/// Rows an earlier read of this file handled that it no longer holds (a
/// writer truncated its open file and wrote other rows): they go into
/// `enviados.csv` too, so the report shows every row this file sent. One
/// whose POST has no known outcome is settled here by the identifier
/// lookup (no pass over this file will meet it again); while RNDS cannot
/// tell, it keeps the file pending (chaos seed 260: a final report said
/// "aguardando confirmação" of a row RNDS had stored).
async fn rows_gone_from_file(state: &mut PassState<'_>) -> Result<(), ServiceError> {
    if state.outputs.is_none() {
        return Ok(());
    }
    let mut gone = 0u64;
    let first_rows = &state.first_rows;
    let gone_rows = state
        .ledger
        .results_of_file_except(state.file_id, |lab_id| first_rows.contains(lab_id))?;
    for mut record in gone_rows {
        if matches!(record.state, ResultState::Sending | ResultState::Unknown) {
            match super::resolve::resolve_one(state.client, &record, None).await {
                super::resolve::Resolved::Outcome(outcome) => {
                    state
                        .ledger
                        .record_outcomes(&[(record.lab_id.clone(), outcome)])?;
                    if let Some(settled) = state
                        .ledger
                        .get_many([record.lab_id.as_str()])?
                        .remove(&record.lab_id)
                    {
                        record = settled;
                    }
                }
                super::resolve::Resolved::StillUnknown(reason)
                | super::resolve::Resolved::ConfigError(reason) => {
                    state.pending.push(PendingRow {
                        line: record.line,
                        lab_id: record.lab_id.clone(),
                        reason,
                    });
                }
            }
        }
        let Some(outputs) = state.outputs.as_mut() else {
            return Ok(());
        };
        let status = ledger_only_status(&record, true);
        let held = matches!(status, SentStatus::GoneFromFile { sent: true });
        let rnds_id = record.rnds_id.as_deref().filter(|_| held);
        outputs.sent(
            record.line,
            &record.lab_id,
            rnds_id,
            &status,
            // The row is no longer in the file: only the ledger's ids remain.
            &SentLookup::default(),
        )?;
        gone += 1;
    }
    if gone > 0 {
        tracing::warn!(
            linhas = gone,
            "linhas tratadas numa versão anterior do arquivo não estão mais nele (o arquivo \
             foi reescrito durante o processamento); elas constam em enviados.csv"
        );
    }
    Ok(())
}

/// The whole file was read and every chunk handled.
fn complete(state: &mut PassState<'_>, name: String, totals: FileTotals) -> PassReport {
    let mut summary = state
        .summary
        .take()
        .unwrap_or_else(|| Summary::unreadable(name, String::new(), None, String::new()));
    summary.error = None;
    crate::check::record_totals(&mut summary, totals);
    state.counts.fill(&mut summary);
    PassReport {
        summary,
        outputs: state.outputs.take(),
        pending: std::mem::take(&mut state.pending),
        config_error: state.config_error.take(),
        unreadable: false,
        interrupted: false,
    }
}

/// Stopped before the end: no report is due for this pass.
fn stopped(state: &mut PassState<'_>, name: String) -> PassReport {
    PassReport {
        summary: state
            .summary
            .take()
            .unwrap_or_else(|| Summary::unreadable(name, String::new(), None, String::new())),
        outputs: None,
        pending: std::mem::take(&mut state.pending),
        config_error: state.config_error.take(),
        unreadable: false,
        interrupted: true,
    }
}

/// The file could not be read. Before any row: a summary that says why,
/// nothing else. Part-way, after rows were handled (some maybe already at
/// RNDS): the pass's reports of those rows (`enviados.csv` with their RNDS
/// ids, the errors files) and a summary saying from where the file could
/// not be read.
fn unreadable(state: &mut PassState<'_>, path: &Path, name: String, why: String) -> PassReport {
    // A whole-file digest: off the async workers.
    let sha = super::blocking(|| crate::input::sha256_file(path)).unwrap_or_default();
    let format = state.summary.as_ref().and_then(|s| s.format);
    let (summary, outputs) = match (state.summary.take(), state.outputs.take()) {
        (Some(mut summary), Some(outputs)) if state.rows_seen > 0 => {
            summary.sha256 = sha;
            summary.rows_total = state.rows_seen;
            summary.rows_invalid = state.counts.invalid;
            summary.rows_valid = state.rows_seen.saturating_sub(state.counts.invalid);
            state.counts.fill(&mut summary);
            summary.error = Some(wording::unreadable_after(&why, state.last_line));
            (summary, Some(outputs))
        }
        _ => (Summary::unreadable(name, sha, format, why), None),
    };
    PassReport {
        summary,
        outputs,
        pending: std::mem::take(&mut state.pending),
        config_error: state.config_error.take(),
        unreadable: true,
        interrupted: false,
    }
}
