//! Operations: what a person needs to see the service at work and to know
//! when it is stuck. `telemetry` counts in memory; `metrics` renders
//! `/metrics` and judges `/healthz`; `server` serves them; `status` answers
//! `rnds-drop status` from the ledger (read-only); `logging`, `mask` and
//! `logfile` make logs readable (lab time, CNS/CPF masked, rotation).
//! [`Ops`] is the one handle the service loop holds.
//!
//! Invariant: observes, never decides: nothing here changes what is sent,
//! and nothing here writes to the ledger.

pub(crate) mod alerts;
pub(crate) mod logfile;
pub mod logging;
pub(crate) mod mask;
pub(crate) mod metrics;
mod server;
pub mod status;
pub(crate) mod telemetry;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::watch;

use crate::config::Config;
use crate::report::Summary;
use crate::rnds::{Client, ExchangeObserver};
use telemetry::{Reachability, RowCounts, Telemetry};

/// What a file's pass has done so far (for the progress line).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PassProgress {
    pub read: u64,
    pub sent: u64,
    pub already_sent: u64,
    pub invalid: u64,
    pub rejected: u64,
    pub pending: u64,
}

/// The service's operations handle: telemetry, the outage log, progress
/// lines and (when configured) the metrics endpoint.
#[derive(Clone)]
pub(crate) struct Ops {
    telemetry: Arc<Telemetry>,
    progress_every: Duration,
    /// When the service last heard from or tried RNDS (probe scheduling).
    last_exchange: Arc<Mutex<Instant>>,
}

/// Logs reachability changes as they happen.
struct Observer {
    telemetry: Arc<Telemetry>,
    last_exchange: Arc<Mutex<Instant>>,
}

impl Observer {
    fn log(&self, change: Option<Reachability>) {
        if let Ok(mut last) = self.last_exchange.lock() {
            *last = Instant::now();
        }
        match change {
            Some(Reachability::WentDown { .. }) => tracing::warn!(
                "A RNDS não está respondendo. Os exames ficam aguardando e serão enviados \
                 automaticamente quando ela voltar; nada será enviado duas vezes."
            ),
            Some(Reachability::CameBack { lasted }) => tracing::info!(
                "A RNDS voltou a responder após {}; os exames que aguardavam serão enviados.",
                status::human_age(lasted.num_seconds())
            ),
            None => {}
        }
    }
}

impl ExchangeObserver for Observer {
    fn exchange(&self, elapsed: Duration, status: Option<u16>) {
        self.log(self.telemetry.exchange(elapsed, status, Utc::now()));
    }
    fn unreachable(&self) {
        self.log(self.telemetry.unreachable(Utc::now()));
    }
}

impl Ops {
    pub(crate) fn new(config: &Config) -> Ops {
        Ops {
            telemetry: Arc::new(Telemetry::default()),
            progress_every: Duration::from_secs(config.service.progress_log_s.max(1)),
            last_exchange: Arc::new(Mutex::new(Instant::now())),
        }
    }

    /// For [`Client::observed`].
    pub(crate) fn observer(&self) -> Arc<dyn ExchangeObserver> {
        Arc::new(Observer {
            telemetry: self.telemetry.clone(),
            last_exchange: self.last_exchange.clone(),
        })
    }

    /// Binds the metrics endpoint (when configured) and starts the
    /// background duties (outage summaries, idle probes) until `stop`.
    pub(crate) async fn start(
        &self,
        config: &Config,
        client: &Client,
        stop: watch::Receiver<bool>,
    ) -> std::io::Result<()> {
        if let Some(addr) = config.service.metrics_listen {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            tracing::info!(endereco = %listener.local_addr()?, "métricas em /metrics e saúde em /healthz");
            let scrape = server::Scrape::new(config, client, self.telemetry.clone());
            tokio::spawn(server::serve(listener, Arc::new(scrape), stop.clone()));
        }
        if let Some(settings) = &config.alertas {
            tokio::spawn(alert_loop(
                alerts::Alerter::new(settings.clone(), config.service.uncorrected_rows_after_s),
                self.telemetry.clone(),
                config.ledger.clone(),
                client.clone(),
                stop.clone(),
            ));
        }
        tokio::spawn(duties(
            self.clone(),
            client.clone(),
            config.lab.cnes.clone(),
            Duration::from_secs(config.service.rnds_probe_s.max(1)),
            Duration::from_secs(config.service.outage_summary_s.max(1)),
            stop,
        ));
        Ok(())
    }

    /// A progress logger for one pass over `name`: at most one line per
    /// `progress_log_s`.
    pub(crate) fn file_progress(&self, name: &str) -> impl FnMut(&PassProgress) + Send {
        let name = name.to_string();
        let every = self.progress_every;
        let mut last = Instant::now();
        move |p: &PassProgress| {
            if last.elapsed() >= every {
                last = Instant::now();
                tracing::info!(
                    arquivo = %name,
                    lidas = p.read,
                    enviadas = p.sent,
                    ja_enviadas = p.already_sent,
                    invalidas = p.invalid,
                    recusadas = p.rejected,
                    pendentes = p.pending,
                    "arquivo em andamento"
                );
            }
        }
    }

