//! The service loop: resolve first, then files one at a time (resumed ones
//! first), files with pending rows retried with growing delays, reports
//! when the rows are final (or pending for too long), and a bounded stop.

use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::config::Config;
use crate::ledger::{FileId, Ledger};
use crate::ops::Ops;
use crate::pipeline::FileJob;
use crate::report::Summary;
use crate::rnds::Client;
use crate::watch::{unterminated_tail, ClaimedFile, Disposition, FileLook, Inboxes, WatchSettings};

use super::clock::Clock;
use super::freshness::{quiet_period, recheck_period, FinishedFiles, Freshness};
use super::ledger_open::open_service_ledger;
use super::pass::{run_pass, PassContext, PassReport};
use super::paths::OutputPaths;
use super::publish::{already_reported, settle_reports};
use super::resolve::resolve_ledger;
use super::ServiceError;

mod admit;
mod lease;
mod next_step;

use admit::Unadmitted;

/// Longest wait between two passes over a file with pending rows.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);

/// Reads of one version of a file that may get nowhere (the reader refused
/// it, from its start or part-way, or the process died reading it, with no
/// new row of it recorded in the ledger since) before it goes to `falhas/`: the
/// second look lets a file still being copied arrive; a third would let a
/// file that kills the service, or fails at the same place, do so forever.
/// A pass killed while its rows were being sent got somewhere (rows
/// recorded, at RNDS or waiting for it), so it does not count.
const MAX_READS_WITHOUT_ROWS: u32 = 2;

/// One number for "what passes over a file achieved": it changes when a
/// row of it is recorded, reaches a final state, or has its POST begun or
/// settled. Compared for equality only (a read "got somewhere" when it
/// differs from the figure at the last read), so the mix needs no order;
/// each count keeps its own 21 bits for files up to two million rows.
fn progress_figure(recorded: u64, final_rows: u64, unresolved: u64) -> u64 {
    const BITS: u32 = 21;
    recorded ^ (final_rows << BITS) ^ (unresolved << (2 * BITS))
}

/// Runs the service until `shutdown` completes: resolves unresolved rows,
/// resumes the files left in `processando/`, then watches the inboxes. On
/// shutdown no new file or request starts; requests on the wire get
/// `shutdown_grace_s` to finish, after which they are abandoned (their rows
/// stay `sending` in the ledger and are resolved on the next start).
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServiceError> {
    run_on_clock(config, shutdown, Clock::default()).await
}

/// [`run`] with its deadlines on `clock` (tests move it forward).
pub(crate) async fn run_on_clock(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
    clock: Clock,
) -> Result<(), ServiceError> {
    let stop = stop_on(shutdown);
    let (_ledger_lock, mut ledger) = open_service_ledger(&config)?;
    // One of several instances: alive for the others until dropped.
    let _heartbeat = ledger.start_heartbeat();
    let ops = Ops::new(&config);
    let client = Client::observed(&config, Some(ops.observer()))?;
    // `status` runs without the PFX password: it reads this instead.
    let certificate_recorded = client.certificate_record();
    ledger.record_certificate(&certificate_recorded)?;
    let _daily_warnings = DailyWarnings::start(client.clone());
    prepare_outboxes(&config, &mut ledger)?;
    let instance = ledger.instance_name().map(str::to_owned);
    let mut inboxes = Inboxes::for_instance(
        &config.inbox,
        WatchSettings::from_service(&config.service),
        instance.as_deref(),
    )?;
    start_ops(&ops, &config, &client, &stop).await?;
    tracing::info!(
        pastas = config.inbox.len(),
        rnds = %client.endpoints().fhir(""),
        "serviço iniciado"
    );
    // Nothing new goes out before every unresolved row is settled.
    if !settle_unresolved(&client, &mut ledger, &stop).await? {
        return Ok(());
    }
    let take_over = lease::TakeOver::of(&config, clock.now());
    let mut service = Service {
        take_over,
        config,
        client,
        ledger,
        stop,
        config_error_logged: false,
        finished: FinishedFiles::default(),
        ops,
        unadmitted: Vec::new(),
        digest_failures: std::collections::HashMap::new(),
        certificate_recorded,
        clock,
    };
    let waiting = service.serve(&mut inboxes).await;
    tracing::info!(
        arquivos_aguardando = waiting.len(),
        "serviço parado; arquivos em processamento continuam em processando/ para a próxima partida"
    );
    Ok(())
}

