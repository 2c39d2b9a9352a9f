//! Nothing leaks, nothing hangs (issue 18), through the real binary: a
//! password file dropped in the inbox is never read, a password typed where
//! its path belongs is never printed, CNS/CPF in file names are masked in
//! logs, `status`, metrics and alerts, a newline in a file name never forges
//! a log line, work folders and logs are private, and idle connections to
//! `/metrics` never keep a file from its report.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rnds_drop::demo::{drop_file, report_of, write_workspace_config, Workspace};
use rnds_drop::simulator::{self, SimFiles, SimOptions};

const BIN: &str = env!("CARGO_BIN_EXE_rnds-drop");

/// A valid export of `n` rows whose lab ids start with `prefix`.
fn export(prefix: &str, n: usize) -> String {
    let mut out = String::from(
        "Nº Pedido;Paciente;Cartão SUS;Data da Coleta;Dt. Liberação;Cód. Exame;Resultado;Material;Metodologia\n",
    );
    for i in 1..=n {
        out.push_str(&format!(
            "{prefix}-{i:04};PACIENTE {i};759010928159013;03/11/2026 08:15;03/11/2026 16:40;94309-2;Não detectável;SWNAFA;RT-PCR\n"
        ));
    }
    out
}

fn wait_for(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Adds keys to a table of the config file (created when missing).
fn extend(config: &Path, table_name: &str, keys: &[(&str, toml::Value)]) {
    let text = std::fs::read_to_string(config).unwrap();
    let mut table: toml::Table = toml::from_str(&text).unwrap();
    let section = table
        .entry(table_name)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .unwrap();
    for (k, v) in keys {
        section.insert((*k).into(), v.clone());
    }
    std::fs::write(config, toml::to_string(&table).unwrap()).unwrap();
}

fn text(value: impl AsRef<Path>) -> toml::Value {
    toml::Value::String(value.as_ref().to_string_lossy().into_owned())
}

/// `rnds-drop run` with stderr in `stderr_file`; killed when dropped.
struct Service(Child);

impl Service {
    fn start(config: &Path, stderr_file: &Path, fd_limit: Option<u32>) -> Service {
        let stderr = std::fs::File::create(stderr_file).unwrap();
        let mut command = match fd_limit {
            // The shell's `ulimit` lowers the descriptor limit of the
            // service only (then `exec`s it).
            Some(limit) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
                    .arg(BIN);
                c
            }
            None => Command::new(BIN),
        };
        command
            .args(["run", "--config"])
            .arg(config)
            .env("RUST_LOG", "info")
            .env_remove("NO_COLOR")
            .stdout(Stdio::null())
            .stderr(stderr);
        Service(command.spawn().unwrap())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn summary_of(outbox: &Path, stem: &str) -> Option<PathBuf> {
    std::fs::read_dir(outbox)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| report_of(&n.to_string_lossy(), stem))
        })
}

fn read_lossy(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

fn all_output(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A simulator and a workspace with a log file; the config path.
async fn workspace(tmp: &Path) -> (rnds_drop::simulator::Simulator, Workspace, PathBuf) {
    let sim = simulator::start(SimOptions::new(tmp.join("simulador")))
        .await
        .unwrap();
    let root = tmp.join("lab");
    let (ws, _) = write_workspace_config(sim.files(), &root, 200, "watch").unwrap();
    let log_file = root.join("logs").join("rnds-drop.log");
    extend(&ws.config_path, "service", &[("log_file", text(&log_file))]);
    (sim, ws, log_file)
}

fn pfx_password(files: &SimFiles) -> String {
    std::fs::read_to_string(&files.lab_pfx_password_file)
        .unwrap()
        .trim()
        .to_string()
}

/// Issue 18 item 1: a copy of the PFX password file dropped in the inbox
/// stays there, unread; one log line says why; and a password typed where
/// its path belongs is printed by neither `doctor` nor `run`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_file_in_the_inbox_is_never_read_and_a_password_path_never_printed() {
    let tmp = tempfile::tempdir().unwrap();
    let (sim, ws, log_file) = workspace(tmp.path()).await;
    let password = pfx_password(sim.files());
    let stderr_file = tmp.path().join("stderr.txt");
    let service = Service::start(&ws.config_path, &stderr_file, None);
    drop_file(&ws.inbox, "pfx.senha", format!("{password}\n").as_bytes()).unwrap();
    drop_file(&ws.inbox, "NOTAS.PDF", b"%PDF-1.4 nada\n").unwrap();
    // Let a few scans (scan_interval_s = 2) see them before the good file.
    std::thread::sleep(Duration::from_secs(5));
    drop_file(&ws.inbox, "exames.CSV", export("PW", 2).as_bytes()).unwrap();
    wait_for("exames.CSV report", Duration::from_secs(60), || {
        summary_of(&ws.outbox, "exames").is_some()
    });
    drop(service);

    assert!(ws.inbox.join("pfx.senha").is_file(), "pfx.senha was taken");
    assert!(ws.inbox.join("NOTAS.PDF").is_file(), "NOTAS.PDF was taken");
    let outbox: Vec<String> = std::fs::read_dir(&ws.outbox)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        outbox
            .iter()
            .all(|n| !n.starts_with("pfx") && !n.starts_with("NOTAS")),
        "{outbox:?}"
    );
    let log = read_lossy(&log_file);
    let stderr = read_lossy(&stderr_file);
    for (what, text) in [("log file", &log), ("stderr", &stderr)] {
        assert!(!text.contains(&password), "password in the {what}:\n{text}");
        let ignored: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("ignorado: não é planilha"))
            .collect();
        assert_eq!(ignored.len(), 2, "one line per file in the {what}:\n{text}");
        assert!(ignored.iter().any(|l| l.contains("pfx.senha")), "{text}");
    }

    // The password typed where the path of its file belongs.
    let config = std::fs::read_to_string(&ws.config_path).unwrap();
    let mut table: toml::Table = toml::from_str(&config).unwrap();
    table["rnds"]
        .as_table_mut()
        .unwrap()
        .insert("certificate_password_file".into(), text(&password));
    let wrong = ws.root.join("senha-no-caminho.toml");
    std::fs::write(&wrong, toml::to_string(&table).unwrap()).unwrap();
    for args in [&["doctor", "--config"][..], &["run", "--config"][..]] {
        let out = Command::new(BIN)
            .args(args)
            .arg(&wrong)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let shown = all_output(&out);
        assert_eq!(out.status.code(), Some(3), "{args:?}:\n{shown}");
        assert!(
            shown.contains("certificate_password_file"),
            "{args:?}:\n{shown}"
        );
        assert!(
            !shown.contains(&password),
            "{args:?} printed the password:\n{shown}"
        );
    }
    sim.shutdown().await;
}
