//! A certificate renewed while the service runs, through the real binary:
//! a `.pfx` replaced by one the password does not open keeps the old
//! identity working and says so in the log; the renewed `.pfx` with the
//! right password is used from the next token on (the simulator sees its
//! subject) and `/metrics` shows its validity, with no restart. The
//! refused renewal is also in `status`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rnds_drop::demo::{drop_file, write_workspace_config};
use rnds_drop::simulator::{self, renewed_lab_pfx, SimOptions};

const RENEWED: &str = "LABORATORIO EXEMPLO RENOVADO LTDA:11222333000181";

fn export(prefix: &str) -> String {
    format!(
        "Nº Pedido;Paciente;Cartão SUS;Data da Coleta;Dt. Liberação;Cód. Exame;Resultado;Material;Metodologia\n\
         {prefix}-1;PACIENTE UM;759010928159013;03/11/2026 08:15;03/11/2026 16:40;94309-2;Não detectável;SWNAFA;RT-PCR\n"
    )
}

fn get(addr: SocketAddr, path: &str) -> Option<String> {
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
    Some(text.split_once("\r\n\r\n")?.1.to_string())
}

fn wait_for(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Service(Child);
impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn set_service_key(config: &Path, key: &str, value: toml::Value) {
    let mut table: toml::Table = toml::from_str(&std::fs::read_to_string(config).unwrap()).unwrap();
    table
        .get_mut("service")
        .and_then(|s| s.as_table_mut())
        .unwrap()
        .insert(key.into(), value);
    std::fs::write(config, toml::to_string(&table).unwrap()).unwrap();
}

/// Writes `bytes` over `path` as an installer would: a new file renamed in.
fn replace(path: &Path, bytes: &[u8]) {
    let temp = path.with_extension("novo");
    std::fs::write(&temp, bytes).unwrap();
    std::fs::rename(&temp, path).unwrap();
}

fn status(config: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
        .args(["status", "--config"])
        .arg(config)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn expiry_metric(metrics: SocketAddr) -> Option<i64> {
    get(metrics, "/metrics")?
        .lines()
        .find_map(|l| l.strip_prefix("rnds_drop_certificate_expiry_timestamp_seconds "))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pfx_replaced_while_running_is_used_from_the_next_token() {
    let tmp = tempfile::tempdir().unwrap();
    // Tokens live 2 s, so "the next token" comes soon after each file.
    let sim = simulator::start(SimOptions {
        token_lifetime: Duration::from_secs(2),
        ..SimOptions::new(tmp.path().join("simulador"))
    })
    .await
    .unwrap();
    let root = tmp.path().join("lab");
    let (ws, _) = write_workspace_config(sim.files(), &root, 200, "watch").unwrap();
    let metrics = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    set_service_key(
        &ws.config_path,
        "metrics_listen",
        toml::Value::String(metrics.to_string()),
    );
    let log = root.join("servico.log");
    let _service = Service(
        Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
            .args(["run", "--config"])
            .arg(&ws.config_path)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let tokens_for = |subject: &str| -> u64 {
        sim.stats()["tokens_by_subject"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(s, _)| s.contains(subject))
            .map(|(_, n)| n.as_u64().unwrap())
            .sum()
    };
    let stored = || sim.documents().len();

    drop_file(&ws.inbox, "antes.csv", export("ANTES").as_bytes()).unwrap();
    wait_for("antes.csv stored", Duration::from_secs(60), || {
        stored() == 1
    });
    assert!(
        tokens_for("LABORATORIO EXEMPLO LTDA:11222333000181") >= 1,
        "{}",
        sim.stats()
    );
    let old_expiry = expiry_metric(metrics).expect("expiry in /metrics");

    // A renewal the password does not open: the old identity goes on.
    let wrong = renewed_lab_pfx(sim.files(), RENEWED, 2031, "outra-senha").unwrap();
    replace(&sim.files().lab_pfx, &wrong);
    std::thread::sleep(Duration::from_secs(3));
    drop_file(&ws.inbox, "senha-errada.csv", export("ERRADA").as_bytes()).unwrap();
    wait_for("senha-errada.csv stored", Duration::from_secs(60), || {
        stored() == 2
    });
    assert_eq!(tokens_for(RENEWED), 0, "{}", sim.stats());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("o certificado foi trocado, mas o novo não pôde ser usado")
            && text.contains("continua com o certificado anterior"),
        "{text}"
    );
    assert!(!text.contains("outra-senha"), "{text}");
    assert_eq!(expiry_metric(metrics), Some(old_expiry));
    // `status` (without the service's identity) says so too.
    wait_for(
        "status names the refused renewal",
        Duration::from_secs(30),
        || status(&ws.config_path).contains("continua com o certificado anterior"),
    );

    // The right renewal: the next token presents it.
    let password = std::fs::read_to_string(&sim.files().lab_pfx_password_file).unwrap();
    let renewed = renewed_lab_pfx(sim.files(), RENEWED, 2031, password.trim()).unwrap();
    replace(&sim.files().lab_pfx, &renewed);
    std::thread::sleep(Duration::from_secs(3));
    drop_file(&ws.inbox, "depois.csv", export("DEPOIS").as_bytes()).unwrap();
    wait_for("depois.csv stored", Duration::from_secs(60), || {
        stored() == 3
    });
    assert!(
        tokens_for(RENEWED) >= 1,
        "{}\n{}",
        sim.stats(),
        std::fs::read_to_string(&log).unwrap()
    );
    // 2031-01-01T00:00:00Z
    assert_eq!(expiry_metric(metrics), Some(1_924_992_000));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("certificado renovado"), "{text}");
}
