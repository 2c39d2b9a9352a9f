//! A code of RNDS' error list, as lab staff meet it: the service sends a
//! file to the simulator, RNDS (simulated) refuses one row with EHR-ERR895,
//! and the errors report tells staff what to do, in the words of
//! `schemas/rnds_errors.toml`; the file's other row is sent.

use std::time::Duration;

use rnds_drop::demo::{drop_file, write_workspace_config};
use rnds_drop::rnds_errors::catalogue;
use rnds_drop::simulator::{self, SimOptions};

use crate::daemon::{export, json, service, stored, summaries, until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalogued_refusal_reaches_the_errors_report_with_its_action() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions::new(tmp.path().join("simulador")))
        .await
        .unwrap();
    let (ws, _) = write_workspace_config(sim.files(), tmp.path(), 200, "watch").unwrap();
    // Row 1's exam id asks the simulator for ERR895 (patient CNS unknown).
    let file = export("Z", 2, &[]).replace("Z-000001", "SIMULAR-ERR895");
    drop_file(&ws.inbox, "lote.csv", file.as_bytes()).unwrap();
    let mut child = service(&ws.config_path, &[]);
    until(&mut child, Duration::from_secs(60), "report", || {
        summaries(&ws.outbox, "lote").len() == 1
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();

    let report = &summaries(&ws.outbox, "lote")[0];
    let s = json(report);
    assert_eq!(s["rows_sent"], 1, "{s}");
    assert_eq!(s["rows_rejected"], 1, "{s}");
    assert_eq!(stored(&sim, "Z-").len(), 1);
    let name = report.to_string_lossy().into_owned();
    let errors = std::fs::read_to_string(name.replace(".resumo.json", ".erros.csv")).unwrap();
    let action = &catalogue().get("ERR895").unwrap().action;
    assert!(errors.contains("SIMULAR-ERR895"), "{errors}");
    assert!(errors.contains("EHR-ERR895"), "{errors}");
    assert!(
        errors.contains(action.as_str()),
        "{action} not in: {errors}"
    );
    // The table's action ends the line; no second, general advice after it.
    assert!(
        errors.contains(&format!("— {action}\r\n")) || errors.contains(&format!("— {action}\n")),
        "{errors}"
    );
    sim.shutdown().await;
}

/// MSG010 and MSG017 say what EHR-ERR866 says (the identifier is already
/// used): the row is already at RNDS, and `enviados.csv` names the code
/// RNDS actually answered, not EHR-ERR866.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn already_at_rnds_names_the_code_rnds_answered() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions::new(tmp.path().join("simulador")))
        .await
        .unwrap();
    let (ws, _) = write_workspace_config(sim.files(), tmp.path(), 200, "watch").unwrap();
    let file = export("Z", 3, &[])
        .replace("Z-000001", "SIMULAR-MSG010")
        .replace("Z-000002", "SIMULAR-MSG017");
    let input = tmp.path().join("lote.csv");
    std::fs::write(&input, file).unwrap();
    let out = tmp.path().join("relatorios");
    let config = ws.config_path.clone();
    let sent = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
            .args(["send", "--config"])
            .arg(&config)
            .arg("--out")
            .arg(&out)
            .arg(&input)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let out = tmp.path().join("relatorios");
    let s = json(&out.join("lote.resumo.json"));
    assert_eq!(s["rows_already_sent"], 2, "{s} {sent:?}");
    assert_eq!(s["rows_sent"], 1, "{s}");
    let lines = std::fs::read_to_string(out.join("lote.enviados.csv")).unwrap();
    let line = |id: &str| {
        lines
            .lines()
            .find(|l| l.contains(id))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(line("SIMULAR-MSG010").contains("(EHR-MSG010)"), "{lines}");
    assert!(line("SIMULAR-MSG017").contains("(EHR-MSG017)"), "{lines}");
    assert!(!lines.contains("ERR866"), "{lines}");
    sim.shutdown().await;
}
