//! Results that will never arrive unless a person acts: rows refused in an
//! errors report and not dropped again corrected. `status` (the real
//! binary, next to a running service) counts them with their file and
//! since when, and needs no PFX password to judge the certificate.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rnds_drop::demo::{drop_file, write_workspace_config};
use rnds_drop::simulator::{self, SimOptions};

const HEADER: &str = "Nº Pedido;Paciente;Cartão SUS;Data da Coleta;Dt. Liberação;Cód. Exame;Resultado;Material;Metodologia\n";

fn row(id: &str, cns: &str) -> String {
    format!("{id};PACIENTE {id};{cns};03/11/2026 08:15;03/11/2026 16:40;94309-2;Não detectável;SWNAFA;RT-PCR\n")
}

struct Service(Child);
impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn status(config: &Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
        .args(["status", "--config"])
        .arg(config)
        .env_remove("RNDS_PFX_SENHA")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// The body of `GET /metrics` (plain HTTP on loopback).
fn metrics(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

/// Waits (bounded) until `count` summaries are in the outbox; on time-out
/// the service's log says why.
fn wait_for_summaries(outbox: &Path, count: usize, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let summaries = std::fs::read_dir(outbox)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".resumo.json")
            })
            .count();
        if summaries >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{count} summaries not written:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_counts_rows_waiting_in_errors_reports_until_they_come_back_fixed() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions::new(tmp.path().join("simulador")))
        .await
        .unwrap();
    let (ws, _) =
        write_workspace_config(sim.files(), &tmp.path().join("lab"), 200, "watch").unwrap();
    // Told at once: the test must not wait a day (nor read the clock).
    let text = std::fs::read_to_string(&ws.config_path).unwrap();
    let mut table: toml::Table = toml::from_str(&text).unwrap();
    let metrics_at = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let service = table["service"].as_table_mut().unwrap();
    service.insert("uncorrected_rows_after_s".into(), toml::Value::Integer(0));
    service.insert(
        "metrics_listen".into(),
        toml::Value::String(metrics_at.to_string()),
    );
    std::fs::write(&ws.config_path, toml::to_string(&table).unwrap()).unwrap();
    let log = tmp.path().join("servico.log");
    let _service = Service(
        Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
            .args(["run", "--config"])
            .arg(&ws.config_path)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let first = format!(
        "{HEADER}{}{}{}",
        row("UC-1", "759010928159013"),
        row("UC-2", "759010928159014"),
        row("UC-3", "12345")
    );
    drop_file(&ws.inbox, "fevereiro.csv", first.as_bytes()).unwrap();
    wait_for_summaries(&ws.outbox, 1, &log);

    // Two rows wait in fevereiro's errors report: status says so, and it
    // judges the certificate from what the service recorded, without the
    // password (an admin shell: the password file is not readable here).
    let no_password = ws.config_path.with_file_name("sem-senha.toml");
    std::fs::write(
        &no_password,
        std::fs::read_to_string(&ws.config_path).unwrap().replace(
            &sim.files()
                .lab_pfx_password_file
                .to_string_lossy()
                .into_owned(),
            &tmp.path().join("inexistente.senha").to_string_lossy(),
        ),
    )
    .unwrap();
    let (code, out) = status(&no_password);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("linhas inválidas aguardam correção: 2"),
        "{out}"
    );
    assert!(out.contains("fevereiro.csv (2 linhas, desde "), "{out}");
    assert!(
        out.contains("✗ 2 linhas inválidas aguardam correção há "),
        "{out}"
    );
    assert!(out.contains("✓ certificado:"), "{out}");
    assert!(!out.contains("✗ certificado"), "{out}");
    let exposition = metrics(metrics_at);
    assert!(
        exposition.contains("\nrnds_drop_uncorrected_rows 2\n"),
        "{exposition}"
    );

    // The errors report comes back fixed: nothing waits any more.
    let fixed = format!(
        "{HEADER}{}{}",
        row("UC-2", "759010928159013"),
        row("UC-3", "759010928159013")
    );
    drop_file(&ws.inbox, "fevereiro.erros.csv", fixed.as_bytes()).unwrap();
    wait_for_summaries(&ws.outbox, 2, &log);
    let (code, out) = status(&no_password);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("linhas inválidas aguardam correção: 0"),
        "{out}"
    );
    assert!(out.contains("✓ nada precisa de atenção"), "{out}");
    let exposition = metrics(metrics_at);
    assert!(
        exposition.contains("\nrnds_drop_uncorrected_rows 0\n"),
        "{exposition}"
    );
}

/// A row refused without a lab id cannot be matched with its correction by
/// id: it is kept by file and line, counted by `status` until a file of the
/// same name (or its errors report) comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_counts_invalid_rows_without_a_lab_id_by_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions::new(tmp.path().join("simulador")))
        .await
        .unwrap();
    let (ws, _) =
        write_workspace_config(sim.files(), &tmp.path().join("lab"), 200, "watch").unwrap();
    let log = tmp.path().join("servico.log");
    let _service = Service(
        Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
            .args(["run", "--config"])
            .arg(&ws.config_path)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    // Line 3 has no lab id (and a bad CNS), line 4 only a bad CNS.
    let first = format!(
        "{HEADER}{}{}{}",
        row("SI-1", "759010928159013"),
        row("", "12345"),
        row("SI-3", "12345")
    );
    drop_file(&ws.inbox, "marco.csv", first.as_bytes()).unwrap();
    wait_for_summaries(&ws.outbox, 1, &log);
    let (_, out) = status(&ws.config_path);
    assert!(
        out.contains("linhas inválidas aguardam correção: 2"),
        "{out}"
    );
    assert!(out.contains("marco.csv (2 linhas, desde "), "{out}");

    // The same file comes back fixed: the row now has its lab id.
    let fixed = format!(
        "{HEADER}{}{}{}",
        row("SI-1", "759010928159013"),
        row("SI-2", "759010928159013"),
        row("SI-3", "759010928159013")
    );
    drop_file(&ws.inbox, "marco.csv", fixed.as_bytes()).unwrap();
    wait_for_summaries(&ws.outbox, 2, &log);
    let (_, out) = status(&ws.config_path);
    assert!(
        out.contains("linhas inválidas aguardam correção: 0"),
        "{out}"
    );
}
