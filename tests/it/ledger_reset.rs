//! A lost ledger (its `-wal` deleted after a kill, emptied, or deleted) is
//! refused with exit 3 and nothing is sent; the explicit `new-ledger` then
//! lets the same file through, and RNDS's EHR-ERR866 is reported as
//! "already at RNDS", never as "renumber the exam".

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rnds_drop::demo::{drop_file, write_workspace_config};
use rnds_drop::simulator::{self, SimOptions};

use crate::daemon::{exited, export, json, service, stored, summaries, until};

fn with(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Runs the service and expects it to refuse to start.
fn refused(config: &Path, says: &str) {
    let out = exited(service(config, &[]), Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains(says), "{says:?} not in: {stderr}");
    assert!(stderr.contains("new-ledger"), "{stderr}");
    // "não renumere" is the one allowed mention.
    let advice_only = stderr.replace("não renumere", "");
    for advice in FORBIDDEN_ADVICE {
        assert!(!advice_only.contains(advice), "{advice:?} in: {stderr}");
    }
}

/// Advice that breaks exactly-once (renumbering, a second ledger).
const FORBIDDEN_ADVICE: [&str; 4] = ["renumer", "outro [ledger]", "número próprio", "createdb"];

/// Review 2 item 5: `new-ledger` on a PostgreSQL ledger never advises a
/// second database; it says to restore from a backup and names the
/// database (without the SQLite path nobody uses).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_ledger_on_postgres_advises_a_restore_never_a_second_database() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions::new(tmp.path().join("simulador")))
        .await
        .unwrap();
    let (ws, _) = write_workspace_config(sim.files(), tmp.path(), 200, "watch").unwrap();
    let text = std::fs::read_to_string(&ws.config_path).unwrap();
    let mut table: toml::Table = text.parse().unwrap();
    let mut ledger = toml::Table::new();
    ledger.insert(
        "url".into(),
        toml::Value::String("postgres://rnds@127.0.0.1:1/registro".into()),
    );
    table.insert("ledger".into(), toml::Value::Table(ledger));
    std::fs::write(&ws.config_path, toml::to_string(&table).unwrap()).unwrap();
    for confirm in [false, true] {
        let out = new_ledger(&ws.config_path, confirm);
        let shown = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(3), "{shown}");
        assert!(!shown.contains("rnds-drop.sqlite"), "{shown}");
        assert!(shown.contains("rnds@127.0.0.1:1/registro"), "{shown}");
        let advice_only = shown
            .replace("não renumere", "")
            .replace("nunca renumere", "");
        for advice in FORBIDDEN_ADVICE {
            assert!(!advice_only.contains(advice), "{advice:?} in: {shown}");
        }
        if confirm {
            assert!(shown.contains("pg_restore"), "{shown}");
        }
    }
    sim.shutdown().await;
}