    /// A file left the service.
    pub(crate) fn file_finished(&self, summary: &Summary, failed: bool) {
        self.telemetry.file_finished(
            failed,
            RowCounts {
                sent: summary.rows_sent.unwrap_or(0),
                replaced: summary.rows_replaced.unwrap_or(0),
                already_sent: summary.rows_already_sent.unwrap_or(0),
                invalid: summary.rows_invalid,
                rejected: summary.rows_rejected.unwrap_or(0),
                pending: summary.rows_pending.unwrap_or(0),
            },
        );
    }
}

/// Completes when the service is asked to stop (the guard is dropped
/// inside, so callers' futures stay `Send`).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Checks the alert conditions every `check_interval_s` and delivers what
/// is due; a failed delivery is retried at the next check.
async fn alert_loop(
    mut alerter: alerts::Alerter,
    telemetry: Arc<Telemetry>,
    ledger: crate::config::Ledger,
    client: crate::rnds::Client,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(alerter.check_every());
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stopped(&mut stop) => return,
        }
        let now = Utc::now();
        let settings = ledger.clone();
        let snapshot = tokio::task::spawn_blocking(move || {
            crate::ledger::LedgerReader::open_config(&settings)
                .and_then(|r| r.snapshot(now, now, 10))
                .ok()
        })
        .await
        .ok()
        .flatten();
        let t = telemetry.snapshot();
        let age_since = |stamp: Option<&str>| {
            stamp
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|since| (now - since.with_timezone(&Utc)).num_seconds())
        };
        let oldest_uncorrected_age_s = age_since(
            snapshot
                .as_ref()
                .and_then(|s| s.uncorrected_since.as_deref()),
        );
        let rows_uncorrected = snapshot.as_ref().map_or(0, |s| s.rows_uncorrected);
        let uncorrected_files = snapshot.as_ref().map_or(String::new(), |s| {
            s.uncorrected_files
                .iter()
                .map(|f| format!("{}: {}", f.name, f.rows))
                .collect::<Vec<_>>()
                .join("; ")
        });
        let inputs = alerts::AlertInputs {
            rows_uncorrected,
            oldest_uncorrected_age_s,
            uncorrected_files,
            oldest_pending_age_s: snapshot
                .as_ref()
                .and_then(|s| s.oldest_pending_since.as_deref())
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|since| (now - since.with_timezone(&Utc)).num_seconds()),
            rows_waiting: snapshot.map_or(0, |s| s.rows_pending + s.rows_unresolved),
            files_failed: t.files_failed,
            rows_rejected: t.rows[4],
            // The certificate in use now: a renewed one from its first token on.
            certificate_days_left: (client.certificate().not_after - now).num_days(),
            certificate_renewal_problem: client.certificate_renewal_problem(),
        };
        for alert in alerter.due(&inputs, Instant::now()) {
            match alerter.deliver(&alert).await {
                Ok(()) => tracing::info!(assunto = %alert.subject, "alerta enviado"),
                Err(e) => {
                    tracing::warn!(assunto = %alert.subject, "{e}; nova tentativa na próxima verificação");
                    alerter.forget(alert.condition);
                }
            }
        }
    }
}

/// Every second: an outage summary every `summary_every`; a read-only probe
/// of RNDS when nothing was exchanged for `probe_every` (so `/healthz`
/// knows about an outage even when no file is being sent).
async fn duties(
    ops: Ops,
    client: Client,
    cnes: String,
    probe_every: Duration,
    summary_every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_summary = Instant::now();
    let mut probe: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stopped(&mut stop) => return,
        }
        let snapshot = ops.telemetry.snapshot();
        match snapshot.outage_since {
            Some(since) if last_summary.elapsed() >= summary_every => {
                last_summary = Instant::now();
                tracing::warn!(
                    "A RNDS continua sem responder há {} ({} tentativas sem resposta). Os exames \
                     continuam aguardando; se passar de algumas horas, confira a internet deste \
                     computador e os avisos do DATASUS.",
                    status::human_age((Utc::now() - since).num_seconds()),
                    snapshot.outage_failures
                );
            }
            Some(_) => {}
            None => last_summary = Instant::now(),
        }
        let idle = ops
            .last_exchange
            .lock()
            .is_ok_and(|last| last.elapsed() >= probe_every);
        if idle
            && probe
                .as_ref()
                .is_none_or(tokio::task::JoinHandle::is_finished)
        {
            if let Ok(mut last) = ops.last_exchange.lock() {
                *last = Instant::now();
            }
            let client = client.clone();
            let cnes = cnes.clone();
            // The answer itself does not matter: the observer records it.
            probe = Some(tokio::spawn(async move {
                let _ = client.organization(&cnes).await;
            }));
        }
    }
}
