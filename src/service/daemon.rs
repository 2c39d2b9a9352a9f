//! The service loop: resolve first, then files one at a time (resumed ones
//! first), files with pending rows retried with growing delays, reports
//! when the rows are final (or pending for too long), and a bounded stop.

use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::check;
use crate::config::Config;
use crate::ledger::{FileId, FileState, Ledger, NewFile};
use crate::ops::Ops;
use crate::pipeline::FileJob;
use crate::rnds::Client;
use crate::watch::{ClaimedFile, Disposition, Inboxes, WatchSettings};

use super::ledger_open::open_ledger;
use super::outputs::OutputPaths;
use super::pass::{run_pass, PassContext};
use super::publish::{already_reported, publish_summary, settle_reports, KIND_UNREADABLE};
use super::resolve::resolve_ledger;
use super::{report_instant, ServiceError};

/// Longest wait between two passes over a file with pending rows.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);

/// Runs the service until `shutdown` completes: resolves unresolved rows,
/// resumes the files left in `processando/`, then watches the inboxes. On
/// shutdown no new file or request starts; requests on the wire get
/// `shutdown_grace_s` to finish, after which they are abandoned (their rows
/// stay `sending` in the ledger and are resolved on the next start).
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServiceError> {
    let (stop_sender, stop) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_sender.send(true);
    });

    let (_ledger_lock, mut ledger) = open_ledger(&config)?;
    let ops = Ops::new(&config);
    let client = Client::observed(&config, Some(ops.observer()))?;
    let _daily_warnings = DailyWarnings::start(client.clone());
    for inbox in &config.inbox {
        crate::report::create_private_dir_all(&inbox.outbox).map_err(|source| {
            ServiceError::Output {
                path: inbox.outbox.clone(),
                source,
            }
        })?;
    }
    let outboxes: Vec<&Path> = config.inbox.iter().map(|i| i.outbox.as_path()).collect();
    if settle_reports(&mut ledger, &outboxes)? > 0 {
        tracing::info!("relatórios interrompidos por uma parada concluídos");
    }
    let mut inboxes = Inboxes::new(&config.inbox, WatchSettings::from_service(&config.service))?;
    ops.start(&config, &client, stop.clone())
        .await
        .map_err(|source| ServiceError::Metrics {
            addr: config
                .service
                .metrics_listen
                .map(|a| a.to_string())
                .unwrap_or_default(),
            source,
        })?;
    tracing::info!(
        pastas = config.inbox.len(),
        rnds = %client.endpoints().fhir(""),
        "serviço iniciado"
    );

    // Nothing new goes out before every unresolved row is settled.
    {
        tokio::select! {
            resolved = resolve_ledger(&client, &mut ledger) => {
                let (settled, left) = resolved?;
                if settled + left > 0 {
                    tracing::info!(resolvidas = settled, sem_resposta = left, "envios sem confirmação verificados");
                }
            }
            _ = until_stopped(stop.clone()) => return Ok(()),
        }
    }

    let mut service = Service {
        config,
        client,
        ledger,
        stop: stop.clone(),
        config_error_logged: false,
        ops,
    };
    let mut waiting: Vec<Active> = Vec::new();
    let grace = Duration::from_secs(service.config.service.shutdown_grace_s);
    loop {
        if super::chunk::stopping(&stop) {
            break;
        }
        let due = waiting
            .iter()
            .enumerate()
            .min_by_key(|(_, a)| a.next_try)
            .map(|(i, a)| (i, a.next_try));
        let far = Instant::now() + Duration::from_secs(3600);
        let picked = tokio::select! {
            biased;
            _ = until_stopped(stop.clone()) => break,
            _ = tokio::time::sleep_until(due.map_or(far, |d| d.1).into()), if due.is_some() => {
                let Some((index, _)) = due else { continue };
                Picked::Retry(waiting.swap_remove(index))
            }
            claimed = inboxes.next_ready() => Picked::New(claimed),
        };
        let mut active = match picked {
            Picked::Retry(active) => active,
            Picked::New(claimed) => match service.admit(claimed).await {
                Ok(active) => active,
                Err(e) => {
                    // The file stays in processando/ and is resumed on the
                    // next start.
                    tracing::error!("{e}");
                    continue;
                }
            },
        };

        let result = {
            let pass = service.process(&mut active);
            tokio::pin!(pass);
            tokio::select! {
                r = &mut pass => Some(r),
                _ = until_stopped(stop.clone()) => tokio::time::timeout(grace, &mut pass).await.ok(),
            }
        };
        match result {
            None => {
                tracing::warn!(
                    arquivo = %active.claimed.original_name,
                    "envios em andamento abandonados ao parar; serão conferidos na próxima partida"
                );
                break;
            }
            Some(Ok(Next::Done)) => {}
            Some(Ok(Next::Wait)) => waiting.push(active),
            // Every failure point is safe to retry: no intent recorded means
            // no request sent; an outcome not recorded leaves the row
            // `sending`, resolved before the next decision.
            Some(Err(e)) => {
                tracing::error!(arquivo = %active.claimed.original_name, "{e}; nova tentativa em 1 minuto");
                active.next_try = Instant::now() + MAX_RETRY_DELAY;
                waiting.push(active);
            }
        }
    }
    tracing::info!(
        arquivos_aguardando = waiting.len(),
        "serviço parado; arquivos em processamento continuam em processando/ para a próxima partida"
    );
    Ok(())
}

