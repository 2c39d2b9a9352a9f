//! A correction sent for a later file is never undone by an earlier file
//! that is processed afterwards (issue 17: `--seed 5 --faults all` of the
//! chaos harness). The earlier file waited in `processando/` while RNDS was
//! down; the later file's correction reached RNDS first; when the earlier
//! file is resumed, its older version of the result must not replace the
//! correction: RNDS keeps the later version, and the earlier file's report
//! says so without asking staff to do anything. The real service binary and
//! the real `rnds-drop send`, one ledger.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rnds_drop::demo::{drop_file, write_workspace_config};
use rnds_drop::simulator::{self, SimOptions};

const HEADER: &str =
    "Nº Pedido;Paciente;Cartão SUS;Data da Coleta;Dt. Liberação;Cód. Exame;Resultado;Material;Metodologia\n";
/// ANA's RT-PCR as the first export had it, and as corrected the next day.
const FIRST: &str =
    "0001;ANA;786570704999622;03/11/2026 08:15;03/11/2026 16:40;94309-2;Detectável;SWNAFA;RT-PCR\n";
const CORRECTED: &str =
    "0001;ANA;786570704999622;03/11/2026 08:15;03/11/2026 16:40;94309-2;Não detectável;SWNAFA;RT-PCR\n";

fn service(config: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
        .args(["run", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the rnds-drop binary starts")
}

fn stop(mut child: Child) {
    crate::harness::terminate(&child);
    let exit = child.wait().unwrap();
    assert!(exit.success(), "SIGTERM ends the service cleanly: {exit:?}");
}

/// The workspace's configuration with RNDS at `url` and short timings.
fn config_text(text: &str, url: Option<&str>) -> String {
    let mut table: toml::Table = toml::from_str(text).unwrap();
    let rnds = table["rnds"].as_table_mut().unwrap();
    if let Some(url) = url {
        rnds.insert("auth_url".into(), url.into());
        rnds.insert("ehr_url".into(), url.into());
    }
    rnds.insert("max_retries".into(), 1.into());
    rnds.insert("backoff_base_ms".into(), 20.into());
    rnds.insert("timeout_s".into(), 2.into());
    let service = table["service"].as_table_mut().unwrap();
    service.insert("pending_report_after_s".into(), 1.into());
    service.insert("scan_interval_s".into(), 1.into());
    toml::to_string(&table).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_earlier_file_resumed_after_a_later_correction_never_replaces_it() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions::new(tmp.path().join("simulador")))
        .await
        .unwrap();
    let (ws, _) = write_workspace_config(sim.files(), tmp.path(), 200, "watch").unwrap();
    let written = std::fs::read_to_string(&ws.config_path).unwrap();
    let reachable = config_text(&written, None);
    // Day 1: RNDS cannot be reached (nobody listens on that port).
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unreachable = config_text(&written, Some(&format!("https://127.0.0.1:{dead_port}")));
    std::fs::write(&ws.config_path, unreachable).unwrap();
    let mut day1 = service(&ws.config_path);
    drop_file(&ws.inbox, "dia1.csv", format!("{HEADER}{FIRST}").as_bytes()).unwrap();
    let outbox = ws.outbox.clone();
    crate::daemon::until(
        &mut day1,
        Duration::from_secs(60),
        "dia1 pending report",
        || !crate::daemon::summaries(&outbox, "dia1").is_empty(),
    )
    .await;
    let pending = crate::daemon::json(&crate::daemon::summaries(&outbox, "dia1")[0]);
    assert_eq!(pending["rows_pending"], 1, "{pending}");
    // Stopped with dia1.csv still waiting in processando/.
    stop(day1);
    assert!(!crate::daemon::processed(&ws.inbox, "dia1.csv"));

    // Day 2: RNDS is back; the correction goes through `send` first.
    std::fs::write(&ws.config_path, reachable).unwrap();
    let day2_dir = tmp.path().join("dia2");
    std::fs::create_dir_all(&day2_dir).unwrap();
    let day2 = day2_dir.join("dia2.csv");
    std::fs::write(&day2, format!("{HEADER}{CORRECTED}")).unwrap();
    let sent = Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
        .args(["send", "--config"])
        .arg(&ws.config_path)
        .arg("--out")
        .arg(&day2_dir)
        .arg(&day2)
        .output()
        .unwrap();
    let day2_summary = crate::daemon::json(&day2_dir.join("dia2.resumo.json"));
    assert_eq!(day2_summary["rows_sent"], 1, "{day2_summary} {sent:?}");
    assert_eq!(sim.documents().len(), 1);

    // The service starts again and resumes dia1.csv.
    let mut resumed = service(&ws.config_path);
    let inbox = ws.inbox.clone();
    crate::daemon::until(
        &mut resumed,
        Duration::from_secs(60),
        "dia1 processed",
        || crate::daemon::processed(&inbox, "dia1.csv"),
    )
    .await;
    stop(resumed);

    let documents = sim.documents();
    let results: Vec<&str> = documents
        .iter()
        .map(|d| {
            d.bundle["entry"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["resource"]["resourceType"] == "Observation")
                .and_then(|e| e["resource"]["valueCodeableConcept"]["coding"][0]["code"].as_str())
                .unwrap_or("")
        })
        .collect();
    assert_eq!(
        results,
        ["2"],
        "RNDS keeps the correction (não detectável) only; replaced: {:?}",
        documents.iter().map(|d| &d.replaces).collect::<Vec<_>>()
    );
    let summaries = crate::daemon::summaries(&outbox, "dia1");
    let last = summaries.last().unwrap();
    let summary = crate::daemon::json(last);
    assert_eq!(summary["rows_pending"], 0, "{summary}");
    assert_eq!(summary["rows_sent"], 0, "{summary}");
    assert_eq!(summary["rows_replaced"], 0, "{summary}");
    assert_eq!(summary["rows_rejected"], 0, "{summary}");
    assert_eq!(
        summary["issues"].as_array().map(Vec::len),
        Some(0),
        "{summary}"
    );
    let sent_csv = last
        .to_string_lossy()
        .replace(".resumo.json", ".enviados.csv");
    let sent_csv = std::fs::read_to_string(sent_csv).unwrap();
    assert!(
        sent_csv.contains("arquivo posterior") && sent_csv.contains("dia2.csv"),
        "{sent_csv}"
    );
    sim.shutdown().await;
}