fn new_ledger(config: &Path, confirm: bool) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rnds-drop"));
    cmd.args(["new-ledger", "--config"]).arg(config);
    if confirm {
        cmd.arg("--confirm");
    }
    cmd.output().expect("the binary runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_ledger_is_refused_and_a_fresh_one_reports_rows_already_at_rnds() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions::new(tmp.path().join("simulador")))
        .await
        .unwrap();
    let (ws, _) = write_workspace_config(sim.files(), tmp.path(), 200, "watch").unwrap();
    let file = export("Z", 6, &[]);

    // Sent once, then the service is killed (its -wal stays behind).
    drop_file(&ws.inbox, "lote.csv", file.as_bytes()).unwrap();
    let mut first = service(&ws.config_path, &[]);
    until(&mut first, Duration::from_secs(60), "first report", || {
        summaries(&ws.outbox, "lote").len() == 1
    })
    .await;
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(stored(&sim, "Z-").len(), 6);

    // The -wal is deleted and the same file dropped again: refused.
    std::fs::remove_file(with(&ws.ledger, "-wal")).unwrap();
    let _ = std::fs::remove_file(with(&ws.ledger, "-shm"));
    drop_file(&ws.inbox, "lote.csv", file.as_bytes()).unwrap();
    refused(&ws.config_path, "-wal");
    // Emptied: refused.
    std::fs::write(&ws.ledger, b"").unwrap();
    refused(&ws.config_path, "vazio");
    // Deleted altogether: the lock file and processados/ still show sends.
    for suffix in ["", ".in-use"] {
        std::fs::remove_file(with(&ws.ledger, suffix)).unwrap();
    }
    refused(&ws.config_path, "não existe");
    assert!(ws.inbox.join("lote.csv").exists(), "the file was not taken");
    assert!(!ws.ledger.exists(), "no ledger was created");

    // new-ledger explains and does nothing without --confirm.
    let dry = new_ledger(&ws.config_path, false);
    assert_eq!(dry.status.code(), Some(3));
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(
        text.contains("EHR-ERR866") && text.contains("--confirm"),
        "{text}"
    );
    assert!(!ws.ledger.exists());
    let done = new_ledger(&ws.config_path, true);
    assert_eq!(done.status.code(), Some(0), "{done:?}");
    assert!(ws.ledger.exists());

    // With the fresh ledger the file goes through: RNDS already holds
    // every row, nothing new is stored, and the report says so.
    let mut second = service(&ws.config_path, &[]);
    until(
        &mut second,
        Duration::from_secs(60),
        "second report",
        // A kill between the first report and the move leaves the file in
        // processando/ too: then both copies are reported, maybe at once.
        || summaries(&ws.outbox, "lote").len() >= 2,
    )
    .await;
    second.kill().unwrap();
    second.wait().unwrap();
    let by_id = stored(&sim, "Z-");
    assert_eq!(by_id.len(), 6);
    assert!(by_id.values().all(|n| *n == 1), "stored twice: {by_id:?}");
    let report = &summaries(&ws.outbox, "lote")[1];
    let s = json(report);
    assert_eq!(s["rows_already_sent"], 6, "{s}");
    assert_eq!(s["rows_rejected"], 0, "{s}");
    assert_eq!(s["rows_sent"], 0, "{s}");
    let name = report.to_string_lossy().into_owned();
    let sent = std::fs::read_to_string(name.replace(".resumo.json", ".enviados.csv")).unwrap();
    assert_eq!(
        sent.matches("já estava na RNDS (EHR-ERR866)").count(),
        6,
        "{sent}"
    );
    let errors = std::fs::read_to_string(name.replace(".resumo.json", ".erros.csv")).unwrap();
    assert_eq!(errors.lines().count(), 1, "only the header: {errors}");
    for text in [&sent, &errors] {
        assert!(!text.contains("renumer") && !text.contains("número próprio"));
    }
    sim.shutdown().await;
}

/// `send` with the test lab, one inbox `entrada/` → `saida/`, the ledger
/// `registro.sqlite`; returns (exit code, stderr).
fn send_in(dir: &Path) -> (Option<i32>, String) {
    let lab = std::fs::read_to_string(crate::harness::fixtures().join("lab.toml")).unwrap();
    let config = dir.join("rnds-drop.toml");
    std::fs::write(
        &config,
        format!(
            "{lab}\n[[inbox]]\npath = \"entrada\"\noutbox = \"saida\"\n\n[ledger]\npath = \"registro.sqlite\"\n"
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
        .args(["send", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(dir.join("avulso"))
        .arg(crate::harness::fixtures().join("check/separate_date_time/input.csv"))
        .output()
        .expect("the binary runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_missing_ledger_is_not_created_where_taken_files_or_reports_show_sends() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ledger = dir.join("registro.sqlite");
    let taken = dir.join("entrada/.rnds-drop/processados/2026/11/03");
    std::fs::create_dir_all(&taken).unwrap();
    std::fs::create_dir_all(dir.join("saida")).unwrap();

    std::fs::write(taken.join("lote.csv"), b"x").unwrap();
    let (code, stderr) = send_in(dir);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("processados") && stderr.contains("não existe"),
        "{stderr}"
    );
    assert!(!ledger.exists());

    std::fs::remove_file(taken.join("lote.csv")).unwrap();
    let report = dir.join("saida/lote.20261103T164000.enviados.csv");
    std::fs::write(&report, b"linha;id_exame;id_rnds;situacao\r\n").unwrap();
    let (code, stderr) = send_in(dir);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("enviados.csv"), "{stderr}");
    assert!(!ledger.exists());

    // No trace of earlier sends: a first start creates the ledger (and
    // then stops at the missing certificate of the test lab).
    std::fs::remove_file(&report).unwrap();
    let (_, stderr) = send_in(dir);
    assert!(ledger.exists(), "{stderr}");
    assert!(!stderr.contains("não existe, mas"), "{stderr}");
}