/// The stop flag, raised when `shutdown` completes.
fn stop_on(shutdown: impl Future<Output = ()> + Send + 'static) -> watch::Receiver<bool> {
    let (stop_sender, stop) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_sender.send(true);
    });
    stop
}

/// Creates the outboxes, then finishes the report sets a stop interrupted
/// and removes the leftovers of killed passes.
fn prepare_outboxes(config: &Config, ledger: &mut Ledger) -> Result<(), ServiceError> {
    for inbox in &config.inbox {
        crate::report::create_private_dir_all(&inbox.outbox).map_err(|source| {
            ServiceError::Output {
                path: inbox.outbox.clone(),
                source,
            }
        })?;
    }
    let outboxes: Vec<&Path> = config.inbox.iter().map(|i| i.outbox.as_path()).collect();
    if settle_reports(ledger, &outboxes)? > 0 {
        tracing::info!("relatórios interrompidos por uma parada concluídos");
    }
    Ok(())
}

/// Starts the operations side (alerts, the optional metrics endpoint).
async fn start_ops(
    ops: &Ops,
    config: &Config,
    client: &Client,
    stop: &watch::Receiver<bool>,
) -> Result<(), ServiceError> {
    ops.start(config, client, stop.clone())
        .await
        .map_err(|source| ServiceError::Metrics {
            addr: config
                .service
                .metrics_listen
                .map(|a| a.to_string())
                .unwrap_or_default(),
            source,
        })
}

/// Settles the rows a crash or a lost answer left `sending`/unknown;
/// `false` when a stop came first.
async fn settle_unresolved(
    client: &Client,
    ledger: &mut Ledger,
    stop: &watch::Receiver<bool>,
) -> Result<bool, ServiceError> {
    tokio::select! {
        resolved = resolve_ledger(client, ledger) => {
            let (settled, left) = resolved?;
            if settled + left > 0 {
                tracing::info!(resolvidas = settled, sem_resposta = left, "envios sem confirmação verificados");
            }
            Ok(true)
        }
        () = until_stopped(stop.clone()) => Ok(false),
    }
}

/// What the main loop does next.
enum Turn {
    Stop,
    /// Nothing to process this time round.
    Again,
    Process(Box<Active>),
}

impl Service {
    /// A certificate renewed during the last pass, or a renewal that
    /// failed, goes to the ledger, so `status` shows the one in use.
    fn record_renewed_certificate(&mut self) {
        let record = self.client.certificate_record();
        if record == self.certificate_recorded {
            return;
        }
        match self.ledger.record_certificate(&record) {
            Ok(()) => self.certificate_recorded = record,
            Err(e) => tracing::warn!("o certificado em uso não foi anotado no registro: {e}"),
        }
    }

    /// The main loop: the next file due (a retry, a finished file that
    /// changed, a new one), one pass over it, until a stop. Returns the
    /// files still waiting.
    async fn serve(&mut self, inboxes: &mut Inboxes) -> Vec<Active> {
        let mut waiting: Vec<Active> = Vec::new();
        let grace = Duration::from_secs(self.config.service.shutdown_grace_s);
        loop {
            if super::stopping(&self.stop) {
                break;
            }
            let mut active = match self.next_turn(inboxes, &mut waiting).await {
                Turn::Stop => break,
                Turn::Again => continue,
                Turn::Process(active) => *active,
            };
            let result = self.process_with_grace(&mut active, grace).await;
            self.record_renewed_certificate();
            match result {
                None => {
                    tracing::warn!(
                        arquivo = %active.claimed.original_name,
                        "envios em andamento abandonados ao parar; serão conferidos na próxima partida"
                    );
                    break;
                }
                Some(Ok(Next::Done)) => {}
                Some(Ok(Next::Wait)) => {
                    active.failed_passes = 0;
                    waiting.push(active);
                }
                // Another instance took the file over (this one was silent
                // past its lease): it is theirs now, nothing more here.
                Some(Err(e)) if lease::lease_lost(&e, active.file_id) => {
                    tracing::warn!(arquivo = %active.claimed.original_name, "{e}");
                    self.ledger.release(active.file_id);
                }
                // Every failure point is safe to retry: no intent recorded means
                // no request sent; an outcome not recorded leaves the row
                // `sending`, resolved before the next decision. The ledger's
                // database out of reach backs off as an RNDS outage does (a
                // restart costs seconds, not a minute); other failures wait
                // a minute.
                Some(Err(e)) => {
                    let delay = if e.is_ledger_connection_lost() {
                        active.failed_passes += 1;
                        retry_delay(active.failed_passes)
                    } else {
                        MAX_RETRY_DELAY
                    };
                    tracing::error!(
                        arquivo = %active.claimed.original_name,
                        "{e}; nova tentativa em {} s",
                        delay.as_secs()
                    );
                    active.next_try = self.clock.now() + delay;
                    waiting.push(active);
                }
            }
        }
        waiting
    }

