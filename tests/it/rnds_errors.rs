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
