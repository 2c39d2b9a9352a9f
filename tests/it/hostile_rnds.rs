//! `rnds-drop send` against a hostile "RNDS" on 127.0.0.1 (the token comes
//! from the simulator, the bundle POSTs go to this server): a redirect is
//! never followed (no bundle, no bearer token reaches its target) and an
//! answer that is not the contract's success (201 + a well-formed id in
//! `Location`) never makes a row "enviado".

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rnds_drop::demo::write_workspace_config;
use rnds_drop::simulator::{self, SimFiles, SimOptions};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::daemon::export;

/// One request the hostile server saw.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    bearer: bool,
}

/// How the hostile server answers a bundle POST.
#[derive(Clone, Copy, Debug)]
enum Answer {
    /// `302 Found` to a GET on this host answering `200 {"id": …}`.
    Found,
    /// `307 Temporary Redirect` to another host name (a re-POST there
    /// would carry the bundle and the bearer token).
    Temporary,
    /// `201 Created` whose `Location` ends in an id with a space.
    GarbageLocation,
    /// `200 OK` with a Bundle id in the body (not the contract's 201).
    PlainOk,
    /// An answer storm: every request gets `504 Gateway Timeout` (the
    /// lookups after 50 ms), so every POST is an unknown outcome that no
    /// lookup can settle.
    Storm,
}

/// What the storm server counts: requests by method, and the most lookups
/// in progress at once.
#[derive(Debug, Default)]
struct Counts {
    posts: usize,
    gets: usize,
    gets_in_flight: usize,
    most_gets_at_once: usize,
}

/// Serves HTTPS on 127.0.0.1 with the simulator's server certificate;
/// returns its base URL and the requests it saw.
async fn hostile(files: &SimFiles, answer: Answer) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let (url, seen, _) = hostile_counted(files, answer).await;
    (url, seen)
}