    /// Waits for the first of: a stop, a waiting file due, a finished file
    /// to recheck, a new file ready in an inbox.
    async fn next_turn(&mut self, inboxes: &mut Inboxes, waiting: &mut Vec<Active>) -> Turn {
        if let Some(active) = self.take_over_due(inboxes).await {
            return Turn::Process(Box::new(active));
        }
        let take_over_due = self.take_over.as_ref().map(lease::TakeOver::next);
        let due = waiting
            .iter()
            .enumerate()
            .min_by_key(|(_, a)| a.next_try)
            .map(|(i, a)| (i, a.next_try));
        let far = self.clock.now() + Duration::from_secs(3600);
        let recheck = self.finished.next_check();
        let admission_due = self.unadmitted.iter().map(|u| u.next_try).min();
        let picked = tokio::select! {
            biased;
            () = until_stopped(self.stop.clone()) => return Turn::Stop,
            // A test moved the clock: the deadlines above are stale.
            () = self.clock.moved() => return Turn::Again,
            () = tokio::time::sleep_until(self.clock.deadline(take_over_due.unwrap_or(far))), if take_over_due.is_some() => {
                return Turn::Again;
            }
            () = tokio::time::sleep_until(self.clock.deadline(admission_due.unwrap_or(far))), if admission_due.is_some() => {
                let now = self.clock.now();
                let (due, later): (Vec<_>, Vec<_>) =
                    std::mem::take(&mut self.unadmitted).into_iter().partition(|u| u.next_try <= now);
                self.unadmitted = later;
                for unadmitted in due {
                    self.admit_or_retry(unadmitted, waiting).await;
                }
                return Turn::Again;
            }
            () = tokio::time::sleep_until(self.clock.deadline(due.map_or(far, |d| d.1))), if due.is_some() => {
                let Some((index, _)) = due else { return Turn::Again };
                Picked::Retry(waiting.swap_remove(index))
            }
            () = tokio::time::sleep_until(self.clock.deadline(recheck.unwrap_or(far))), if recheck.is_some() => {
                let changed = self.finished.changed(self.clock.now());
                for claimed in changed {
                    let unadmitted = Unadmitted::new(claimed, true, self.clock.now());
                    self.admit_or_retry(unadmitted, waiting).await;
                }
                return Turn::Again;
            }
            claimed = inboxes.next_ready() => Picked::New(claimed),
        };
        match picked {
            Picked::Retry(active) => Turn::Process(Box::new(active)),
            Picked::New(claimed) => {
                let unadmitted = Unadmitted::new(claimed, false, self.clock.now());
                let claimed = unadmitted.claimed.clone();
                match self.admit(claimed, false).await {
                    Ok(active) => Turn::Process(Box::new(active)),
                    Err(e) => {
                        self.admission_failed(unadmitted, &e);
                        Turn::Again
                    }
                }
            }
        }
    }

    /// Admits a claimed file into `waiting`, or keeps it for another try.
    async fn admit_or_retry(&mut self, unadmitted: Unadmitted, waiting: &mut Vec<Active>) {
        let claimed = unadmitted.claimed.clone();
        match self.admit(claimed, unadmitted.changed_after_finish).await {
            Ok(active) => waiting.push(active),
            Err(e) => self.admission_failed(unadmitted, &e),
        }
    }

