//! Operations, through the real binary: `run` with `/metrics` and
//! `/healthz` and a log file, `status` while a large file is being sent,
//! `promtool check metrics` on the exposition, `/healthz` following a
//! simulator outage, and the outage logged once.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rnds_drop::demo::{drop_file, write_workspace_config};
use rnds_drop::simulator::{self, Faults, SimOptions};

const CNS: [&str; 3] = ["759010928159013", "939548620579868", "782880729022279"];

fn export(n: usize) -> String {
    let mut out = String::from(
        "Nº Pedido;Paciente;Cartão SUS;Data da Coleta;Dt. Liberação;Cód. Exame;Resultado;Material;Metodologia\n",
    );
    for i in 1..=n {
        out.push_str(&format!(
            "OP-{i:06};PACIENTE {i};{};03/11/2026 08:15;03/11/2026 16:40;94309-2;Não detectável;SWNAFA;RT-PCR\n",
            CNS[i % CNS.len()]
        ));
    }
    out
}

fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// `(status, body)` of a plain HTTP GET on loopback.
fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

fn wait_for(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn status_json(config: &Path) -> (i32, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
        .args(["status", "--json", "--config"])
        .arg(config)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "status --json printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code().unwrap_or(-1), json)
}

struct Service(Child);
impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Adds keys to the `[service]` table of the config file.
fn extend_service(config: &Path, keys: &[(&str, toml::Value)]) {
    let text = std::fs::read_to_string(config).unwrap();
    let mut table: toml::Table = toml::from_str(&text).unwrap();
    let service = table
        .get_mut("service")
        .and_then(|s| s.as_table_mut())
        .unwrap();
    for (k, v) in keys {
        service.insert((*k).into(), v.clone());
    }
    std::fs::write(config, toml::to_string(&table).unwrap()).unwrap();
}

/// promtool must run in CI (`.ci/run` installs it); elsewhere it is optional.
fn promtool_check(exposition: &str) {
    let spawned = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            assert!(
                std::env::var("CI").is_err(),
                "promtool not found in CI ({e}): .ci/run installs Debian's prometheus package"
            );
            return super::harness::skipped(&format!(
                "promtool check metrics not run, promtool not installed ({e})"
            ));
        }
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n--- exposition ---\n{exposition}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_metrics_health_and_outage_log_of_a_running_service() {
    let tmp = tempfile::tempdir().unwrap();
    // Latency so the file is still in progress when `status` asks.
    let sim = simulator::start(SimOptions {
        faults: Faults {
            latency_ms: 3,
            ..Faults::default()
        },
        ..SimOptions::new(tmp.path().join("simulador"))
    })
    .await
    .unwrap();
    let root = tmp.path().join("lab");
    let (ws, _) = write_workspace_config(sim.files(), &root, 200, "watch").unwrap();
    let metrics = free_port();
    let log_file = root.join("logs").join("rnds-drop.log");
    extend_service(
        &ws.config_path,
        &[
            ("metrics_listen", toml::Value::String(metrics.to_string())),
            ("health_rnds_down_s", toml::Value::Integer(2)),
            ("rnds_probe_s", toml::Value::Integer(1)),
            ("progress_log_s", toml::Value::Integer(1)),
            (
                "log_file",
                toml::Value::String(log_file.to_string_lossy().into()),
            ),
        ],
    );
    let _service = Service(
        Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
            .args(["run", "--config"])
            .arg(&ws.config_path)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("/healthz 200 after start", Duration::from_secs(30), || {
        get(metrics, "/healthz").is_some_and(|(s, _)| s == 200)
    });

    // `status` answers while a large file is being sent (the service holds
    // the ledger lock the whole time).
    drop_file(&ws.inbox, "grande.csv", export(3000).as_bytes()).unwrap();
    let mut seen_in_progress = false;
    wait_for("grande.csv finished", Duration::from_secs(120), || {
        let (code, json) = status_json(&ws.config_path);
        let ledger = &json["ledger"];
        if ledger["files_processing"] == 1 {
            seen_in_progress = true;
            assert_eq!(ledger["recent_files"][0]["name"], "grande.csv", "{json}");
            assert_eq!(ledger["recent_files"][0]["state"], "processing", "{json}");
            assert!(matches!(code, 0 | 4), "{code}: {json}");
        }
        ledger["files_processed"] == 1
    });
    assert!(seen_in_progress, "status never saw the file in progress");
    let (code, json) = status_json(&ws.config_path);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["ledger"]["accepted_today"], 3000, "{json}");
    assert_eq!(json["attention"], serde_json::json!([]), "{json}");

    let (status, exposition) = get(metrics, "/metrics").unwrap();
    assert_eq!(status, 200);
    assert!(
        exposition.contains("rnds_drop_rows_total{outcome=\"enviada\"} 3000"),
        "{exposition}"
    );
    assert!(
        exposition.contains("rnds_drop_pending_rows 0"),
        "{exposition}"
    );
    // The adaptive limit on requests to RNDS: within 1..=max_in_flight (32).
    let limit: usize = exposition
        .lines()
        .find_map(|l| l.strip_prefix("rnds_drop_rnds_concurrency_limit "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no concurrency limit in\n{exposition}"));
    assert!((1..=32).contains(&limit), "{limit}");
    assert!(
        exposition.contains("rnds_drop_rnds_concurrency_ceiling 32"),
        "{exposition}"
    );
    promtool_check(&exposition);

    // The simulator goes down: /healthz turns 503 with the reason, then 200
    // once it is back.
    sim.outage(Duration::from_secs(15));
    let mut reason = String::new();
    wait_for(
        "/healthz 503 during the outage",
        Duration::from_secs(60),
        || match get(metrics, "/healthz") {
            Some((503, body)) => {
                reason = body;
                true
            }
            _ => false,
        },
    );
    assert!(reason.contains("RNDS inacessível"), "{reason}");
    wait_for(
        "/healthz 200 after the outage",
        Duration::from_secs(60),
        || get(metrics, "/healthz").is_some_and(|(s, _)| s == 200),
    );

    let log = std::fs::read_to_string(&log_file).unwrap();
    assert!(
        log.contains("arquivo em andamento"),
        "no progress line:\n{log}"
    );
    let went_down = log.matches("A RNDS não está respondendo").count();
    assert_eq!(went_down, 1, "outage announced {went_down} times:\n{log}");
    assert_eq!(log.matches("A RNDS voltou a responder").count(), 1, "{log}");
    for cns in CNS {
        assert!(!log.contains(cns), "CNS {cns} in the log");
    }
}

/// `check` on a terminal draws a bar; the same command on a pipe prints
/// only its result lines.
#[test]
fn check_shows_a_progress_bar_on_a_terminal_only() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("lote.csv");
    std::fs::write(&file, export(30_000)).unwrap();
    let config = super::harness::fixtures().join("lab.toml");
    let bin = env!("CARGO_BIN_EXE_rnds-drop");
    let command = format!(
        "{bin} check --config {} --out {} {}",
        config.display(),
        tmp.path().join("saida").display(),
        file.display()
    );
    // util-linux `script` gives the command a real pseudo-terminal.
    let on_pty = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("CI")
        .output();
    let Ok(on_pty) = on_pty else {
        assert!(std::env::var("CI").is_err(), "script(1) missing in CI");
        return super::harness::skipped("script(1) from util-linux is not installed");
    };
    let tty_text = String::from_utf8_lossy(&on_pty.stdout).into_owned();
    assert!(
        tty_text.contains("linhas ·"),
        "no bar on a terminal:\n{tty_text}"
    );
    assert!(tty_text.contains("lote.csv: 30.000 linhas"), "{tty_text}");

    let piped = Command::new(bin)
        .args(["check", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(tmp.path().join("saida2"))
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(
        !stderr.contains("linhas ·"),
        "bar drawn on a pipe:\n{stderr}"
    );
    assert!(String::from_utf8_lossy(&piped.stdout).contains("lote.csv: 30.000 linhas"));
}

/// The commented operations and alert blocks of the example, enabled as a
/// lab would, parse (so the example never documents a key that is refused).
#[test]
fn example_operations_and_alert_blocks_parse_when_enabled() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rnds-drop.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find("# --- Operação").expect("operations block");
    let mut enabled = text[..start].to_string();
    for line in text[start..].lines() {
        let toml_line = line
            .strip_prefix("# ")
            .filter(|rest| rest.starts_with('[') || rest.contains(" = "));
        enabled.push_str(toml_line.unwrap_or(line));
        enabled.push('\n');
    }
    let config = rnds_drop::config::Config::parse(&enabled, &path, path.parent().unwrap())
        .unwrap_or_else(|e| panic!("{e}\n{enabled}"));
    assert_eq!(
        config.service.metrics_listen,
        Some("127.0.0.1:9464".parse().unwrap())
    );
    assert!(config
        .service
        .log_file
        .unwrap()
        .ends_with("logs/rnds-drop.log"));
    let alertas = config.alertas.expect("[alertas]");
    assert_eq!(alertas.pending_after_s, 7200);
    assert_eq!(
        alertas.command.as_deref(),
        Some(&["/usr/local/bin/avisar-ti".to_string()][..])
    );
    let email = alertas.email.expect("[alertas.email]");
    assert_eq!(email.smtp_port, 587);
    assert!(email.password_env.is_none() && email.password_file.is_some());
}