/// Completes when a stop is requested (at once if it already was).
async fn until_stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Logs the client's warnings (certificate expiring within 30 days, files
/// others can read) at start and then once a day, until dropped.
struct DailyWarnings(tokio::task::JoinHandle<()>);

impl DailyWarnings {
    fn start(client: Client) -> DailyWarnings {
        DailyWarnings(tokio::spawn(async move {
            let mut day = tokio::time::interval(Duration::from_secs(24 * 3600));
            loop {
                day.tick().await;
                for warning in client.warnings(chrono::Utc::now()) {
                    tracing::warn!("{warning}");
                }
            }
        }))
    }
}

impl Drop for DailyWarnings {
    fn drop(&mut self) {
        self.0.abort();
    }
}

enum Picked {
    New(ClaimedFile),
    Retry(Active),
}

/// A claimed file being worked on.
struct Active {
    claimed: ClaimedFile,
    file_id: FileId,
    /// When this run took it (the pending-report clock).
    since: Instant,
    pending_reported: bool,
    /// Its final report was published before a stop: only the move is left.
    reported: Option<Disposition>,
    passes: u32,
    next_try: Instant,
}

enum Next {
    /// Every row final; reports written; file moved out of `processando/`.
    Done,
    /// Rows pending: try again at `next_try`.
    Wait,
}

struct Service {
    config: Config,
    client: Client,
    ledger: Ledger,
    stop: watch::Receiver<bool>,
    config_error_logged: bool,
    ops: Ops,
}

impl Service {
    /// Records a newly claimed file, or finds the ledger record of one
    /// resumed from `processando/`.
    async fn admit(&mut self, claimed: ClaimedFile) -> Result<Active, ServiceError> {
        let mut known = None;
        if claimed.resumed {
            known = self
                .ledger
                .files_in_progress()?
                .into_iter()
                .rfind(|f| f.work_path == claimed.work_path);
        }
        let (file_id, pending_reported, reported) = match known {
            Some(record) => {
                let pending = record.reports.iter().any(|(kind, _)| kind == "pendentes");
                tracing::info!(arquivo = %claimed.original_name, "retomando arquivo de uma execução anterior");
                (record.id, pending, already_reported(&record))
            }
            None => {
                let sha = super::file_sha256(claimed.work_path.clone()).await?;
                let inbox = &self.config.inbox[claimed.inbox_index].path;
                let id = super::blocking(|| {
                    self.ledger.record_file(&NewFile {
                        sha256: &sha,
                        name: &claimed.original_name,
                        inbox,
                        work_path: &claimed.work_path,
                    })
                })?;
                tracing::info!(arquivo = %claimed.original_name, "arquivo recebido");
                (id, false, None)
            }
        };
        let now = Instant::now();
        Ok(Active {
            claimed,
            file_id,
            since: now,
            pending_reported,
            reported,
            passes: 0,
            next_try: now,
        })
    }

