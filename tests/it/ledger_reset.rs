//! A lost ledger (its `-wal` deleted after a kill, emptied, or deleted) is
//! refused with exit 3 and nothing is sent; the explicit `new-ledger` then
//! lets the same file through, and RNDS's EHR-ERR866 is reported as
//! "already at RNDS", never as "renumber the exam".

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rnds_drop::service::demo::{drop_file, write_workspace_config};
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
    for advice in ["renumer", "outro [ledger]", "número próprio"] {
        assert!(!advice_only.contains(advice), "{advice:?} in: {stderr}");
    }
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
        || summaries(&ws.outbox, "lote").len() == 2,
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