async fn hostile_counted(
    files: &SimFiles,
    answer: Answer,
) -> (String, Arc<Mutex<Vec<Seen>>>, Arc<Mutex<Counts>>) {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.server_cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(&files.server_key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let counts = Arc::new(Mutex::new(Counts::default()));
    let log = seen.clone();
    let counted = counts.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let log = log.clone();
            let counted = counted.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let log = log.clone();
                    let counted = counted.clone();
                    async move {
                        if let Answer::Storm = answer {
                            return Ok(storm(&request, &counted).await);
                        }
                        Ok::<_, std::convert::Infallible>(reply(&request, answer, port, &log))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (format!("https://127.0.0.1:{port}"), seen, counts)
}

async fn storm(request: &Request<Incoming>, counts: &Mutex<Counts>) -> Response<Full<Bytes>> {
    let gateway = || {
        Response::builder()
            .status(504)
            .body(Full::new(Bytes::from_static(b"Gateway Timeout")))
            .unwrap()
    };
    if request.method() == hyper::Method::POST {
        counts.lock().unwrap().posts += 1;
        return gateway();
    }
    {
        let mut c = counts.lock().unwrap();
        c.gets += 1;
        c.gets_in_flight += 1;
        c.most_gets_at_once = c.most_gets_at_once.max(c.gets_in_flight);
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    counts.lock().unwrap().gets_in_flight -= 1;
    gateway()
}

fn reply(
    request: &Request<Incoming>,
    answer: Answer,
    port: u16,
    log: &Mutex<Vec<Seen>>,
) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_string();
    log.lock().unwrap().push(Seen {
        method: request.method().to_string(),
        path: path.clone(),
        bearer: request.headers().contains_key("x-authorization-server"),
    });
    let builder = Response::builder();
    let fake = Bytes::from_static(br#"{"resourceType":"Bundle","id":"fake-accepted"}"#);
    if request.method() != hyper::Method::POST || path != "/api/fhir/r4/Bundle" {
        return match answer {
            // What a redirect target would say: "stored".
            Answer::Found | Answer::Temporary => builder.status(200).body(Full::new(fake)),
            // No identifier lookup here: only a resend could settle a row.
            Answer::GarbageLocation | Answer::PlainOk | Answer::Storm => builder
                .status(404)
                .body(Full::new(Bytes::from_static(b"Not Found"))),
        }
        .unwrap();
    }
    match answer {
        Answer::Found => builder
            .status(302)
            .header("location", format!("https://127.0.0.1:{port}/falso"))
            .body(Full::default()),
        Answer::Temporary => builder
            .status(307)
            .header("location", format!("https://localhost:{port}/roubo"))
            .body(Full::default()),
        Answer::GarbageLocation => builder
            .status(201)
            .header(
                "location",
                format!("https://127.0.0.1:{port}/api/fhir/r4/Bundle/x y"),
            )
            .body(Full::default()),
        Answer::PlainOk => builder.status(200).body(Full::new(fake)),
        Answer::Storm => builder.status(504).body(Full::default()),
    }
    .unwrap()
}

/// `send` of a 3-row export with the bundle POSTs (and lookups) going to
/// `ehr_url`; returns the summary and the `enviados.csv` text.
fn send(root: &Path, files: &SimFiles, ehr_url: &str) -> (serde_json::Value, String) {
    send_rows(root, files, ehr_url, 3, "")
}

/// As [`send`], with `rows` rows and `rnds` added to `[rnds]`.
fn send_rows(
    root: &Path,
    files: &SimFiles,
    ehr_url: &str,
    rows: usize,
    rnds: &str,
) -> (serde_json::Value, String) {
    let (ws, _) = write_workspace_config(files, root, 200, "watch").unwrap();
    let text = std::fs::read_to_string(&ws.config_path).unwrap();
    let text: String = text
        .lines()
        .map(|line| {
            if line.starts_with("ehr_url") {
                // Short back-offs: the lookups this server cannot answer
                // are retried a few times before the row stays pending.
                format!("ehr_url = \"{ehr_url}\"\nbackoff_base_ms = 1\nbackoff_max_ms = 5\n{rnds}")
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    std::fs::write(&ws.config_path, text).unwrap();
    let input = root.join("lote.csv");
    std::fs::write(&input, export("H", rows, &[])).unwrap();
    let out = root.join("relatorios");
    let result = Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
        .args(["send", "--config"])
        .arg(&ws.config_path)
        .arg("--out")
        .arg(&out)
        .arg(&input)
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(result.status.code(), Some(0), "{stderr}");
    let summary = crate::daemon::json(&out.join("lote.resumo.json"));
    let sent = std::fs::read_to_string(out.join("lote.enviados.csv")).unwrap_or_default();
    (summary, sent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_never_followed_and_never_counts_as_sent() {
    for answer in [Answer::Found, Answer::Temporary] {
        let tmp = tempfile::tempdir().unwrap();
        let sim = simulator::start(SimOptions::new(tmp.path().join("simulador")))
            .await
            .unwrap();
        let (url, seen) = hostile(sim.files(), answer).await;
        let root = tmp.path().to_path_buf();
        let files = sim.files().clone();
        let (summary, sent) = tokio::task::spawn_blocking(move || send(&root, &files, &url))
            .await
            .unwrap();
        assert_eq!(summary["rows_sent"], 0, "{answer:?}: {summary}");
        assert!(!sent.contains(";enviado"), "{answer:?}: {sent}");
        assert!(!sent.contains("fake-accepted"), "{answer:?}: {sent}");
        let seen = seen.lock().unwrap().clone();
        assert!(!seen.is_empty(), "{answer:?}: the POST reached the server");
        // Only bundle POSTs arrived: no request (and so no bearer token,
        // no bundle) ever went to the redirect target.
        for request in &seen {
            assert_eq!(
                (request.method.as_str(), request.path.as_str()),
                ("POST", "/api/fhir/r4/Bundle"),
                "{answer:?}: {seen:?}"
            );
            assert!(request.bearer, "{answer:?}: {seen:?}");
        }
        assert!(sim.documents().is_empty());
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_201_with_a_well_formed_id_makes_a_row_sent() {
    for answer in [Answer::GarbageLocation, Answer::PlainOk] {
        let tmp = tempfile::tempdir().unwrap();
        let sim = simulator::start(SimOptions::new(tmp.path().join("simulador")))
            .await
            .unwrap();
        let (url, _seen) = hostile(sim.files(), answer).await;
        let root = tmp.path().to_path_buf();
        let files = sim.files().clone();
        let (summary, sent) = tokio::task::spawn_blocking(move || send(&root, &files, &url))
            .await
            .unwrap();
        assert_eq!(summary["rows_sent"], 0, "{answer:?}: {summary}");
        assert_eq!(summary["rows_pending"], 3, "{answer:?}: {summary}");
        assert!(!sent.contains(";enviado"), "{answer:?}: {sent}");
        assert!(!sent.contains("x y"), "{answer:?}: {sent}");
        assert!(!sent.contains("fake-accepted"), "{answer:?}: {sent}");
        sim.shutdown().await;
    }
}

/// An answer storm (every POST and lookup a 504): the round stops after a
/// few unknown outcomes instead of posting every row and settling each
/// lost answer one by one (lookups with back-offs and a re-POST each); the
/// lost answers it has are settled at once, up to `fixed_in_flight` (fixed:
/// the adaptive limit would fall to 1 under a storm of 504s). Counts
/// requests, not time; the time is printed as the measurement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_storm_stops_the_round_and_settles_lost_answers_concurrently() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions::new(tmp.path().join("simulador")))
        .await
        .unwrap();
    let (url, _, counts) = hostile_counted(sim.files(), Answer::Storm).await;
    let root = tmp.path().to_path_buf();
    let files = sim.files().clone();
    let rows = 60;
    let started = std::time::Instant::now();
    let (summary, sent) = tokio::task::spawn_blocking(move || {
        send_rows(
            &root,
            &files,
            &url,
            rows,
            "fixed_in_flight = 4\nmax_retries = 1\n",
        )
    })
    .await
    .unwrap();
    let counts = std::mem::take(&mut *counts.lock().unwrap());
    println!(
        "MEASURE answer storm, {rows} rows, every request 504 (lookups 50 ms), fixed_in_flight 4, \
         max_retries 1: {} POSTs, {} lookups, at most {} lookups at once, {:?}",
        counts.posts,
        counts.gets,
        counts.most_gets_at_once,
        started.elapsed()
    );
    assert_eq!(summary["rows_pending"], rows, "{summary}");
    assert!(!sent.contains(";enviado"), "{sent}");
    // Before the fix: one POST per row plus a re-POST per lost answer
    // (120), and two lookups per row one after the other (120).
    assert!(counts.posts <= 16, "{counts:?}");
    assert!(counts.gets <= 24, "{counts:?}");
    assert!(counts.most_gets_at_once >= 2, "{counts:?}");
    sim.shutdown().await;
}