    /// One pass over the file, then the reports and the file's next step.
    async fn process(&mut self, active: &mut Active) -> Result<Next, ServiceError> {
        if active.passes > 0 && active.reported.is_none() {
            // An earlier pass may have failed while publishing (disk full):
            // its recorded set is finished, not written a second time.
            settle_reports(&mut self.ledger, &[])?;
            let record = self.ledger.file(active.file_id)?;
            active.reported = record.as_ref().and_then(already_reported);
        }
        if let Some(disposition) = active.reported {
            return self.finish_reported(active, disposition);
        }
        let config = &self.config;
        let inbox = &config.inbox[active.claimed.inbox_index];
        let mut job = FileJob::from_config(config, Some(inbox), chrono::Utc::now());
        // What goes to RNDS is checked in full; the network dominates anyway.
        job.self_check_every = 1;
        let stem = check::stem(Path::new(&active.claimed.original_name));
        let paths = OutputPaths::timestamped(&inbox.outbox, &stem, &report_instant(config));
        let mut progress = self.ops.file_progress(&active.claimed.original_name);
        let report = run_pass(
            &active.claimed.work_path,
            job,
            active.file_id,
            &paths,
            PassContext {
                client: &self.client,
                ledger: &mut self.ledger,
                stop: self.stop.clone(),
                progress: &mut progress,
            },
        )
        .await?;
        active.passes += 1;
        let name = active.claimed.original_name.clone();
        if report.interrupted {
            return Ok(Next::Wait);
        }
        let today = chrono::Utc::now()
            .with_timezone(&config.timezone())
            .date_naive();
        if report.unreadable {
            super::blocking(|| -> Result<(), ServiceError> {
                publish_summary(
                    &report.summary,
                    &paths,
                    &mut self.ledger,
                    active.file_id,
                    KIND_UNREADABLE,
                )?;
                let stored = active.claimed.finish(Disposition::Failed, today)?;
                self.ledger
                    .finish_file(active.file_id, FileState::Failed, &stored)?;
                Ok(())
            })?;
            self.ops.file_finished(&report.summary, true);
            tracing::warn!(
                arquivo = %name,
                motivo = report.summary.error.as_deref().unwrap_or(""),
                "arquivo ilegível movido para falhas/"
            );
            return Ok(Next::Done);
        }
        match &report.config_error {
            Some(message) if !self.config_error_logged => {
                tracing::error!(
                    "ERRO DE CONFIGURAÇÃO informado pela RNDS: {message}. Os envios ficam \
                     suspensos e os arquivos aguardam em processando/ até a configuração ser \
                     corrigida (rode `rnds-drop doctor`)."
                );
                self.config_error_logged = true;
            }
            Some(_) => {}
            None => self.config_error_logged = false,
        }
        let s = &report.summary;
        if report.pending.is_empty() {
            let kind = if active.pending_reported {
                "acompanhamento"
            } else {
                "resumo"
            };
            super::blocking(|| -> Result<(), ServiceError> {
                if let Some(outputs) = report.outputs {
                    outputs.publish(&report.summary, &mut self.ledger, active.file_id, kind)?;
                }
                let stored = active.claimed.finish(Disposition::Processed, today)?;
                self.ledger
                    .finish_file(active.file_id, FileState::Processed, &stored)?;
                Ok(())
            })?;
            self.ops.file_finished(&report.summary, false);
            tracing::info!(
                arquivo = %name,
                linhas = s.rows_total,
                enviadas = s.rows_sent.unwrap_or(0),
                substituidas = s.rows_replaced.unwrap_or(0),
                ja_enviadas = s.rows_already_sent.unwrap_or(0),
                invalidas = s.rows_invalid,
                recusadas = s.rows_rejected.unwrap_or(0),
                relatorio = %paths.reports.summary.display(),
                "arquivo concluído"
            );
            return Ok(Next::Done);
        }

        let report_due = active.since + Duration::from_secs(config.service.pending_report_after_s);
        let now = Instant::now();
        if !active.pending_reported && now >= report_due {
            if let Some(outputs) = report.outputs {
                let written = outputs.publish(
                    &report.summary,
                    &mut self.ledger,
                    active.file_id,
                    "pendentes",
                )?;
                active.pending_reported = true;
                tracing::warn!(
                    arquivo = %name,
                    pendentes = report.pending.len(),
                    relatorio = %written.summary.display(),
                    "linhas pendentes relatadas; um relatório complementar sairá quando forem enviadas"
                );
            }
        }
        let mut delay = retry_delay(active.passes);
        if report.config_error.is_some() {
            delay = MAX_RETRY_DELAY;
        }
        let mut next_try = now + delay;
        if !active.pending_reported {
            next_try = next_try.min(report_due.max(now));
        }
        active.next_try = next_try;
        // The outage itself is logged once by `ops` (and summarised), not per pass.
        tracing::debug!(
            arquivo = %name,
            pendentes = report.pending.len(),
            nova_tentativa_em_s = next_try.saturating_duration_since(now).as_secs(),
            "linhas pendentes: RNDS inacessível"
        );
        Ok(Next::Wait)
    }
}

impl Service {
    /// A file resumed after a stop that fell between publishing its final
    /// report and moving it: moved now, without a second report.
    fn finish_reported(
        &mut self,
        active: &Active,
        disposition: Disposition,
    ) -> Result<Next, ServiceError> {
        let today = chrono::Utc::now()
            .with_timezone(&self.config.timezone())
            .date_naive();
        let stored = active.claimed.finish(disposition, today)?;
        let state = match disposition {
            Disposition::Processed => FileState::Processed,
            Disposition::Failed => FileState::Failed,
        };
        self.ledger.finish_file(active.file_id, state, &stored)?;
        tracing::info!(
            arquivo = %active.claimed.original_name,
            "arquivo já relatado antes da parada; movido sem novo relatório"
        );
        Ok(Next::Done)
    }
}

/// 1 s, 2 s, 4 s… up to a minute between passes over a pending file.
fn retry_delay(passes: u32) -> Duration {
    let exp = passes.saturating_sub(1).min(6);
    (Duration::from_secs(1) * 2u32.pow(exp)).min(MAX_RETRY_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_grow_to_a_minute() {
        let delays: Vec<u64> = (1..=9).map(|p| retry_delay(p).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }
}
