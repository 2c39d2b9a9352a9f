//! The plain-HTTP endpoint of `[service] metrics_listen`: `GET /metrics`
//! and `GET /healthz` (200 `ok`, or 503 with the reasons, one per line).
//! Meant for loopback or a monitoring network; it serves no data about
//! patients, only counts. It can never stall the service: at most
//! `MAX_CONNECTIONS` at once (more are closed on arrival), headers within
//! `HEADER_READ_TIMEOUT`, every connection closed after
//! `CONNECTION_TIME_LIMIT`, one request per connection.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use super::metrics::{health, render, Concurrency, ScrapeInputs};
use super::telemetry::Telemetry;
use crate::config::Config;
use crate::ledger::LedgerReader;
use crate::rnds::Client;

/// What a scrape reads.
pub(super) struct Scrape {
    telemetry: Arc<Telemetry>,
    client: Client,
    ledger: crate::config::Ledger,
    inboxes: Vec<PathBuf>,
    rnds_down_limit: chrono::Duration,
}

impl Scrape {
    pub(super) fn new(config: &Config, client: &Client, telemetry: Arc<Telemetry>) -> Scrape {
        Scrape {
            telemetry,
            client: client.clone(),
            ledger: config.ledger.clone(),
            inboxes: config.inbox.iter().map(|i| i.path.clone()).collect(),
            rnds_down_limit: chrono::Duration::seconds(
                i64::try_from(config.service.health_rnds_down_s).unwrap_or(i64::MAX / 1000),
            ),
        }
    }

    async fn inputs(&self) -> ScrapeInputs {
        let now: DateTime<Utc> = Utc::now();
        let settings = self.ledger.clone();
        let ledger = tokio::task::spawn_blocking(move || {
            LedgerReader::open_config(&settings)
                .and_then(|r| {
                    r.snapshot(
                        now - chrono::Duration::hours(24),
                        now - chrono::Duration::hours(1),
                        0,
                    )
                })
                .map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|e| Err(format!("leitura interrompida: {e}")));
        ScrapeInputs {
            now,
            telemetry: self.telemetry.snapshot(),
            ledger,
            tokens_fetched: self.client.tokens_fetched(),
            concurrency: Concurrency {
                limit: self.client.concurrency_limit(),
                in_flight: self.client.requests_in_flight(),
                ceiling: self.client.max_in_flight(),
            },
            certificate_not_after: self.client.certificate().not_after,
            inboxes_missing: self
                .inboxes
                .iter()
                .filter(|p| !p.is_dir())
                .cloned()
                .collect(),
            rnds_down_limit: self.rnds_down_limit,
        }
    }
}

fn reply(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

async fn handle(
    request: Request<Incoming>,
    scrape: Arc<Scrape>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let text = "text/plain; charset=utf-8";
    if request.method() != hyper::Method::GET {
        return Ok(reply(
            StatusCode::METHOD_NOT_ALLOWED,
            text,
            "use GET\n".into(),
        ));
    }
    Ok(match request.uri().path() {
        "/metrics" => reply(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            render(&scrape.inputs().await),
        ),
        "/healthz" => match health(&scrape.inputs().await) {
            Ok(()) => reply(StatusCode::OK, text, "ok\n".into()),
            Err(reasons) => reply(
                StatusCode::SERVICE_UNAVAILABLE,
                text,
                reasons
                    .iter()
                    .map(|r| super::mask::for_display(r))
                    .collect::<Vec<_>>()
                    .join("\n")
                    + "\n",
            ),
        },
        _ => reply(StatusCode::NOT_FOUND, text, "/metrics ou /healthz\n".into()),
    })
}

/// Connections served at once. A scrape needs one; beyond this a new
/// connection is closed at once, so idle or half-sent requests can never
/// take the descriptors the inbox work needs.
const MAX_CONNECTIONS: usize = 32;
/// A request's headers must arrive within this.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Whatever a connection does, it is closed after this (a scrape takes
/// well under a second).
const CONNECTION_TIME_LIMIT: Duration = Duration::from_secs(15);

/// Serves until `stop`.
pub(super) async fn serve(
    listener: TcpListener,
    scrape: Arc<Scrape>,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // E.g. too many open files: wait instead of spinning.
                    tracing::debug!("métricas: conexão recusada: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            },
            () = super::stopped(&mut stop) => return,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            // Refused: closed before a byte is read.
            drop(stream);
            continue;
        };
        let scrape = scrape.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(request, scrape.clone()));
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_TIME_LIMIT, connection).await;
            drop(slot);
        });
    }
}