    /// One pass; after a stop request, requests on the wire get `grace` to
    /// finish (`None` when they were abandoned).
    async fn process_with_grace(
        &mut self,
        active: &mut Active,
        grace: Duration,
    ) -> Option<Result<Next, ServiceError>> {
        let stop = self.stop.clone();
        let pass = self.process(active);
        tokio::pin!(pass);
        tokio::select! {
            r = &mut pass => Some(r),
            () = until_stopped(stop) => tokio::time::timeout(grace, &mut pass).await.ok(),
        }
    }
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
    /// When the service took it from its inbox (its ledger record's
    /// `claimed_at`): in its report names.
    received: chrono::DateTime<chrono::Utc>,
    /// When this run took it (the pending-report clock).
    since: Instant,
    pending_reported: bool,
    /// Its final report was published before a stop: only the move is left.
    reported: Option<Disposition>,
    passes: u32,
    /// Passes in a row that failed on the ledger's connection (the
    /// backoff's count; back to 0 after a pass that ends).
    failed_passes: u32,
    next_try: Instant,
    /// Changes of the file since the claim (a writer still at work).
    fresh: Freshness,
    /// Its last pass read it whole with every row final, but it was not
    /// quiet long enough to be complete: that pass's uncommitted reports,
    /// committed as they are if the file is still the same once quiet.
    awaiting_quiet: Option<Box<Held>>,
}

/// A pass kept until its file is quiet.
struct Held {
    report: PassReport,
    paths: OutputPaths,
    /// The file as that pass read it.
    look: FileLook,
}

enum Next {
    /// Every row final; reports written; file moved out of `processando/`.
    Done,
    /// Rows pending: try again at `next_try`.
    Wait,
}

struct Service {
    /// One of several instances: when to look for files to take over.
    take_over: Option<lease::TakeOver>,
    config: Config,
    client: Client,
    ledger: Ledger,
    stop: watch::Receiver<bool>,
    config_error_logged: bool,
    /// Files moved out of `processando/`, watched for late writes.
    finished: FinishedFiles,
    /// Progress lines, file outcomes for `/metrics` and alerts.
    ops: Ops,
    /// Claimed files whose admission failed, tried again when due.
    unadmitted: Vec<Unadmitted>,
    /// Per claimed file, hashing threads that died on it.
    digest_failures: std::collections::HashMap<std::path::PathBuf, u32>,
    /// What was last recorded in the ledger about the certificate.
    certificate_recorded: String,
    /// When files are due (tests move it instead of waiting).
    clock: Clock,
}

impl Service {
    /// One pass over the file, then the reports and the file's next step.
    async fn process(&mut self, active: &mut Active) -> Result<Next, ServiceError> {
        let now = self.clock.now();
        let Some(before) = look_or_gone(active) else {
            self.ledger.release(active.file_id);
            return Ok(Next::Done);
        };
        let changed = active.fresh.observe(Some(before), now);
        if let Some(next) = self.held_pass(active, before, now)? {
            return Ok(next);
        }
        if let Some(next) = self.published_before(active)? {
            return Ok(next);
        }
        if self.last_line_unfinished(active, before, changed, now) {
            return Ok(Next::Wait);
        }
        // What earlier passes achieved, kills included: the rows they
        // recorded, in any state (RNDS may have been down: pending rows
        // are progress too, the file is not at fault), and how many of
        // them are final or in flight: a pass killed while it sent rows
        // recorded by an earlier one got somewhere too (chaos seed 167).
        let recorded = self.ledger.recorded_rows_of_file(active.file_id)?;
        let progress = progress_figure(
            recorded,
            self.ledger.final_rows_of_file(active.file_id)?,
            self.ledger.unresolved_rows_of_file(active.file_id)?,
        );
        let earlier_reads = active.claimed.begin_read(&before, progress)?;
        let paths = self.paths_for(active);
        if earlier_reads >= MAX_READS_WITHOUT_ROWS {
            self.set_aside_unreadable(active, earlier_reads, recorded, &paths, before)?;
            return Ok(Next::Done);
        }
        super::publish::failpoint("leitura-iniciada");
        let report = self.pass_over_snapshot(active, before, &paths).await?;
        active.passes += 1;
        // An unreadable pass keeps its count (see MAX_READS_WITHOUT_ROWS),
        // unless RNDS was down meanwhile: its rows wait, not the file's fault.
        if !report.unreadable || !report.pending.is_empty() {
            active.claimed.clear_failed_reads();
        }
        self.after_read(active, report, earlier_reads, &paths)
    }

    /// A pass held until its file is quiet: committed once quiet and
    /// unchanged (no re-read), kept while not quiet yet. A change drops it
    /// (its temp files go with it).
    fn held_pass(
        &mut self,
        active: &mut Active,
        before: FileLook,
        now: Instant,
    ) -> Result<Option<Next>, ServiceError> {
        let settle = self.settle_of(active);
        let Some(held) = active.awaiting_quiet.take().filter(|h| h.look == before) else {
            return Ok(None);
        };
        let quiet_at = active.fresh.quiet_at(quiet_period(settle));
        if now < quiet_at {
            active.next_try = quiet_at.min(now + recheck_period(settle));
            active.awaiting_quiet = Some(held);
            return Ok(Some(Next::Wait));
        }
        self.after_pass(active, held.report, &held.paths, Some(before))
            .map(Some)
    }

    /// A file whose final report is already published (by this run before
    /// a failure while publishing, or by an earlier run) only moves on.
    fn published_before(&mut self, active: &mut Active) -> Result<Option<Next>, ServiceError> {
        if active.passes > 0 && active.reported.is_none() {
            // An earlier pass may have failed while publishing (disk full):
            // its recorded set is finished, not written a second time.
            settle_reports(&mut self.ledger, &[])?;
            let record = self.ledger.file(active.file_id)?;
            active.reported = record.as_ref().and_then(already_reported);
        }
        match active.reported {
            Some(disposition) => self.finish_reported(active, disposition).map(Some),
            None => Ok(None),
        }
    }

    /// A half row must never be read (and sent with defaults filled in):
    /// an unfinished last line waits until the file is quiet.
    fn last_line_unfinished(
        &self,
        active: &mut Active,
        before: FileLook,
        changed: bool,
        now: Instant,
    ) -> bool {
        let settle = self.settle_of(active);
        let tail = unterminated_tail(&active.claimed.work_path, before.len).unwrap_or(0);
        let readable_at = active.fresh.quiet_at(quiet_period(settle));
        if tail == 0 || now >= readable_at {
            return false;
        }
        if changed {
            tracing::info!(
                arquivo = %active.claimed.original_name,
                aguardar_s = readable_at.saturating_duration_since(now).as_secs(),
                "a última linha do arquivo não terminou (sem quebra de linha); ela só é \
                 lida quando o arquivo parar de mudar"
            );
        }
        active.next_try = readable_at.min(now + recheck_period(settle));
        true
    }

    /// Reads that got nowhere (the service stopped or ran out of memory on
    /// this file, with no new row of it recorded in the ledger since): it
    /// goes to `falhas/` so the others go on. `recorded_rows`: its rows
    /// earlier passes recorded, in any state.
    fn set_aside_unreadable(
        &mut self,
        active: &mut Active,
        earlier_reads: u32,
        recorded_rows: u64,
        paths: &OutputPaths,
        before: FileLook,
    ) -> Result<(), ServiceError> {
        // A whole-file digest: off the async workers.
        let sha = super::blocking(|| crate::input::sha256_file(&active.claimed.work_path))
            .unwrap_or_default();
        let final_rows = self.ledger.final_rows_of_file(active.file_id)?;
        let waiting = recorded_rows.saturating_sub(final_rows);
        let earlier = if recorded_rows == 0 {
            "sem produzir nenhuma linha".to_owned()
        } else {
            let mut told = Vec::new();
            if final_rows > 0 {
                told.push(format!(
                    "{final_rows} linha(s) dele já tinham chegado à RNDS antes, aceitas ou \
                     recusadas, e estão em enviados.csv: elas não serão enviadas de novo"
                ));
            }
            if waiting > 0 {
                told.push(format!(
                    "{waiting} linha(s) dele aguardavam envio ou confirmação da RNDS e estão \
                     em enviados.csv: elas só serão enviadas se o arquivo for colocado de \
                     novo na pasta de entrada"
                ));
            }
            format!("sem avançar ({})", told.join("; "))
        };
        let summary = Summary::unreadable(
            active.claimed.original_name.clone(),
            sha,
            None,
            format!(
                "a leitura deste arquivo foi interrompida {earlier_reads} vezes {earlier} \
                 (o serviço parou ou ficou sem memória ao lê-lo). Ele foi posto de lado para \
                 não travar os demais: confira se é mesmo a exportação de exames; se for \
                 muito grande, divida-o ou salve-o como CSV e coloque-o de novo na pasta de \
                 entrada."
            ),
        );
        // The rows earlier (killed) passes recorded: their enviados.csv.
        let earlier_rows = if recorded_rows == 0 {
            Vec::new()
        } else {
            self.ledger
                .results_of_file_except(active.file_id, |_| false)?
        };
        self.fail(active, &summary, None, &earlier_rows, paths, Some(before))
    }

    /// One pass over the bytes the file had at `before` (what the writer
    /// appends meanwhile is read next pass).
    async fn pass_over_snapshot(
        &mut self,
        active: &mut Active,
        before: FileLook,
        paths: &OutputPaths,
    ) -> Result<PassReport, ServiceError> {
        let config = &self.config;
        let inbox = &config.inbox[active.claimed.inbox_index];
        let mut job = FileJob::from_config(config, Some(inbox), chrono::Utc::now());
        // What goes to RNDS is checked in full; the network dominates anyway.
        job.self_check_every = 1;
        job.read.byte_limit = Some(before.len);
        let claimed = &active.claimed;
        // Rows coming do not clear the count of reads that got nowhere:
        // only the end of the pass does (a file failing part-way, or
        // killing the service part-way, must not be read for ever).
        let mut on_rows = self.ops.file_progress(&claimed.original_name);
        let passed = run_pass(
            &claimed.work_path,
            job,
            active.file_id,
            paths,
            PassContext {
                client: &self.client,
                ledger: &mut self.ledger,
                stop: self.stop.clone(),
                progress: &mut on_rows,
            },
        )
        .await;
        if passed.is_err() {
            // Not the file's fault (ledger, outbox): no failed read.
            active.claimed.clear_failed_reads();
        }
        passed
    }

    /// After a pass: read again if the file changed meanwhile or the pass
    /// was stopped; an unreadable file is tried once more, then goes to
    /// `falhas/`; otherwise the reports and the file's next step.
    fn after_read(
        &mut self,
        active: &mut Active,
        mut report: PassReport,
        earlier_reads: u32,
        paths: &OutputPaths,
    ) -> Result<Next, ServiceError> {
        let settle = self.settle_of(active);
        let name = &active.claimed.original_name;
        let after = active.claimed.look().ok();
        if active.fresh.observe(after, self.clock.now()) {
            active.next_try = self.clock.now() + settle;
            tracing::info!(
                arquivo = %name,
                "o arquivo mudou durante a leitura (ainda está sendo escrito); será lido de novo"
            );
            return Ok(Next::Wait);
        }
        if report.interrupted {
            return Ok(Next::Wait);
        }
        if !report.unreadable {
            return self.after_pass(active, report, paths, after);
        }
        if !report.pending.is_empty() {
            // RNDS was down while the readable part was sent: those rows
            // wait like any pending row; the file is judged once they went.
            return self.keep_pending(active, report);
        }
        let quiet = quiet_period(settle);
        if earlier_reads + 1 < MAX_READS_WITHOUT_ROWS {
            active.next_try = self.clock.now() + quiet;
            tracing::warn!(
                arquivo = %name,
                motivo = report.summary.error.as_deref().unwrap_or(""),
                nova_tentativa_em_s = quiet.as_secs(),
                "arquivo ilegível; ele será lido mais uma vez antes de ir para falhas/ \
                 (pode estar sendo copiado)"
            );
            return Ok(Next::Wait);
        }
        if after.is_some_and(|look| look.len == 0) {
            report.summary.error = Some(
                "o arquivo está vazio (0 bytes): nada foi lido nem enviado. Gere a \
                 exportação de novo e coloque o arquivo na pasta de entrada."
                    .into(),
            );
        }
        self.fail(active, &report.summary, report.outputs, &[], paths, after)?;
        Ok(Next::Done)
    }
}

/// The file as it is now, or `None` when it was removed or moved by hand
/// (nothing left to read or move).
fn look_or_gone(active: &Active) -> Option<FileLook> {
    match active.claimed.look() {
        Ok(look) => Some(look),
        Err(e) => {
            tracing::error!(
                arquivo = %active.claimed.original_name,
                caminho = %active.claimed.work_path.display(),
                "o arquivo sumiu de processando/ ({e}); ele não será mais processado"
            );
            None
        }
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
